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

Every path is also checked for its kind: a file where a folder belongs (or the index folder
itself a file), a folder or a named pipe where a file belongs fails the check, is never read
(a pipe would block the reader), and is moved aside by the updater as
``<name>.damaged-<UTC time>`` (never deleted: it may be something an operator wants) before
it rebuilds. One writer at a time holds ``index.lock``, beside the index folder, so that the
folder itself can be moved aside under it.
"""

from __future__ import annotations

import ctypes
import dataclasses
import datetime as dt
import errno
import fcntl
import json
import logging
import os
import shutil
import stat as stat_module
import tempfile
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from paperwire.core import jsondata

SCHEMA_VERSION = 4  # 4: sort fields (by_date, by_upvotes) and the vector key indexed
LEXICAL = "lexical"
VECTORS = "vectors.usearch"
MAPPED = ".mapped"  # the readers' private copies of VECTORS (index_files.VectorIndex)
STATE = "state.json"
REBUILDING = "rebuilding.json"
# Rows committed by a slower transaction may carry an updated_at (or upvotes_changed_at) a
# little before the watermark; each run looks that far back again (re-indexing is harmless).
WATERMARK_SLACK = dt.timedelta(minutes=5)
NEW_LEXICAL = "lexical.new"
LOOK_BACK = "look-back.json"  # what the last run wrote of the papers the next one reads again (look_back.py)
EMBEDDED = "embedded.json"  # when the last embedding scan that went through every paper began
NOT_BUILT = "the index has not been built"
MAX_JSON = 16 << 20  # bytes of state.json or meta.json read at most
log = logging.getLogger(__name__)


def index_dir() -> Path:
    return Path(settings.PAPERWIRE_HOME) / "index"


def lock_path(folder: Path) -> Path:
    """The writers' lock: beside the index folder, which may be moved aside under it."""
    return folder.with_name(folder.name + ".lock")


# --- what kind of thing is at a path ------------------------------------------------------------

FILE, FOLDER = "a file", "a folder"
UNEXAMINED = "beyond reach"  # what kind() says of a path it cannot stat (permissions)
# What each name in the index folder must be; the updater moves aside anything else found there.
# (A folder at look-back.json or embedded.json made each run warn, and lose what it saves, for ever.)
KINDS = {
    LEXICAL: FOLDER,
    VECTORS: FILE,
    STATE: FILE,
    REBUILDING: FILE,
    NEW_LEXICAL: FOLDER,
    LOOK_BACK: FILE,
    EMBEDDED: FILE,
}


def describe(mode: int) -> str:
    if stat_module.S_ISREG(mode):
        return FILE
    if stat_module.S_ISDIR(mode):
        return FOLDER
    if stat_module.S_ISFIFO(mode):
        return "a named pipe"
    if stat_module.S_ISSOCK(mode):
        return "a socket"
    return "a device file"


