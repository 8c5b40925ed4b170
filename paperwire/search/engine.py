"""Hybrid search: BM25 and sentence embeddings, fused, with exact ids and titles pinned first.

Fusion (``fusion="score"``, the default): each list's scores are divided by that list's best
score, and a paper scores ALPHA * lexical + (1 - ALPHA) * semantic, where a paper missing
from the lexical list counts 0 there and a paper missing from the semantic list gets its
exact cosine similarity. ``fusion="rrf"`` is weighted reciprocal rank fusion. On SciFact
(docs/search.md) the score fusion tuned on the train split reaches nDCG@10 0.743 on test,
RRF tuned the same way 0.73; both beat BM25 (0.69) and the embeddings (0.66) alone.

What matches (docs/search.md, "What matches, and how many"): the papers containing a word of
the query, and the 100 nearest in meaning that reach SEMANTIC_FLOOR; filters and hidden papers
are applied inside the lexical index, which also counts the matches and, sorting by date or
upvotes, ranks all of them by its fast fields (LexicalIndex.matching).
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field

import numpy as np

from paperwire.papers.models import Paper, current_content_version
from paperwire.search.embedder import Embedder, ModelUnavailable, get_embedder
from paperwire.search.index_files import VECTORS_NOT_BUILT, LexicalIndex, VectorIndex
from paperwire.search.integrity import index_dir
from paperwire.search.models import PaperVector
from paperwire.search.query import Filters, ParsedQuery, parse_query
from paperwire.search.snippets import highlight

MODES = ("hybrid", "lexical", "semantic")
SORTS = ("relevance", "date", "upvotes")
CANDIDATES = 100  # semantic neighbours looked up; BM25 hits are read down to RANKED
# By relevance, the fused ranking covers the best RANKED matches: pages stop there (and say so),
# sorting by date or upvotes reaches every match (docs/search.md, "Pages").
RANKED = 200
# Semantic neighbours less similar than this are not results (docs/search.md: calibrated on
# real queries against gibberish, without lowering SciFact's nDCG@10).
SEMANTIC_FLOOR = 0.4
# Tuned on SciFact train (docs/search.md).
ALPHA = 0.5
RRF_K = 1
RRF_SEMANTIC_WEIGHT = 0.8
NO_MODEL_NOTICE = "Semantic search is unavailable ({reason}); showing keyword matches only."


@dataclass
class Hit:
    paper: Paper
    score: float
    pinned: bool = False
    snippet: str = ""


@dataclass
class Results:
    query: str
    mode: str
    hits: list[Hit] = field(default_factory=list)
    total: int = 0
    exact: bool = True  # False: total is a lower bound (the database fallback counts at most 1,000)
    notice: str = ""
    # How many of the total this order ranks, so that pages can reach them: every match sorted by
    # date or upvotes, the best RANKED by relevance.
    ranked: int = 0
    # Semantic mode, the neighbour search full (its CANDIDATES-th paper still at or above the
    # floor): the total is that cap, not the number of papers as close as these.
    capped: bool = False


@dataclass
class Candidate:
    paper_id: str
    key: int = 0
    lexical: float | None = None
    semantic: float | None = None
    lexical_rank: int | None = None
    semantic_rank: int | None = None
    score: float = 0.0


class OpenIndexes:
    """The index files of this process, opened once and reloaded when they change."""

    _lock = threading.Lock()
    _instance: OpenIndexes | None = None

    def __init__(self) -> None:
        self.folder = index_dir()
        self.lexical = LexicalIndex(self.folder)
        self.vectors: VectorIndex | None = None

    def vector_index(self, dimensions: int, model: str | None = None) -> VectorIndex:
        with self._lock:
            if self.vectors is None or (self.vectors.dimensions, self.vectors.model) != (dimensions, model):
                self.vectors = VectorIndex(self.folder, dimensions, model)
            return self.vectors

    def semantic(self) -> tuple[Embedder, VectorIndex]:
        """The embedder and a loaded vector index; ModelUnavailable saying why when there is none."""
        embedder = get_embedder()
        vectors = self.vector_index(embedder.dimensions, embedder.name)
        if vectors.reader() is None:
            built = vectors.problem != VECTORS_NOT_BUILT
            raise ModelUnavailable("its index is being rebuilt" if built else "its index has not been built yet")
        return embedder, vectors

    @classmethod
    def get(cls) -> OpenIndexes:
        with cls._lock:
            if cls._instance is None or cls._instance.folder != index_dir():
                cls._instance = OpenIndexes()
            return cls._instance


def normalise(values: list[float]) -> float:
    best = max(values, default=0.0)
    return best if best > 0 else 1.0


def search(
    query: str,
    *,
    mode: str = "hybrid",
    limit: int = 10,
    offset: int = 0,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    category: str | None = None,
    sort: str = "relevance",
    fusion: str = "score",
    snippets: bool = True,
    depth: int = RANKED,
) -> Results:
    """The papers matching ``query`` (module docstring): ``total`` of them, ``limit`` from ``offset``
    (by relevance, the best ``depth`` are ranked: offsets past them find none)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}")
    if sort not in SORTS:
        raise ValueError(f"sort must be one of {', '.join(SORTS)}")
    parsed = parse_query(query)
    results = Results(query=parsed.text, mode=mode)
    indexes = OpenIndexes.get()
    filters = Filters(date_from, date_to, category or None)
    hidden = hidden_ids()
    pinned = [pid for pid in pinned_ids(query, indexes.lexical) if pid not in hidden]
    notices: list[str] = []

    neighbours: list[tuple[int, float]] = []  # (vector key, cosine), nearest first, at or above the floor
    nearest = 0.0  # the best cosine, floor or not: the semantic scores are divided by it
    query_vector = vectors = None
    # An arXiv id has no meaning to embed: in every mode it finds its paper (pinned) and the
    # papers that mention it.
    if mode in ("hybrid", "semantic") and parsed.text and not parsed.empty and not parsed.arxiv:
        try:
            embedder, vectors = indexes.semantic()
            query_vector = embedder.embed([parsed.text])[0]
            found = vectors.search(query_vector, CANDIDATES)
            nearest = found[0][1] if found else 0.0
            neighbours = [(key, similarity) for key, similarity in found if similarity >= SEMANTIC_FLOOR]
            results.capped = mode == "semantic" and len(neighbours) == CANDIDATES
        except ModelUnavailable as error:
            notices.append(NO_MODEL_NOTICE.format(reason=error))
            if mode == "semantic":
                mode = results.mode = "lexical"
    words = parsed if mode in ("hybrid", "lexical") or parsed.arxiv else None
    keys = [key for key, _ in neighbours]

    if sort == "relevance":
        # Always the same depth, so that the pages of one search follow on.
        candidates = relevance_candidates(indexes, words, neighbours, depth, filters, hidden | set(pinned), notices)
        if mode == "hybrid" and query_vector is not None:  # exact similarity for what only BM25 found
            missing = {c.key: c for c in candidates.values() if c.semantic is None and c.key}
            for key, vector in vectors.vectors(list(missing)).items():
                missing[key].semantic = float(np.dot(vector, query_vector))
        score_candidates(candidates, fusion, nearest)
        ranked = sorted(candidates, key=lambda pid: (-candidates[pid].score, pid))[: max(depth - len(pinned), 0)]
        matches = indexes.lexical.matching(words, keys, filters=filters, exclude=hidden | set(pinned))
        end = min(offset + limit, depth)
        matches.ids = ranked[max(offset - len(pinned), 0) : max(end - len(pinned), 0)]
    else:
        skip = max(offset - len(pinned), 0)
        matches = indexes.lexical.matching(
            words,
            keys,
            filters=filters,
            exclude=hidden | set(pinned),
            sort=sort,
            offset=skip,
            limit=offset + limit - len(pinned) - skip,
        )
        candidates = {}
    if matches.notice:
        notices.append(matches.notice)
    results.notice = " ".join(dict.fromkeys(notices))
    results.total = matches.total + len(pinned)
    results.exact = matches.exact
    results.ranked = min(results.total, depth) if sort == "relevance" else results.total
    page = (pinned[offset : offset + limit] + matches.ids)[:limit]
    papers = Paper.visible.select_related("organization").in_bulk(page)
    stems = {s for w in parsed.words + [w for p in parsed.phrases for w in p] for s in indexes.lexical.analyze(w)}
    for paper_id in page:
        paper = papers.get(paper_id)
        if paper is None:  # hidden or deleted since the index was read
            continue
        is_pinned = paper_id in pinned
        score = float("inf") if is_pinned else (candidates[paper_id].score if paper_id in candidates else 0.0)
        hit = Hit(paper, score, pinned=is_pinned)
        if snippets:
            hit.snippet = highlight(paper.abstract, stems, indexes.lexical.analyze)
        results.hits.append(hit)
    return results


