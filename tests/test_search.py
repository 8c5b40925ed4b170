"""Hybrid search: lexical, semantic, pins, fallback, filters, incremental indexes, surfaces."""

import json

import pytest
from django.core.management import call_command

from paperwire.ingest.importer import import_files
from paperwire.papers.models import Paper
from paperwire.search import embedder
from paperwire.search.engine import related, search
from paperwire.search.index_files import LEXICAL_UNBUILT_NOTICE
from paperwire.search.models import PaperVector
from paperwire.search.updating import update_indexes
from tests.conftest import DEMO, paper, write_jsonl

pytestmark = pytest.mark.django_db

TOPICAL = [
    paper(
        "2501.00001",
        "Token mixing with softmax-weighted value sums",
        abstract="Each token aggregates information from every other token through query-key similarity "
        "scores normalised by a softmax, as in transformer layers.",
        published="2025-01-02",
        categories=["cs.CL"],
        upvotes=3,
    ),
    paper(
        "2501.00002",
        "Soil nitrogen dynamics in winter wheat",
        abstract="We measure nitrate leaching and nitrogen uptake in wheat fields over three seasons.",
        published="2025-01-03",
        categories=["q-bio.PE"],
        upvotes=9,
    ),
    paper(
        "2501.00003",
        "Attention sinks in streaming language models",
        abstract="Language models put a large attention weight on the first token; keeping these attention sinks "
        "enables streaming inference.",
        published="2025-02-10",
        categories=["cs.CL", "cs.LG"],
        upvotes=1,
    ),
    paper(
        "2501.00004",
        "Convolutional filters for image denoising",
        abstract="A convolutional network removes sensor noise from photographs.",
        published="2024-12-01",
        categories=["cs.CV"],
        upvotes=5,
    ),
]


@pytest.fixture
def indexed(tmp_path):
    import_files([write_jsonl(tmp_path / "topical.jsonl", TOPICAL)], progress=False)
    update_indexes()


def ids(results):
    return [h.paper.id for h in results.hits]


def test_semantic_search_finds_papers_that_never_use_the_word(indexed):
    query = "cleaning up noisy pictures"
    assert ids(search(query, mode="lexical")) == []  # no word in common ("noisy" is not "noise")
    results = search(query, mode="semantic", limit=4)
    # The denoising paper, and not the unrelated ones: neighbours below the floor are no results.
    assert ids(results) == ["2501.00004"] and results.total == 1
    assert ids(search(query, limit=4)) == ["2501.00004"]


def test_lexical_search_ranks_word_matches_and_stems(indexed):
    assert ids(search("attending sinks", mode="lexical")) == ["2501.00003"]
    assert ids(search("wheat", mode="lexical")) == ["2501.00002"]


def test_quoted_phrases_must_match_as_phrases(indexed):
    assert ids(search('"attention sinks"', mode="lexical")) == ["2501.00003"]
    assert ids(search('"sinks attention"', mode="lexical")) == []


def test_hybrid_search_finds_words_and_meaning_and_nothing_unrelated(indexed):
    assert ids(search("attention", limit=4)) == ["2501.00003"]  # the neighbours are too far to count
    assert ids(search("cleaning up noisy pictures", limit=4)) == ["2501.00004"]
    assert ids(search("attention sinks photographs", limit=4)) == ["2501.00003", "2501.00004"]


def test_an_arxiv_id_a_url_and_an_exact_title_are_pinned_first(indexed):
    for query in ("2501.00004", "2501.00004v2", "https://arxiv.org/abs/2501.00004", "arXiv:2501.00004"):
        results = search(query)
        assert ids(results)[0] == "2501.00004" and results.hits[0].pinned, query
    title = search("convolutional FILTERS for image denoising!")
    assert ids(title)[0] == "2501.00004" and title.hits[0].pinned


