"""Turning what a user typed into something the engines can run, and papers into the values
they are filtered and sorted by."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from paperwire.papers.ids import arxiv_id

MAX_QUERY_CHARS = 1000
MAX_TERMS = 64
WORD = re.compile(r"\w+", re.UNICODE)
PHRASE = re.compile(r'"([^"]*)"')


@dataclass
class ParsedQuery:
    text: str  # cleaned, for the embedding model
    words: list[str] = field(default_factory=list)
    phrases: list[list[str]] = field(default_factory=list)
    # The versionless arXiv id the whole query names (any accepted spelling): it matches the
    # papers that mention that id, with or without a version, and no paper by its parts alone.
    arxiv: str | None = None

    @property
    def empty(self) -> bool:
        return not self.words and not self.phrases

    def tantivy_syntax(self) -> str:
        """Only words and quoted phrases of words: nothing the query parser could choke on.
        An arXiv id is its words as a phrase, or that phrase followed by a version ("2507 09477v"*)."""
        if self.arxiv:
            id_words = " ".join(self.phrases[0])
            return f'"{id_words}" "{id_words}v"*'
        parts = [" ".join(f'"{" ".join(p)}"' for p in self.phrases if p), " ".join(self.words)]
        return " ".join(p for p in parts if p)


@dataclass(frozen=True)
class Filters:
    """What a search is narrowed to: first-publication dates (inclusive) and an arXiv category."""

    date_from: dt.date | None = None
    date_to: dt.date | None = None
    category: str | None = None

    def __bool__(self) -> bool:
        return bool(self.date_from or self.date_to or self.category)

    def admit(self, published: dt.date | None, categories) -> bool:
        """Whether a paper passes them (the database fallback's check; the index applies them itself)."""
        if (self.date_from or self.date_to) and not published:
            return False
        if self.date_from and published < self.date_from:
            return False
        if self.date_to and published > self.date_to:
            return False
        return not self.category or self.category in (categories or [])


NO_FILTERS = Filters()

# The orders besides relevance, as one integer per paper (the index keeps them as fast fields):
# by date, newest first, then most upvoted; by upvotes, most first, then newest.
SORT_FIELDS = {"date": "by_date", "upvotes": "by_upvotes"}
MAX_COUNTED_UPVOTES = 10**9 - 1


def day_number(day: dt.date | None) -> int:
    return day.year * 10000 + day.month * 100 + day.day if day else 0


def sort_keys(upvotes: int | None, published: dt.date | None) -> dict[str, int]:
    day = day_number(published)  # at most 99991231
    votes = min(max(upvotes or 0, 0), MAX_COUNTED_UPVOTES)
    return {"by_date": day * 10**9 + votes, "by_upvotes": votes * 10**8 + day}


def title_key(title: str) -> str:
    """Titles compared for an exact-title pin: case, spacing and punctuation ignored."""
    return " ".join("".join(ch if ch.isalnum() else " " for ch in title.lower()).split())


def clean(raw: str) -> str:
    text = raw.replace("\x00", " ")
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(text.split())[:MAX_QUERY_CHARS]


def parse_query(raw: str) -> ParsedQuery:
    """Balanced "quoted phrases" become phrase queries; every other word is an OR term. A query
    that is an arXiv id (with a version, an arXiv or Hugging Face URL, an "arXiv:" prefix) is that
    id's words as one phrase (ParsedQuery.arxiv)."""
    text = clean(raw)
    found = arxiv_id(text)
    if found:
        return ParsedQuery(text=text, phrases=[WORD.findall(found.lower())], arxiv=found)
    phrases = [WORD.findall(p.lower()) for p in PHRASE.findall(text)]
    rest = PHRASE.sub(" ", text)
    words = [w.lower() for w in WORD.findall(rest)]
    budget = MAX_TERMS
    kept_phrases = []
    for phrase in phrases:
        if phrase and budget > 0:
            kept_phrases.append(phrase[:budget])
            budget -= len(kept_phrases[-1])
    return ParsedQuery(text=text, words=words[: max(budget, 0)], phrases=kept_phrases)
