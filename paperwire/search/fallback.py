"""Keyword search straight from the database, while this node's lexical index is missing or damaged.

It answers only until the background rebuild has finished (/healthz says ``degraded``
meanwhile), and it is deliberately simple and bounded: the query's first MAX_TERMS words and
phrases (English stop words dropped, words cut to their stem where the stem is a prefix),
each matched as a case-insensitive substring of the title or the abstract (SQL ``LIKE``),
over the MAX_ROWS most recently published matching papers. A paper scores 2 for each term in
its title and 1 for each term in its abstract. No BM25, no phrase positions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

from django.db.models import Q

from paperwire.papers.models import Paper
from paperwire.search.text import ParsedQuery, title_key

MAX_TERMS = 8
MAX_ROWS = 1000


def terms_of(parsed: ParsedQuery, analyze: Callable[[str], list[str]]) -> list[str]:
    terms: list[str] = [" ".join(phrase) for phrase in parsed.phrases if phrase]
    for word in parsed.words:
        stems = analyze(word)
        if not stems:  # a stop word
            continue
        term = stems[0] if word.startswith(stems[0]) else word
        if term not in terms:
            terms.append(term)
    return terms[:MAX_TERMS]


def keyword_search(
    parsed: ParsedQuery,
    limit: int,
    analyze: Callable[[str], list[str]],
    *,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    ids: Iterable[str] | None = None,
) -> list[tuple[str, int, float]]:
    """(paper id, vector key or 0, score), best first."""
    terms = terms_of(parsed, analyze)
    if not terms or limit <= 0:
        return []
    matches = Q()
    for term in terms:
        matches |= Q(title__icontains=term) | Q(abstract__icontains=term)
    papers = Paper.objects.filter(matches)
    if ids is not None:
        papers = papers.filter(pk__in=list(ids))
    if date_from:
        papers = papers.filter(published__gte=date_from)
    if date_to:
        papers = papers.filter(published__lte=date_to)
    rows = papers.order_by("-published", "-id").values_list("id", "title", "abstract", "vector__id")[:MAX_ROWS]
    scored = []
    for rank, (paper_id, title, abstract, key) in enumerate(rows):
        title, abstract = title.lower(), abstract.lower()
        score = sum(2 * (term in title) + (term in abstract) for term in terms)
        scored.append((-score, rank, paper_id, key or 0, float(max(score, 1))))
    scored.sort()
    return [(paper_id, key, score) for _, _, paper_id, key, score in scored[:limit]]


def exact_title(title: str) -> list[str]:
    """The papers titled exactly ``title`` (case, spacing and punctuation ignored), at most 5."""
    wanted = title_key(title)
    if not wanted:
        return []
    longest = max(wanted.split(), key=len)
    rows = Paper.objects.filter(title__icontains=longest).values_list("id", "title")[:MAX_ROWS]
    return [paper_id for paper_id, found in rows if title_key(found) == wanted][:5]