def test_without_the_model_search_is_lexical_and_says_so(indexed, settings):
    settings.EMBEDDING_MODEL = "none"
    embedder.reset_embedder()
    try:
        results = search("attention sinks")
        assert results.notice.startswith("Semantic search is unavailable")
        assert ids(results) == ["2501.00003"]
        semantic = search("attention sinks", mode="semantic")
        assert semantic.mode == "lexical" and ids(semantic) == ["2501.00003"]
    finally:
        settings.EMBEDDING_MODEL = "all-MiniLM-L6-v2"
        embedder.reset_embedder()


def test_filters_and_sorting(indexed):
    assert set(ids(search("language tokens", category="cs.CL"))) == {"2501.00001", "2501.00003"}
    import datetime as dt

    january = ids(search("tokens wheat noise sinks", date_from=dt.date(2025, 1, 1), date_to=dt.date(2025, 1, 31)))
    assert set(january) == {"2501.00001", "2501.00002"}
    by_upvotes = ids(search("tokens wheat noise sinks", sort="upvotes", mode="lexical"))
    assert by_upvotes == ["2501.00002", "2501.00004", "2501.00001", "2501.00003"]
    by_date = ids(search("tokens wheat noise sinks", sort="date", mode="lexical"))
    assert by_date == ["2501.00003", "2501.00002", "2501.00001", "2501.00004"]


def test_hidden_papers_are_never_found(indexed):
    Paper.objects.filter(pk="2501.00003").update(hidden=True)
    assert "2501.00003" not in ids(search("attention sinks"))
    assert "2501.00003" not in ids(search("2501.00003"))


def test_indexes_follow_imports_and_edits(indexed, tmp_path):
    import_files(
        [write_jsonl(tmp_path / "more.jsonl", [paper("2501.00005", "Quantum error correction with surface codes")])],
        progress=False,
    )
    assert ids(search("surface codes", mode="lexical")) == []
    report = update_indexes()
    assert (report.indexed >= 1, report.embedded) == (True, 1)
    assert ids(search("surface codes", mode="lexical")) == ["2501.00005"]
    import_files(
        [write_jsonl(tmp_path / "edit.jsonl", [paper("2501.00005", "Topological qubits in nanowires")])],
        progress=False,
    )
    assert update_indexes().embedded == 1  # the text changed: embedded again
    assert ids(search("surface codes", mode="lexical")) == []
    assert ids(search("nanowires", mode="lexical")) == ["2501.00005"]


def test_a_rebuild_reuses_stored_embeddings(indexed):
    before = ids(search("attention", limit=4))
    vectors = dict(PaperVector.objects.values_list("paper_id", "vector"))
    report = update_indexes(rebuild=True)
    assert (report.indexed, report.embedded) == (4, 0)
    assert dict(PaperVector.objects.values_list("paper_id", "vector")) == vectors
    assert ids(search("attention", limit=4)) == before


def test_an_index_built_before_the_model_shipped_converted_is_kept(indexed):
    """Before the model shipped converted, each install converted the same weights at run time
    and named them after their folder and path ("model-int8-<hash of the path>"): upgrading
    computes no embedding again and keeps semantic search on."""
    from paperwire.search.integrity import IndexState, index_dir

    legacy = "model-int8-6c335a5f"  # the name an instance indexed by 0.x carries
    PaperVector.objects.update(model=legacy)
    state = IndexState.load(index_dir())
    state.model = legacy
    state.save(index_dir())
    results = search("streaming inference with sink tokens", mode="semantic")
    before = ids(results)
    assert (results.mode, results.notice, before[0]) == ("semantic", "", "2501.00003")
    report = update_indexes()
    assert (report.embedded, report.notice) == (0, "")
    assert IndexState.load(index_dir()).lexical["generation"] == state.lexical["generation"]  # not rebuilt
    assert ids(search("streaming inference with sink tokens", mode="semantic")) == before
    # A model of another name is another model: its vectors are computed again.
    PaperVector.objects.update(model="model-int8-6c335a5f-other")
    assert update_indexes().embedded == 4


def test_related_papers_exclude_the_paper_itself(indexed):
    neighbours = related(Paper.objects.get(pk="2501.00003"), limit=3)
    assert "2501.00003" not in [p.id for p in neighbours]
    assert neighbours[0].id == "2501.00001"


