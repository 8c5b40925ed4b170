"""Embedding shared through claims (paperwire/search/claims.py): several workers, on one database,
embed every paper once and skip none; a crashed worker's batch is taken over.

The claim rules are tested with the workers in this process and time pinned; then real
`paperwire index` processes on one database (SQLite, and PostgreSQL in the PostgreSQL pass),
one of them SIGKILLed while it holds a batch; then two nodes, one taking in the vectors the other
stored.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import time_machine
from django.db import connection

from paperwire.papers.models import Paper
from paperwire.search.claims import Claimer, EmbeddingRun, Worker, store_vectors
from paperwire.search.embedder import shipped_id, text_hash
from paperwire.search.models import EmbeddingClaim, PaperVector
from tests.conftest import paperwire_env, query_plan, run_paperwire, start_paperwire, write_jsonl

T0 = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
LEASE = 60
WORDS = "graph neural protein folding robot policy speech vision language diffusion sparse kernel".split()


class NamedModel:
    """Stands in for the embedder where only its name is read (claiming embeds nothing)."""

    name = shipped_id()
    dimensions = 384

    def embed(self, texts, between=None):
        vectors = np.random.default_rng(len(texts)).normal(size=(len(texts), self.dimensions))
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def synthetic_papers(count: int, prefix: str = "2503") -> list[dict]:
    papers = []
    for n in range(count):
        topic = [WORDS[(n + i) % len(WORDS)] for i in range(3)]
        papers.append(
            {
                "id": f"{prefix}.{n + 1:05d}",
                "title": f"Study {n}: {' '.join(topic)} methods",
                "abstract": f"We present study number {n} on {' and '.join(topic)}, with {n % 7 + 2} datasets.",
                "published": "2025-03-01",
            }
        )
    return papers


def make_papers(count: int) -> list[Paper]:
    """Papers changed at T0."""
    with time_machine.travel(T0, tick=False):
        return [
            Paper.objects.create(id=p["id"], title=p["title"], abstract=p["abstract"]) for p in synthetic_papers(count)
        ]


def worker(node: str = "node-a", pid: int = 1000, machine: str = "machine-1") -> Worker:
    return Worker(node, machine, pid)


def claimer(who: Worker, batch: int = 4) -> Claimer:
    return Claimer(NamedModel(), worker=who, batch=batch)


def claim(who: Worker, batch: int = 4) -> list[str]:
    """The next batch ``who`` claims, its scan going past the pages others hold, as a worker's does."""
    taker, after = claimer(who, batch), None
    while True:
        claimed = taker.claim(taker.candidates(), after)
        if claimed.papers or claimed.last is None:
            return [p.id for p in claimed.papers]
        after = claimed.last


@pytest.fixture
def lease(settings):
    settings.EMBED_LEASE_SECONDS = LEASE


# --- the rules, with workers in this process --------------------------------------------------


@pytest.mark.django_db
def test_two_workers_claim_different_papers_and_a_third_finds_what_is_left(lease):
    make_papers(10)
    with time_machine.travel(T0, tick=False):
        first, second, third = claim(worker("a")), claim(worker("b")), claim(worker("c"), batch=10)
        fourth = claim(worker("d"))
    assert first == ["2503.00001", "2503.00002", "2503.00003", "2503.00004"]
    assert second == ["2503.00005", "2503.00006", "2503.00007", "2503.00008"]
    assert third == ["2503.00009", "2503.00010"]
    assert Counter(EmbeddingClaim.objects.values_list("node", flat=True)) == {"a": 4, "b": 4, "c": 2}
    assert fourth == []


@pytest.mark.django_db
def test_a_claim_is_taken_over_once_its_lease_expired_and_not_before(lease, caplog):
    make_papers(4)
    with time_machine.travel(T0, tick=False):
        assert len(claim(worker("a", pid=11))) == 4
    with time_machine.travel(T0 + dt.timedelta(seconds=LEASE - 1), tick=False):
        assert claim(worker("b")) == []
    with time_machine.travel(T0 + dt.timedelta(seconds=LEASE), tick=False):
        assert len(claim(worker("b"))) == 4
    assert set(EmbeddingClaim.objects.values_list("node", flat=True)) == {"b"}
    assert "taking over 4 papers claimed by a pid 11: its lease expired at 12:01:00" in caplog.text


