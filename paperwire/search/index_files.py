"""Reading the two derived index files under PAPERWIRE_HOME/index: a tantivy BM25 index
(``lexical/``) and a usearch HNSW vector index (``vectors.usearch``).

A reader opens only files that pass the integrity check (integrity.py). While they fail it
(missing, damaged, being rebuilt), it keeps the last good copy it opened, provided that copy
is still whole; with none, keyword search answers from the database (fallback.py) and
semantic search is left out, saying so.

tantivy maps the segment files into memory: a file written over or truncated in place
changes what the open searcher reads (and reading a mapping past the end of a truncated
file kills the process with SIGBUS). Before each search the reader compares each file it
has open with what it checked (inode, size, times: a few ``stat`` calls); a file changed in
place is checked again, and a searcher whose file no longer holds what was written is
dropped. The vector file is mapped from a private copy the reader made and checked
(``VectorIndex``), never the file the indexer writes.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import platform
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tantivy
from django.conf import settings

from paperwire.papers.models import Paper
from paperwire.search import fallback
from paperwire.search.embedder import same_model
from paperwire.search.fallback import Matches
from paperwire.search.integrity import (
    LEXICAL,
    MAPPED,
    NOT_BUILT,
    SCHEMA_VERSION,
    STATE,
    VECTORS,
    WATERMARK_SLACK,
    IndexState,
    Stamp,
    file_crc,
    index_dir,
    match_lexical,
    open_regular,
    private_copy,
    remove_other_copies,
    stamp_of,
    state_problem,
    unreadable,
)
from paperwire.search.query import NO_FILTERS, SORT_FIELDS, Filters, ParsedQuery, day_number, sort_keys, title_key

log = logging.getLogger(__name__)
MUST, SHOULD, MUST_NOT = tantivy.Occur.Must, tantivy.Occur.Should, tantivy.Occur.MustNot

ANALYZER = "paper_en"
# The title is indexed twice in the text field: a title match weighs more. Measured on
# SciFact train, nDCG@10 0.707 against 0.701 for once and 0.677 for separate fields.
TITLE_REPEAT = 2
# {among}: which papers were read, on a corpus larger than fallback.SCAN_ROWS.
LEXICAL_FALLBACK = "The keyword index is being rebuilt; showing plain word matches{among} meanwhile."
LEXICAL_UNBUILT = "The keyword index has not been built yet; showing plain word matches{among} meanwhile."
LEXICAL_FALLBACK_NOTICE, LEXICAL_UNBUILT_NOTICE = LEXICAL_FALLBACK.format(among=""), LEXICAL_UNBUILT.format(among="")
VECTORS_NOT_BUILT = f"{VECTORS} has not been built"
# Sorting by upvotes reads the current counts of papers voted on since the index was last
# updated from the database, when they are at most this many (else the index's counts).
MAX_RECOUNTED = 1000


def index_version(folder: Path | None = None) -> str:
    """Changes whenever this node's indexes do (each update rewrites state.json last)."""
    try:
        return str(((folder or index_dir()) / STATE).stat().st_mtime_ns)
    except OSError:  # missing, or the index folder is not a folder
        return "none"


class Freshness:
    """When a reader should look at this node's index files again: at once after an update has
    rewritten state.json (so that no response cached under the new index version is computed
    from the old files), and every SEARCH_RELOAD_SECONDS in any case."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._version = ""
        self._checked = 0.0

    def due(self) -> bool:
        now, version = time.monotonic(), index_version(self.folder)
        if version == self._version and now - self._checked <= settings.SEARCH_RELOAD_SECONDS:
            return False
        self._version, self._checked = version, now
        return True


def index_failure(error: BaseException) -> bool:
    """Whether ``error`` is a failure of an index library (tantivy's Rust panics are not Exceptions)."""
    return isinstance(error, Exception) or type(error).__name__ == "PanicException"


# --- the lexical index ---------------------------------------------------------------------------


def lexical_schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    builder.add_unsigned_field("key", stored=True, indexed=True)  # the paper's vector key, 0 without one
    builder.add_text_field("title_key", tokenizer_name="raw", index_option="basic")
    builder.add_text_field("text", tokenizer_name=ANALYZER, index_option="position")
    builder.add_text_field("category", tokenizer_name="raw", index_option="basic")
    builder.add_integer_field("day", indexed=True, fast=True)
    for name in SORT_FIELDS.values():  # text.sort_keys
        builder.add_integer_field(name, fast=True)
    return builder.build()


def analyzer() -> tantivy.TextAnalyzer:
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(40))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .filter(tantivy.Filter.stopword("english"))
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )


def create_lexical(path: Path) -> tantivy.Index:
    """A new, empty lexical index in the new directory ``path``."""
    path.mkdir(parents=True)
    return _prepared(tantivy.Index(lexical_schema(), path=str(path), reuse=False))


def open_lexical(path: Path) -> tantivy.Index:
    """The existing lexical index in ``path``; never creates one."""
    return _prepared(tantivy.Index.open(str(path)))


def _prepared(index: tantivy.Index) -> tantivy.Index:
    """``index`` with our analyzer and a reader that reloads only when told: tantivy-py gives
    each index one that reloads on its own, from a thread of tantivy's, half a second after a
    commit changed meta.json; that reload read the segment files again through the mappings the
    process already had, and a file cut short under them killed the process (SIGBUS). That
    reader also reloads once as the index is opened (the watcher's first look at meta.json
    counts as a change): in a thread of its own, which may still be reading the files when the
    index is in use. So the reader is replaced, then whatever reload had begun is waited for."""
    index.config_reader(reload_policy="manual")
    index.register_tokenizer(ANALYZER, analyzer())
    wait_for_reloads()
    return index


# tantivy's threads, as Linux names them (15 bytes at most): the watcher of a directory's
# meta.json, which sleeps between its looks; the thread it starts to call a reader's reload.
WATCHER, RELOADING = "thread-tantivy-", "watch-callbacks"
# nanosleep and clock_nanosleep as /proc/<task>/syscall numbers them; elsewhere a watcher's sleep
# is not told from its work, and only the reloads already started are waited for.
SLEEPING = {"x86_64": {"35", "230"}, "aarch64": {"101", "115"}}.get(platform.machine())
RELOAD_WAIT = 5.0  # seconds: a reload opens each segment once; then this process goes on anyway


def wait_for_reloads(timeout: float = RELOAD_WAIT) -> bool:
    """Wait until no reload of a tantivy reader runs in this process and none is about to: no
    ``watch-callbacks`` thread, and every meta.json watcher asleep (a watcher that is awake may
    have picked a reader's callback before it was replaced, and is about to start one). Once the
    readers made by tantivy-py are replaced, none starts again. Whether it was so before the
    timeout (True where threads cannot be seen: not Linux)."""
    tasks = Path("/proc/self/task")
    if not tasks.is_dir():
        return True
    deadline = time.monotonic() + timeout
    while True:
        if not any(_reloading(task) for task in tasks.iterdir()):
            return True
        if time.monotonic() >= deadline:
            log.warning("a reload of the lexical index is still running after %.0f s", timeout)
            return False
        time.sleep(0.002)


def _reloading(task: Path) -> bool:
    try:
        name = (task / "comm").read_text().strip()
        if name == RELOADING:
            return True
        return name == WATCHER and SLEEPING is not None and (task / "syscall").read_text().split()[0] not in SLEEPING
    except (OSError, IndexError):  # a thread that has ended
        return False


def lexical_writer(index: tantivy.Index):
    return index.writer(heap_size=64_000_000, num_threads=1)


def lexical_document(paper, key: int) -> tantivy.Document:
    text = " ".join([paper.title] * TITLE_REPEAT + [paper.abstract, " ".join(paper.authors)])
    doc = tantivy.Document(
        id=paper.id,
        title_key=title_key(paper.title),
        text=text,
        day=day_number(paper.published),
        **sort_keys(paper.upvotes, paper.published),
    )
    doc.add_unsigned("key", key)
    for category in paper.categories or []:
        doc.add_text("category", category)
    return doc


