"""Static files with content-hashed, precompressed names, so that browsers keep them for a year."""

from __future__ import annotations

import hashlib
import json
from importlib.metadata import version
from pathlib import Path
from urllib.parse import urljoin

from django.conf import settings
from django.utils.encoding import filepath_to_uri
from whitenoise.storage import CompressedManifestStaticFilesStorage

# Written in STATIC_ROOT after a collection: what was collected (see collect_static).
COLLECTED = ".paperwire-collected"


class StaticStorage(CompressedManifestStaticFilesStorage):
    """`paperwire serve` runs `collectstatic` first: pages then link `paperwire.<hash>.css`, which
    WhiteNoise serves gzip-compressed with `Cache-Control: immutable`. Before any
    `collectstatic` (tests, a shell), links keep the plain name, served from the package."""

    def url(self, name, force=False):
        try:
            return super().url(name, force)
        except ValueError:  # no manifest entry: not collected yet
            return urljoin(self.base_url, filepath_to_uri(name))


def sources_fingerprint() -> str:
    """A digest of every file collectstatic would collect (its name, size and time) and of what
    collects them (Django's and WhiteNoise's versions, the storage): it changes when any does."""
    from django.contrib.staticfiles import finders

    digest = hashlib.blake2b(digest_size=16)
    for package in ("django", "whitenoise"):
        digest.update(f"{package}={version(package)}\n".encode())
    digest.update(f"{settings.STORAGES['staticfiles']['BACKEND']}\n".encode())
    seen = set()
    for finder in finders.get_finders():
        for path, storage in finder.list([]):
            if path in seen:  # the first finder's file is the one collected
                continue
            seen.add(path)
            stat = Path(storage.path(path)).stat()
            digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def collected_whole(root: Path) -> bool:
    """Whether every file the manifest names (and its gzip copy's original) is in STATIC_ROOT."""
    try:
        manifest = json.loads((root / "staticfiles.json").read_text())
        paths = manifest["paths"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return all((root / name).is_file() and (root / hashed).is_file() for name, hashed in paths.items())


def collect_static() -> bool:
    """Run `collectstatic` unless STATIC_ROOT already holds what it would write (the same sources,
    every file present): it hashes and compresses every file again each time, seconds of a
    start-up spent for nothing. Returns whether it ran."""
    from django.core.management import call_command

    root = Path(settings.STATIC_ROOT)
    fingerprint = sources_fingerprint()
    try:
        done = (root / COLLECTED).read_text().strip() == fingerprint
    except OSError:
        done = False
    if done and collected_whole(root):
        return False
    call_command("collectstatic", interactive=False, verbosity=0)
    (root / COLLECTED).write_text(fingerprint + "\n")
    return True