@pytest.mark.django_db
def test_a_renewed_claim_holds_past_its_first_lease(lease):
    make_papers(4)
    holder = claimer(worker("a"))
    with time_machine.travel(T0, tick=False):
        token = holder.claim(holder.candidates()).token
    with time_machine.travel(T0 + dt.timedelta(seconds=LEASE - 5), tick=False):
        assert holder.renew(token) == 4
    with time_machine.travel(T0 + dt.timedelta(seconds=LEASE + 30), tick=False):
        assert claim(worker("b")) == []
    with time_machine.travel(T0 + dt.timedelta(seconds=2 * LEASE), tick=False):
        assert len(claim(worker("b"))) == 4


@pytest.mark.django_db
def test_a_claim_of_a_process_gone_from_this_machine_is_taken_over_at_once(lease):
    make_papers(8)
    gone = subprocess.Popen(["true"])
    gone.wait()  # its pid now names no process (until the system hands it out again)
    here = Worker.here()
    with time_machine.travel(T0, tick=False):
        assert len(claim(Worker(here.node, here.machine, gone.pid))) == 4
        assert len(claim(Worker("elsewhere", here.machine, gone.pid))) == 4  # another machine's pid
        taken = claim(here, batch=8)
    assert taken == ["2503.00001", "2503.00002", "2503.00003", "2503.00004"]  # not the other machine's


@pytest.mark.django_db
def test_the_database_decides_a_race_whatever_the_worker_read(lease, monkeypatch):
    """A worker that read no claim on a paper (another worker claimed it after the read) does not
    get it: the insert of its claim finds the other's, and it embeds only what it holds."""
    make_papers(4)
    with time_machine.travel(T0, tick=False):
        assert len(claim(worker("a"))) == 4
        late = claimer(worker("b"))
        monkeypatch.setattr(late, "_clear_the_dead", lambda wanted, now: set())  # read before a's claim
        assert late.claim(late.candidates()).papers == []
    assert set(EmbeddingClaim.objects.values_list("node", flat=True)) == {"a"}


@pytest.mark.django_db(transaction=True)
def test_papers_another_worker_is_claiming_are_waited_for_not_passed_over(lease):
    """On PostgreSQL a worker's page skips the rows another worker's claiming transaction holds
    locked: they are busy, so a waiting worker comes back for them (were they passed over, a
    worker killed once it had claimed them would leave them without a vector for good)."""
    if connection.vendor != "postgresql":
        pytest.skip("rows are skipped, not waited for, on PostgreSQL only (SQLite serializes claiming)")
    make_papers(8)
    other = connection.get_new_connection(connection.get_connection_params())
    try:
        other.autocommit = False
        locked = ["2503.00002", "2503.00003", "2503.00007"]  # inside the first page, and past it
        other.execute("SELECT id FROM papers_paper WHERE id = ANY(%s) FOR NO KEY UPDATE", [locked])
        run = Claimer(NamedModel(), worker=worker("b"), batch=4).run()
        assert (run.embedded, run.left) == (5, set(locked))
        other.rollback()  # the other worker claimed none of them after all
    finally:
        other.close()
    assert Claimer(NamedModel(), worker=worker("b"), batch=4).run(wait=True).embedded == 3
    assert PaperVector.objects.count() == 8 and not EmbeddingClaim.objects.exists()


@pytest.mark.django_db
def test_a_vector_stored_while_a_worker_claims_is_not_computed_again(lease, monkeypatch):
    """Worker a stores its batch and lets go of it just after b read that the papers need vectors:
    b claims them, reads again, and leaves them."""
    papers = make_papers(4)
    first, second = claimer(worker("a")), claimer(worker("b"))
    with time_machine.travel(T0, tick=False):
        token = first.claim(first.candidates()).token
        original = second._clear_the_dead

        def a_finishes_first(wanted, now):
            store_vectors(papers, NamedModel().embed([p.title for p in papers]), NamedModel.name)
            EmbeddingClaim.objects.filter(token=token).delete()
            return original(wanted, now)

        monkeypatch.setattr(second, "_clear_the_dead", a_finishes_first)
        claimed = second.claim(second.candidates())
    assert claimed.papers == [] and not EmbeddingClaim.objects.exists()