def recounted(watermark: str | None) -> dict[str, dict[str, int]] | None:
    """The papers whose votes were recounted since the index was last updated (it may hold
    their old counts) -> their sort keys now; None when there are more than MAX_RECOUNTED."""
    if watermark is None:
        return None
    since = dt.datetime.fromisoformat(watermark) - WATERMARK_SLACK
    rows = Paper.objects.filter(upvotes_changed_at__gte=since).values_list("id", "upvotes", "published")
    rows = list(rows[: MAX_RECOUNTED + 1])
    if len(rows) > MAX_RECOUNTED:
        return None
    return {paper_id: sort_keys(upvotes, published) for paper_id, upvotes, published in rows}


@dataclass
class LexicalHit:
    paper_id: str
    key: int
    score: float


class LexicalHits(list):
    """Lexical hits, best first; ``notice`` says when they come from the database fallback."""

    def __init__(self, hits=(), notice: str = "") -> None:
        super().__init__(hits)
        self.notice = notice


class LexicalIndex:
    """This process's reader of the lexical index: BM25 over one text field (title twice,
    abstract, authors), with stemming and stop words.

    While the index fails the integrity check it keeps the last good searcher it opened; with
    none, searches answer from the database (fallback.py) and say so.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / LEXICAL
        self.schema = lexical_schema()
        self.problem: str | None = None
        self._analyzer = analyzer()
        self._index: tantivy.Index | None = None
        self._searcher: tantivy.Searcher | None = None
        self._generation: str | None = None
        self._files: dict[str, Stamp] = {}  # each file the searcher reads, as it was checked
        self._freshness = Freshness(folder)
        self._lock = threading.Lock()
        self._categories: tuple | None = None
        self.watermark: str | None = None  # of the searcher's index: papers updated before it are in it

    def opened(self) -> tuple[tantivy.Index, tantivy.Searcher] | None:
        """The index and a searcher of its last good commit, or None when there is none."""
        with self._lock:
            if self._freshness.due() or self._changed_in_place():
                self._refresh()
            return (self._index, self._searcher) if self._searcher is not None else None

    def fallback_notice(self, since: dt.date | None = None) -> str:
        """What a search answered from the database tells its reader (``since``: it read only the
        papers published since that day)."""
        notice = LEXICAL_UNBUILT if self.problem == NOT_BUILT else LEXICAL_FALLBACK
        return notice.format(among=fallback.window_words(since))

    def _changed_in_place(self) -> str | None:
        """The first file the open searcher reads that was written since it was checked: the same
        inode (the one mapped) with another size or time. A file deleted or replaced by another
        leaves the mapped one as it was."""
        for name, (inode, *checked) in self._files.items():
            try:
                now = stamp_of(os.stat(self.path / name))
            except OSError:
                continue
            if now[0] == inode and list(now[1:]) != checked:
                return name
        return None

    def _refresh(self) -> None:
        for attempt in range(2):  # a rebuilt directory swapped in while tantivy opened it: once more
            state = IndexState.load(self.folder)
            stamps: dict[str, Stamp] = {}
            record, problem = match_lexical(self.folder, state, stamps=stamps)
            if (unusable := state_problem(self.folder, state)) is not None:
                record, problem = None, unusable
            if record is None:
                break
            try:
                if self._index is None or record["generation"] != self._generation:
                    index = open_lexical(self.path)
                else:
                    index = self._index
                    index.reload()
                searcher = index.searcher()
                if searcher.num_docs < record["papers"]:
                    problem = f"lexical/ holds {searcher.num_docs} papers; {record['papers']} were written"
                else:
                    self._index, self._searcher, self._generation = index, searcher, record["generation"]
                    self.watermark = state.watermark
                    self._files = stamps
                break
            except BaseException as error:
                if not index_failure(error):
                    raise
                if attempt:
                    log.warning("opening the lexical index failed: %s", error)
                problem = "lexical/ cannot be opened"
        if problem and self._searcher is not None and (changed := self._changed_in_place()):
            log.warning("search index: lexical/%s was changed in place; the open copy is dropped", changed)
            self._index = self._searcher = self._generation = None
            self._files = {}
        if problem and problem != self.problem:
            log.warning("search index: %s; %s", problem, "keeping the copy open" if self._searcher else "falling back")
        self.problem = problem

    def analyze(self, text: str) -> list[str]:
        return self._analyzer.analyze(text)

    def search(
        self,
        parsed: ParsedQuery,
        limit: int,
        *,
        filters: Filters = NO_FILTERS,
        exclude: Iterable[str] = (),
        ids: Iterable[str] | None = None,
        fallback_to_database: bool = True,
    ) -> LexicalHits:
        """BM25 hits, best first, among the papers passing ``filters``, without ``exclude``;
        ``ids`` keeps only those papers. Without a usable index: the database's simple word
        matches (fallback.py), or nothing when not ``fallback_to_database``."""
        if parsed.empty or limit <= 0:
            return LexicalHits()
        opened = self.opened()
        if opened is not None:
            index, searcher = opened
            try:
                query = self._query(index, parsed, (), filters, exclude, ids)
                hits = []
                for score, address in searcher.search(query, limit, count=False).hits:
                    doc = searcher.doc(address)
                    hits.append(LexicalHit(doc["id"][0], doc["key"][0], score))
                return LexicalHits(hits)
            except BaseException as error:
                if not index_failure(error):
                    raise
                log.warning("lexical search failed (%s); answering from the database", error)
        if not fallback_to_database:
            return LexicalHits()
        rows = fallback.keyword_search(parsed, limit, self.analyze, filters=filters, ids=ids, exclude=exclude)
        return LexicalHits((LexicalHit(*row) for row in rows), notice=self.fallback_notice(rows.since))

    def matching(
        self,
        parsed: ParsedQuery | None,
        keys: Iterable[int] = (),
        *,
        filters: Filters = NO_FILTERS,
        exclude: Iterable[str] = (),
        sort: str = "relevance",
        offset: int = 0,
        limit: int = 0,
    ) -> Matches:
        """The papers whose text matches ``parsed`` (None: matching by words is left out) or whose
        vector key is in ``keys``, among those passing ``filters``, without ``exclude``: how many,
        counted by the index, and for ``sort`` "date" or "upvotes" the ids of the ``limit``
        papers from ``offset`` in that order, ranked by the index's fast fields over every match."""
        keys = [k for k in keys if k]
        if (parsed is None or parsed.empty) and not keys:
            return Matches()
        opened = self.opened()
        if opened is not None:
            index, searcher = opened
            try:
                query = self._query(index, parsed, keys, filters, exclude)
                if sort not in SORT_FIELDS or limit <= 0:
                    return Matches(total=searcher.search(query, 1, count=True).count)
                return self._sorted(searcher, query, SORT_FIELDS[sort], offset, limit)
            except BaseException as error:
                if not index_failure(error):
                    raise
                log.warning("lexical search failed (%s); answering from the database", error)
        matches = fallback.matching(
            parsed, keys, self.analyze, filters=filters, exclude=exclude, sort=sort, offset=offset, limit=limit
        )
        matches.notice = self.fallback_notice(matches.since) if parsed is not None and not parsed.empty else ""
        return matches

    def keyed(self, keys: Iterable[int], *, filters: Filters = NO_FILTERS, exclude: Iterable[str] = ()) -> dict:
        """Vector key -> paper id, for the keys whose paper passes ``filters`` and is not excluded."""
        keys = [k for k in keys if k]
        if not keys:
            return {}
        opened = self.opened()
        if opened is not None:
            index, searcher = opened
            try:
                query = self._query(index, None, keys, filters, exclude)
                found = {}
                for _, address in searcher.search(query, len(keys), count=False).hits:
                    doc = searcher.doc(address)
                    found[doc["key"][0]] = doc["id"][0]
                return found
            except BaseException as error:
                if not index_failure(error):
                    raise
                log.warning("lexical search failed (%s); answering from the database", error)
        return fallback.keyed(keys, filters=filters, exclude=exclude)

    def categories(self) -> list[str]:
        """The categories of the indexed papers, most common first (none without a usable index)."""
        opened = self.opened()
        if opened is None:
            return []
        searcher = opened[1]
        with self._lock:
            if self._categories is not None and self._categories[0] is searcher:
                return self._categories[1]
        try:
            terms = searcher.terms_with_prefix("category", "", filter_query=tantivy.Query.all_query())
        except BaseException as error:
            if not index_failure(error):
                raise
            return []
        found = [term for term, count in terms if count > 0]
        with self._lock:
            self._categories = (searcher, found)
        return found

    def _query(self, index, parsed, keys, filters: Filters, exclude, ids=None) -> tantivy.Query:
        """(words of ``parsed`` OR a vector key in ``keys``) AND ``filters`` AND NOT ``exclude``
        [AND an id in ``ids``]; the filters add nothing to the score."""
        matches = []
        if parsed is not None and not parsed.empty:
            matches.append(index.parse_query_lenient(parsed.tantivy_syntax(), ["text"])[0])
        if keys:
            matches.append(tantivy.Query.term_set_query(self.schema, "key", list(keys)))
        query = matches[0] if len(matches) == 1 else tantivy.Query.boolean_query([(SHOULD, m) for m in matches])
        narrowing = []
        if filters.date_from or filters.date_to:
            low = day_number(filters.date_from) if filters.date_from else 1
            high = day_number(filters.date_to) if filters.date_to else 99991231
            narrowing.append(tantivy.Query.range_query(self.schema, "day", tantivy.FieldType.Integer, low, high))
        if filters.category:
            narrowing.append(tantivy.Query.term_query(self.schema, "category", filters.category))
        if ids is not None:
            narrowing.append(tantivy.Query.term_set_query(self.schema, "id", list(ids)))
        clauses = [(MUST, query)] + [(MUST, tantivy.Query.const_score_query(n, 0.0)) for n in narrowing]
        exclude = list(exclude)
        if exclude:
            clauses.append((MUST_NOT, tantivy.Query.term_set_query(self.schema, "id", exclude)))
        return query if len(clauses) == 1 else tantivy.Query.boolean_query(clauses)

    def _sorted(self, searcher, query, field: str, offset: int, limit: int) -> Matches:
        """Every match ranked by the fast field ``field``; papers voted on since the index was
        updated are ranked by their current count (recounted()).

        Bounded whatever the page: the index ranks the other matches, and only the window of
        them that can share the page with the recounted ones (at most their number before it)
        reaches Python; only the page's papers are read from the store."""
        fresh = recounted(self.watermark)
        if not fresh:
            result = searcher.search(query, limit, count=True, order_by_field=field, offset=offset)
            return Matches(total=result.count, ids=[searcher.doc(a)["id"][0] for _, a in result.hits])
        voted = tantivy.Query.term_set_query(self.schema, "id", list(fresh))
        inside = searcher.search(tantivy.Query.boolean_query([(MUST, query), (MUST, voted)]), len(fresh), count=True)
        moved = sorted((fresh[pid][field], pid) for pid in (searcher.doc(a)["id"][0] for _, a in inside.hits))
        moved.sort(key=lambda pair: -pair[0])  # most first; equal keys by id
        start = max(offset - len(moved), 0)
        rest = searcher.search(
            tantivy.Query.boolean_query([(MUST, query), (MUST_NOT, voted)]),
            offset + limit - start,
            count=True,
            order_by_field=field,
            offset=start,
        )
        total = rest.count + inside.count
        window = list(rest.hits)  # (key, address): the other matches ranked start to offset + limit
        if start and not window:  # past the last match
            return Matches(total=total)
        if start:
            # The recounted papers ranked before the window's first paper are before the page.
            ahead = sum(1 for key, _ in moved if key > window[0][0])
            moved, position = moved[ahead:], start + ahead
        else:
            position = 0
        merged: list[tuple[str, object]] = []  # from rank ``position`` on; equal keys: the index's first
        waiting = iter(moved)
        pending = next(waiting, None)
        for key, address in window:
            while pending is not None and pending[0] > key:
                merged.append(("id", pending[1]))
                pending = next(waiting, None)
            merged.append(("address", address))
        if start + len(window) >= rest.count:  # the window reaches the last match: the rest follow
            merged += [("id", pid) for _, pid in ([pending] if pending else []) + list(waiting)]
        page = merged[offset - position : offset - position + limit]
        return Matches(
            total=total, ids=[value if kind == "id" else searcher.doc(value)["id"][0] for kind, value in page]
        )

    def exact_title(self, title: str) -> list[str]:
        key = title_key(title)
        if not key:
            return []
        opened = self.opened()
        if opened is not None:
            searcher = opened[1]
            try:
                query = tantivy.Query.term_query(self.schema, "title_key", key)
                return [searcher.doc(address)["id"][0] for _, address in searcher.search(query, 5, count=False).hits]
            except BaseException as error:
                if not index_failure(error):
                    raise
        return fallback.exact_title(title)


