"""Days, ISO weeks and months of the daily feed, as they appear in URLs and API parameters."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

# [0-9], not \d: in Python \d also matches other scripts' digits, which int() reads.
WEEK = re.compile(r"([0-9]{4})-W([0-9]{2})")
MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class InvalidPeriod(ValueError):
    pass


@dataclass(frozen=True)
class Period:
    kind: str  # "date", "week" or "month"
    start: dt.date
    end: dt.date  # exclusive

    @property
    def slug(self) -> str:
        if self.kind == "date":
            return self.start.isoformat()
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        return self.start.strftime("%Y-%m")

    @property
    def label(self) -> str:
        if self.kind == "date":
            return self.start.strftime("%B %-d, %Y")
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            last = self.end - dt.timedelta(days=1)
            return f"Week {week}, {year} ({self.start:%b %-d} – {last:%b %-d})"
        return self.start.strftime("%B %Y")

    def containing(self, day: dt.date) -> Period:
        """The period of the same kind that contains ``day``."""
        return period_containing(self.kind, day)


def period_containing(kind: str, day: dt.date) -> Period:
    if kind == "date":
        return Period("date", day, _after(day, 1))
    if kind == "week":
        start = day - dt.timedelta(days=day.weekday())
        return Period("week", start, _after(start, 7))
    start = day.replace(day=1)
    end = _after(start, 32)
    return Period("month", start, end if end == dt.date.max else end.replace(day=1))


def _after(day: dt.date, days: int) -> dt.date:
    """``day`` plus ``days``; the last date Python has for a period that would end after it (a
    date typed as 9999-12-31 in the admin must not make the pages that show it fail)."""
    try:
        return day + dt.timedelta(days=days)
    except OverflowError:
        return dt.date.max


def parse_period(kind: str, text: str) -> Period:
    """Parse ``YYYY-MM-DD``, ``YYYY-Www`` or ``YYYY-MM``; InvalidPeriod on anything else."""
    period = None
    try:
        if kind == "date" and DAY.fullmatch(text):
            period = period_containing("date", dt.date.fromisoformat(text))
        elif kind == "week" and (match := WEEK.fullmatch(text)):
            period = period_containing("week", dt.date.fromisocalendar(int(match[1]), int(match[2]), 1))
        elif kind == "month" and (match := MONTH.fullmatch(text)):
            period = period_containing("month", dt.date(int(match[1]), int(match[2]), 1))
    except (ValueError, OverflowError):
        pass
    if period is not None and period.end != dt.date.max:  # one that ends within Python's dates
        return period
    examples = {"date": "2025-07-22", "week": "2025-W30", "month": "2025-07"}
    raise InvalidPeriod(f"invalid {kind} {text[:40]!r}: expected e.g. {examples.get(kind, '')}")