def relevance_candidates(
    indexes: OpenIndexes,
    words: ParsedQuery | None,
    neighbours: list[tuple[int, float]],
    depth: int,
    filters: Filters,
    exclude: set[str],
    notices: list[str],
) -> dict[str, Candidate]:
    """The best ``depth`` papers by BM25 and the semantic neighbours, those passing the filters."""
    candidates: dict[str, Candidate] = {}
    if words is not None:
        hits = indexes.lexical.search(words, depth, filters=filters, exclude=exclude)
        if hits.notice:
            notices.append(hits.notice)
        for rank, hit in enumerate(hits):
            candidates[hit.paper_id] = Candidate(hit.paper_id, hit.key, lexical=hit.score, lexical_rank=rank)
    paper_of = indexes.lexical.keyed([k for k, _ in neighbours], filters=filters, exclude=exclude)
    for rank, (key, similarity) in enumerate(neighbours):
        if key in paper_of:
            c = candidates.setdefault(paper_of[key], Candidate(paper_of[key], key))
            c.semantic, c.semantic_rank = similarity, rank
    return candidates


_hidden: tuple[str, frozenset[str]] = ("", frozenset())
_hidden_lock = threading.Lock()


def hidden_ids() -> frozenset[str]:
    """The ids of the hidden papers, read again whenever the content version changes (a partial
    index on Paper keeps that cheap); searches leave them out inside the index."""
    global _hidden
    version = current_content_version()
    with _hidden_lock:
        if _hidden[0] == version:
            return _hidden[1]
    found = frozenset(Paper.objects.filter(hidden=True).values_list("id", flat=True))
    with _hidden_lock:
        _hidden = (version, found)
    return found


