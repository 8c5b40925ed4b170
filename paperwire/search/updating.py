"""Bringing the index files up to date with the database (``paperwire index``).

Each run first checks the files against what state.json says was written (indexes.check).
An index that fails the check (missing, truncated, overwritten, or holding fewer papers than
were written), or that was never built, is rebuilt from the database into a new file or
directory, swapped in whole at the end; embeddings stored in the database are reused, so a
rebuild computes none again. Otherwise the run is incremental: papers changed since the
state's watermark are read in batches, in ``updated_at`` order; for each batch, embeddings
missing or stale (their text changed) are computed and stored in the database, then the
paper goes into both indexes, and files and state are saved every few batches, so an
interrupted run loses little. One writer at a time (a file lock); readers are never blocked.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from django.utils import timezone

from paperwire.core.progress import progress
from paperwire.papers.models import Paper
from paperwire.search.embedder import Embedder, ModelUnavailable, embedding_text, get_embedder, same_model, text_hash
from paperwire.search.index_files import (
    create_lexical,
    lexical_document,
    lexical_writer,
    load_vectors,
    new_vector_index,
    open_lexical,
)
from paperwire.search.integrity import (
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
    remove,
    save_vectors,
    settle,
    write_atomically,
    write_lock,
)
from paperwire.search.models import PaperVector

log = logging.getLogger(__name__)
SAVE_EVERY = 16  # batches of settings.INDEX_BATCH papers
FIELDS = ("id", "title", "abstract", "authors", "categories", "published", "upvotes", "updated_at")


@dataclass
class IndexReport:
    indexed: int = 0
    embedded: int = 0
    model: str | None = None
    notice: str = ""

    def summary(self) -> str:
        line = f"indexed {self.indexed} papers, computed {self.embedded} embeddings"
        return line + (f" ({self.notice})" if self.notice else "")


def changed_papers(since: dt.datetime | None) -> Iterator[list[Paper]]:
    """Batches of papers in (updated_at, id) order, read by keyset so memory stays flat."""
    queryset = Paper.objects.only(*FIELDS).order_by("updated_at", "id")
    if since:
        queryset = queryset.filter(updated_at__gte=since)
    last = None
    while True:
        page = queryset
        if last:
            page = page.filter(updated_at__gte=last[0]).exclude(updated_at=last[0], id__lte=last[1])
        batch = list(page[: settings.INDEX_BATCH])
        if not batch:
            return
        yield batch
        last = (batch[-1].updated_at, batch[-1].id)


def ensure_vectors(
    batch: list[Paper], embedder: Embedder | None, report: IndexReport
) -> dict[str, tuple[int, np.ndarray]]:
    """paper id -> (vector key, vector) for the batch, embedding only what is missing or stale."""
    if embedder is None:
        return {}
    stored = {v.paper_id: v for v in PaperVector.objects.filter(paper__in=batch)}
    todo = []
    for paper in batch:
        vector = stored.get(paper.id)
        if (
            vector is None
            or not same_model(vector.model, embedder.name)
            or vector.text_hash != text_hash(paper.title, paper.abstract)
        ):
            todo.append(paper)
    if todo:
        vectors = embedder.embed([embedding_text(p.title, p.abstract) for p in todo])
        rows = [
            PaperVector(
                paper=paper,
                model=embedder.name,
                text_hash=text_hash(paper.title, paper.abstract),
                vector=vector.astype("<f2").tobytes(),
            )
            for paper, vector in zip(todo, vectors, strict=True)
        ]
        # An upsert: another process (a worker, another node) may be embedding the same paper.
        PaperVector.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["paper"],
            update_fields=["model", "text_hash", "vector", "updated_at"],
        )
        stored = {v.paper_id: v for v in PaperVector.objects.filter(paper__in=batch)}
        report.embedded += len(todo)
    return {
        pid: (row.pk, np.frombuffer(bytes(row.vector), dtype="<f2").astype(np.float32)) for pid, row in stored.items()
    }


def update_indexes(rebuild: bool = False, show_progress: bool | None = None) -> IndexReport:
    report = IndexReport()
    try:
        embedder: Embedder | None = get_embedder()
        report.model = embedder.name
    except ModelUnavailable as error:
        embedder = None
        report.notice = f"semantic index skipped: {error}"
    folder = index_dir()
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
    return report


def _update(
    folder: Path, state: IndexState, embedder: Embedder | None, rebuild: set[str], report: IndexReport, show_progress
) -> None:
    """Index what changed since the watermark, and everything into the indexes named in ``rebuild``."""
    since = dt.datetime.fromisoformat(state.watermark) - WATERMARK_SLACK if state.watermark else None
    lexical_since = None if "lexical" in rebuild else since
    vectors_since = None if "vectors" in rebuild or embedder is None else since
    scan_from = since if lexical_since and (vectors_since or embedder is None) else None
    started = timezone.now()
    if "lexical" in rebuild:
        target = Target(folder / NEW_LEXICAL, create_lexical(folder / NEW_LEXICAL), uuid.uuid4().hex)
    else:
        target = Target(folder / LEXICAL, open_lexical(folder / LEXICAL), state.lexical["generation"])
    vector_index = None
    if embedder is not None:
        if "vectors" in rebuild:
            vector_index = new_vector_index(embedder.dimensions)
        else:
            vector_index = load_vectors(folder / VECTORS, embedder.dimensions, state.vectors)
    writer = lexical_writer(target.index)
    pending = 0
    vectors_changed = "vectors" in rebuild  # else the vector file is left as it is
    papers = Paper.objects.filter(updated_at__gte=scan_from) if scan_from else Paper.objects.all()
    embedded = lambda: f"{report.embedded:,} embeddings computed"  # noqa: E731
    with progress(total=papers.count(), desc="index", unit="paper", show=show_progress, detail=embedded) as bar:
        for batch in changed_papers(scan_from):
            keyed = ensure_vectors(batch, embedder, report)
            for paper in batch:
                if lexical_since is None or paper.updated_at >= lexical_since:
                    writer.delete_documents_by_term("id", paper.id)
                    writer.add_document(lexical_document(paper, keyed.get(paper.id, (0,))[0]))
            chosen = [p for p in batch if p.id in keyed and (vectors_since is None or p.updated_at >= vectors_since)]
            if vector_index is not None and chosen:
                vectors_changed |= add_vectors(vector_index, [keyed[p.id] for p in chosen]) > 0
            report.indexed += len(batch)
            bar.update(len(batch))
            pending += 1
            if pending >= SAVE_EVERY and not rebuild:  # a rebuild is swapped in whole, at the end
                writer = _save(
                    folder, state, writer, target, vector_index if vectors_changed else None, batch[-1].updated_at
                )
                pending, vectors_changed = 0, False
    if lexical_since is not None:
        report.indexed += reindex_recounted(writer, lexical_since)
    if report.indexed or rebuild:  # else nothing changed: the files and the watermark stay as they are
        _save(folder, state, writer, target, vector_index if vectors_changed else None, started, last=True)


def reindex_recounted(writer, since: dt.datetime) -> int:
    """Write again the lexical documents of the papers whose votes were recounted since ``since``
    but that are otherwise unchanged (the others were just written): their sort fields hold the
    upvotes. Returns how many."""
    recounted = Paper.objects.only(*FIELDS).filter(upvotes_changed_at__gte=since, updated_at__lt=since)
    done, last = 0, ""
    while True:
        batch = list(recounted.filter(id__gt=last).order_by("id")[: settings.INDEX_BATCH])
        if not batch:
            return done
        keys = dict(PaperVector.objects.filter(paper__in=batch).values_list("paper_id", "pk"))
        for paper in batch:
            writer.delete_documents_by_term("id", paper.id)
            writer.add_document(lexical_document(paper, keys.get(paper.id, 0)))
        done += len(batch)
        last = batch[-1].id


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
