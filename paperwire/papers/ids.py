"""Paper identifiers: arXiv ids (new and old style, with or without a version) and local ids.

Every arXiv version of a paper is one Paper: ``2410.10819v2`` (or ``V2``) is stored as
``2410.10819``. Digits are ASCII only (a Unicode digit class would take other scripts' digits too).
"""

from __future__ import annotations

import re

NEW_ARXIV = re.compile(r"(?P<id>[0-9]{4}\.[0-9]{4,5})(?:[vV](?P<version>[0-9]+))?")
OLD_ARXIV = re.compile(r"(?P<id>[a-z][a-z-]*(?:\.[A-Z]{2})?/[0-9]{7})(?:[vV](?P<version>[0-9]+))?")
LOCAL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
ARXIV_URL = re.compile(
    r"^(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html)/(?P<rest>.+?)(?:\.pdf)?/?(?:[?#].*)?$",
    re.IGNORECASE,
)
HF_PAPER_URL = re.compile(r"^(?:https?://)?(?:www\.)?huggingface\.co/papers/(?P<rest>[^?#]+?)/?(?:[?#].*)?$")

# Local ids that would shadow a page under /papers/.
RESERVED_IDS = {"trending", "date", "week", "month", "feed.atom", "feed.rss", "search"}


class InvalidPaperId(ValueError):
    pass


def arxiv_id(text: str) -> str | None:
    """The versionless arXiv id in ``text`` (an id, an arXiv or Hugging Face URL), else None."""
    text = text.strip()
    for url in (ARXIV_URL, HF_PAPER_URL):
        match = url.match(text)
        if match:
            text = match["rest"]
            break
    if text.lower().startswith("arxiv:"):
        text = text[6:]
    match = NEW_ARXIV.fullmatch(text)
    if match and valid_new_style(match["id"]):
        return match["id"]
    match = OLD_ARXIV.fullmatch(text)
    return match["id"] if match else None


def valid_new_style(found: str) -> bool:
    """YYMM.NNNN until 2014, YYMM.NNNNN from 2015 on."""
    yymm, number = found.split(".")
    if not 1 <= int(yymm[2:]) <= 12:
        return False
    return len(number) == (5 if int(yymm) >= 1501 else 4)


def normalize_id(raw: object) -> str:
    """The stored id for an import record's ``id``: versionless arXiv id or a valid local id."""
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidPaperId("id must be a non-empty string")
    text = raw.strip()
    found = arxiv_id(text)
    if found:
        return found
    if not LOCAL_ID.fullmatch(text):
        raise InvalidPaperId(f"invalid id {text[:80]!r}: not an arXiv id nor [A-Za-z0-9][A-Za-z0-9._:-]{{0,63}}")
    if text in RESERVED_IDS or text.endswith(".md"):
        raise InvalidPaperId(f"invalid id {text!r}: reserved for a page of the site")
    return text


def is_arxiv(paper_id: str) -> bool:
    return arxiv_id(paper_id) == paper_id
