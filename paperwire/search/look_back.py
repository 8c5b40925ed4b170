"""What an index run wrote of the papers that the next run reads again.

Each run reads again the rows stamped in the ``WATERMARK_SLACK`` before its watermark: a slower
transaction may commit a row stamped a little before the watermark after the run read past it.
After an import, those are the import's last minutes: at 1,000,000 papers the first update read
238,398 papers again and wrote every one of them again (117 s), all as they already were.

So a run records, for each paper it wrote (or passed over) that the next run's look-back will
read again, a signature: the paper's id with the stamps of its row (``updated_at``), of its vote
count (``upvotes_changed_at``) and of the stored vector the index took for it. The next run
passes over a paper whose signature is in the record: the index holds that very row and that
vector. Any other paper of the look-back is read and written as before: a row committed late is
a row with a signature the record does not hold. The record counts only for the index it was
written with (the same watermark, lexical generation and model); missing, damaged or of another
index, it is read as empty: slower, never wrong.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import logging
from pathlib import Path

import numpy as np

from paperwire.core import jsondata
from paperwire.search.embedder import Embedder, same_model, text_hash
from paperwire.search.integrity import LOOK_BACK, IndexState, read_regular, write_atomically
from paperwire.search.models import PaperVector

MAX_BYTES = 64 << 20  # 8 bytes a paper, in base64: millions of papers
log = logging.getLogger(__name__)


def signature(paper_id: str, updated_at: dt.datetime, recounted_at: dt.datetime | None, vector) -> int:
    """64 bits of a hash of what the index holds of a paper (a clash: 1 in 2**64 a pair);
    ``vector``: (key, when stored) of the stored vector the index takes for it, or None."""
    key, vector_at = vector or (0, None)
    stamps = (updated_at, recounted_at, vector_at)
    text = "\x00".join([paper_id, str(key), *(stamp.isoformat() if stamp else "" for stamp in stamps)])
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def _owner(state: IndexState, model: str | None) -> dict:
    return {"watermark": state.watermark, "lexical": (state.lexical or {}).get("generation"), "model": model}


class LookBack:
    """The record of the last run (``known``) and the one this run writes (``seen``: papers
    stamped since ``cut``, the next run's look-back, if this run saves its watermark)."""

    def __init__(self, known: np.ndarray, cut: dt.datetime, embedder: Embedder | None) -> None:
        self.known, self.cut, self.embedder = known, cut, embedder  # sorted uint64: 8 bytes a paper
        self.seen: list[int] = []
        self.passed_over = 0

    @classmethod
    def load(cls, folder: Path, state: IndexState, embedder: Embedder | None, cut: dt.datetime, use: bool) -> LookBack:
        known = np.zeros(0, dtype=np.uint64)
        if use:
            try:
                data = jsondata.parse(read_regular(folder / LOOK_BACK, MAX_BYTES))
                if {key: data[key] for key in ("watermark", "lexical", "model")} == _owner(state, cls._model(embedder)):
                    raw = base64.b64decode(data["signatures"], validate=True)
                    known = np.sort(np.frombuffer(raw, dtype="<u8").astype(np.uint64))
            except FileNotFoundError:
                pass
            except (OSError, ValueError, TypeError, KeyError, binascii.Error) as error:
                log.warning("the index's look-back record is not read (every paper of the look-back is): %s", error)
        return cls(known, cut, embedder)

    @staticmethod
    def _model(embedder: Embedder | None) -> str | None:
        return embedder.name if embedder is not None else None

    def unwritten(self, batch: list) -> list:
        """The papers of ``batch`` the last run did not write as they are now."""
        if not len(self.known) or not batch:
            return batch
        stamps = vector_stamps(batch, self.embedder)
        marks = [signature(p.id, p.updated_at, p.upvotes_changed_at, stamps.get(p.id)) for p in batch]
        wanted = np.array(marks, dtype=np.uint64)
        at = np.minimum(np.searchsorted(self.known, wanted), len(self.known) - 1)
        known = self.known[at] == wanted
        todo = []
        for paper, mark, found in zip(batch, marks, known, strict=True):
            if found:
                self.passed_over += 1
                self._keep(paper, stamps.get(paper.id), mark)
            else:
                todo.append(paper)
        return todo

    def written(self, papers: list, stamps: dict) -> None:
        """Record ``papers``, written with the vectors ``stamps`` names (paper id -> (key, time))."""
        for paper in papers:
            self._keep(paper, stamps.get(paper.id), None)

    def _keep(self, paper, vector, mark: int | None) -> None:
        recounted = paper.upvotes_changed_at
        stamps = (paper.updated_at, recounted, vector[1] if vector else None)
        if any(stamp is not None and stamp >= self.cut for stamp in stamps):
            self.seen.append(mark if mark is not None else signature(paper.id, paper.updated_at, recounted, vector))

    def save(self, folder: Path, state: IndexState) -> None:
        """Written after the state that holds this run's watermark (a record of an older state
        is ignored, so a run stopped between the two costs a full look-back, nothing more)."""
        record = _owner(state, self._model(self.embedder))
        record["signatures"] = base64.b64encode(np.array(self.seen, dtype="<u8").tobytes()).decode()
        try:
            write_atomically(folder / LOOK_BACK, json.dumps(record).encode())
        except OSError as error:
            log.warning("could not record the index's look-back: %s", error)


def vector_stamps(batch: list, embedder: Embedder | None) -> dict[str, tuple[int, dt.datetime]]:
    """paper id -> (key, when stored) of its vector, for the papers of ``batch`` whose stored
    vector is the model's for their present title and abstract (the one the index takes), the
    vectors themselves unread."""
    if embedder is None:
        return {}
    return {pid: (key, at) for pid, key, at in current_vector_rows(batch, embedder, "pk", "updated_at")}


def current_vector_rows(batch: list, embedder: Embedder, *fields: str) -> list[tuple]:
    """(paper id, *``fields``) of the stored vectors of ``batch``'s papers that are the model's
    for their present title and abstract: the ones the index takes."""
    texts = {paper.id: text_hash(paper.title, paper.abstract) for paper in batch}
    rows = PaperVector.objects.filter(paper__in=batch).values_list("paper_id", "model", "text_hash", *fields)
    return [
        (pid, *rest) for pid, model, hashed, *rest in rows if hashed == texts[pid] and same_model(model, embedder.name)
    ]
