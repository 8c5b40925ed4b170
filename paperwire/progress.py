import sys
from collections.abc import Iterable

from tqdm import tqdm


def progress(items: Iterable | None = None, *, show: bool | None = None, **options) -> tqdm:
    """A progress bar on stderr when it is a terminal (or ``show``), silent otherwise."""
    return tqdm(items, disable=not (sys.stderr.isatty() if show is None else show), **options)
