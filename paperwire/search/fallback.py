"""Keyword search straight from the database, while this node's lexical index is missing or damaged.

It answers only until the background rebuild has finished (/healthz says ``degraded``
meanwhile), and it is deliberately simple and bounded: the query's first MAX_TERMS words and
phrases (English stop words dropped, words cut to their stem where the stem is a prefix),
each matched as a case-insensitive substring of the title or the abstract (SQL ``LIKE``),
over the MAX_ROWS most recently published matching papers. A paper scores 2 for each term in
its title and 1 for each term in its abstract. No BM25, no phrase positions. Filters apply
(dates in SQL, the category on the rows read); counts and sorts are over those rows, so a
count that reaches MAX_ROWS is a lower bound (``Matches.exact`` False: "About N results").

A substring cannot use an index: every row read is read whole. So a search reads only the
SCAN_ROWS newest papers (among those its dates admit), found from the index on the publication
date, and says so: on a large corpus (the first minutes of `serve` after importing all of arXiv)
it answers in a fraction of a second rather than reading millions of abstracts per request.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.db.models import Q

from paperwire.papers.models import Paper
from paperwire.search.models import PaperVector
from paperwire.search.query import NO_FILTERS, SORT_FIELDS, Filters, ParsedQuery, sort_keys, title_key

MAX_TERMS = 8
MAX_ROWS = 1000
SCAN_ROWS = 20_000  # the newest papers a search reads at most (a few seconds' worth at most)


@dataclass
class Matches:
    """The papers a search matches: how many, and (sorted by date or upvotes) one page of their ids.

    ``exact`` is False when the number is a lower bound (the database fallback reads at most
    MAX_ROWS word matches)."""

    total: int = 0
    ids: list[str] = field(default_factory=list)
    exact: bool = True
    notice: str = ""
    since: dt.date | None = None  # the database fallback read only the papers published since


class Scanned(list):
    """Keyword matches from the database, best first; ``since``: only the papers published since
    that day were read (None: every paper the filters admit)."""

    def __init__(self, rows=(), since: dt.date | None = None) -> None:
        super().__init__(rows)
        self.since = since


def dated(filters: Filters):
    """The visible papers the filters' dates admit."""
    papers = Paper.visible.all()
    if filters.date_from:
        papers = papers.filter(published__gte=filters.date_from)
    if filters.date_to:
        papers = papers.filter(published__lte=filters.date_to)
    return papers


def window(filters: Filters = NO_FILTERS):
    """The visible papers the filters' dates admit, cut to the SCAN_ROWS newest of them: the
    queryset and the day it starts from (None when it holds them all)."""
    papers = dated(filters)
    edge = list(
        papers.filter(published__isnull=False)
        .order_by("-published", "-id")
        .values_list("published", flat=True)[SCAN_ROWS - 1 : SCAN_ROWS]
    )
    if not edge:
        return papers, None
    return papers.filter(published__gte=edge[0]), edge[0]


def window_words(since: dt.date | None) -> str:
    """How a notice says what a fallback search read."""
    if since is None:
        return ""
    return f" among the {SCAN_ROWS:,} newest papers (published since {since:%b} {since.day}, {since.year})"


def terms_of(parsed: ParsedQuery, analyze: Callable[[str], list[str]]) -> list[str]:
    if parsed.arxiv:  # the id as written in a text, with or without a version
        return [parsed.arxiv]
    terms: list[str] = [" ".join(phrase) for phrase in parsed.phrases if phrase]
    for word in parsed.words:
        stems = analyze(word)
        if not stems:  # a stop word
            continue
        term = stems[0] if word.startswith(stems[0]) else word
        if len(term) < 2:  # "C++" or "İstanbul" cut to one letter: a substring of every paper
            continue
        if term not in terms:
            terms.append(term)
    return terms[:MAX_TERMS]


def keyword_search(
    parsed: ParsedQuery,
    limit: int,
    analyze: Callable[[str], list[str]],
    *,
    filters: Filters = NO_FILTERS,
    ids: Iterable[str] | None = None,
    exclude: Iterable[str] = (),
) -> list[tuple[str, int, float]]:
    """(paper id, vector key or 0, score), best first."""
    terms = terms_of(parsed, analyze)
    if not terms or limit <= 0:
        return Scanned()
    matches = Q()
    for term in terms:
        matches |= Q(title__icontains=term) | Q(abstract__icontains=term)
    if ids is not None:  # the papers named, however old
        papers, since = dated(filters).filter(pk__in=list(ids)), None
    else:
        papers, since = window(filters)
    papers = papers.filter(matches).exclude(pk__in=list(exclude))
    rows = papers.order_by("-published", "-id").values_list(
        "id", "title", "abstract", "vector__id", "published", "categories"
    )[:MAX_ROWS]
    scored = []
    for rank, (paper_id, title, abstract, key, published, categories) in enumerate(rows):
        if not filters.admit(published, categories):  # the category, which SQLite's JSON cannot test
            continue
        title, abstract = title.lower(), abstract.lower()
        score = sum(2 * (term in title) + (term in abstract) for term in terms)
        scored.append((-score, rank, paper_id, key or 0, float(max(score, 1))))
    scored.sort()
    return Scanned(((paper_id, key, score) for _, _, paper_id, key, score in scored[:limit]), since)


def keyed(keys: Iterable[int], *, filters: Filters = NO_FILTERS, exclude: Iterable[str] = ()) -> dict[int, str]:
    """Vector key -> paper id, for the keys whose visible paper passes ``filters``."""
    left_out = set(exclude)
    rows = PaperVector.objects.filter(pk__in=list(keys), paper__hidden=False).values_list(
        "pk", "paper_id", "paper__published", "paper__categories"
    )
    return {
        key: paper_id
        for key, paper_id, published, categories in rows
        if paper_id not in left_out and filters.admit(published, categories)
    }


def matching(
    parsed: ParsedQuery | None,
    keys: Iterable[int],
    analyze: Callable[[str], list[str]],
    *,
    filters: Filters = NO_FILTERS,
    exclude: Iterable[str] = (),
    sort: str = "relevance",
    offset: int = 0,
    limit: int = 0,
) -> Matches:
    """What LexicalIndex.matching answers, from the database: the word matches are those of
    keyword_search (at most MAX_ROWS: past that the number is a lower bound)."""
    words = keyword_search(parsed, MAX_ROWS, analyze, filters=filters, exclude=exclude) if parsed else Scanned()
    found = {paper_id for paper_id, _, _ in words} | set(keyed(keys, filters=filters, exclude=exclude).values())
    matches = Matches(total=len(found), exact=len(words) < MAX_ROWS and words.since is None, since=words.since)
    if sort in SORT_FIELDS and limit > 0:
        rows = Paper.objects.filter(pk__in=list(found)).values_list("id", "upvotes", "published")
        field_name = SORT_FIELDS[sort]
        ordered = sorted(rows, key=lambda row: (-sort_keys(row[1], row[2])[field_name], row[0]))
        matches.ids = [row[0] for row in ordered[offset : offset + limit]]
    return matches


def exact_title(title: str) -> list[str]:
    """The papers titled exactly ``title`` (case, spacing and punctuation ignored), at most 5."""
    wanted = title_key(title)
    if not wanted:
        return []
    longest = max(wanted.split(), key=len)
    rows = window()[0].filter(title__icontains=longest).values_list("id", "title")[:MAX_ROWS]
    return [paper_id for paper_id, found in rows if title_key(found) == wanted][:5]