# --- the vector index ----------------------------------------------------------------------------


# The HNSW graph's shape and effort (bench/ann_build.py measures them: build rate, recall@10
# and search time at 200,000 vectors; docs/scale.md). The build effort bounds how long an index
# pass takes at a million papers and more; the search effort buys back most of the recall a
# lighter build gives up (0.905 against 0.916 at 200,000; 384 would give 0.917 but cost a
# million-paper search 9 ms instead of 5.5). Only the connectivity is in the file: the
# efforts are set on every index made or opened here (usearch's own default is 64 for both).
CONNECTIVITY = 16
EXPANSION_ADD = 64
EXPANSION_SEARCH = 256


def new_vector_index(dimensions: int):
    from paperwire.search.ann import Index

    return Index(
        ndim=dimensions,
        metric="cos",
        dtype="f16",
        connectivity=CONNECTIVITY,
        expansion_add=EXPANSION_ADD,
        expansion_search=EXPANSION_SEARCH,
    )


def load_vectors(path: Path, dimensions: int, record: dict):
    """The vector index in the file ``path``, read into memory (the writer changes it), which must
    be what ``record`` describes (ValueError if not). The file is checked first, in chunks, then
    read once: never two copies of it in memory."""
    with open_regular(path) as file:
        crc, size = file_crc(file, record["size"])
    if size != record["size"] or crc != record["crc"]:
        raise ValueError(f"{VECTORS} is not the file that was written")
    index = new_vector_index(dimensions)
    index.load(str(path))
    return checked_vectors(index, dimensions, record)


