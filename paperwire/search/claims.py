"""Embedding shared by every process on every machine of one database: claims on batches.

Embedding is the one step of indexing too slow for one machine (all of arXiv: 16 hours on two
cores). `paperwire index` therefore first embeds what needs it (a paper with no vector, one of
another model, or one of an older title or abstract), batch by batch, each batch claimed in the
database (EmbeddingClaim: a row per paper, sharing the batch's random token), so that any number
of processes on any number of machines embed every paper once and skip none:

1. In one short transaction, a page of candidate papers is read, in id order from where the
   worker's scan has got to (on PostgreSQL ``SELECT ... FOR UPDATE SKIP LOCKED``: two workers
   reading at the same moment get different pages instead of fighting over one; the rows one
   skipped count as busy, to be read again by a worker that waits for the rest). Those that
   still need a vector and are under no live claim are claimed: ``INSERT ... ON CONFLICT DO
   NOTHING`` on the paper's key, then the claims holding this batch's token are read back. The
   database's unique key decides each paper, whatever the workers read before (SQLite
   serializes the transaction as well). Then what still needs a vector is read again: a vector
   stored meanwhile by the claim's previous holder counts, and that claim is let go.
2. The batch is embedded, its claim renewed as it goes (every third of the lease); the vectors
   are stored and the claim deleted in one transaction (store_vectors), only those of papers
   still claimed by this batch (not taken over while the worker was stopped, not deleted) and
   whose text is still what was embedded (``still_as_embedded``). Each vector records the
   paper's ``updated_at`` read with its text (``source_updated_at``): a paper needs a vector
   again whenever its ``updated_at`` is another, compared for equality, not by time (an edit
   stamped before a store and committed after it would look older than the vector).
3. A claim that expired (PAPERWIRE_EMBED_LEASE_SECONDS after its last renewal: the worker
   crashed, or its machine is gone) is taken over, deleted on the condition that it is still
   the one read (a compare-and-set on its token and expiry), then claimed as above. A claim
   whose process is gone from this very machine is taken over at once.

A paper under another worker's live claim is left to it: this run's index pass goes without its
vector, and the next run takes it in (updating.py reads the vectors stored since its watermark,
by any machine). Expiry is read from each machine's clock: keep them in step (NTP).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from paperwire.papers.models import Paper
from paperwire.search.embedder import Embedder, embedding_text, same_model, text_hash
from paperwire.search.models import EmbeddingClaim, PaperVector

log = logging.getLogger(__name__)
POLL_SECONDS = 1.0  # how often a worker that waits for other workers' claims looks again


@cache
def this_machine() -> str:
    """The boot of this machine and the process namespace we run in: two claims with the same
    value name processes of one process table, whose pids can be checked ("" off Linux)."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        return f"{boot}/{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:
        return ""


def process_gone(pid: int) -> bool:
    """Whether no process ``pid`` runs here (a zombie, killed and not yet reaped, is gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's: running
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rpartition(")")[2].split()[0] == "Z"
    except (OSError, IndexError):
        return False


@dataclass(frozen=True)
class Worker:
    node: str
    machine: str
    pid: int

    @classmethod
    def here(cls) -> Worker:
        return cls(settings.NODE_NAME or socket.gethostname(), this_machine(), os.getpid())

    def why_dead(self, claim: EmbeddingClaim, now) -> str | None:
        """Why another worker's ``claim`` may be taken over, or None while it holds."""
        if claim.expires_at <= now:
            return f"its lease expired at {claim.expires_at:%H:%M:%S}"
        if self.machine and claim.node == self.node and claim.machine == self.machine and process_gone(claim.pid):
            return "its process is gone"
        return None


@dataclass
class EmbeddingRun:
    """What a worker did: ``embedded`` vectors computed and stored, and where its time went."""

    embedded: int = 0
    batches: int = 0
    taken_over: int = 0
    claiming: float = 0.0  # seconds choosing and claiming batches, and renewing claims
    embedding: float = 0.0  # seconds in the model (tokenizing included)
    storing: float = 0.0  # seconds storing vectors and releasing claims
    elapsed: float = 0.0  # seconds the whole phase took, waiting for other workers included
    left: set[str] = field(default_factory=set)  # papers left under other workers' live claims
    more: bool = False  # stopped at its time budget with papers still to embed

    def summary(self) -> str:
        return (
            f"embedded {self.embedded} papers in {self.batches} batches in {self.elapsed:.1f} s: "
            f"{self.embedding:.1f} s embedding, {self.claiming:.2f} s claiming, {self.storing:.2f} s storing"
        )


@dataclass
class Claimed:
    token: str
    papers: list[Paper]  # what this worker now holds and must embed
    last: Paper | None  # the last paper read: the scan goes on after it (None: nothing left)
    busy: set[str]  # papers that need a vector but are under another worker's live claim
    short: bool = False  # the page was the scan's last (fewer papers than a batch)
    read: int = 0  # the papers of the page, checked


def needs_vector(paper: Paper, stored: tuple[str, str] | None, model: str) -> bool:
    """Whether ``paper`` needs embedding, given its stored vector's (model, text_hash)."""
    return stored is None or not same_model(stored[0], model) or stored[1] != text_hash(paper.title, paper.abstract)


def stored_of(ids: Iterable[str]) -> dict[str, tuple[str, str]]:
    rows = PaperVector.objects.filter(paper_id__in=list(ids)).values_list("paper_id", "model", "text_hash")
    return {paper_id: (model, hashed) for paper_id, model, hashed in rows}


def store_vectors(papers: list[Paper], vectors: np.ndarray, model: str) -> None:
    """Store the vectors of ``papers`` (title, abstract and updated_at as read when embedded): the
    one way vectors are written. An upsert by paper: a vector stored again keeps its key (the
    index's id for it). Each records the paper's version it is of (``source_updated_at``)."""
    rows = [
        PaperVector(
            paper=paper,
            model=model,
            text_hash=text_hash(paper.title, paper.abstract),
            vector=np.asarray(vector, dtype=np.float32).astype("<f2").tobytes(),
            source_updated_at=paper.updated_at,
        )
        for paper, vector in zip(papers, vectors, strict=True)
    ]
    PaperVector.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["paper"],
        update_fields=["model", "text_hash", "vector", "updated_at", "source_updated_at"],
    )