def score_candidates(candidates: dict[str, Candidate], fusion: str, nearest: float = 0.0) -> None:
    """Fused scores; ``nearest``: the best cosine of the semantic search, which the semantic
    scores are divided by (else the best among the candidates)."""
    if fusion == "rrf":
        for c in candidates.values():
            c.score = sum(
                weight / (RRF_K + rank + 1)
                for rank, weight in ((c.lexical_rank, 1.0), (c.semantic_rank, RRF_SEMANTIC_WEIGHT))
                if rank is not None
            )
        return
    best_lexical = normalise([c.lexical for c in candidates.values() if c.lexical is not None])
    best_semantic = normalise([nearest] + [c.semantic for c in candidates.values() if c.semantic_rank is not None])
    have_lexical = any(c.lexical is not None for c in candidates.values())
    have_semantic = any(c.semantic is not None for c in candidates.values())
    alpha = ALPHA if have_lexical and have_semantic else (1.0 if have_lexical else 0.0)
    for c in candidates.values():
        lexical = (c.lexical or 0.0) / best_lexical
        semantic = max(c.semantic or 0.0, 0.0) / best_semantic
        c.score = alpha * lexical + (1 - alpha) * semantic


def categories() -> list[str]:
    """The categories the indexed papers have, most common first; none without a usable index."""
    return OpenIndexes.get().lexical.categories()


