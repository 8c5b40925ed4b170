"""PAPERWIRE_HOME holds what must stay private: the SQLite database (password hashes, email
addresses), its WAL files and backups, and the generated secret key.

Every ``paperwire`` process starts with umask 077, so whatever it creates is 0600 (files) or
0700 (folders); files left readable by an earlier version are narrowed at every start. The
same user reads everything (the web workers serve the static files from the same home).
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")


def restrict_new_files() -> None:
    os.umask(0o077)


def narrow(path: Path) -> None:
    """Remove the group's and others' permissions from ``path``, if it exists."""
    try:
        current = stat.S_IMODE(path.stat().st_mode)
        if current & 0o077:
            path.chmod(current & ~0o077)
    except FileNotFoundError:
        pass
    except PermissionError:
        log.warning("%s is readable by others and not ours to change: chmod go-rwx it", path)


def private_file(path: Path) -> int:
    """Create ``path`` (which must not exist) readable by its owner only; an open descriptor."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)


def secure_home(home: Path, sqlite_database: Path | None) -> None:
    """Narrow the home folder, the database files, the backups and the secret key to their owner."""
    narrow(home)
    if sqlite_database is not None:
        for suffix in SQLITE_COMPANIONS:
            narrow(sqlite_database.with_name(sqlite_database.name + suffix))
    narrow(home / "secret_key")
    backups = home / "backups"
    if backups.is_dir():
        narrow(backups)
        for path in backups.iterdir():
            narrow(path)
