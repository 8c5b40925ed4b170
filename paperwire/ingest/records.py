"""The one shape every source is turned into before it reaches the database, and its bounds.

Mappers (``paperwire.ingest.formats``, ``paperwire.ingest.arxiv``) turn raw values into a
PaperRecord with the converters below, which check types; ``check_record`` then checks every
field against what the database and the pages can hold (docs/import.md, "Limits"). A value
outside them rejects its record with a reason naming the field; nothing is truncated.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import operator
import re
from dataclasses import dataclass, field
from typing import Any

from django.utils.dateparse import parse_date, parse_datetime

from paperwire.papers.hfusers import hf_user
from paperwire.papers.ids import normalize_id
from paperwire.papers.models import Organization, Paper


class BadRecord(ValueError):
    """A record that cannot be imported; the message says why."""


def _max_length(model, name: str) -> int:
    return model._meta.get_field(name).max_length


# A record is at most this much JSON: a line, or an item of a Hugging Face list. Longer lines
# are skipped unread (the longest real record, a Kaggle paper with 5,000 authors, is ~300 kB).
MAX_RECORD_BYTES = 1 << 20
# Text fields without a database limit get one well above any real value (the longest of
# 85,000 real papers: a title of 226 characters, an abstract of 3,488, a comment of 431).
TEXT_LIMITS = {
    "title": 1_000,
    "abstract": 10_000,
    "comment": 2_000,
    "ai_summary": 5_000,
    "doi": _max_length(Paper, "doi"),
    "project_page": _max_length(Paper, "project_page"),
    "submitter_name": _max_length(Paper, "submitter_name"),
}
# Lists: (entries, characters an entry). Collaborations sign with up to ~5,000 authors.
LIST_LIMITS = {
    "authors": (10_000, 1_000),
    "categories": (50, 200),
    "code_urls": (20, _max_length(Paper, "project_page")),
    "ai_keywords": (100, 200),
}
ORGANIZATION_LIMITS = {name: _max_length(Organization, name) for name in ("name", "fullname", "avatar_url", "hf_id")}
ID_LENGTH = _max_length(Paper, "id")
# Counts are 32-bit integers on PostgreSQL.
MAX_INT = 2**31 - 1
INT_FIELDS = ("upvotes", "github_stars", "num_comments")
# Dates: from 1900 to two days ahead of now (time zones and clocks a little fast; not the future).
EARLIEST = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
FUTURE_SLACK = dt.timedelta(days=2)

# What str.split() splits at in ASCII, but the space and the newline.
OTHER_ASCII_SPACES = ("\t", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f")
SURROGATE = re.compile("[\ud800-\udfff]")
INTEGER_TEXT = re.compile(r"\s*([+-]?)([0-9]+)\s*")


@dataclass
class OrganizationRecord:
    name: str
    fullname: str = ""
    avatar_url: str = ""
    hf_id: str = ""


@dataclass
class PaperRecord:
    id: str
    title: str
    abstract: str
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    published_at: dt.datetime | None = None
    submitted_on_daily_at: dt.datetime | None = None
    upvotes: int = 0
    organization: OrganizationRecord | None = None
    code_urls: list[str] = field(default_factory=list)
    github_stars: int | None = None
    project_page: str = ""
    comment: str = ""
    doi: str = ""
    ai_summary: str = ""
    ai_keywords: list[str] = field(default_factory=list)
    num_comments: int = 0
    submitter_name: str = ""
    hf_submitter: dict | None = None
    # Where the record was read (file:line), to name it if the database refuses it.
    where: str = field(default="", compare=False)


# --- converters: raw values to typed ones (NUL characters are dropped from every string) -----


def clean_text(value: Any, name: str, required: bool = False) -> str:
    if value is None:
        if required:
            raise BadRecord(f"missing {name}")
        return ""
    if not isinstance(value, str):
        raise BadRecord(f"{name} must be a string")
    # arXiv and Hugging Face wrap long titles and abstracts; keep paragraphs, drop the wrapping.
    text = " ".join(value.replace("\x00", "").split()) if name == "title" else value.replace("\x00", "").strip()
    if required and not text:
        raise BadRecord(f"empty {name}")
    return text


def one_line(text: str) -> str:
    """``" ".join(text.split())``: every run of whitespace made one space, none at the ends.

    Quicker for long text (an abstract; not a title or a name, where its checks cost more than
    they save): most is words apart by single spaces or single newlines (arXiv breaks lines at
    80 columns), and that is answered without splitting it into words.
    """
    joined = text.replace("\n", " ")
    if joined[:1] == " " or joined[-1:] == " " or "  " in joined:
        return " ".join(text.split())
    if joined.isascii():
        if any(map(joined.__contains__, OTHER_ASCII_SPACES)):
            return " ".join(text.split())
    # Every whitespace character but the ASCII space is unprintable (categories Cc, Zs, Zl, Zp).
    elif not joined.isprintable():
        return " ".join(text.split())
    return joined


def clean_name(value: str) -> str:
    """A one-line name: NUL dropped, runs of whitespace made one space."""
    return " ".join(value.replace("\x00", "").split())


def unwrap_abstract(text: str) -> str:
    """Join lines that arXiv broke at 80 columns, keeping blank-line paragraph breaks."""
    paragraphs = map(one_line, text.replace("\r\n", "\n").split("\n\n"))
    return "\n\n".join(p for p in paragraphs if p)


def string_list(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadRecord(f"{name} must be a list of strings")
    if "\x00" in "".join(value):
        value = [v.replace("\x00", "") for v in value]
    return [" ".join(v.split()) for v in value if v.strip()]


def to_datetime(value: Any, name: str) -> dt.datetime | None:
    """YYYY-MM-DD (midnight UTC) or ISO 8601; None when absent."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise BadRecord(f"{name} must be a date string")
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = parse_datetime(text)
        if parsed is None:
            day = parse_date(text)
            parsed = dt.datetime.combine(day, dt.time(), dt.UTC) if day else None
    except (ValueError, OverflowError):
        parsed = None
    if parsed is None:
        raise BadRecord(f"invalid {name} {value[:40]!r}: expected YYYY-MM-DD or ISO 8601")
    return in_utc(parsed, name, value)


