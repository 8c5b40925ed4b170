"""Progress of long work (import, index, ingest, digests), on stderr.

On a terminal: a progress bar (tqdm). Elsewhere (a pipe, a log file, a systemd service, a
container), a bar would be one endless line, so a plain line instead every
PAPERWIRE_PROGRESS_SECONDS, e.g.
``index: 3,000 of 9,877 papers (30%), 2,990 embeddings computed, 11.3 papers/s, about 10 min left``:
a run of many minutes is never silent, and a run shorter than that prints nothing.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator

from django.conf import settings
from tqdm import tqdm


def progress(
    items: Iterable | None = None,
    *,
    show: bool | None = None,
    detail: Callable[[], str] | None = None,
    **options,
):
    """A bar on stderr when it is a terminal (or ``show``), progress lines when it is not, nothing
    when ``show`` is False. ``detail``: more to say in each line (records read, embeddings computed).
    ``options``: tqdm's ``total``, ``desc``, ``unit``, ``unit_scale``."""
    if show is None and not sys.stderr.isatty():
        return ProgressLines(items, detail=detail, **options)
    return tqdm(items, disable=not (sys.stderr.isatty() if show is None else show), **options)


class ProgressLines:
    """The part of tqdm's interface Paperwire uses (iterate, ``update``, ``n``, ``total``,
    ``close``, a context manager), writing a line every PAPERWIRE_PROGRESS_SECONDS."""

    disable = False  # as tqdm's: callers skip the work of counting for a bar that shows nothing

    def __init__(
        self,
        items: Iterable | None = None,
        *,
        total: float | None = None,
        desc: str = "",
        unit: str = "it",
        unit_scale: bool = False,
        detail: Callable[[], str] | None = None,
        every: float | None = None,
        stream=None,
    ) -> None:
        self.items = items
        if total is None and items is not None and hasattr(items, "__len__"):
            total = len(items)
        self.total, self.desc, self.unit, self.unit_scale, self.detail = total, desc, unit, unit_scale, detail
        self.every = settings.PROGRESS_SECONDS if every is None else every
        self.stream = stream or sys.stderr
        self.n = 0
        self.started = time.monotonic()
        self.next_line = self.started + self.every

    def __iter__(self) -> Iterator:
        for item in self.items or ():
            yield item
            self.update(1)

    def __enter__(self) -> ProgressLines:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def update(self, n: float = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now >= self.next_line:
            self.next_line = now + self.every
            self.stream.write(self.line(now) + "\n")
            self.stream.flush()

    def close(self) -> None:
        """Nothing to clear: the command's own summary line says how it ended."""

    def amount(self, value: float) -> str:
        if self.unit_scale and self.unit == "B":
            for size, name in ((1 << 30, "GB"), (1 << 20, "MB"), (1 << 10, "kB")):
                if value >= size:
                    return f"{value / size:.1f} {name}"
            return f"{value:.0f} B"
        return f"{value:,.0f}"

    def line(self, now: float | None = None) -> str:
        elapsed = max((now or time.monotonic()) - self.started, 1e-9)
        in_bytes = self.unit_scale and self.unit == "B"
        unit = "" if in_bytes else f" {self.unit}s"
        if self.total:
            share = min(self.n / self.total, 1.0)
            parts = [f"{self.amount(self.n)} of {self.amount(self.total)}{unit} ({share:.0%})"]
        else:
            parts = [f"{self.amount(self.n)}{unit}"]
        if self.detail:
            parts.append(self.detail())
        rate = self.n / elapsed
        parts.append(f"{self.amount(rate)}/s" if in_bytes else f"{rate:,.1f}{unit}/s")
        if self.total and rate > 0 and self.n < self.total:
            parts.append(f"about {duration((self.total - self.n) / rate)} left")
        return f"{self.desc}: " + ", ".join(parts)


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
