"""The one shape every source is turned into before it reaches the database."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.utils.dateparse import parse_date, parse_datetime

from paperwire.papers.ids import normalize_id


class BadRecord(ValueError):
    """A record that cannot be imported; the message says why."""


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


def unwrap_abstract(text: str) -> str:
    """Join lines that arXiv broke at 80 columns, keeping blank-line paragraph breaks."""
    paragraphs = [" ".join(p.split()) for p in text.replace("\r\n", "\n").split("\n\n")]
    return "\n\n".join(p for p in paragraphs if p)


def string_list(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadRecord(f"{name} must be a list of strings")
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
    except ValueError:
        parsed = None
    if parsed is None:
        raise BadRecord(f"invalid {name} {value[:40]!r}: expected YYYY-MM-DD or ISO 8601")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def to_int(value: Any, name: str) -> int:
    if value in (None, ""):
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise BadRecord(f"{name} must be an integer")
    try:
        number = int(value)
    except ValueError:
        raise BadRecord(f"{name} must be an integer") from None
    if number < 0:
        raise BadRecord(f"{name} must not be negative")
    return number


def paper_id(value: Any) -> str:
    try:
        return normalize_id(value)
    except ValueError as error:
        raise BadRecord(str(error)) from None
