"""Each index run reads again the rows stamped in the WATERMARK_SLACK before its watermark (a
slower transaction may commit them late). It passes over those the last run wrote as they are
now (look_back.py), and writes any other: a row, a vote count or a vector committed late."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from paperwire.ingest.importer import import_files
from paperwire.papers.models import Paper
from paperwire.search.engine import OpenIndexes, search
from paperwire.search.index_files import load_vectors
from paperwire.search.integrity import VECTORS, IndexState, index_dir
from paperwire.search.look_back import LOOK_BACK
from paperwire.search.models import PaperVector
from paperwire.search.updating import update_indexes
from tests.conftest import DEMO

PAPERS = [json.loads(line) for line in DEMO.read_text().splitlines()]


@pytest.fixture
def built(db):
    import_files([DEMO], progress=False)
    first = update_indexes(show_progress=False)
    assert first.indexed == len(PAPERS)
    return IndexState.load(index_dir())


def watermark() -> dt.datetime:
    return dt.datetime.fromisoformat(IndexState.load(index_dir()).watermark)


def ids(query: str, **options) -> list[str]:
    OpenIndexes._instance = None  # as a process that opens the files anew
    return [hit.paper.id for hit in search(query, limit=50, snippets=False, **options).hits]


def late(minutes: float = 1) -> dt.datetime:
    """A stamp inside the look-back: a row of a transaction that committed after the run read."""
    return watermark() - dt.timedelta(minutes=minutes)


def test_the_run_after_a_build_writes_none_of_its_papers_again(built):
    again = update_indexes(show_progress=False)
    assert again.indexed == 0  # all 41 are in the look-back, as the build wrote them
    assert again.summary() == (
        f"indexed 0 papers, computed 0 embeddings, passed over {len(PAPERS)} papers written as they are by the last run"
    )
    assert watermark() > dt.datetime.fromisoformat(built.watermark)  # moved on: not read a third time
    third = update_indexes(show_progress=False)
    assert third.indexed == 0
    paper = PAPERS[0]
    assert ids(paper["title"], mode="lexical")[0] == paper["id"]


def test_a_row_committed_late_inside_the_look_back_is_written(built):
    paper = PAPERS[3]
    Paper.objects.filter(id=paper["id"]).update(title="Quokkas count sparsely", updated_at=late())
    report = update_indexes(show_progress=False)
    assert report.indexed == 1
    assert ids("quokkas", mode="lexical") == [paper["id"]]


def test_a_vote_count_recounted_late_is_written(built):
    last = min(PAPERS, key=lambda p: (p["upvotes"], p["id"]))
    Paper.objects.filter(id=last["id"]).update(upvotes=10**6, upvotes_changed_at=late())
    update_indexes(show_progress=False)
    assert ids("attention", mode="lexical", sort="upvotes")[0] == last["id"]


def test_a_vector_stored_late_goes_into_the_vector_index(built):
    paper = PAPERS[5]
    row = PaperVector.objects.get(paper_id=paper["id"])
    new = np.zeros(384, dtype="<f2")
    new[7] = 1
    PaperVector.objects.filter(pk=row.pk).update(vector=new.tobytes(), updated_at=late())
    update_indexes(show_progress=False)
    state = IndexState.load(index_dir())
    index = load_vectors(index_dir() / VECTORS, 384, state.vectors)
    assert np.array_equal(np.asarray(index.get(row.pk), dtype="<f2"), new)


def test_a_vector_stored_again_under_another_key_at_the_same_time_is_written(built):
    """A vector row made again (another key) carrying the very time of the one it replaces."""
    paper = PAPERS[6]
    old = PaperVector.objects.get(paper_id=paper["id"])
    new = np.zeros(384, dtype="<f2")
    new[9] = 1
    old.delete()
    again = PaperVector.objects.create(
        paper_id=paper["id"], model=old.model, text_hash=old.text_hash, vector=new.tobytes()
    )
    PaperVector.objects.filter(pk=again.pk).update(updated_at=old.updated_at, source_updated_at=old.source_updated_at)
    assert again.pk != old.pk and old.updated_at >= late(5)  # inside the look-back
    update_indexes(show_progress=False)
    state = IndexState.load(index_dir())
    index = load_vectors(index_dir() / VECTORS, 384, state.vectors)
    assert np.array_equal(np.asarray(index.get(again.pk), dtype="<f2"), new)


@pytest.mark.parametrize(
    "record",
    [
        b"",
        b"{not json",
        b'{"watermark": null, "lexical": null, "model": null, "signatures": "AAAA"}',
        b'{"watermark": "x", "lexical": "y", "model": "z", "signatures": "!!"}',
    ],
    ids=["empty", "cut short", "another index", "not base64"],
)
def test_a_damaged_or_foreign_record_reads_every_paper_again(built, record):
    (index_dir() / LOOK_BACK).write_bytes(record)
    Paper.objects.filter(id=PAPERS[2]["id"]).update(title="Wombats dig deeply", updated_at=late())
    report = update_indexes(show_progress=False)
    assert report.indexed == len(PAPERS)  # the whole look-back, written again: nothing lost
    assert ids("wombats", mode="lexical") == [PAPERS[2]["id"]]


def test_a_record_whose_signature_matches_another_row_passes_over_only_that_row(built):
    """The record is of rows, not of ids: a paper changed late is written even though the record
    names it (with its old stamp)."""
    record = json.loads((index_dir() / LOOK_BACK).read_text())
    assert len(record["signatures"]) > 0 and record["watermark"] == built.watermark
    first, second = PAPERS[0]["id"], PAPERS[1]["id"]
    Paper.objects.filter(id=first).update(title="Narwhals sing loudly", updated_at=late(4))
    report = update_indexes(show_progress=False)
    assert report.indexed == 1
    assert ids("narwhals", mode="lexical") == [first]
    assert second in ids(PAPERS[1]["title"], mode="lexical")


@pytest.mark.django_db
@hypothesis_settings(max_examples=6, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["title", "votes", "vector", "run"]),
            st.integers(0, len(PAPERS) - 1),
            st.floats(0, 4.9),  # minutes before the watermark: always inside the look-back
        ),
        min_size=1,
        max_size=8,
    )
)
def test_whatever_commits_late_the_index_holds_the_database_after_the_next_run(steps):
    Paper.objects.all().delete()
    import_files([DEMO], progress=False)
    update_indexes(rebuild=True, show_progress=False)
    for n, (what, which, minutes) in enumerate(steps):
        paper_id = PAPERS[which]["id"]
        if what == "title":
            Paper.objects.filter(id=paper_id).update(title=f"Zebra{n}x stripes", updated_at=late(minutes))
        elif what == "votes":
            Paper.objects.filter(id=paper_id).update(upvotes=10**6 + n, upvotes_changed_at=late(minutes))
        elif what == "vector":
            vector = np.zeros(384, dtype="<f2")
            vector[n] = 1
            PaperVector.objects.filter(paper_id=paper_id).update(vector=vector.tobytes(), updated_at=late(minutes))
        else:
            update_indexes(show_progress=False)
    update_indexes(show_progress=False)
    state = IndexState.load(index_dir())
    vectors = load_vectors(index_dir() / VECTORS, 384, state.vectors)
    for paper in Paper.objects.all():
        if paper.title.startswith("Zebra"):
            assert ids(paper.title.split()[0].lower(), mode="lexical") == [paper.id]
        for key, stored in PaperVector.objects.filter(paper_id=paper.id).values_list("pk", "vector"):
            if Paper.objects.get(id=paper.id).title.startswith("Zebra"):
                continue  # its text changed: its vector is another's now (embedded again)
            assert np.array_equal(np.asarray(vectors.get(key), dtype="<f2"), np.frombuffer(stored, dtype="<f2"))
    most = Paper.objects.order_by("-upvotes", "id").first()
    query = most.title.split()[0].lower() if most.title.startswith("Zebra") else most.title
    hits = ids(query, mode="lexical", sort="upvotes")
    votes = dict(Paper.objects.filter(id__in=hits).values_list("id", "upvotes"))
    assert votes[hits[0]] == max(votes.values()) == most.upvotes  # sorted by the counts of now


@pytest.mark.parametrize("name", ["look-back.json", "embedded.json"])
def test_a_folder_where_a_record_belongs_is_moved_aside_and_the_record_kept_again(built, name):
    """A folder there made every run warn twice and save nothing, for ever (attack round)."""
    record = index_dir() / name
    record.unlink(missing_ok=True)
    (record / "x").mkdir(parents=True)
    Paper.objects.filter(id=PAPERS[4]["id"]).update(title="Axolotls regrow limbs", updated_at=late())
    report = update_indexes(show_progress=False)
    assert f"{name} was a folder: moved aside" in report.notice
    assert ids("axolotls", mode="lexical") == [PAPERS[4]["id"]]
    assert update_indexes(show_progress=False).indexed == 0  # the look-back record counts again
    assert record.is_file()  # (embedded.json is written by the embedding scan, before the pass)


def test_a_rebuild_deletes_only_what_it_may_have_written_and_holds_a_paper_changed_as_it_reads_once(
    built, settings, monkeypatch
):
    """A rebuild writes a new lexical index: tantivy holds every delete until the commit, and a
    rebuild commits once, so it sends a delete only for papers stamped since it began (less
    the slack), the ones it may read twice: a row changed as it reads moves ahead of it. That
    paper is in the new index once, as it is now; the others, stamped before, get no delete."""
    from django.utils import timezone

    from paperwire.search import updating
    from paperwire.search.index_files import open_lexical

    settings.INDEX_BATCH = 4
    Paper.objects.update(updated_at=timezone.now() - dt.timedelta(days=1))
    reading, changed = updating.changed_papers, []

    def changing(since):
        for n, batch in enumerate(reading(since)):
            yield batch
            if n == 0:  # read: now it changes, and moves to the end of the order
                changed.append(batch[0].id)
                Paper.objects.filter(id=batch[0].id).update(title="Quokka census", updated_at=timezone.now())

    deleted: list[str] = []
    making = updating.lexical_writer

    class Counting:
        def __init__(self, writer) -> None:
            self.writer = writer

        def delete_documents_by_term(self, field, value):
            deleted.append(value)
            return self.writer.delete_documents_by_term(field, value)

        def __getattr__(self, name):
            return getattr(self.writer, name)

    monkeypatch.setattr(updating, "changed_papers", changing)
    monkeypatch.setattr(updating, "lexical_writer", lambda index: Counting(making(index)))
    report = update_indexes(rebuild=True, show_progress=False)
    assert report.indexed == len(PAPERS) + 1  # the changed paper read twice
    assert deleted == changed  # its second reading only
    assert open_lexical(index_dir() / "lexical").searcher().num_docs == len(PAPERS)
    assert ids("quokka", mode="lexical") == changed