def same_text(papers: Iterable[Paper]) -> None:
    """Record that the vectors of ``papers`` (read with their text, which their vectors are of:
    another field changed) are of the papers' present version, so that later scans pass them
    over. A paper changed since it was read keeps its other version: it is checked again."""
    versions: dict = {}
    for paper in papers:
        versions.setdefault(paper.updated_at, []).append(paper.id)
    for version, ids in versions.items():
        PaperVector.objects.filter(paper_id__in=ids).update(source_updated_at=version)


def still_as_embedded(papers: list[Paper], token: str) -> list[int]:
    """The positions in ``papers`` (as read and embedded) of those whose vectors may be stored:
    still claimed by ``token`` (a claim taken over by another worker, or the paper deleted, is
    not), and of unchanged text. Their claims are locked until the transaction ends."""
    held = set(EmbeddingClaim.objects.select_for_update().filter(token=token).values_list("paper_id", flat=True))
    rows = Paper.objects.filter(id__in=held).values_list("id", "title", "abstract")
    now = {pid: text_hash(title, abstract) for pid, title, abstract in rows}
    return [n for n, p in enumerate(papers) if now.get(p.id) == text_hash(p.title, p.abstract)]


def _beyond(paper: Paper, by_time: bool) -> Q:
    """The papers after ``paper`` in a scan in id order, or in (updated_at, id) order."""
    if by_time:
        return Q(updated_at__gt=paper.updated_at) | Q(updated_at=paper.updated_at, id__gt=paper.pk)
    return Q(id__gt=paper.pk)


def stored_models() -> list[str]:
    """The names of the models the stored vectors are of, one seek of the index on
    ``PaperVector.model`` a name: a DISTINCT read every vector (4.7 s at 2.7 million papers on
    SQLite, on every update)."""
    names: list[str] = []
    while True:
        rows = PaperVector.objects.order_by("model").values_list("model", flat=True)
        name = (rows.filter(model__gt=names[-1]) if names else rows).first()
        if name is None:
            return names
        names.append(name)