def kind(path: Path) -> str | None:
    """FILE, FOLDER or what else is at ``path`` (links followed); None when nothing is there
    (or a folder on the way is missing or is not a folder: that is reported for the folder)."""
    try:
        return describe(os.stat(path).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return "a broken link" if os.path.islink(path) else None
    except OSError as error:  # a folder on the way that cannot be searched: not a reason to answer 500
        return f"{UNEXAMINED} ({error.strerror})"


class WrongKind(OSError):
    """A folder, a named pipe... where a file must be read."""

    def __init__(self, path: Path, found: str) -> None:
        super().__init__(errno.EISDIR if found == FOLDER else errno.EINVAL, f"{found}, not a file", str(path))
        self.found = found


def open_regular(path: Path):
    """``path`` opened for reading (binary), provided it is a regular file: WrongKind when it is a
    folder, a named pipe or a device (opening never waits on a pipe), another OSError when it
    cannot be opened."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat_module.S_ISREG(mode):
            raise WrongKind(path, describe(mode))
        os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def read_regular(path: Path, limit: int | None = None) -> bytes:
    """The bytes of the regular file ``path`` (ValueError past ``limit`` bytes)."""
    with open_regular(path) as file:
        data = file.read() if limit is None else file.read(limit + 1)
    if limit is not None and len(data) > limit:
        raise ValueError(f"larger than {limit} bytes")
    return data


def unreadable(name: str, error: OSError) -> str:
    """How an OSError reading ``name`` reads in a reason."""
    if isinstance(error, WrongKind):
        return f"{name} is {error.found}, not a file"
    return f"{name} is unreadable ({error.strerror or error})"


def move_aside(path: Path) -> Path | None:
    """Rename ``path`` to ``<name>.damaged-<UTC time>`` beside it (never deleting it); the new
    path, or None when nothing was there any more."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    for attempt in range(1000):
        aside = path.with_name(f"{path.name}.damaged-{stamp}" + (f"-{attempt}" if attempt else ""))
        if os.path.lexists(aside):
            continue
        try:
            os.rename(path, aside)
        except FileNotFoundError:
            return None
        log.warning("%s was %s: moved aside to %s", path, kind(aside), aside.name)
        return aside
    raise FileExistsError(errno.EEXIST, "no free name to move it aside to", str(path))


def clear_the_way(folder: Path) -> list[str]:
    """Move aside (under the write lock) whatever stands where the index folder or one of its
    files or folders must be, and make sure the folder exists; what was moved, as sentences."""
    moved = []
    found = kind(folder)
    if misplaced(found, FOLDER) and (aside := move_aside(folder)):
        moved.append(f"{folder.name}/ was {found}: moved aside to {aside.name}")
    folder.mkdir(parents=True, exist_ok=True)
    for name, wanted in KINDS.items():
        found = kind(folder / name)
        if misplaced(found, wanted) and (aside := move_aside(folder / name)):
            moved.append(f"{name} was {found}: moved aside to {aside.name}")
    return moved


def misplaced(found: str | None, wanted: str) -> bool:
    """Whether what was found must be moved aside (what cannot be examined cannot be moved either)."""
    return found not in (None, wanted) and not found.startswith(UNEXAMINED)


@contextmanager
def write_lock(folder: Path) -> Iterator[None]:
    """One writer at a time: an exclusive lock on ``index.lock`` beside ``folder``."""
    path = lock_path(folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        if misplaced(kind(path), FILE):
            move_aside(path)
        with open(path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                held = os.fstat(lock.fileno()).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                held = False
            if held:  # else the file was moved or replaced while this process waited for it
                yield
                return


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
    """Delete a file or folder this program wrote (an old index, a temporary file)."""
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
    with open_regular(path) as file:
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
        meta = jsondata.parse(read_regular(path / "meta.json", MAX_JSON))
        papers, segments = 0, set()
        for segment in meta["segments"]:
            deletes = segment.get("deletes") or {}
            papers += int(segment["max_doc"]) - int(deletes.get("num_deleted_docs", 0))
            segments.add(str(segment["segment_id"]).replace("-", ""))
        return int(meta["opstamp"]), papers, segments
    except (KeyError, TypeError, AttributeError, UnicodeDecodeError) as error:
        raise ValueError(f"not a tantivy commit: {error}") from None


def segment_files(path: Path, segments: set[str]) -> list[str]:
    return [name for name in sorted(os.listdir(path)) if name.split(".", 1)[0] in segments]


def lexical_record(path: Path, generation: str) -> dict:
    """What the lexical index in ``path`` holds, as written: recorded in state.json."""
    opstamp, papers, segments = lexical_commit(path)
    files = {name: [(path / name).stat().st_size, checksum(path / name)] for name in segment_files(path, segments)}
    return {"generation": generation, "opstamp": opstamp, "papers": papers, "files": files}


def file_crc(file, size: int | None = None) -> tuple[int, int]:
    """(CRC-32, bytes read) of an open binary file from where it stands, in chunks."""
    crc = read = 0
    while chunk := file.read(1 << 20 if size is None else min(1 << 20, size + 1 - read)):
        crc = zlib.crc32(chunk, crc)
        read += len(chunk)
    return crc, read


def save_vectors(index, folder: Path) -> tuple[Path, dict]:
    """Write the HNSW index straight into a temporary file of ``folder`` (no second copy of it in
    memory), fsynced; (that file, its record as read back from the disk). The caller renames it
    into place. Room is reserved first, so that a full disk is told as such (usearch's own
    error names no cause)."""
    temporary = folder / f".{VECTORS}.{os.getpid()}.tmp"
    try:
        with open(temporary, "wb") as file:
            os.posix_fallocate(file.fileno(), 0, max(int(index.serialized_length), 1))
        try:
            index.save(str(temporary))
        except RuntimeError as error:
            room = os.statvfs(folder)
            if room.f_bavail * room.f_frsize < int(index.serialized_length):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)) from error
            raise OSError(errno.EIO, f"writing {VECTORS} failed: {error}") from error
        with open(temporary, "rb") as file:
            os.fsync(file.fileno())
            crc, size = file_crc(file)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary, {"count": len(index), "size": size, "crc": crc}


def private_copy(file, size: int, folder: Path) -> tuple[Path | None, int]:
    """Copy the open file (``size`` bytes, from its start) into a new file of ``folder``, computing
    its CRC-32 on the way: (the copy, the CRC). The copy is None where it cannot be written (no
    room, a read-only folder): the CRC is still computed, from the file alone."""
    file.seek(0)
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        out = tempfile.NamedTemporaryFile(dir=folder, prefix=".", suffix=".tmp", delete=False)  # noqa: SIM115
    except OSError as error:
        log.warning("no private copy of %s (%s): reading it into memory", VECTORS, error)
        return None, file_crc(file, size)[0]
    copy, crc, read = Path(out.name), 0, 0
    try:
        with out:
            while chunk := file.read(min(1 << 20, size + 1 - read)):
                crc = zlib.crc32(chunk, crc)
                read += len(chunk)
                out.write(chunk)
    except OSError as error:
        copy.unlink(missing_ok=True)
        if error.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES):
            raise
        log.warning("no private copy of %s (%s): reading it into memory", VECTORS, error)
        file.seek(0)
        return None, file_crc(file, size)[0]
    return copy, crc