@pytest.mark.django_db
def test_a_worker_whose_model_fails_lets_go_of_its_batch_at_once(lease):
    class Failing(NamedModel):
        def embed(self, texts, between=None):
            raise RuntimeError("the model failed")

    make_papers(4)
    with pytest.raises(RuntimeError, match="the model failed"):
        Claimer(Failing(), worker=worker("a"), batch=4).run()
    assert not EmbeddingClaim.objects.exists()
    assert len(claim(worker("b"))) == 4


@pytest.mark.django_db
def test_only_papers_without_a_current_vector_are_claimed(lease):
    papers = make_papers(4)
    with time_machine.travel(T0 + dt.timedelta(hours=1), tick=False):
        store_vectors(papers, NamedModel().embed(["x"] * 4), NamedModel.name)
    later = T0 + dt.timedelta(days=1)
    Paper.objects.filter(id=papers[0].id).update(abstract="A new abstract.", updated_at=later)
    PaperVector.objects.filter(paper_id=papers[1].id).update(model="another-model")
    Paper.objects.filter(id=papers[2].id).update(authors=["Changed, text not"], updated_at=later)
    with time_machine.travel(T0 + dt.timedelta(days=2), tick=False):
        assert claim(worker("a")) == [papers[0].id, papers[1].id]


@pytest.mark.django_db
def test_a_worker_embeds_and_stores_every_paper_with_the_model(lease):
    """With the real model: the stored vectors are the ones computed for the text, under the
    model's name, and no claim is left."""
    from paperwire.search.claims import embed_pending
    from paperwire.search.embedder import embedding_text, get_embedder

    papers = make_papers(6)
    run = embed_pending(get_embedder())
    assert (run.embedded, run.left) == (6, set())
    assert not EmbeddingClaim.objects.exists()
    row = PaperVector.objects.get(paper=papers[2])
    assert (row.model, row.text_hash) == (get_embedder().name, text_hash(papers[2].title, papers[2].abstract))
    expected = get_embedder().embed([embedding_text(papers[2].title, papers[2].abstract)])[0]
    assert float(np.frombuffer(bytes(row.vector), dtype="<f2").astype(np.float32) @ expected) > 0.99
    assert embed_pending(get_embedder()).embedded == 0


# --- real processes on one database -----------------------------------------------------------


def shared_database(tmp_path: Path, database: dict) -> dict:
    return database or {"DATABASE_URL": f"sqlite:///{tmp_path / 'shared.sqlite3'}"}


def query(url: str, sql: str) -> list[tuple]:
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///"), timeout=30) as db:
            return db.execute(sql).fetchall()
    import psycopg

    with psycopg.connect(url) as db:
        return db.execute(sql).fetchall()


EMBEDDED = re.compile(r"paperwire\.search\.claims: embedded \d+ papers: (.*)$", re.M)


def embedded_ids(log: Path) -> list[str]:
    return [paper_id for line in EMBEDDED.findall(log.read_text()) for paper_id in line.split()]


