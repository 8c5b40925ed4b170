"""The one integrity check of the index files under PAPERWIRE_HOME/index, and how they are written.

The files are derived from the database and never trusted blindly. ``state.json``, written
last, records what each index was written to hold: the lexical commit (its opstamp, its
number of papers, the size and CRC-32 of every segment file) and the vector file (its number
of vectors, size and CRC-32). ``check()`` compares the files with that record. The updater
rebuilds from the database whatever fails it (indexer.py); readers never open what fails it
(they keep their last good copy, else fall back: indexes.py); /healthz reports ``degraded``
while anything fails it (health.py).

Files are replaced, never rewritten in place: written under a temporary name, fsynced, then
renamed over the old one; a rebuilt lexical directory is exchanged with the old one in one
``renameat2`` call. The state lists the records of files about to be swapped in, so a reader
accepts the old files or the new ones, never a mix, and never half of a file.
"""

from __future__ import annotations

import ctypes
import dataclasses
import datetime as dt
import errno
import fcntl
import json
import os
import shutil
import threading
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

SCHEMA_VERSION = 4  # 4: sort fields (by_date, by_upvotes) and the vector key indexed
LEXICAL = "lexical"
VECTORS = "vectors.usearch"
STATE = "state.json"
REBUILDING = "rebuilding.json"
WRITE_LOCK = ".write.lock"
# Rows committed by a slower transaction may carry an updated_at (or upvotes_changed_at) a
# little before the watermark; each run looks that far back again (re-indexing is harmless).
WATERMARK_SLACK = dt.timedelta(minutes=5)


def index_dir() -> Path:
    return Path(settings.PAPERWIRE_HOME) / "index"


# --- writing files whole ------------------------------------------------------------------------