def pinned_ids(query: str, lexical: LexicalIndex) -> list[str]:
    """An arXiv id or URL, or an exact title, names the paper the user wants: it comes first."""
    found = parse_query(query).arxiv
    if found and Paper.visible.filter(pk=found).exists():
        return [found]
    if len(query) <= 500:
        return lexical.exact_title(query)
    return []


def related(paper: Paper, limit: int = 5) -> list[Paper]:
    """Nearest neighbours by embedding; by shared words when the paper has no vector or the vector
    index is unavailable; none while neither index is (they are not worth a database scan)."""
    indexes = OpenIndexes.get()
    neighbours: list[str] = []
    try:
        _, vectors = indexes.semantic()
        row = PaperVector.objects.filter(paper=paper).values_list("pk", "vector").first()
        if row:
            vector = np.frombuffer(bytes(row[1]), dtype="<f2").astype(np.float32)
            matches = vectors.search(vector, limit + 5)
            keys = [k for k, _ in matches if k != row[0]]
            paper_of = dict(PaperVector.objects.filter(pk__in=keys).values_list("pk", "paper_id"))
            neighbours = [paper_of[k] for k in keys if k in paper_of]
    except ModelUnavailable:
        pass
    if not neighbours:
        parsed = parse_query(paper.title)
        neighbours = [h.paper_id for h in indexes.lexical.search(parsed, limit + 5, fallback_to_database=False)]
    neighbours = [pid for pid in neighbours if pid != paper.pk]
    found = Paper.visible.select_related("organization").in_bulk(neighbours)
    return [found[pid] for pid in neighbours if pid in found][:limit]


class Among:
    """Search within a closed set of papers (a digest's period), for topics.

    A topic matches a paper of the set when the cosine similarity of their embeddings is at least
    ``threshold``; matches are ranked like hybrid search (BM25 within the set and the embedding
    similarity, each divided by its best, ALPHA and 1 - ALPHA). Without the model, or without
    vectors for the set, a topic matches the papers BM25 finds. The set's vectors are read once.
    """

    def __init__(self, ids) -> None:
        self.ids = dict.fromkeys(ids)
        self._vectors: tuple[list[str], np.ndarray] | None = None

    def vectors(self) -> tuple[list[str], np.ndarray]:
        if self._vectors is None:
            rows = PaperVector.objects.filter(paper_id__in=list(self.ids)).values_list("paper_id", "vector")
            ids = [pid for pid, _ in rows]
            matrix = (
                np.stack([np.frombuffer(bytes(v), dtype="<f2") for _, v in rows]).astype(np.float32)
                if ids
                else np.zeros((0, 1), dtype=np.float32)
            )
            self._vectors = (ids, matrix)
        return self._vectors

    def matching(self, topic: str, threshold: float) -> list[str]:
        """Ids of the set's papers matching ``topic``, best first."""
        if not self.ids:
            return []
        parsed = parse_query(topic)
        hits = OpenIndexes.get().lexical.search(parsed, len(self.ids), ids=self.ids)
        lexical = {hit.paper_id: hit.score for hit in hits}
        try:
            embedder = get_embedder()
        except ModelUnavailable:
            return sorted(lexical, key=lambda pid: -lexical[pid])
        ids, matrix = self.vectors()
        if not ids:
            return sorted(lexical, key=lambda pid: -lexical[pid])
        similarity = dict(zip(ids, (matrix @ embedder.embed([parsed.text or topic])[0]).tolist(), strict=True))
        kept = [pid for pid, s in similarity.items() if s >= threshold]
        best_lexical = normalise(list(lexical.values()))
        best_semantic = normalise([similarity[pid] for pid in kept])
        score = {
            pid: ALPHA * lexical.get(pid, 0.0) / best_lexical + (1 - ALPHA) * similarity[pid] / best_semantic
            for pid in kept
        }
        return sorted(kept, key=lambda pid: (-score[pid], pid))