def test_workers_on_one_database_embed_every_paper_once_and_take_over_a_killed_ones_batch(tmp_path, database):
    # On SQLite the workers share one PAPERWIRE_HOME, and so its database with the settings'
    # busy timeout (they write no index files with --embed-only).
    home = tmp_path / "home"
    url = database.get("DATABASE_URL") or f"sqlite:///{home / 'paperwire.sqlite3'}"
    papers = synthetic_papers(60)
    setup = paperwire_env(home, **database)
    imported = run_paperwire("import", "--no-index", str(write_jsonl(tmp_path / "p.jsonl", papers)), env=setup)
    assert imported.returncode == 0, imported.stderr
    common = {**database, "PAPERWIRE_LOG_LEVEL": "DEBUG", "PAPERWIRE_EMBEDDING_THREADS": "1"}
    # The worker to be killed holds big batches, with a lease of 3 s: from another machine, as
    # far as the others can tell (a process gone from this one would be taken over at once).
    doomed_env = paperwire_env(
        home,
        **common,
        PAPERWIRE_NODE_NAME="doomed-node",
        PAPERWIRE_INDEX_BATCH="20",
        PAPERWIRE_EMBED_LEASE_SECONDS="3",
    )
    outputs = {name: (tmp_path / f"{name}.out", tmp_path / f"{name}.log") for name in ("doomed", "w1", "w2")}

    def start(name: str, env: dict) -> subprocess.Popen:
        out, log = outputs[name]
        return start_paperwire("index", "--embed-only", env=env, stdout=out.open("w"), stderr=log.open("w"))

    # The doomed worker alone until it holds a batch: started with the others, it was once beaten
    # to every paper by both (CI, 2026-11-28: it claimed nothing, finished, and was not killed).
    doomed = start("doomed", doomed_env)
    held: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and doomed.poll() is None:
        held = [row[0] for row in query(url, "SELECT paper_id FROM search_embeddingclaim WHERE node = 'doomed-node'")]
        if held:
            doomed.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    doomed.wait(timeout=30)
    assert doomed.returncode == -signal.SIGKILL, "the worker finished before it could be killed"
    unfinished = {row[0] for row in query(url, "SELECT paper_id FROM search_embeddingclaim WHERE node = 'doomed-node'")}
    assert unfinished, "the worker was killed between two batches: it held none"
    workers = [start(name, paperwire_env(home, **common, PAPERWIRE_INDEX_BATCH="4")) for name in ("w1", "w2")]
    for process in workers:
        process.wait(timeout=300)
    done = {name: (out.read_text(), log.read_text()) for name, (out, log) in outputs.items()}
    for name in ("w1", "w2"):
        assert workers[int(name[1]) - 1].returncode == 0, done[name]

    # Every paper has its vector, of its present text; no claim is left.
    rows = query(
        url,
        "SELECT p.id, p.title, p.abstract, v.text_hash FROM papers_paper p "
        "JOIN search_papervector v ON v.paper_id = p.id",
    )
    assert len(rows) == len(papers)
    assert all(hashed == text_hash(title, abstract) for _, title, abstract, hashed in rows)
    assert query(url, "SELECT count(*) FROM search_embeddingclaim") == [(0,)]
    # None embedded twice but the killed worker's unfinished batch, none skipped.
    survivors = embedded_ids(outputs["w1"][1]) + embedded_ids(outputs["w2"][1])
    killed = embedded_ids(outputs["doomed"][1])
    assert [pid for pid, n in Counter(survivors).items() if n > 1] == []
    assert set(killed) & set(survivors) <= unfinished
    assert set(killed) | set(survivors) == {p["id"] for p in papers}
    computed = sum(int(re.search(r"computed (\d+) embeddings", done[n][0]).group(1)) for n in ("w1", "w2"))
    assert computed == len(survivors)
    # ... taken over after its lease, by one of the others.
    takeover = re.compile(rf"taking over (\d+) papers claimed by doomed-node pid {doomed.pid}: its lease expired")
    taken = [int(m) for name in ("w1", "w2") for m in takeover.findall(done[name][1])]
    assert sum(taken) == len(unfinished), (done["w1"][1][-2000:], done["w2"][1][-2000:])
    assert unfinished <= set(survivors)