def fsync_directory(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_atomically(path: Path, data: bytes) -> None:
    """Write, fsync, rename over ``path``: a reader opens the old file or the new one, whole."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


AT_FDCWD = -100
RENAME_EXCHANGE = 2


def _exchange(first: Path, second: Path) -> bool:
    """Swap two existing paths in one step (Linux renameat2); False where that is unsupported."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(AT_FDCWD, os.fsencode(first), AT_FDCWD, os.fsencode(second), RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(second))


def exchange_directory(new: Path, target: Path) -> None:
    """Put the directory ``new`` at ``target``; what was at ``target`` is left at ``new``."""
    if os.path.lexists(target):
        if not _exchange(new, target):  # a filesystem without renameat2: a moment without ``target``
            aside = new.with_name(new.name + ".old")
            remove(aside)
            os.rename(target, aside)
            os.rename(new, target)
            os.rename(aside, new)
    else:
        os.rename(new, target)
    fsync_directory(target.parent)


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


# --- what was written, and whether the files still hold it --------------------------------------

_checksums: dict[tuple, int] = {}
_checksums_lock = threading.Lock()


def checksum(path: Path, *, memo: bool = True) -> int:
    """CRC-32 of a file, remembered per (inode, size, times): an unchanged file is read once."""
    stat = path.stat()
    key = (str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
    with _checksums_lock:
        if memo and key in _checksums:
            return _checksums[key]
    crc = 0
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            crc = zlib.crc32(chunk, crc)
    with _checksums_lock:
        if len(_checksums) > 10_000:
            _checksums.clear()
        _checksums[key] = crc
    return crc


def lexical_commit(path: Path) -> tuple[int, int, set[str]]:
    """(opstamp, papers, segment ids) of the commit that ``path``/meta.json names.

    OSError when the file cannot be read, ValueError when it is not a tantivy commit."""
    try:
        meta = json.loads((path / "meta.json").read_text())
        papers, segments = 0, set()
        for segment in meta["segments"]:
            deletes = segment.get("deletes") or {}
            papers += int(segment["max_doc"]) - int(deletes.get("num_deleted_docs", 0))
            segments.add(str(segment["segment_id"]).replace("-", ""))
        return int(meta["opstamp"]), papers, segments
    except (KeyError, TypeError, AttributeError, UnicodeDecodeError) as error:
        raise ValueError(f"not a tantivy commit: {error}") from None


def lexical_record(path: Path, generation: str) -> dict:
    """What the lexical index in ``path`` holds, as written: recorded in state.json."""
    opstamp, papers, segments = lexical_commit(path)
    files = {}
    for name in sorted(os.listdir(path)):
        if name.split(".", 1)[0] in segments:
            files[name] = [(path / name).stat().st_size, checksum(path / name)]
    return {"generation": generation, "opstamp": opstamp, "papers": papers, "files": files}


def vectors_record(data: bytes, count: int) -> dict:
    return {"count": count, "size": len(data), "crc": zlib.crc32(data)}


def _lexical_record_ok(record) -> bool:
    return (
        isinstance(record, dict)
        and isinstance(record.get("generation"), str)
        and all(isinstance(record.get(k), int) for k in ("opstamp", "papers"))
        and isinstance(record.get("files"), dict)
        and all(
            isinstance(v, list) and len(v) == 2 and all(isinstance(n, int) for n in v) for v in record["files"].values()
        )
    )


def _vectors_record_ok(record) -> bool:
    return isinstance(record, dict) and all(isinstance(record.get(k), int) for k in ("count", "size", "crc"))


@dataclass
class IndexState:
    """What the index files hold: written last, after the files themselves.

    ``pending`` holds the records of files about to replace the current ones: the files match
    ``lexical``/``vectors`` or ``pending``, never neither, even while they are being swapped.
    """

    version: int = SCHEMA_VERSION
    model: str | None = None
    watermark: str | None = None  # ISO time: papers updated before it are indexed
    lexical: dict | None = None
    vectors: dict | None = None
    pending: dict = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path) -> IndexState:
        """The state; version 0 when it is missing or unreadable (everything is then rebuilt)."""
        try:
            data = json.loads((folder / STATE).read_text())
            state = cls(**{f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data})
            if state.watermark is not None:
                dt.datetime.fromisoformat(state.watermark)
            pending = state.pending if isinstance(state.pending, dict) else None
            if (
                not isinstance(state.version, int)
                or not isinstance(state.model, str | None)
                or pending is None
                or not all(_lexical_record_ok(r) for r in (state.lexical, pending.get("lexical")) if r is not None)
                or not all(_vectors_record_ok(r) for r in (state.vectors, pending.get("vectors")) if r is not None)
            ):
                raise ValueError("unexpected content")
            return state
        except (OSError, ValueError, TypeError, AttributeError):
            return cls(version=0)

    def records(self, name: str) -> list[dict]:
        """The records the ``name`` index ("lexical" or "vectors") may match: current, then pending."""
        return [r for r in (getattr(self, name), self.pending.get(name)) if r]

    def save(self, folder: Path) -> None:
        write_atomically(folder / STATE, json.dumps(dataclasses.asdict(self)).encode())


def match_lexical(folder: Path, state: IndexState, memo: bool = True) -> tuple[dict | None, str | None]:
    records = state.records("lexical")
    if not records:
        return None, "lexical/ has not been built"
    path = folder / LEXICAL
    if not path.is_dir():
        return None, "lexical/ is missing"
    try:
        opstamp, papers, _ = lexical_commit(path)
    except FileNotFoundError:
        return None, "lexical/meta.json is missing"
    except OSError as error:
        return None, f"lexical/meta.json is unreadable ({error.strerror})"
    except ValueError as error:
        return None, f"lexical/meta.json is unreadable ({error})"
    problem = None
    for record in records:
        if opstamp != record["opstamp"]:
            if opstamp > record["opstamp"] and papers >= record["papers"]:
                return record, None  # a newer commit, whose record is being written
            problem = f"lexical/ holds {papers} papers (commit {opstamp}); {record['papers']} were written"
            continue
        if papers != record["papers"]:
            problem = f"lexical/ holds {papers} papers; {record['papers']} were written"
            continue
        problem = _damaged_file(path, record["files"], memo)
        if problem is None:
            return record, None
    return None, problem


def _damaged_file(path: Path, files: dict, memo: bool) -> str | None:
    for name, (size, crc) in files.items():
        try:
            if (path / name).stat().st_size != size:
                return f"lexical/{name} is not the size it was written"
            if checksum(path / name, memo=memo) != crc:
                return f"lexical/{name} is damaged (checksum)"
        except FileNotFoundError:
            return f"lexical/{name} is missing"
        except OSError as error:
            return f"lexical/{name} is unreadable ({error.strerror})"
    return None


def check_lexical(folder: Path, state: IndexState, *, memo: bool = True) -> str | None:
    """What is wrong with the lexical index, or None when it holds what was written."""
    return match_lexical(folder, state, memo)[1]


def match_vectors(folder: Path, state: IndexState, memo: bool = True) -> tuple[dict | None, str | None]:
    records = state.records("vectors")
    if not records:
        return None, f"{VECTORS} has not been built"
    path = folder / VECTORS
    try:
        size = path.stat().st_size
        if not any(r["size"] == size for r in records):
            return None, f"{VECTORS} has {size} bytes; {records[0]['size']} were written (truncated or overwritten)"
        crc = checksum(path, memo=memo)
    except FileNotFoundError:
        return None, f"{VECTORS} is missing"
    except OSError as error:
        return None, f"{VECTORS} is unreadable ({error.strerror})"
    record = next((r for r in records if r["size"] == size and r["crc"] == crc), None)
    return record, None if record else f"{VECTORS} is damaged (checksum)"


def check_vectors(folder: Path, state: IndexState, *, memo: bool = True) -> str | None:
    """What is wrong with the vector index, or None when it holds what was written (or none is kept)."""
    return match_vectors(folder, state, memo)[1] if state.model else None


def settle(folder: Path, state: IndexState) -> IndexState:
    """The state of whole indexes with the records their files match as the current ones (after a
    writer was stopped while swapping files in)."""
    if state.pending:
        state.lexical = match_lexical(folder, state, True)[0]
        state.vectors = match_vectors(folder, state, True)[0] if state.model else None
        state.pending = {}
    return state


def check(folder: Path | None = None, state: IndexState | None = None, *, memo: bool = True) -> dict[str, str]:
    """The one integrity check: what is wrong with each index ("lexical", "vectors"); {} if whole.

    ``memo``: trust the checksum of a file this process has read before and that has not been
    written since (by its inode, size and times); the updater reads everything every time.
    """
    folder = folder or index_dir()
    state = state or IndexState.load(folder)
    if state.version != SCHEMA_VERSION:
        if (folder / STATE).exists():
            reason = f"{STATE} is unreadable or from another version"
        else:
            reason = "the index has not been built"
        return {"lexical": reason, "vectors": reason}
    problems = {"lexical": check_lexical(folder, state, memo=memo), "vectors": check_vectors(folder, state, memo=memo)}
    return {name: problem for name, problem in problems.items() if problem}


def writer_running(folder: Path) -> bool:
    """Whether a process holds the index write lock (an update or a rebuild is under way)."""
    try:
        descriptor = os.open(folder / WRITE_LOCK, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)


def rebuilding(folder: Path) -> str | None:
    """Why the running writer is rebuilding an index, or None when none is being rebuilt."""
    try:
        reason = json.loads((folder / REBUILDING).read_text())["reason"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return str(reason) if writer_running(folder) else None