# --- surfaces --------------------------------------------------------------------------------


def test_the_search_page_highlights_and_escapes(client, indexed):
    html = client.get("/search", {"q": "attention <script>alert(1)</script>"}).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<mark>attention</mark>" in html
    assert 'id="paper-2501.00003"' in html


def test_the_search_page_filters_and_pages(client, indexed):
    response = client.get("/search", {"q": "tokens wheat noise sinks", "category": "cs.CV", "mode": "lexical"})
    assert [h.paper.id for h in response.context["results"].hits] == ["2501.00004"]
    bad = client.get("/search", {"q": "x", "from": "2025-13-01"})
    assert bad.status_code == 400 and "from must be a date" in bad.content.decode()
    assert client.get("/search", {"q": "x", "page": "0"}).status_code == 400
    past = client.get("/search", {"q": "attention", "page": "99"})  # a page past the last result
    assert past.status_code == 404 and "There is 1 page of results" in past.content.decode()


def test_every_page_has_a_search_box(client, db):
    assert 'action="/search"' in client.get("/").content.decode()


def test_the_paper_page_lists_related_papers(client, indexed):
    html = client.get("/papers/2501.00003").content.decode()
    assert "Related papers" in html and 'href="/papers/2501.00001"' in html


def test_the_api_answers_in_the_hugging_face_shape(client, indexed):
    response = client.get("/api/papers/search", {"q": "attention sinks photographs", "limit": 1})
    items = response.json()
    assert [item["paper"]["id"] for item in items] == ["2501.00003"] and response["X-Total-Count"] == "2"
    assert items[0]["title"] == "Attention sinks in streaming language models"


NASTY = [
    "",
    "   ",
    "x" * 5000,
    '"unbalanced',
    'a "b',
    "NEAR(",
    "*",
    "a*b?",
    "title:foo",
    "\x00\x01",
    "((((",
    "-",
    "+",
    "AND OR NOT",
    "[1 TO 2]",
    "ünïcödé 数学",
    "'; DROP TABLE papers_paper; --",
    "\\",
    "{}",
    "~2",
    "^3",
]


@pytest.mark.parametrize("query", NASTY)
def test_nasty_queries_never_break_search(client, indexed, query):
    page = client.get("/search", {"q": query})
    api = client.get("/api/papers/search", {"q": query})
    assert page.status_code in (200, 400) and api.status_code in (200, 400)
    assert isinstance(api.json(), list) or "error" in api.json()


def test_non_utf8_query_bytes(client, indexed):
    assert client.get("/search?q=%ff%fe%fd").status_code == 200
    assert client.get("/api/papers/search?q=%ff%fe%00").status_code == 400


def test_the_command_line(indexed, capsys):
    call_command("search", "attention sinks", "--limit", "2", "--json")
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["id"] == "2501.00003" and set(rows[0]) >= {"id", "title", "score"}
    call_command("search", "2501.00002", "--mode", "lexical")
    assert capsys.readouterr().out.splitlines()[0].split()[1] == "2501.00002"


def test_import_indexes_unless_told_not_to(tmp_path, capsys):
    call_command("import", str(DEMO), "--no-index")
    unindexed = search("attention sinks", mode="lexical")  # from the database, until the index is built
    assert unindexed.notice == LEXICAL_UNBUILT_NOTICE and "2410.10781" in ids(unindexed)
    call_command("import", str(DEMO))
    out = capsys.readouterr().out
    assert "indexed 41 papers, computed 41 embeddings" in out
    assert out.strip().splitlines()[-1] == "imported 0 new, 0 updated, 0 rejected"
    indexed = search("attention sinks", mode="lexical")
    assert indexed.notice == "" and "2410.10781" in ids(indexed)


def test_the_vector_index_module_loads_before_the_model_runtime():
    """usearch imported first crashes onnxruntime's import; paperwire.search.ann prevents it."""
    import subprocess
    import sys

    code = "import paperwire.search.ann; import onnxruntime; import paperwire.search.embedder; print('ok')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stdout.strip()) == (0, "ok")
