"""What a search shows of each paper it found: a window of the abstract around the query's
terms, the terms marked."""

from __future__ import annotations

from bisect import bisect_left
from functools import lru_cache

from django.utils.safestring import SafeString, mark_safe

from paperwire.papers import latex
from paperwire.search.query import WORD


def highlight(text: str, stems: set[str], analyze, width: int = 300) -> SafeString:
    """An escaped window of ``text`` around the densest run of query terms, terms in <mark>.

    A formula or a link is whole or absent, never marked inside, and shown as the page shows it
    (paperwire/papers/latex.py): the window's edges move to its edges. Text-mode LaTeX shows as on
    the page (``\\emph{...}`` in <em>, closed at the window's end if it runs past)."""
    tokens = [(m.start(), m.end(), m.group()) for m in WORD.finditer(text)]
    formulas = [(start, start + len(segment.raw)) for start, segment in latex.located(text)]
    hits = []
    if stems:  # the words whose stem is asked for, each stemmed once; then where they are
        wanted = {word for word in {word for _, _, word in tokens} if _stem(analyze, word) in stems}
        hits = [i for i, (_, _, word) in enumerate(tokens) if word in wanted]
        if formulas:
            hits = [i for i in hits if not any(s < tokens[i][1] and tokens[i][0] < e for s, e in formulas)]
    if not tokens and not formulas:
        return mark_safe(latex.text_html(text[:width]))
    start_token = 0
    if hits:
        best = max(hits, key=lambda i: bisect_left(hits, i + 30) - bisect_left(hits, i))  # hits is sorted
        start_token = max(best - 5, 0)
    begin = tokens[start_token][0] if start_token else 0
    end = min(len(text), begin + width)
    if end < len(text):  # end on a word boundary
        end = max((e for _, e, _ in tokens if begin < e <= end), default=end)
    for s, e in formulas:
        if s < begin < e:
            begin = s
        if s < end < e:  # keep a formula that starts the window or is not too long, else cut before it
            end = e if s <= begin or e - begin <= 2 * width else s
    marks = [(s, e) for s, e, _ in (tokens[i] for i in hits) if begin <= s and e <= end]
    body = latex.window_html(text, begin, end, marks)
    prefix = "… " if begin > 0 else ""
    suffix = " …" if end < len(text) else ""
    return mark_safe(prefix + body + suffix)


@lru_cache(maxsize=200_000)  # abstracts share most of their words: a page of 20 stemmed 2,700 of them
def _stem(analyze, word: str) -> str:
    tokens = analyze(word)
    return tokens[0] if tokens else ""
