"""The index integrity check and the atomic replacement of index files, in one process."""

from __future__ import annotations

import json
import os
import threading

import pytest
from django.db import connection

from paperwire.ingest.importer import import_files
from paperwire.search.engine import Indexes, search
from paperwire.search.indexer import update_indexes
from paperwire.search.indexes import LEXICAL_FALLBACK_NOTICE
from paperwire.search.integrity import check, index_dir
from tests.conftest import DEMO

PAPERS = [json.loads(line) for line in DEMO.read_text().splitlines()]
SINKS = next(p for p in PAPERS if p["id"] == "2410.10781")


@pytest.fixture
def indexed(db):
    import_files([DEMO], progress=False)
    update_indexes(show_progress=False)
    Indexes._instance = None


def found(query: str, **options) -> tuple[str | None, str]:
    """The best hit's id and the notice that came with it."""
    results = search(query, limit=3, snippets=False, **options)
    return (results.hits[0].paper.id if results.hits else None), results.notice


@pytest.mark.django_db(transaction=True)
def test_a_reader_sees_the_old_or_the_new_index_while_it_is_rebuilt(settings):
    import_files([DEMO], progress=False)
    update_indexes(show_progress=False)
    settings.INDEX_BATCH = 4  # many batches: a long rebuild
    failures: list[BaseException] = []

    def rebuild() -> None:
        try:
            for _ in range(3):
                update_indexes(rebuild=True, show_progress=False)
        except BaseException as error:  # noqa: BLE001 - reported by the test below
            failures.append(error)
        finally:
            connection.close()

    writer = threading.Thread(target=rebuild)
    writer.start()
    seen = []
    while writer.is_alive():
        Indexes._instance = None  # as a process that opens the files for the first time
        indexes = Indexes.get()
        vectors = indexes.vector_index(384, None).reader()
        seen.append((found(SINKS["title"], mode="lexical"), len(vectors) if vectors is not None else None))
    writer.join()
    assert failures == []
    assert len(seen) > 1 and set(seen) == {((SINKS["id"], ""), len(PAPERS))}


def test_a_damaged_state_file_is_rebuilt_and_never_answers_500(client, indexed):
    (index_dir() / "state.json").write_text('{"version": 3, "watermark": "yesterday"}')
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "degraded" and "state.json" in health.json()["reason"]
    assert found(SINKS["title"], mode="lexical") == (SINKS["id"], LEXICAL_FALLBACK_NOTICE)
    assert update_indexes(show_progress=False).indexed == len(PAPERS)
    assert client.get("/healthz").json()["status"] == "ok"
    assert found(SINKS["title"], mode="lexical") == (SINKS["id"], "")


def test_a_segment_file_overwritten_in_place_is_found_and_rebuilt(client, indexed):
    folder = index_dir() / "lexical"
    segment = max((p for p in folder.iterdir() if p.suffix == ".idx"), key=lambda p: p.stat().st_size)
    with open(segment, "r+b") as file:  # same size, other bytes: only the checksum tells
        file.seek(segment.stat().st_size // 2)
        file.write(os.urandom(16))
    assert check() == {"lexical": f"lexical/{segment.name} is damaged (checksum)"}
    health = client.get("/healthz").json()
    assert health["status"] == "degraded" and segment.name in health["reason"]
    report = update_indexes(show_progress=False)
    assert report.summary() == (
        f"indexed {len(PAPERS)} papers, computed 0 embeddings (lexical/{segment.name} is damaged (checksum): rebuilt)"
    )
    assert check() == {} and client.get("/healthz").json()["status"] == "ok"


def test_a_deleted_index_is_never_recreated_empty(client, indexed):
    (index_dir() / "vectors.usearch").unlink()
    assert check() == {"vectors": "vectors.usearch is missing"}
    best, notice = found("streaming attention heads", mode="semantic")
    assert best and notice.startswith("Semantic search is unavailable (its index is being rebuilt)")
    update_indexes(show_progress=False)
    assert check() == {}
    health = client.get("/healthz").json()
    assert (health["status"], health["index"]["papers"], health["index"]["vectors"]) == ("ok", 41, 41)
    assert found("streaming attention heads", mode="semantic")[1] == ""


def test_related_papers_are_left_out_while_no_index_can_give_them(client, indexed):
    for name in ("lexical", "vectors.usearch"):
        target = index_dir() / name
        os.rename(target, target.with_name(name + ".away"))
    page = client.get(f"/papers/{SINKS['id']}")
    assert page.status_code == 200 and b"Related papers" not in page.content
    update_indexes(show_progress=False)
    page = client.get(f"/papers/{SINKS['id']}?again")
    assert page.status_code == 200 and b"Related papers" in page.content


def test_a_damaged_converted_model_turns_semantic_search_off_not_the_site(client, indexed, settings, tmp_path):
    from paperwire.search import embedder

    source = embedder.prepared_model(embedder.source_dir())
    settings.MODEL_DIR = tmp_path / "models"
    settings.MODEL_DIR.mkdir()
    (settings.MODEL_DIR / source.name).write_bytes(source.read_bytes()[: source.stat().st_size // 2])
    embedder.reset_embedder()
    try:
        response = client.get("/api/papers/search", {"q": SINKS["title"] + " again"})
        assert response.status_code == 200 and response.json()[0]["paper"]["id"] == SINKS["id"]
        assert response["X-Paperwire-Notice"] == (
            f"Semantic search is unavailable (the converted model {source.name} cannot be loaded); "
            "showing keyword matches only."
        )
    finally:
        embedder.reset_embedder()
