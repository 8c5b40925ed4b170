"""The types of the commands' options (argparse ``type=``): each takes a value exactly as typed,
or refuses it naming what it expects, which argparse prints as one line (paperwire/cli.py), e.g.
``paperwire serve: error: argument --port: invalid value '99999': expected a port, an integer from
1 to 65535``.

argparse's own ``type=int`` and ``type=float`` read what Python does: other scripts' digits
("٨٠٠٠"), "8_000", " 8000", "nan", "inf"; and ``date.fromisoformat`` reads "20250101" and
"2025-W01-1", days that no command can handle (9999-12-31 overflowed the digest's week) and any
number of days back. These read ASCII digits only, within the range a command handles.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

WHOLE = re.compile(r"-?[0-9]+")
DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")
DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# No paper is older (paperwire/ingest/records.py refuses earlier dates).
EARLIEST_DAY = dt.date(1900, 1, 1)
# arXiv's categories: "cs.AI", "hep-th", "astro-ph.CO", "q-bio.NC", "math-ph".
ARXIV_CATEGORY = re.compile(r"[a-z][a-z-]{0,19}(\.[A-Za-z][A-Za-z-]{0,19})?")
# A host name or an IP address (v4, or v6 without brackets) to listen on.
HOST = re.compile(r"[A-Za-z0-9._:-]{1,253}")


def refuse(text: str, expected: str) -> argparse.ArgumentTypeError:
    return argparse.ArgumentTypeError(f"invalid value {text!r}: expected {expected}")


def in_words(number: int | float) -> str:
    return f"{number:,}"


def integer(low: int, high: int, what: str = "an integer") -> Callable[[str], int]:
    """An integer in ASCII digits from ``low`` to ``high``."""
    expected = f"{what} from {low} to {in_words(high)}" if what == "an integer" else what

    def read(text: str) -> int:
        if not WHOLE.fullmatch(text) or not low <= Decimal(text) <= high:
            raise refuse(text, expected)
        return int(text)

    return read


port = integer(1, 65535, "a port, an integer from 1 to 65535")


def seconds(high: float) -> Callable[[str], float]:
    """A number of seconds in ASCII digits, above 0 and at most ``high``."""

    def read(text: str) -> float:
        try:
            exact = Decimal(text) if DECIMAL.fullmatch(text) else None
        except InvalidOperation:  # pragma: no cover (the pattern admits only decimals)
            exact = None
        if exact is None or not 0 < exact <= high:
            raise refuse(text, f"a number of seconds above 0 and at most {in_words(high)}")
        return float(exact)

    return read


def day(text: str) -> dt.date:
    """A day, YYYY-MM-DD, from 1900-01-01 to today (UTC): the days commands have papers or
    digests of."""
    from django.utils import timezone  # read when parsing: tests pin the time

    today = timezone.now().astimezone(dt.UTC).date()
    expected = "a day, YYYY-MM-DD"
    if not DAY.fullmatch(text):
        raise refuse(text, expected)
    try:
        value = dt.date.fromisoformat(text)
    except ValueError:
        raise refuse(text, f"{expected} (no such day)") from None
    if value < EARLIEST_DAY:
        raise refuse(text, f"{expected}, from {EARLIEST_DAY}")
    if value > today:
        raise refuse(text, f"{expected}, not after {today} (today, UTC)")
    return value


def arxiv_category(text: str) -> str:
    if not ARXIV_CATEGORY.fullmatch(text):
        raise refuse(text, "an arXiv category such as cs.AI or hep-th")
    return text


def host(text: str) -> str:
    if not HOST.fullmatch(text):
        raise refuse(text, "a host name or IP address")
    return text