def test_a_node_takes_in_the_vectors_another_node_stored(tmp_path, database):
    """Node B indexes a paper while node A holds its claim; A stores the vector; B's next
    incremental run finds the paper by meaning, though the paper itself did not change."""
    shared = shared_database(tmp_path, database)
    url = shared["DATABASE_URL"]
    papers = synthetic_papers(12)
    odd = {
        "id": "2503.09999",
        "title": "Migratory birds navigate by the magnetic field of the earth",
        "abstract": "Songbirds sense the geomagnetic field through cryptochrome proteins in their eyes.",
        "published": "2025-03-01",
    }
    node_a = paperwire_env(tmp_path / "a", **shared)
    node_b = paperwire_env(tmp_path / "b", **shared)
    source = write_jsonl(tmp_path / "p.jsonl", [*papers, odd])
    assert run_paperwire("import", "--no-index", str(source), env=node_b).returncode == 0
    # Changed long ago (before any watermark of B's), and claimed by A (live: a long lease).
    long_ago, far_ahead = moment(url, "2020-01-01"), moment(url, "2999-01-01")
    query_write(url, f"UPDATE papers_paper SET updated_at = {long_ago} WHERE id = '2503.09999'")
    query_write(
        url,
        "INSERT INTO search_embeddingclaim (paper_id, token, node, machine, pid, claimed_at, expires_at) VALUES "
        f"('2503.09999', 'a-token', 'node-a', 'elsewhere', 1, {long_ago}, {far_ahead})",
    )
    first = run_paperwire("index", env=node_b)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == (
        "indexed 13 papers, computed 12 embeddings "
        "(1 papers being embedded by other workers: the next run takes in their vectors)"
    )
    ask = ("search", "birds finding their way home", "--mode", "semantic", "--json", "--limit", "3")
    assert odd["id"] not in [hit["id"] for hit in json.loads(run_paperwire(*ask, env=node_b).stdout)]

    query_write(url, "DELETE FROM search_embeddingclaim")  # A's claim, as A takes it up
    stored = run_paperwire("index", "--embed-only", env=node_a)
    assert stored.stdout.strip() == "computed 1 embeddings", stored.stderr
    second = run_paperwire("index", env=node_b)
    assert second.returncode == 0, second.stderr
    assert "computed 0 embeddings" in second.stdout
    found = json.loads(run_paperwire(*ask, env=node_b).stdout)
    assert found[0]["id"] == odd["id"]


def moment(url: str, day: str) -> str:
    """A UTC time as SQL, as Django stores it in each database."""
    return f"'{day} 00:00:00'" if url.startswith("sqlite:") else f"'{day} 00:00:00+00:00'"


def query_write(url: str, sql: str) -> None:
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///"), timeout=30) as db:
            db.execute(sql)
        return
    import psycopg

    with psycopg.connect(url) as db:
        db.execute(sql)


@pytest.mark.django_db
def test_a_long_backlog_is_indexed_by_keyword_after_the_first_phase_not_the_last(settings, monkeypatch):
    """An update embeds for at most EMBED_PHASE_SECONDS (here: one batch a phase), then its index
    pass takes in every changed paper and the vectors stored so far, and it goes on: after a large
    import, keyword search does not wait for every embedding."""
    from paperwire.search import updating
    from paperwire.search.integrity import IndexState, index_dir

    settings.INDEX_BATCH, settings.EMBED_PHASE_SECONDS = 8, 0
    make_papers(20)
    passes = []
    real_pass = updating._index_pass

    from paperwire.search.health import index_health, pending_work

    health = []

    def index_pass(*args, **kwargs):
        real_pass(*args, **kwargs)
        state = IndexState.load(index_dir())
        passes.append((state.lexical["papers"], state.vectors["count"]))
        report = index_health()
        health.append((report["status"], report["papers_not_embedded"], pending_work(report)))

    monkeypatch.setattr(updating, "_index_pass", index_pass)
    report = updating.update_indexes()
    assert passes == [(20, 8), (20, 16), (20, 20)]
    # /healthz says how far the embeddings are behind, from the index's own record.
    assert health == [
        ("behind", 12, ["semantic search: 12 of 20 papers not embedded yet (found by keyword meanwhile)"]),
        ("behind", 4, ["semantic search: 4 of 20 papers not embedded yet (found by keyword meanwhile)"]),
        ("ok", 0, []),
    ]
    assert report.embedded == 20 and report.embedding.batches == 3
    # Each paper counted once, though the later passes wrote the papers embedded meanwhile again.
    assert report.summary() == (
        "indexed 20 papers, computed 20 embeddings, in 3 passes (vectors taken in every PAPERWIRE_EMBED_PHASE_SECONDS)"
    )
    assert PaperVector.objects.count() == 20
    assert updating.update_indexes().embedded == 0  # nothing left: one pass, nothing computed