def in_utc(moment: dt.datetime, name: str, original: str) -> dt.datetime:
    """``moment`` in UTC (naive means UTC), within the dates a paper may have."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    try:
        moment = moment.astimezone(dt.UTC)
    except (OverflowError, ValueError):
        raise BadRecord(f"{name} {original[:40]!r} is out of range") from None
    return check_date(moment, name, original)


def check_date(moment: dt.datetime, name: str, original: str = "") -> dt.datetime:
    latest = dt.datetime.now(dt.UTC) + FUTURE_SLACK
    if EARLIEST <= moment <= latest:
        return moment
    shown = repr(original[:40]) if original else moment.isoformat()
    if moment < EARLIEST:
        raise BadRecord(f"{name} {shown} is before {EARLIEST:%Y-%m-%d}")
    raise BadRecord(f"{name} {shown} is in the future (after {latest:%Y-%m-%d %H:%M} UTC)")


def to_int(value: Any, name: str) -> int:
    """A count: an integer, a whole float or a string of digits; 0 when absent."""
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise BadRecord(f"{name} must be an integer")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise BadRecord(f"{name} is out of range")
        if not value.is_integer():
            raise BadRecord(f"{name} must be an integer")
        number = int(value)
    elif isinstance(value, int):
        number = value
    elif isinstance(value, str) and (match := INTEGER_TEXT.fullmatch(value)):
        sign, digits = match.groups()
        # More digits than any count has: say so without converting (Python refuses 4,300+).
        number = int(sign + digits) if len(digits) <= 12 else (-1 if sign == "-" else MAX_INT + 1)
    else:
        raise BadRecord(f"{name} must be an integer")
    return check_int(number, name)


def check_int(number: int, name: str) -> int:
    if number < 0:
        raise BadRecord(f"{name} must not be negative")
    if number > MAX_INT:
        raise BadRecord(f"{name} is larger than {MAX_INT:,}")
    return number


def paper_id(value: Any) -> str:
    try:
        return normalize_id(value)
    except ValueError as error:
        raise BadRecord(str(error)) from None


def submitter(value: Any, name: str) -> dict | None:
    """Hugging Face's ``submittedOnDailyBy``: the user object the API serves back (papers.hfusers);
    a field of another type or length than the API declares rejects the record."""
    user, problems = hf_user(value, name)
    if problems:
        raise BadRecord(problems[0])
    return user


# --- the validator -----------------------------------------------------------------------------


def _check_text(name: str, value: str, limit: int) -> None:
    if len(value) > limit:
        raise BadRecord(f"{name} is {len(value):,} characters long, more than {limit:,}")
    _check_characters(name, value)


def _check_characters(name: str, value: str) -> None:
    if not value.isascii() and SURROGATE.search(value):
        raise BadRecord(f"{name} is not valid Unicode (a lone surrogate)")
    if "\x00" in value:
        raise BadRecord(f"{name} contains a NUL character")


def _check_list(name: str, values: list[str], entries: int, limit: int) -> None:
    if len(values) > entries:
        raise BadRecord(f"{name} has {len(values):,} entries, more than {entries:,}")
    if values and max(map(len, values)) > limit:
        for index, value in enumerate(values):
            _check_text(f"{name}[{index}]", value, limit)


def _is_valid_text(text: str) -> bool:
    """No NUL, no lone surrogate (which UTF-8 cannot encode; encoding is the quickest search)."""
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


_TEXT_NAMES = ("id", *TEXT_LIMITS)
_TEXT_LIMITS = (ID_LENGTH, *TEXT_LIMITS.values())
_LIST_BOUNDS = tuple((name, entries, limit) for name, (entries, limit) in LIST_LIMITS.items())
_LIST_ENTRIES = tuple(entries for entries, _ in LIST_LIMITS.values())
_ENTRY_LIMIT = min(limit for _, limit in LIST_LIMITS.values())
_texts = operator.attrgetter(*_TEXT_NAMES)
_lists = operator.attrgetter(*LIST_LIMITS)
_ints = operator.attrgetter(*INT_FIELDS)
DATE_FIELDS = ("published_at", "submitted_on_daily_at")
_dates = operator.attrgetter(*DATE_FIELDS)


def check_record(record: PaperRecord) -> PaperRecord:
    """``record`` if every field is within the limits of the database and the pages; else
    BadRecord naming the first field that is not. Every mapper's record goes through here."""
    # Written for speed (every imported record comes here): the common case, all fine, is
    # settled with few Python steps, each over many fields at once; a field found wrong is
    # then looked for one by one to name it.
    texts, lists = _texts(record), _lists(record)
    entries = list(itertools.chain.from_iterable(lists))
    if any(map(operator.gt, map(len, texts), _TEXT_LIMITS)):
        for name, value, limit in zip(_TEXT_NAMES, texts, _TEXT_LIMITS, strict=True):
            _check_text(name, value, limit)
    # Every entry is held to the lowest limit of any list first; a list past it, to its own.
    if any(map(operator.gt, map(len, lists), _LIST_ENTRIES)) or max(map(len, entries), default=0) > _ENTRY_LIMIT:
        for (name, most, limit), values in zip(_LIST_BOUNDS, lists, strict=True):
            _check_list(name, values, most, limit)
    if not _is_valid_text("".join(texts) + "".join(entries)):
        for name, value in zip(_TEXT_NAMES, texts, strict=True):
            _check_characters(name, value)
        for name, values in zip(LIST_LIMITS, lists, strict=True):
            for index, value in enumerate(values):
                _check_characters(f"{name}[{index}]", value)
    organization = record.organization
    if organization is not None:
        for name, limit in ORGANIZATION_LIMITS.items():
            _check_text(f"organization {name}", getattr(organization, name), limit)
    for name, value in zip(INT_FIELDS, _ints(record), strict=True):
        if value is not None and not 0 <= value <= MAX_INT:
            check_int(value, name)
    for name, value in zip(DATE_FIELDS, _dates(record), strict=True):
        if value is not None:
            if value.tzinfo is not dt.UTC and (value.tzinfo is None or value.utcoffset()):
                raise BadRecord(f"{name} must be in UTC")
            check_date(value, name)
    if record.hf_submitter is not None:
        user, problems = hf_user(record.hf_submitter)
        if problems or user != record.hf_submitter:
            raise BadRecord(problems[0] if problems else "submittedOnDailyBy is not the API's user object")
    return record
