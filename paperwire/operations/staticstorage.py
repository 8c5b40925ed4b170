"""Static files: content-hashed, precompressed names that browsers keep for a year, and pages
that keep rendering whatever happened to the collected copies.

`paperwire serve` collects the package's files into ``STATIC_ROOT`` (``PAPERWIRE_HOME/static``)
as it starts (``collect``): into a fresh folder, swapped in whole, so that whatever an earlier
run or a person left there (a truncated manifest, a directory where a file belongs) is replaced.
Collecting hashes and compresses every file again (seconds of a start-up on a small machine),
so a start skips it when the folder holds exactly what the last collection wrote from the same
sources: the collection records in the folder a fingerprint of its sources and the size and
time of every file it wrote (``RECORD``), and any difference (a new version, a file missing,
changed, unreadable, not a regular file, or one more) collects again. Pages then link
``paperwire.<hash>.css``, which WhiteNoise serves gzip-compressed with ``Cache-Control:
immutable``.

Should the collected copies be damaged while the site serves (the folder deleted, the manifest
truncated, a file replaced by a directory or made unreadable), a page links the file's plain
name instead, which WhiteNoise serves from the package itself (``WHITENOISE_USE_FINDERS``); a
request for a collected copy that cannot be read is a 404, never a 500; the problem is logged
once per process, and ``/healthz`` says ``degraded`` with the reason (``static_health``) until
the next start collects the files again. Before any collection (tests, a shell), pages link the
plain names too, and that is no problem.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import shutil
import stat
import tempfile
import threading
from importlib.metadata import version
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.staticfiles.management.commands.collectstatic import Command as CollectStatic
from django.core.management import call_command
from whitenoise.middleware import WhiteNoiseMiddleware
from whitenoise.responders import NotARegularFileError
from whitenoise.storage import CompressedManifestStaticFilesStorage

from paperwire.core import jsondata

logger = logging.getLogger("paperwire.static")

MANIFEST = "staticfiles.json"
# Written by `collect` in the collected folder: the sources' fingerprint and every file written.
RECORD = ".paperwire-collected"
# Set by `collect` in `paperwire serve`: its web workers, forked from it, then count a missing
# manifest as damage, not as "not collected yet"; and why collecting failed, if it did.
collected = False
collect_failure: str | None = None

_reported: set[str] = set()
_reported_lock = threading.Lock()


def report(problem: str) -> None:
    """Log a problem of the collected files once per process, however many requests meet it."""
    with _reported_lock:
        if problem in _reported:
            return
        _reported.add(problem)
    logger.warning(
        "static files: %s; pages link the files of the package until `paperwire serve` collects them again "
        "at its next start",
        problem,
    )


def static_root() -> Path:
    return Path(settings.STATIC_ROOT)


def readable(path: str) -> bool:
    """A regular file this process can read (the quick test; ``file_problem`` says why not)."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode) and os.access(path, os.R_OK)
    except OSError:
        return False


def file_problem(root: Path, name: str) -> str | None:
    """Why the collected file ``name`` cannot be served, or None when it is a readable file."""
    path = root / name
    try:
        mode = os.stat(path).st_mode
    except OSError as error:
        if error.errno == errno.ENOENT and not root.is_dir():
            return f"the folder {root} is missing"
        if error.errno == errno.ENOENT:
            return f"{name} is missing"
        return f"{name} cannot be read ({error.strerror})"
    if stat.S_ISDIR(mode):
        return f"{name} is a directory"
    if not stat.S_ISREG(mode):
        return f"{name} is not a regular file"
    if not os.access(path, os.R_OK):
        return f"{name} cannot be read (permission denied)"
    return None


def read_manifest(root: Path) -> tuple[dict[str, str] | None, str | None]:
    """The manifest's paths (None when there is none) and what is wrong with it, if anything."""
    try:
        content = (root / MANIFEST).read_bytes().decode()
    except FileNotFoundError:
        if not root.is_dir():
            return None, f"the folder {root} is missing"
        return None, f"{MANIFEST} is missing"
    except IsADirectoryError:
        return None, f"{MANIFEST} is a directory"
    except OSError as error:
        return None, f"{MANIFEST} cannot be read ({error.strerror})"
    except UnicodeDecodeError:
        return None, f"{MANIFEST} is damaged (not text)"
    try:
        stored = jsondata.parse(content)
    except ValueError:
        return None, f"{MANIFEST} is damaged (truncated or overwritten: not JSON)"
    paths = stored.get("paths") if isinstance(stored, dict) else None
    if (
        not isinstance(paths, dict)
        or stored.get("version") not in ("1.0", "1.1")
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in paths.items())
    ):
        return None, f"{MANIFEST} is damaged (not a manifest of collectstatic)"
    return paths, None


