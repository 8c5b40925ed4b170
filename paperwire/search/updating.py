"""Bringing the index files up to date with the database (``paperwire index``).

Each run first embeds what needs it (claims.py): papers with no vector, another model's, or
one of an older title or abstract, batch by batch, each batch claimed in the database so that
every process on every machine of one database shares the work; the vectors are stored in the
database. Then, under a file lock (one writer at a time; readers are never blocked), the index
pass: the files are checked against what state.json says was written (indexes.check). An index
that fails the check (missing, truncated, overwritten, or holding fewer papers than were
written), or that was never built, is rebuilt from the database into a new file or directory,
swapped in whole at the end; the pass only reads stored vectors, so a rebuild computes none.
Otherwise the pass is incremental: the vectors stored since the state's watermark (by this
machine or any other) go into both indexes, then the papers changed since it, in batches in
``updated_at`` order, each with its current stored vector; files and state are saved every few
batches, so an interrupted run loses little.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial
from itertools import chain
from pathlib import Path

import numpy as np
from django.conf import settings
from django.utils import timezone

from paperwire.core import jsondata
from paperwire.core.progress import progress
from paperwire.papers.models import Paper
from paperwire.search.claims import EmbeddingRun, embed_pending
from paperwire.search.embedder import Embedder, ModelUnavailable, get_embedder, same_model
from paperwire.search.index_files import (
    create_lexical,
    lexical_document,
    lexical_writer,
    load_vectors,
    new_vector_index,
    open_lexical,
)
from paperwire.search.integrity import (
    EMBEDDED,
    FILE,
    LEXICAL,
    NEW_LEXICAL,
    REBUILDING,
    SCHEMA_VERSION,
    VECTORS,
    WATERMARK_SLACK,
    IndexState,
    check,
    clear_the_way,
    exchange_directory,
    index_dir,
    kind,
    lexical_record,
    put_in_place,
    read_regular,
    remove,
    save_vectors,
    settle,
    write_atomically,
    write_lock,
)
from paperwire.search.look_back import LookBack, current_vector_rows
from paperwire.search.models import PaperVector

log = logging.getLogger(__name__)
SAVE_EVERY = 16  # batches of settings.INDEX_BATCH papers
FIELDS = (
    *("id", "title", "abstract", "authors", "categories", "published", "upvotes"),
    *("updated_at", "upvotes_changed_at"),  # what the index holds of a paper is of these times (look_back.py)
)


@dataclass
class IndexReport:
    indexed: int = 0  # papers indexed by this run (a later pass counts those changed since it began)
    embedded: int = 0
    passed_over: int = 0  # papers of the look-back the last run wrote as they are (look_back.py)
    passes: int = 0  # index passes done (several when embedding a backlog stopped at its budget)
    began: dt.datetime | None = None  # when the run began: later passes count what changed since
    model: str | None = None
    notice: str = ""
    embedding: EmbeddingRun | None = None  # what the embedding phase did, and where its time went
    only_embedded: bool = False  # --embed-only: no index pass

    def summary(self) -> str:
        line = f"indexed {self.indexed} papers, computed {self.embedded} embeddings"
        if self.passed_over:
            line += f", passed over {self.passed_over} papers written as they are by the last run"
        if self.passes > 1:
            line += f", in {self.passes} passes (vectors taken in every PAPERWIRE_EMBED_PHASE_SECONDS)"
        if self.only_embedded:
            line = f"computed {self.embedded} embeddings"
        return line + (f" ({self.notice})" if self.notice else "")


def changed_papers(since: dt.datetime | None) -> Iterator[list[Paper]]:
    """Batches of papers in (updated_at, id) order, read by keyset so memory stays flat."""
    queryset = Paper.objects.only(*FIELDS)
    return by_time(queryset.filter(updated_at__gte=since) if since else queryset, "updated_at")


def by_time(queryset, field: str) -> Iterator[list]:
    """Batches of ``queryset`` in (``field``, id) order, read by keyset: each batch a range of the
    index on ``field`` (a time, filtered from a moment by the caller), so that an update costs
    what changed since then, not the corpus. In id order, SQLite walked every paper's key
    looking for the few recounted ones (19 s at 2.7 million papers, on every update)."""
    queryset = queryset.order_by(field, "id")
    last = None
    while True:
        page = queryset
        if last:
            page = page.filter(**{f"{field}__gte": last[0]}).exclude(**{field: last[0], "id__lte": last[1]})
        batch = list(page[: settings.INDEX_BATCH])
        if not batch:
            return
        yield batch
        last = (getattr(batch[-1], field), batch[-1].id)


def current_vectors(
    batch: list[Paper], embedder: Embedder | None, since: dt.datetime | None = None
) -> tuple[dict[str, tuple[int, np.ndarray]], set[str], dict[str, tuple[int, dt.datetime]]]:
    """paper id -> (vector key, vector) for the papers of ``batch`` whose stored vector is the
    model's for their present title and abstract (the others have none yet: another worker may be
    computing it; the next run takes it in); the ids of those stored since ``since``; and paper
    id -> (key, when stored) of each of those vectors."""
    if embedder is None:
        return {}, set(), {}
    keyed, renewed, stamps = {}, set(), {}
    for paper_id, key, vector, updated_at in current_vector_rows(batch, embedder, "pk", "vector", "updated_at"):
        keyed[paper_id] = (key, np.frombuffer(bytes(vector), dtype="<f2").astype(np.float32))
        stamps[paper_id] = (key, updated_at)
        if since is not None and updated_at >= since:
            renewed.add(paper_id)
    return keyed, renewed, stamps


def embedding_since(folder: Path, rebuild: bool, model: str) -> dt.datetime | None:
    """From when the embedding phase checks papers: the start of the last scan that went through
    (every paper changed before it then had its vector, or was under a claim, which is scanned
    anyway), less WATERMARK_SLACK; None (every paper) when there is none, when the index is to
    be rebuilt or was built with another model. Not the index's watermark: an index pass after a
    phase stopped at its time budget moves that past papers still to embed. A file read while
    another process writes it, or damaged, is read as none: more is checked, nothing is missed."""
    state = IndexState.load(folder)
    if rebuild or state.version != SCHEMA_VERSION or not same_model(state.model, model):
        return None
    try:
        mark = dt.datetime.fromisoformat(jsondata.parse(read_regular(folder / EMBEDDED, 4096))["scan_started"])
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return mark - WATERMARK_SLACK if mark.tzinfo else None


def scan_went_through(folder: Path, started: dt.datetime) -> None:
    """Record that the embedding scan begun at ``started`` went through every paper."""
    try:
        write_atomically(folder / EMBEDDED, json.dumps({"scan_started": started.isoformat()}).encode())
    except OSError as error:  # the next run scans every paper: slower, never wrong
        log.warning("could not record the embedding scan: %s", error)


def embed_papers(
    embedder: Embedder, report: IndexReport, since=None, wait=False, show_progress=None, budget=None
) -> bool:
    """The embedding phase: claim, embed and store until nothing is left to claim, or until
    ``budget`` seconds have passed; whether papers are left to embed."""
    embedded = lambda: f"{report.embedded:,} embeddings computed"  # noqa: E731
    # The bar counts the papers checked (those with a vector of their present text are passed
    # over) out of those that may need one; a phase stopped at its budget starts a new bar.
    with progress(desc="embed", unit="paper", show=show_progress, detail=embedded) as bar:

        def started(total: int) -> None:
            bar.total = total

        def done(read: int, count: int) -> None:
            report.embedded += count
            bar.update(read)

        counting = None if bar.disable else started
        run = embed_pending(embedder, since, wait=wait, progress=done, budget=budget, started=counting)
    if report.embedding is not None:  # the phases of one update, added up
        for name in ("embedded", "batches", "taken_over", "claiming", "embedding", "storing", "elapsed"):
            setattr(run, name, getattr(run, name) + getattr(report.embedding, name))
    report.embedding = run
    if run.left and not run.more:
        note = f"{len(run.left)} papers being embedded by other workers: the next run takes in their vectors"
        report.notice = "; ".join(n for n in (report.notice, note) if n)
    return run.more


def embed_only(wait: bool = True, show_progress: bool | None = None) -> IndexReport:
    """``paperwire index --embed-only``: the embedding phase alone, every paper checked, waiting
    for the papers other workers hold until their vectors are stored (or their claims taken over)."""
    report = IndexReport(only_embedded=True)
    embedder = get_embedder()  # ModelUnavailable: nothing to do here
    report.model = embedder.name
    embed_papers(embedder, report, None, wait=wait, show_progress=show_progress)
    return report


def update_indexes(rebuild: bool = False, show_progress: bool | None = None) -> IndexReport:
    report = IndexReport(began=timezone.now())
    try:
        embedder: Embedder | None = get_embedder()
        report.model = embedder.name
    except ModelUnavailable as error:
        embedder = None
        report.notice = f"semantic index skipped: {error}"
    folder = index_dir()
    while True:
        more = False
        if embedder is not None:  # outside the lock: every process of every machine embeds at once
            since = embedding_since(folder, rebuild, embedder.name)
            budget, started = settings.EMBED_PHASE_SECONDS, timezone.now()
            more = embed_papers(embedder, report, since, show_progress=show_progress, budget=budget)
            if not more and folder.is_dir():
                scan_went_through(folder, started)
        _index_pass(folder, embedder, report, rebuild, show_progress)
        if not more:
            return report
        # A long backlog of embeddings (a large import): the papers indexed so far are searchable
        # by keyword, and the vectors stored so far are in, every EMBED_PHASE_SECONDS.
        rebuild = False


def _index_pass(folder: Path, embedder: Embedder | None, report: IndexReport, rebuild: bool, show_progress) -> None:
    """Check the files, then update or rebuild them from the database (under the write lock)."""
    with write_lock(folder):
        # What is wrong is told before anything is moved aside: the reason names the damage.
        problems = check(folder, memo=False, accept_newer=False)
        moved = clear_the_way(folder)
        for leftover in folder.glob(".*.tmp"):  # from a writer killed while writing
            if kind(leftover) == FILE:
                leftover.unlink(missing_ok=True)
        remove(folder / NEW_LEXICAL)
        state = IndexState.load(folder)
        if state.model != report.model and same_model(state.model, report.model):
            state.model = report.model  # the same vectors under the model's present name
        if rebuild or state.version != SCHEMA_VERSION or state.model != report.model:
            reason = "asked to rebuild" if rebuild else problems.get("lexical", "built with another model")
            damaged = {"lexical": reason, "vectors": reason}
            # Until the new files are swapped in, readers keep accepting the old ones.
            old = settle(folder, state) if state.version == SCHEMA_VERSION else IndexState()
            state = IndexState(
                model=report.model,
                lexical=old.lexical,
                vectors=old.vectors if old.model == report.model else None,
            )
        else:
            damaged = problems
            if damaged:
                log.warning("rebuilding the search index from the database: %s", "; ".join(damaged.values()))
                repaired = "; ".join(f"{problem}: rebuilt" for problem in damaged.values())
                report.notice = "; ".join(n for n in (repaired, report.notice) if n)
            state = settle(folder, state)
        if moved:
            report.notice = "; ".join([*moved, *([report.notice] if report.notice else [])])
        if damaged:
            write_atomically(
                folder / REBUILDING, json.dumps({"reason": "; ".join(dict.fromkeys(damaged.values()))}).encode()
            )
        try:
            _update(folder, state, embedder, set(damaged), report, show_progress)
        finally:
            (folder / REBUILDING).unlink(missing_ok=True)
            remove(folder / NEW_LEXICAL)


def _update(
    folder: Path, state: IndexState, embedder: Embedder | None, rebuild: set[str], report: IndexReport, show_progress
) -> None:
    """Index what changed since the watermark, and everything into the indexes named in ``rebuild``."""
    since = dt.datetime.fromisoformat(state.watermark) - WATERMARK_SLACK if state.watermark else None
    lexical_since = None if "lexical" in rebuild else since
    vectors_since = None if "vectors" in rebuild or embedder is None else since
    scan_from = since if lexical_since and (vectors_since or embedder is None) else None
    started = timezone.now()
    # What the last run wrote of the papers read again here, passed over if unchanged since.
    look_back = LookBack.load(folder, state, embedder, started - WATERMARK_SLACK, use=not rebuild and since is not None)
    if "lexical" in rebuild:
        target = Target(folder / NEW_LEXICAL, create_lexical(folder / NEW_LEXICAL), uuid.uuid4().hex)
    else:
        target = Target(folder / LEXICAL, open_lexical(folder / LEXICAL), state.lexical["generation"])
    adding = None
    if embedder is not None:
        if "vectors" in rebuild:
            adding = Adding(new_vector_index(embedder.dimensions))
        else:  # read from its file when a first vector is to go in: not for an update of votes
            adding = Adding(load=partial(load_vectors, folder / VECTORS, embedder.dimensions, state.vectors))
    writer = lexical_writer(target.index)
    # A new lexical index holds nothing to delete but the papers this pass wrote and read again:
    # those whose row changed as it read (their key moved ahead of it), stamped since it began
    # (less the slack the watermark allows for clocks and late commits). Tantivy keeps every
    # delete until the commit, and a rebuild commits once: a delete for every paper held about
    # 1 KB each, 2.7 GB at 2.7 million papers (memray, at 100,000: 101 MB of a 499 MB peak).
    fresh, moved_since = "lexical" in rebuild, started - WATERMARK_SLACK
    pending = written = 0
    vectors_changed = "vectors" in rebuild  # else the vector file is left as it is
    papers = Paper.objects.filter(updated_at__gte=scan_from) if scan_from else Paper.objects.all()
    # Vectors stored since the watermark (by any machine) for papers that did not change: their
    # lexical documents name the new key, and they go into the vector index.
    total = papers.count() + (count_stored(since, scan_from) if scan_from else 0)
    embedded = lambda: f"{report.embedded:,} embeddings computed"  # noqa: E731
    with (
        progress(total=total, desc="index", unit="paper", show=show_progress, detail=embedded) as bar,
        adding or nullcontext(),
    ):
        # First the stored vectors: a watermark saved later in this run must not pass over them.
        batches = ((batch, None) for batch in stored_papers(since, scan_from)) if scan_from else ()
        for whole, watermark in chain(batches, ((b, b[-1].updated_at) for b in changed_papers(scan_from))):
            batch = look_back.unwritten(whole)
            keyed, renewed, stamps = current_vectors(batch, embedder, since)
            look_back.written(batch, stamps)
            for paper in batch:
                if lexical_since is None or paper.updated_at >= lexical_since or paper.id in renewed:
                    if not fresh or paper.updated_at >= moved_since:
                        writer.delete_documents_by_term("id", paper.id)
                    writer.add_document(lexical_document(paper, keyed.get(paper.id, (0,))[0]))
            chosen = [
                p
                for p in batch
                if p.id in keyed and (vectors_since is None or p.updated_at >= vectors_since or p.id in renewed)
            ]
            if adding is not None and chosen:
                adding.add([keyed[p.id] for p in chosen])
            written += count_written(report, batch)
            bar.update(len(whole))
            pending += 1
            if pending >= SAVE_EVERY and not rebuild:  # a rebuild is swapped in whole, at the end
                # Never past this run's start: vectors stored since by others come next run.
                mark = min(watermark, started) if watermark else dt.datetime.fromisoformat(state.watermark)
                vectors_changed |= adding is not None and adding.wait()
                writer = _save(folder, state, writer, target, vector_file(adding, vectors_changed), mark)
                pending, vectors_changed = 0, False
        vectors_changed |= adding is not None and adding.wait()
    if not report.passes:  # later passes of a run pass over what its first one wrote: not told
        report.passed_over = look_back.passed_over
    if lexical_since is not None:
        recounted = reindex_recounted(writer, lexical_since)
        written += recounted
        if not report.passes:
            report.indexed += recounted
    report.passes += 1
    # Else nothing changed: the files and the watermark stay as they are. Papers passed over move
    # the watermark on, so that the next run does not read them again.
    if written or rebuild or look_back.passed_over:
        _save(folder, state, writer, target, vector_file(adding, vectors_changed), started, last=True)
        look_back.save(folder, state)


def count_written(report: IndexReport, batch: list[Paper]) -> int:
    """Count the papers of ``batch`` as indexed by the run, once: a later pass of a run takes in
    the vectors stored meanwhile and reads again the minutes before the last pass began, papers
    that changed before the run began and its first pass indexed."""
    if report.passes:
        report.indexed += sum(1 for paper in batch if report.began is None or paper.updated_at >= report.began)
    else:
        report.indexed += len(batch)
    return len(batch)


def stored_papers(since: dt.datetime, before: dt.datetime) -> Iterator[list[Paper]]:
    """Batches of the papers whose vector was stored since ``since`` and that did not change
    since ``before``, read from the vectors' side (``by_time``: the cost is the vectors stored
    since, not the corpus; from the papers' side the query walked every paper, 30 s at 2.7
    million papers on SQLite when no vector was new)."""
    vectors = PaperVector.objects.filter(updated_at__gte=since).only("updated_at", "paper_id")
    for found in by_time(vectors, "updated_at"):
        ids = [vector.paper_id for vector in found]
        if batch := list(Paper.objects.only(*FIELDS).filter(id__in=ids, updated_at__lt=before).order_by("id")):
            yield batch


def count_stored(since: dt.datetime, before: dt.datetime) -> int:
    """How many papers ``stored_papers`` yields: the vectors stored since ``since`` (a range of
    their index) less those of papers changed since ``before`` (a range of the papers' index).
    Counted as one join, the planner may walk every paper by ``updated_at < before``."""
    newer = Paper.objects.filter(updated_at__gte=before, vector__updated_at__gte=since).count()
    return PaperVector.objects.filter(updated_at__gte=since).count() - newer


def reindex_recounted(writer, since: dt.datetime) -> int:
    """Write again the lexical documents of the papers whose votes were recounted since ``since``
    but that are otherwise unchanged (the others were just written): their sort fields hold the
    upvotes. Returns how many."""
    recounted = Paper.objects.only(*FIELDS).filter(upvotes_changed_at__gte=since, updated_at__lt=since)
    done = 0
    for batch in by_time(recounted, "upvotes_changed_at"):
        keys = dict(PaperVector.objects.filter(paper__in=batch).values_list("paper_id", "pk"))
        for paper in batch:
            writer.delete_documents_by_term("id", paper.id)
            writer.add_document(lexical_document(paper, keys.get(paper.id, 0)))
        done += len(batch)
    return done


def add_vectors(index, keyed: list[tuple[int, np.ndarray]]) -> int:
    """Put the (key, vector) pairs in the HNSW index, leaving alone those already in it as they are:
    removing and adding a vector again leaves the graph worse (some vectors unreachable).
    Returns how many were added."""
    keys = np.array([key for key, _ in keyed], dtype=np.uint64)
    vectors = np.stack([vector for _, vector in keyed])
    present = index.contains(keys) if len(index) else np.zeros(len(keys), dtype=bool)
    if present.any():
        stored = np.stack([np.asarray(v, dtype=np.float16) for v in index.get(keys[present])])
        same = np.all(stored == vectors[present].astype(np.float16), axis=1)
        unchanged = np.flatnonzero(present)[same]
        keep = np.ones(len(keys), dtype=bool)
        keep[unchanged] = False
        keys, vectors, present = keys[keep], vectors[keep], present[keep]
    if present.any():
        index.remove(keys[present])
    if len(keys):
        index.add(keys, vectors)
    return len(keys)


class Adding:
    """Vectors go into the HNSW graph (``add_vectors``) in a thread of their own while the indexing
    thread reads the next batch and writes its lexical documents: usearch lets go of the GIL
    while it adds, and the HNSW insertions are most of a build's time. One batch at a time, in
    order; ``wait`` is called before the vector file is saved."""

    def __init__(self, index=None, load: Callable[[], object] | None = None) -> None:
        self.index, self.load = index, load  # ``load`` reads the index when a first batch comes
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hnsw-add")
        self.running: Future | None = None
        self.added = 0

    def add(self, keyed: list[tuple[int, np.ndarray]]) -> None:
        self.wait_for_running()
        self.running = self.pool.submit(self._add, keyed)

    def _add(self, keyed: list[tuple[int, np.ndarray]]) -> int:
        if self.index is None:
            self.index = self.load()
        return add_vectors(self.index, keyed)

    def wait_for_running(self) -> None:
        if self.running is not None:
            running, self.running = self.running, None
            self.added += running.result()  # its error, if it failed, is raised here

    def wait(self) -> bool:
        """Once every batch given is in the index: whether any vector went in since the last call."""
        self.wait_for_running()
        added, self.added = self.added, 0
        return added > 0

    def __enter__(self) -> Adding:
        return self

    def __exit__(self, *exc) -> None:
        self.pool.shutdown(wait=True)  # never leave a thread writing into the graph


def vector_file(adding: Adding | None, changed: bool):
    """The vector index to save (None: leave its file as it is)."""
    return adding.index if adding is not None and changed else None


@dataclass
class Target:
    """The lexical index being written: the live one, or a new one to swap in."""

    path: Path
    index: object
    generation: str


def _save(folder: Path, state: IndexState, writer, target: Target, vector_index, watermark: dt.datetime, last=False):
    """Commit, then replace the files whole, recording in the state first what they will hold.
    ``vector_index``: the vector index to write, None to leave the file as it is.

    Returns a new lexical writer, unless ``last``."""
    writer.commit()
    writer.wait_merging_threads()
    pending = {"lexical": lexical_record(target.path, target.generation), "vectors": state.vectors}
    written = None
    if vector_index is not None:
        written, pending["vectors"] = save_vectors(vector_index, folder)
    try:
        state.pending = pending
        state.save(folder)  # readers accept the current files or these, never a mix
        swapped = target.path != folder / LEXICAL
        if swapped:
            target.index = None  # tantivy lets go of the directory before it moves
            exchange_directory(target.path, folder / LEXICAL)
        if written is not None:
            put_in_place(written, folder / VECTORS)
            written = None
    finally:
        if written is not None:
            written.unlink(missing_ok=True)
    state.lexical, state.vectors, state.pending = pending["lexical"], pending.get("vectors"), {}
    state.watermark = watermark.isoformat()
    state.save(folder)
    if swapped:
        remove(target.path)  # the old directory
        target.path = folder / LEXICAL
    if last:
        return None
    target.index = target.index or open_lexical(target.path)
    return lexical_writer(target.index)