class Claimer:
    """One worker's claims: ``run()`` embeds every paper that needs it and no other worker holds.

    ``since``: papers changed before it are checked for a changed title or abstract only when
    their vector is older than them (None: every paper whose vector is)."""

    def __init__(self, embedder: Embedder, since=None, worker: Worker | None = None, batch: int | None = None):
        self.embedder = embedder
        self.since = since
        self.worker = worker or Worker.here()
        self.batch = batch or settings.INDEX_BATCH
        self.lease = settings.EMBED_LEASE_SECONDS
        self.taken_over = 0
        self.other_models = [name for name in stored_models() if not same_model(name, embedder.name)]

    def candidates(self):
        """Papers that may need a vector: none stored, another model's, or one older than the
        paper (whose text may have changed since). With ``since``, only the papers changed since
        then, read through the index on ``updated_at`` (an incremental update costs what changed,
        not the corpus); the papers under a claim (a worker that died with them) are scanned
        next (``claimed_candidates``). A paper changed before ``since`` and still without a
        vector is under a claim, or was left by a run that had no model, after which the index
        is rebuilt and ``since`` is None."""
        scope = Paper.objects.filter(self.needs()).only("id", "title", "abstract", "updated_at")
        if self.since is None:
            return scope.order_by("id")
        return scope.filter(updated_at__gte=self.since).order_by("updated_at", "id")

    def claimed_candidates(self):
        """The papers under a claim that need a vector: a few batches at most (in flight)."""
        claimed = list(EmbeddingClaim.objects.values_list("paper_id", flat=True)[:100_000])
        return Paper.objects.filter(self.needs(), id__in=claimed).only("id", "title", "abstract", "updated_at")

    def needs(self) -> Q:
        """No vector, another model's, or one of another version of the paper (compared for
        equality: clocks and commit order do not matter)."""
        may_need = Q(vector__isnull=True) | Q(vector__model__in=self.other_models)
        other_version = Q(vector__source_updated_at__isnull=True) | ~Q(updated_at=F("vector__source_updated_at"))
        return may_need | other_version

    def claim(self, scope, after: Paper | None = None) -> Claimed:
        """Claim the next page of ``scope`` (papers in id order, or in (updated_at, id) order)
        after the paper ``after``."""
        token = uuid.uuid4().hex
        now = timezone.now()
        if not scope.query.order_by:
            scope = scope.order_by("id")
        by_time = scope.query.order_by[0] == "updated_at"
        with transaction.atomic():
            rest = scope if after is None else scope.filter(_beyond(after, by_time))
            locked: set[str] = set()
            if connection.features.has_select_for_update_skip_locked:
                page = list(rest.select_for_update(skip_locked=True, no_key=True, of=("self",))[: self.batch])
                # The rows another worker's claiming transaction holds are skipped, not waited
                # for: they are busy (its claims, once committed, are live; and should it claim
                # none, a waiting run reads them again). Unseen, they would be neither claimed
                # nor waited for: a worker killed holding them would leave them without a vector.
                seen = rest if len(page) < self.batch else rest.exclude(_beyond(page[-1], by_time))
                locked = set(seen.values_list("id", flat=True)) - {p.id for p in page}
            else:
                page = list(rest[: self.batch])
            if not page:
                return Claimed(token, [], None, locked)
            stored = stored_of(p.id for p in page)
            wanted = {p.id: p for p in page if needs_vector(p, stored.get(p.id), self.embedder.name)}
            same_text(p for p in page if p.id in stored and p.id not in wanted)
            busy = self._clear_the_dead(wanted, now) | locked
            EmbeddingClaim.objects.bulk_create(
                [
                    EmbeddingClaim(
                        paper_id=paper_id,
                        token=token,
                        node=self.worker.node,
                        machine=self.worker.machine,
                        pid=self.worker.pid,
                        claimed_at=now,
                        expires_at=now + dt.timedelta(seconds=self.lease),
                    )
                    for paper_id in wanted
                    if paper_id not in busy
                ],
                ignore_conflicts=True,  # a claim another worker made since we read: theirs
            )
            held = set(EmbeddingClaim.objects.filter(token=token).values_list("paper_id", flat=True))
            # Read again now that we hold them: a vector stored by the claim's last holder counts.
            stored = stored_of(held)
            todo = [p for p in page if p.id in held and needs_vector(p, stored.get(p.id), self.embedder.name)]
            done = held - {p.id for p in todo}
            if done:
                EmbeddingClaim.objects.filter(token=token, paper_id__in=done).delete()
            busy |= set(wanted) - held
        return Claimed(token, todo, page[-1], busy, short=len(page) < self.batch, read=len(page))

    def _clear_the_dead(self, wanted: dict[str, Paper], now) -> set[str]:
        """Delete the claims on ``wanted`` that may be taken over; returns the papers under a live
        claim of another worker."""
        busy, dead = set(), {}
        for claim in EmbeddingClaim.objects.filter(paper_id__in=list(wanted)):
            reason = self.worker.why_dead(claim, now)
            if reason is None:
                busy.add(claim.paper_id)
            else:
                dead.setdefault((claim.token, claim.expires_at, claim.node, claim.pid, reason), []).append(
                    claim.paper_id
                )
        for (token, expires_at, node, pid, reason), ids in dead.items():
            # Only the claim as read: one renewed meanwhile (a new expiry) is left to its worker.
            taken, _ = EmbeddingClaim.objects.filter(paper_id__in=ids, token=token, expires_at=expires_at).delete()
            if taken:
                self.taken_over += taken
                log.warning("taking over %d papers claimed by %s pid %d: %s", taken, node, pid, reason)
        return busy

    def renew(self, token: str) -> int:
        return EmbeddingClaim.objects.filter(token=token).update(
            expires_at=timezone.now() + dt.timedelta(seconds=self.lease)
        )

    def embed(self, claimed: Claimed, run: EmbeddingRun) -> None:
        """Embed a claimed batch, renewing the claim as it goes; store the vectors, release the claim."""
        papers = claimed.papers
        renewed = time.monotonic()

        def between() -> None:
            nonlocal renewed
            if time.monotonic() - renewed >= self.lease / 3:
                started = time.perf_counter()
                if self.renew(claimed.token) < len(papers):
                    log.warning("part of a claimed batch was taken over by another worker (a lease too short?)")
                renewed = time.monotonic()
                run.claiming += time.perf_counter() - started

        started = time.perf_counter()
        try:
            vectors = self.embedder.embed([embedding_text(p.title, p.abstract) for p in papers], between=between)
        except BaseException:  # the model failed, Ctrl-C...: the batch is another worker's at once
            EmbeddingClaim.objects.filter(token=claimed.token).delete()
            raise
        run.embedding += time.perf_counter() - started
        log.debug("embedded %d papers: %s", len(papers), " ".join(p.id for p in papers))
        started = time.perf_counter()
        with transaction.atomic():
            keep = still_as_embedded(papers, claimed.token)
            store_vectors([papers[n] for n in keep], vectors[keep], self.embedder.name)
            EmbeddingClaim.objects.filter(token=claimed.token).delete()
        if len(keep) < len(papers):
            log.warning(
                "%d of %d vectors not stored: their papers changed, or another worker took them over, "
                "while they were embedded (the next run embeds what still needs it)",
                len(papers) - len(keep),
                len(papers),
            )
        run.storing += time.perf_counter() - started
        run.embedded += len(keep)
        run.batches += 1

    def run(self, wait: bool = False, progress=None, budget: float | None = None) -> EmbeddingRun:
        """Claim and embed batches until none is left to claim. ``wait``: then wait for the
        papers other workers hold until they are stored, or taken over once their claims die.
        ``budget``: seconds after which no new batch is claimed (``run.more`` says work is left).
        ``progress(read, embedded)``: after each page of the scan of ``candidates()``, the papers
        it checked and those it embedded."""
        run = EmbeddingRun()
        started = time.perf_counter()
        self.deadline = None if budget is None else time.monotonic() + budget
        run.left = self._scan(self.candidates(), run, progress)
        # Papers read again (under claims, or left to other workers): embedded, not checked anew.
        again = None if progress is None else lambda read, embedded: progress(0, embedded)
        if self.since is not None and not run.more:
            run.left |= self._scan(self.claimed_candidates(), run, again)
        while wait and run.left:
            time.sleep(POLL_SECONDS)
            run.left = self._scan(Paper.objects.filter(id__in=run.left).order_by("id"), run, again)
        run.taken_over = self.taken_over
        run.elapsed = time.perf_counter() - started
        return run

    def _scan(self, scope, run: EmbeddingRun, progress) -> set[str]:
        busy: set[str] = set()
        after = None
        while True:
            # Past the budget, once a batch is done (so that every phase makes progress).
            if self.deadline is not None and run.batches and time.monotonic() >= self.deadline:
                run.more = True
                return busy
            started = time.perf_counter()
            claimed = self.claim(scope, after)
            run.claiming += time.perf_counter() - started
            busy |= claimed.busy
            if claimed.last is None:
                return busy
            after = claimed.last
            if claimed.papers:
                log.debug("claimed %d papers: %s", len(claimed.papers), " ".join(p.id for p in claimed.papers))
                self.embed(claimed, run)
            if progress is not None:
                progress(claimed.read, len(claimed.papers))
            if claimed.short:
                return busy


def embed_pending(
    embedder: Embedder, since=None, wait: bool = False, progress=None, budget: float | None = None, started=None
) -> EmbeddingRun:
    """Embed, sharing the work with every other worker through claims, every paper that needs a
    vector (see the module's docstring); ``since``, ``wait``, ``progress`` and ``budget``:
    Claimer. ``started(total)``: told first how many papers the scan will check."""
    claimer = Claimer(embedder, since)
    if started is not None:
        started(claimer.candidates().count())
    run = claimer.run(wait=wait, progress=progress, budget=budget)
    if run.batches:
        log.info("%s", run.summary())
    return run