def static_health() -> dict:
    """For /healthz: ``ok`` with the number of collected files, ``damaged`` with the reason
    (the manifest or files it names missing, damaged or unreadable), or ``not collected``
    outside `paperwire serve` before any collection."""
    if collect_failure:
        return {"status": "damaged", "reason": collect_failure}
    root = static_root()
    paths, problem = read_manifest(root)
    if paths is None and not collected and problem.endswith(" is missing"):
        return {"status": "not collected"}
    problems = [problem] if problem else []
    if paths is not None:
        folder = str(root)
        unreadable = {name for name in paths.values() if not readable(os.path.join(folder, name))}
        problems = [p for p in (file_problem(root, name) for name in sorted(unreadable)) if p]
        if problems and all(p.startswith("the folder") for p in problems):
            problems = problems[:1]
    if not problems:
        return {"status": "ok", "files": len(paths or {})}
    shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
    return {"status": "damaged", "reason": shown}


class StaticStorage(CompressedManifestStaticFilesStorage):
    """Links the content-hashed copy when it can be served, else the plain name (served from
    the package); a manifest that cannot be read counts as none (see the module's docstring)."""

    def load_manifest(self):
        paths, problem = read_manifest(Path(self.location))
        if paths is None:
            if problem and (collected or not problem.endswith(" is missing")):
                report(problem)
            return {}, ""
        return paths, ""

    def stored_name(self, name):
        try:
            stored = super().stored_name(name)
        except ValueError:  # no manifest entry: not collected (yet), or the manifest is damaged
            return name
        path = urlsplit(stored).path
        if readable(os.path.join(self.location, path)):
            return stored
        report(file_problem(Path(self.location), path) or f"{path} cannot be read")
        return name


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise, except that a collected file that cannot be read is not served (the request
    goes on to the site, which answers 404) instead of failing with a 500 or, found while a
    worker starts, keeping the worker from starting."""

    def update_files_dictionary(self, root, prefix):
        stat_cache = {}
        for folder, _, names in os.walk(root, onerror=lambda error: report(f"{error.filename}: {error.strerror}")):
            for name in names:
                path = os.path.join(folder, name)
                try:
                    stat_cache[path] = os.stat(path)
                except OSError as error:
                    report(f"{os.path.relpath(path, root)} cannot be read ({error.strerror})")
        stat_cache.pop(os.path.join(root, RECORD), None)  # bookkeeping, not a file of the site
        for path in stat_cache:
            url = prefix + path[len(root) :].replace("\\", "/")
            try:
                self.add_file_to_dictionary(url, path, stat_cache=stat_cache)
            except (OSError, NotARegularFileError):
                report(f"{os.path.relpath(path, root)} is not a regular file")

    def __call__(self, request):
        try:
            static_file = self.find_file(request.path_info) if self.autorefresh else self.files.get(request.path_info)
            if static_file is not None:
                if hasattr(static_file, "get_path_and_headers"):  # a file, not a redirect
                    path, _ = static_file.get_path_and_headers(request.META)
                    if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO would block the thread
                        raise NotARegularFileError(path)
                return self.serve(static_file, request)
        except (OSError, NotARegularFileError) as error:
            report(self.problem_serving(request.path_info, error))
        return self.get_response(request)

    def problem_serving(self, url: str, error: Exception) -> str:
        """Worded as ``file_problem`` words it for the page that links the file (one log line)."""
        root = static_root()
        where = getattr(error, "filename", None) or (error.args[0] if isinstance(error, NotARegularFileError) else "")
        path = Path(where or os.path.join(root, url[len(self.static_prefix) :]))
        if not path.is_relative_to(root):
            return f"{path} cannot be read ({getattr(error, 'strerror', None) or error})"
        name = str(path.relative_to(root))
        return file_problem(root, name) or f"{name} cannot be read ({getattr(error, 'strerror', None) or error})"

    def add_files_from_finders(self):
        try:
            super().add_files_from_finders()
        except OSError as error:  # a broken installation: serve what was collected, say why
            report(f"the package's files cannot be listed ({error.filename}: {error.strerror})")

    def add_files(self, root, prefix=None):
        if self.autorefresh or os.path.isdir(root):
            super().add_files(root, prefix)
        elif collected:  # WhiteNoise would only warn, on every worker start
            report(f"the folder {root} is missing")


def collect() -> str | None:
    """Collect the static files into a fresh folder and put it in the place of ``STATIC_ROOT``,
    unless ``STATIC_ROOT`` holds, whole, what the last collection wrote from the same sources;
    the reason when collecting failed (``STATIC_ROOT`` is then left as it was, and pages link
    the package's files)."""
    global collected, collect_failure
    root = static_root()
    fingerprint = sources_fingerprint()
    if fingerprint is not None and collected_whole(root, fingerprint):
        collect_failure = None
    else:
        collect_failure = _collect(root, fingerprint)
    collected = collect_failure is None
    if collect_failure:
        report(collect_failure)
    return collect_failure


def sources_fingerprint() -> str | None:
    """A digest of every file `collectstatic` would collect (its path, size and time) and of what
    collects them (Django's, WhiteNoise's and Paperwire's versions, this module, the storage and
    WhiteNoise settings): it changes when any does. None when a source cannot be examined (the
    collection then runs, and says why it fails)."""
    from django.apps import apps
    from django.contrib.staticfiles import finders

    import paperwire

    digest = hashlib.blake2b(digest_size=16)
    for package in ("django", "whitenoise"):
        digest.update(f"{package}={version(package)}\n".encode())
    digest.update(f"paperwire={paperwire.__version__}\n".encode())
    digest.update(hashlib.blake2b(Path(__file__).read_bytes()).digest())
    digest.update(f"{settings.STORAGES['staticfiles']['BACKEND']}\n".encode())
    for name in sorted(name for name in dir(settings) if name.startswith("WHITENOISE_")):
        digest.update(f"{name}={getattr(settings, name)!r}\n".encode())
    seen = set()
    try:
        for finder in finders.get_finders():
            for path, storage in finder.list(apps.get_app_config("staticfiles").ignore_patterns):
                if path in seen:  # the first finder's file is the one collected
                    continue
                seen.add(path)
                source = storage.path(path)
                status = os.stat(source)
                digest.update(f"{path}\0{source}\0{status.st_size}\0{status.st_mtime_ns}\n".encode())
    except OSError:
        return None
    return digest.hexdigest()


def folder_files(root: Path) -> dict[str, list[int]] | None:
    """Every file under ``root`` but ``RECORD``, by its path there: [size, mtime in ns]; None when
    one is not a regular file this process can read (a directory is walked, a symbolic link is
    no file) or a folder cannot be listed."""
    files: dict[str, list[int]] = {}
    folders = [root]
    try:
        while folders:
            folder = folders.pop()
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        folders.append(Path(entry.path))
                        continue
                    status = entry.stat(follow_symlinks=False)
                    if not stat.S_ISREG(status.st_mode) or not os.access(entry.path, os.R_OK):
                        return None
                    files[os.path.relpath(entry.path, root)] = [status.st_size, status.st_mtime_ns]
    except OSError:
        return None
    files.pop(RECORD, None)
    return files


def collected_whole(root: Path, fingerprint: str) -> bool:
    """Whether ``root`` holds exactly what the last collection wrote from the sources of that
    fingerprint: its record says so, the manifest reads, every file it names is there, and every
    file is there as written (same size and time, regular, readable), none missing, none added."""
    try:
        if not stat.S_ISDIR(os.lstat(root).st_mode) or not stat.S_ISREG(os.lstat(root / RECORD).st_mode):
            return False
        record = jsondata.parse((root / RECORD).read_bytes())
    except (OSError, ValueError):
        return False
    if not isinstance(record, dict) or record.get("sources") != fingerprint:
        return False
    paths, problem = read_manifest(root)
    files = folder_files(root)
    if paths is None or problem or files is None or files != record.get("files"):
        return False
    return all(name in files and hashed in files for name, hashed in paths.items())


def _collect(root: Path, fingerprint: str | None) -> str | None:
    try:
        fresh = Path(tempfile.mkdtemp(prefix=".static-", dir=root.parent))
    except OSError as error:
        return f"could not be collected: cannot create a folder in {root.parent} ({error.strerror})"
    try:
        command = CollectStatic()
        command.storage = StaticStorage(location=str(fresh))
        call_command(command, interactive=False, verbosity=0)
        files = folder_files(fresh) if fingerprint else None
        if files is not None:  # what the next start compares the folder with
            (fresh / RECORD).write_text(json.dumps({"sources": fingerprint, "files": files}))
        if root.is_symlink() or root.exists():
            old = Path(tempfile.mkdtemp(prefix=".static-old-", dir=root.parent))
            os.rename(root, old / "static")
            os.rename(fresh, root)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(fresh, root)
    except Exception as error:  # noqa: BLE001 (any failure: serve anyway, from the package)
        shutil.rmtree(fresh, ignore_errors=True)
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        return f"could not be collected into {root} ({reason})"
    return None