@pytest.mark.django_db
def test_an_update_stopped_after_its_first_pass_leaves_no_paper_without_a_vector(settings, monkeypatch):
    """The first pass moves the index's watermark past papers still to embed: the next update
    must still find them (the embedding scan starts from the last scan that went through)."""
    from paperwire.search import updating

    settings.INDEX_BATCH, settings.EMBED_PHASE_SECONDS = 8, 0
    make_papers(20)
    real_pass = updating._index_pass

    def stopped(*args, **kwargs):
        real_pass(*args, **kwargs)
        raise KeyboardInterrupt  # the process stopped right after its first index pass

    monkeypatch.setattr(updating, "_index_pass", stopped)
    with pytest.raises(KeyboardInterrupt):
        updating.update_indexes()
    assert PaperVector.objects.count() == 8
    monkeypatch.setattr(updating, "_index_pass", real_pass)
    assert updating.update_indexes().embedded == 12
    assert PaperVector.objects.count() == 20
    assert updating.update_indexes().embedded == 0


# --- what an update reads: what changed, not the corpus ------------------------------------------


@pytest.mark.django_db
def test_the_models_of_the_stored_vectors_are_read_by_seeks_of_their_index():
    """Every update's claimer asks which models the stored vectors are of: one seek a model, not
    a read of every vector (4.7 s at 2.7 million papers)."""
    from paperwire.search.claims import stored_models

    assert stored_models() == []
    papers = make_papers(6)
    store_vectors(papers, NamedModel().embed(["x"] * 6), NamedModel.name)
    PaperVector.objects.filter(paper_id__in=[p.id for p in papers[:2]]).update(model="older-model")
    PaperVector.objects.filter(paper_id=papers[2].id).update(model="another-model")
    assert stored_models() == sorted(["another-model", "older-model", NamedModel.name])
    seek = PaperVector.objects.filter(model__gt="another-model").order_by("model").values_list("model")[:1]
    assert "vector_model" in query_plan(seek)


@pytest.mark.django_db
def test_an_update_reads_the_vectors_stored_since_through_their_index(settings):
    """The vectors another machine stored since the last update, for papers that did not change,
    are read from the vectors' side, a batch at a time (several of them stored at the same
    instant), each paper once; those of papers changed since are left to the changed papers' scan."""
    from paperwire.search.updating import count_stored, stored_papers

    settings.INDEX_BATCH = 3
    papers = make_papers(10)  # changed at T0
    with time_machine.travel(T0 + dt.timedelta(hours=1), tick=False):  # one instant for all
        store_vectors(papers[:7], NamedModel().embed(["x"] * 7), NamedModel.name)
    changed_since = T0 + dt.timedelta(hours=3)
    Paper.objects.filter(id__in=[papers[0].id, papers[4].id]).update(updated_at=changed_since)
    since, before = T0 + dt.timedelta(minutes=30), T0 + dt.timedelta(hours=2)

    batches = list(stored_papers(since, before))
    read = [p.id for batch in batches for p in batch]
    assert sorted(read) == [papers[n].id for n in (1, 2, 3, 5, 6)]
    assert len(read) == len(set(read)) and all(len(batch) <= 3 for batch in batches)
    assert count_stored(since, before) == 5
    assert list(stored_papers(T0 + dt.timedelta(hours=2), before)) == []
    assert count_stored(T0 + dt.timedelta(hours=2), before) == 0
    page = PaperVector.objects.filter(updated_at__gte=since).order_by("updated_at", "id").values_list("id")[:3]
    assert "vector_stored_at" in query_plan(page)