def remove_other_copies(folder: Path, keep: set[str]) -> None:
    """Remove the private copies of records no longer current, and temporary files of an hour
    ago (a reader killed while copying)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        try:
            stale = entry.name.endswith(".tmp") and time.time() - entry.stat().st_mtime > 3600
            if (entry.name not in keep and not entry.name.endswith(".tmp")) or stale:
                os.unlink(entry.path)
        except OSError:
            pass


def put_in_place(temporary: Path, path: Path) -> None:
    """Rename a written, fsynced temporary file over ``path`` and make the rename durable."""
    os.replace(temporary, path)
    fsync_directory(path.parent)


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
            data = jsondata.parse(read_regular(folder / STATE, MAX_JSON))
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


Stamp = tuple[int, int, int, int]  # inode, size, mtime and ctime (ns) of a file


def stamp_of(result: os.stat_result) -> Stamp:
    return (result.st_ino, result.st_size, result.st_mtime_ns, result.st_ctime_ns)


def match_lexical(
    folder: Path,
    state: IndexState,
    memo: bool = True,
    *,
    accept_newer: bool | None = None,
    stamps: dict[str, Stamp] | None = None,
) -> tuple[dict | None, str | None]:
    """The record the lexical index matches, or None and what is wrong with it.

    A commit newer than every record is accepted (unchecked) only while a writer holds the
    lock, between its commit and its record (``accept_newer``: None to ask the lock); left by
    a writer that was stopped there, it is a problem: its files were never recorded.
    ``stamps``: filled with the stamp of each file checked, as it was checked."""
    records = state.records("lexical")
    if not records:
        return None, "lexical/ has not been built"
    path = folder / LEXICAL
    found = kind(path)
    if found is None:
        return None, "lexical/ is missing"
    if found != FOLDER:
        return None, f"lexical/ is {found}, not a folder"
    try:
        opstamp, papers, _ = lexical_commit(path)
    except FileNotFoundError:
        return None, "lexical/meta.json is missing"
    except OSError as error:
        return None, unreadable("lexical/meta.json", error)
    except ValueError as error:
        return None, f"lexical/meta.json is unreadable ({error})"
    problem = exact_problem = None
    for record in records:
        if opstamp != record["opstamp"]:
            problem = f"lexical/ holds {papers} papers (commit {opstamp}); {record['papers']} were written"
        elif papers != record["papers"]:
            exact_problem = f"lexical/ holds {papers} papers; {record['papers']} were written"
        else:
            if stamps is not None:
                stamps.clear()
            exact_problem = _damaged_file(path, record["files"], memo, stamps)
            if exact_problem is None:
                return record, None
    if exact_problem:
        return None, exact_problem
    newest = records[-1]
    if opstamp > max(r["opstamp"] for r in records) and papers >= newest["papers"]:
        if accept_newer or (accept_newer is None and writer_running(folder)):
            return newest, None  # a newer commit, whose record is being written
        return None, "lexical/ holds a commit that no update recorded (a writer was stopped)"
    return None, problem


def _damaged_file(path: Path, files: dict, memo: bool, stamps: dict[str, Stamp] | None) -> str | None:
    for name, (size, crc) in files.items():
        try:
            before = os.stat(path / name)
            if before.st_size != size or not stat_module.S_ISREG(before.st_mode):
                found = describe(before.st_mode)
                return (
                    f"lexical/{name} is {found}, not a file"
                    if found != FILE
                    else f"lexical/{name} is not the size it was written"
                )
            if checksum(path / name, memo=memo) != crc:
                return f"lexical/{name} is damaged (checksum)"
            if stamps is not None:
                stamps[name] = stamp_of(before)
        except FileNotFoundError:
            return f"lexical/{name} is missing"
        except OSError as error:
            return unreadable(f"lexical/{name}", error)
    return None


def check_lexical(
    folder: Path, state: IndexState, *, memo: bool = True, accept_newer: bool | None = None
) -> str | None:
    """What is wrong with the lexical index, or None when it holds what was written."""
    return match_lexical(folder, state, memo, accept_newer=accept_newer)[1]


def match_vectors(folder: Path, state: IndexState, memo: bool = True) -> tuple[dict | None, str | None]:
    records = state.records("vectors")
    if not records:
        return None, f"{VECTORS} has not been built"
    path = folder / VECTORS
    try:
        result = os.stat(path)
        if not stat_module.S_ISREG(result.st_mode):
            return None, f"{VECTORS} is {describe(result.st_mode)}, not a file"
        size = result.st_size
        if not any(r["size"] == size for r in records):
            return None, f"{VECTORS} has {size} bytes; {records[0]['size']} were written (truncated or overwritten)"
        crc = checksum(path, memo=memo)
    except FileNotFoundError:
        return None, f"{VECTORS} is missing"
    except OSError as error:
        return None, unreadable(VECTORS, error)
    record = next((r for r in records if r["size"] == size and r["crc"] == crc), None)
    return record, None if record else f"{VECTORS} is damaged (checksum)"


def check_vectors(folder: Path, state: IndexState, *, memo: bool = True) -> str | None:
    """What is wrong with the vector index, or None when it holds what was written (or none is kept)."""
    return match_vectors(folder, state, memo)[1] if state.model else None


def settle(folder: Path, state: IndexState) -> IndexState:
    """The state of whole indexes with the records their files match as the current ones (after a
    writer was stopped while swapping files in). Called by the writer, under the lock."""
    if state.pending:
        state.lexical = match_lexical(folder, state, True, accept_newer=False)[0]
        state.vectors = match_vectors(folder, state, True)[0] if state.model else None
        state.pending = {}
    return state


def check(
    folder: Path | None = None,
    state: IndexState | None = None,
    *,
    memo: bool = True,
    accept_newer: bool | None = None,
) -> dict[str, str]:
    """The one integrity check: what is wrong with each index ("lexical", "vectors"); {} if whole.

    ``memo``: trust the checksum of a file this process has read before and that has not been
    written since (by its inode, size and times); the updater reads everything every time.
    ``accept_newer``: see match_lexical (the writer passes False: it holds the lock).
    """
    folder = folder or index_dir()
    found = kind(folder)
    if found not in (None, FOLDER):
        reason = f"{folder.name}/ is {found}, not a folder"
        return {"lexical": reason, "vectors": reason}
    state = state or IndexState.load(folder)
    if (reason := state_problem(folder, state)) is not None:
        return {"lexical": reason, "vectors": reason}
    problems = {
        "lexical": check_lexical(folder, state, memo=memo, accept_newer=accept_newer),
        "vectors": check_vectors(folder, state, memo=memo),
    }
    return {name: problem for name, problem in problems.items() if problem}


def state_problem(folder: Path, state: IndexState) -> str | None:
    """Why ``state``, read from ``folder``, describes no index this release reads (NOT_BUILT
    when there is no state.json: no index was ever built there), or None."""
    if state.version == SCHEMA_VERSION:
        return None
    found = kind(folder)
    if found not in (None, FOLDER):
        return f"{folder.name}/ is {found}, not a folder"
    found = kind(folder / STATE)
    if found is None:
        return NOT_BUILT
    if found != FILE:
        return f"{STATE} is {found}, not a file"
    return f"{STATE} is unreadable or from another version"


def writer_running(folder: Path) -> bool:
    """Whether a process holds the index write lock (an update or a rebuild is under way)."""
    try:
        descriptor = os.open(lock_path(folder), os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
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
        reason = jsondata.parse(read_regular(folder / REBUILDING, MAX_JSON))["reason"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return str(reason) if writer_running(folder) else None