def checked_vectors(index, dimensions: int, record: dict):
    """``index``, read from a file, if it holds what ``record`` says (ValueError if not), with
    this release's build and search efforts: a file keeps neither."""
    if index is None or index.ndim != dimensions or len(index) != record["count"]:
        found = "nothing" if index is None else f"{len(index)} vectors of {index.ndim} dimensions"
        raise ValueError(f"{VECTORS} holds {found}")
    index.expansion_add, index.expansion_search = EXPANSION_ADD, EXPANSION_SEARCH
    return index


def mapped_name(record: dict) -> str:
    return f"vectors-{record['crc']:08x}-{record['size']}-{record['count']}.usearch"


class VectorIndex:
    """This process's reader of the usearch HNSW index over unit vectors (cosine), keyed by
    PaperVector.id.

    Memory-mapped, so that the web workers of a node share one copy of it (the page cache), and
    a worker's memory does not grow with the corpus. Not the file the indexer writes, though: a
    mapped file truncated or written over in place kills the process (SIGBUS) or feeds it
    garbage. The reader maps a private copy under ``.mapped/``, made from ``vectors.usearch``
    while its CRC-32 is computed and kept only when size and CRC match state.json; the copy is
    named after that record, so that the other workers of the node map the same file without
    reading it again, and copies of older records are removed (a worker still mapping one keeps
    it until it moves on). Where no copy can be written (a full disk), the file is read into
    memory instead. While the file is missing or damaged the reader keeps its last good copy;
    with none, search has no semantic side.
    """

    def __init__(self, folder: Path, dimensions: int, model: str | None = None) -> None:
        self.folder = folder
        self.path = folder / VECTORS
        self.dimensions = dimensions
        self.model = model
        self.problem: str | None = None
        self._index = None
        self._loaded: tuple | None = None  # (stamp, crc) of the file read
        self._freshness = Freshness(folder)
        self._lock = threading.Lock()

    def reader(self):
        with self._lock:
            if self._freshness.due():
                self._refresh()
            return self._index

    def _refresh(self) -> None:
        problem = self._load()
        if problem and problem != self.problem:
            log.warning(
                "search index: %s; %s", problem, "keeping the copy loaded" if self._index else "no semantic search"
            )
        self.problem = problem

    def _load(self) -> str | None:
        state = IndexState.load(self.folder)
        if state.version != SCHEMA_VERSION or not state.records("vectors"):
            return VECTORS_NOT_BUILT
        if self.model and not same_model(state.model, self.model):
            return f"{VECTORS} was built with another model"
        records = state.records("vectors")
        copies = self.folder / MAPPED
        try:
            with open_regular(self.path) as file:
                stat = os.fstat(file.fileno())
                stamp = stamp_of(stat)
                if self._loaded and self._loaded[0] == stamp and any(r["crc"] == self._loaded[1] for r in records):
                    return None
                sized = [r for r in records if r["size"] == stat.st_size]
                if not sized:
                    return f"{VECTORS} has {stat.st_size} bytes; {records[0]['size']} were written"
                for record in sized:  # a copy another worker made of this very record
                    mapped = self._view(copies / mapped_name(record), record)
                    if mapped is not None:
                        self._index, self._loaded = mapped, (stamp, record["crc"])
                        return None
                copied, crc = private_copy(file, stat.st_size, copies)
        except FileNotFoundError:
            return f"{VECTORS} is missing"
        except OSError as error:
            return unreadable(VECTORS, error)
        record = next((r for r in sized if r["crc"] == crc), None)
        if record is None:
            if copied is not None:
                copied.unlink(missing_ok=True)
            return f"{VECTORS} is damaged or truncated (size or checksum)"
        try:
            if copied is None:  # no room for a copy: into memory, as the writer reads it
                index = load_vectors(self.path, self.dimensions, record)
            else:
                target = copies / mapped_name(record)
                index = self._view(target, record)  # a copy made meanwhile by another worker
                if index is None:
                    os.replace(copied, target)
                    index = self._view(target, record)
                copied.unlink(missing_ok=True)
                if index is None:
                    raise ValueError(f"{VECTORS} cannot be mapped")
        except (ValueError, RuntimeError, OSError) as error:
            log.warning("loading the vector index failed: %s", error)
            return f"{VECTORS} cannot be loaded"
        self._index, self._loaded = index, (stamp, crc)
        remove_other_copies(copies, {mapped_name(r) for r in records})
        return None

    def _view(self, path: Path, record: dict):
        """The copy at ``path`` mapped, if it is there and holds what ``record`` says; else None."""
        from paperwire.search.ann import Index

        try:
            if path.stat().st_size != record["size"]:
                return None
            return checked_vectors(Index.restore(str(path), view=True), self.dimensions, record)
        except (OSError, ValueError, RuntimeError):
            return None

    def search(self, vector: np.ndarray, limit: int) -> list[tuple[int, float]]:
        """(key, cosine similarity), most similar first."""
        index = self.reader()
        if index is None or len(index) == 0:
            return []
        matches = index.search(vector.astype(np.float32), min(limit, len(index)))
        return [(int(k), 1.0 - float(d)) for k, d in zip(matches.keys, matches.distances, strict=True)]

    def vectors(self, keys: list[int]) -> dict[int, np.ndarray]:
        index = self.reader()
        if index is None or not keys:
            return {}
        found = index.get(np.array(keys, dtype=np.uint64))
        return {k: np.asarray(v, dtype=np.float32) for k, v in zip(keys, found, strict=True) if v is not None}