@pytest.mark.django_db
def test_an_update_that_adds_no_vector_leaves_the_vector_file_unread(monkeypatch):
    """The vector index (2.4 GB at 2.7 million papers) is read from its file only when a vector
    is to go in: an update of votes writes the lexical documents alone."""
    from paperwire.search import updating
    from paperwire.search.integrity import IndexState, index_dir

    papers = make_papers(6)
    with time_machine.travel(T0 + dt.timedelta(hours=1)):
        assert updating.update_indexes().embedded == 6
    with time_machine.travel(T0 + dt.timedelta(hours=2)):  # reads the vectors stored just before it again,
        # and passes over the papers, written with those very vectors by the last run (look_back.py)
        assert updating.update_indexes().summary() == (
            "indexed 0 papers, computed 0 embeddings, passed over 6 papers written as they are by the last run"
        )
    loads = []
    real_load = updating.load_vectors
    monkeypatch.setattr(updating, "load_vectors", lambda *args: loads.append(args) or real_load(*args))
    vectors = index_dir() / "vectors.usearch"
    written = vectors.stat().st_mtime_ns
    with time_machine.travel(T0 + dt.timedelta(days=1)):
        Paper.objects.filter(id=papers[3].id).update(upvotes=40, upvotes_changed_at=dt.datetime.now(dt.UTC))
        assert updating.update_indexes().summary() == "indexed 1 papers, computed 0 embeddings"
    assert loads == [] and vectors.stat().st_mtime_ns == written
    from paperwire.search.engine import search

    assert [hit.paper.id for hit in search("study", sort="upvotes", limit=1).hits] == [papers[3].id]

    with time_machine.travel(T0 + dt.timedelta(days=2)):
        Paper.objects.filter(id=papers[2].id).update(
            abstract="Songbirds sense the magnetic field.", updated_at=dt.datetime.now(dt.UTC)
        )
        assert updating.update_indexes().embedded == 1
    assert len(loads) == 1 and vectors.stat().st_mtime_ns != written
    assert IndexState.load(index_dir()).vectors["count"] == 6


def walks(sql: str, plan: list[str]) -> bool:
    """Whether a query walks a table of the corpus: a whole scan (on PostgreSQL, told to avoid
    one, a scan it cannot avoid), or a keyset from the first paper id (the recounted and the
    stored-vector queries were: 19 and 50 s at 2.7 million papers). A scan in an index's order
    that stops at its LIMIT (the next model name) is a seek."""
    for step in plan:
        if step.startswith(("SCAN papers_paper", "SCAN search_papervector")):
            if not (" USING " in step and " LIMIT " in sql):
                return True
        if "papers_paper_1 (id>?)" in step or step.lstrip(" ->").startswith("Seq Scan on papers_paper"):
            return True
        if step.lstrip(" ->").startswith("Seq Scan on search_papervector"):
            return True
    return False


@pytest.mark.django_db
def test_an_incremental_update_walks_no_table_of_the_corpus():
    """Every query of an update that takes in a recount, an edited paper and a vector another
    machine stored reads through an index from what changed: none walks the papers or vectors."""
    from django.test.utils import CaptureQueriesContext

    from paperwire.search import updating

    papers = make_papers(12)
    with time_machine.travel(T0 + dt.timedelta(hours=1)):
        assert updating.update_indexes().embedded == 12
    with time_machine.travel(T0 + dt.timedelta(hours=2)):  # the vectors stored just before, again
        updating.update_indexes()
    with time_machine.travel(T0 + dt.timedelta(days=1)):
        now = dt.datetime.now(dt.UTC)
        Paper.objects.filter(id=papers[1].id).update(upvotes=9, upvotes_changed_at=now)
        Paper.objects.filter(id=papers[2].id).update(abstract="Songbirds sense the magnetic field.", updated_at=now)
        PaperVector.objects.filter(paper_id=papers[3].id).update(updated_at=now)  # stored elsewhere
        with CaptureQueriesContext(connection) as queries:
            report = updating.update_indexes()
    assert report.embedded == 1 and report.indexed == 3
    selects = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
    assert any("search_papervector" in sql for sql in selects) and any("upvotes_changed_at" in sql for sql in selects)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
        for sql in selects:
            cursor.execute(("EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN ") + sql)
            plan = [str(row[-1]) for row in cursor.fetchall()]
            assert not walks(sql, plan), f"{sql}\n" + "\n".join(plan)


# --- a vector is of the text it was computed from -------------------------------------------------


