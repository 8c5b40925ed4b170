"""Bringing the index files up to date with the database (``paperwire index``).

Papers changed since the state's watermark are read in batches, in ``updated_at`` order.
For each batch: embeddings missing or stale (their text changed) are computed and stored
in the database, then the paper goes into both index files. Files and state are saved
every few batches, so an interrupted run loses little, and computes no stored embedding
again when resumed. One writer at a time (a file lock); readers are never blocked.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.utils import timezone

from paperwire.papers.models import Paper
from paperwire.progress import progress
from paperwire.search.embedder import Embedder, ModelUnavailable, get_embedder
from paperwire.search.indexes import SCHEMA_VERSION, IndexState, LexicalIndex, VectorIndex, index_dir
from paperwire.search.models import PaperVector
from paperwire.search.text import embedding_text, text_hash

SAVE_EVERY = 16  # batches of settings.INDEX_BATCH papers
# Rows committed by a slower transaction may carry an updated_at a little before the
# watermark; each run looks that far back again (re-indexing a paper is harmless).
WATERMARK_SLACK = dt.timedelta(minutes=5)
FIELDS = ("id", "title", "abstract", "authors", "categories", "published", "updated_at")


@dataclass
class IndexReport:
    indexed: int = 0
    embedded: int = 0
    model: str | None = None
    notice: str = ""

    def summary(self) -> str:
        line = f"indexed {self.indexed} papers, computed {self.embedded} embeddings"
        return line + (f" ({self.notice})" if self.notice else "")


@contextmanager
def write_lock() -> Iterator[None]:
    folder = index_dir()
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".write.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


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
            or vector.model != embedder.name
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
    with write_lock():
        state = IndexState.load(folder)
        if rebuild or state.version != SCHEMA_VERSION or state.model != report.model:
            for child in ("lexical", "vectors.usearch", "state.json"):
                target = folder / child
                shutil.rmtree(target, ignore_errors=True) if target.is_dir() else target.unlink(missing_ok=True)
            state = IndexState(model=report.model)
        since = dt.datetime.fromisoformat(state.watermark) - WATERMARK_SLACK if state.watermark else None
        started = timezone.now()
        lexical = LexicalIndex(folder / "lexical")
        vectors = VectorIndex(folder / "vectors.usearch", embedder.dimensions) if embedder else None
        vector_index = vectors.load_for_writing() if vectors else None
        writer = lexical.writer()
        pending = 0
        total = Paper.objects.filter(updated_at__gte=since).count() if since else Paper.objects.count()
        with progress(total=total, desc="index", unit="paper", show=show_progress) as bar:
            for batch in changed_papers(since):
                keyed = ensure_vectors(batch, embedder, report)
                for paper in batch:
                    writer.delete_documents_by_term("id", paper.id)
                    writer.add_document(LexicalIndex.document(paper, keyed.get(paper.id, (0,))[0]))
                if vector_index is not None and keyed:
                    keys = np.array([keyed[p.id][0] for p in batch if p.id in keyed], dtype=np.uint64)
                    present = keys[vector_index.contains(keys)] if len(vector_index) else keys[:0]
                    if len(present):
                        vector_index.remove(present)
                    vector_index.add(keys, np.stack([keyed[p.id][1] for p in batch if p.id in keyed]))
                report.indexed += len(batch)
                bar.update(len(batch))
                pending += 1
                if pending >= SAVE_EVERY:
                    _save(writer, vectors, vector_index, state, folder, batch[-1].updated_at)
                    writer = lexical.writer()
                    pending = 0
        _save(writer, vectors, vector_index, state, folder, started)
    return report


def _save(writer, vectors, vector_index, state: IndexState, folder, watermark: dt.datetime) -> None:
    writer.commit()
    writer.wait_merging_threads()
    if vectors is not None:
        vectors.save(vector_index)
    state.watermark = watermark.isoformat()
    state.save(folder)