def current_everywhere() -> bool:
    """Every paper has one vector, of its present title and abstract."""
    stored = dict(PaperVector.objects.values_list("paper_id", "text_hash"))
    papers = Paper.objects.values_list("id", "title", "abstract")
    return len(stored) == len(papers) and all(stored.get(p) == text_hash(t, a) for p, t, a in papers)


def embed_everything(who: Worker) -> int:
    from paperwire.search.claims import Claimer

    return Claimer(NamedModel(), worker=who, batch=4).run().embedded


@pytest.mark.django_db
def test_a_paper_edited_while_its_batch_is_embedded_is_embedded_again(lease, caplog):
    """The attack's case: an edit between the batch's read and its store. Its vector is not
    stored (the text changed), and the next run embeds the new text, though the edit is stamped
    before the other vectors were stored."""
    papers = make_papers(4)
    who = worker("a")
    with time_machine.travel(T0 + dt.timedelta(hours=1), tick=False):
        taker = claimer(who)
        claimed = taker.claim(taker.candidates())
        Paper.objects.filter(id=papers[1].id).update(
            abstract="Songbirds sense the magnetic field.", updated_at=T0 + dt.timedelta(minutes=30)
        )
        run = EmbeddingRun()
        taker.embed(claimed, run)
    assert run.embedded == 3 and "1 of 4 vectors not stored" in caplog.text
    assert not PaperVector.objects.filter(paper_id=papers[1].id).exists()
    with time_machine.travel(T0 + dt.timedelta(hours=2), tick=False):
        assert embed_everything(who) == 1
        assert embed_everything(who) == 0
    assert current_everywhere()


@pytest.mark.django_db
def test_an_edit_stamped_before_the_store_but_committed_after_it_is_embedded(lease):
    """An import's transaction stamps its rows, then commits them later than a worker stores a
    vector of the old text: the paper looks older than its vector. Versions are compared for
    equality, not by time."""
    papers = make_papers(3)
    who = worker("a")
    with time_machine.travel(T0 + dt.timedelta(hours=1), tick=False):
        assert embed_everything(who) == 3
    # Committed now, stamped between the text's read (T0) and the store (T0 + 1 h).
    Paper.objects.filter(id=papers[2].id).update(abstract="A new abstract.", updated_at=T0 + dt.timedelta(minutes=5))
    with time_machine.travel(T0 + dt.timedelta(hours=2), tick=False):
        assert embed_everything(who) == 1
    assert current_everywhere()
    # Another field changed, not the text: checked once, not embedded, then passed over.
    Paper.objects.filter(id=papers[0].id).update(authors=["Someone Else"], updated_at=T0 + dt.timedelta(hours=3))
    with time_machine.travel(T0 + dt.timedelta(hours=4), tick=False):
        taker = claimer(who)
        assert [p.id for p in taker.candidates()] == [papers[0].id]
        assert embed_everything(who) == 0
        assert list(claimer(who).candidates()) == []


@pytest.mark.django_db
def test_a_worker_whose_batch_was_taken_over_stores_none_of_it(lease, caplog):
    """A worker stopped past its lease (SIGSTOP, a long GC, a suspended VM) comes back after
    another took its batch over and stored it: it stores nothing over the other's vectors, and
    a paper deleted meanwhile fails nothing."""
    papers = make_papers(4)
    slow, quick = worker("slow", pid=1), worker("quick", pid=2)
    with time_machine.travel(T0 + dt.timedelta(hours=1), tick=False):
        stalled = claimer(slow)
        claimed = stalled.claim(stalled.candidates())
    with time_machine.travel(T0 + dt.timedelta(hours=1, seconds=LEASE + 1), tick=False):
        assert embed_everything(quick) == 4
        Paper.objects.filter(id=papers[3].id).delete()
        kept = dict(PaperVector.objects.values_list("paper_id", "updated_at"))
        run = EmbeddingRun()
        stalled.embed(claimed, run)
    assert run.embedded == 0 and "4 of 4 vectors not stored" in caplog.text
    assert dict(PaperVector.objects.values_list("paper_id", "updated_at")) == kept
    assert current_everywhere() and not EmbeddingClaim.objects.exists()
