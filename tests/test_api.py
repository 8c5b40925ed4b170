"""The Hugging Face-compatible JSON API and the health check."""

import datetime as dt

import pytest
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from paperwire.ingest.importer import import_files
from paperwire.papers.models import Paper
from tests.conftest import paper, write_jsonl
from tests.test_import import HF_ITEM

pytestmark = pytest.mark.django_db


@pytest.fixture
def papers(tmp_path):
    import json

    hf = tmp_path / "hf.json"
    hf.write_text(json.dumps([HF_ITEM]))
    records = [paper(f"2507.0000{n}", f"Paper {n}", published="2025-07-21", upvotes=n) for n in range(1, 6)]
    records.append(paper("2506.00001", "June", published="2025-06-02", upvotes=100))
    import_files([hf, write_jsonl(tmp_path / "p.jsonl", records)], progress=False)


def ids(response):
    assert response.status_code == 200, response.content
    return [item["paper"]["id"] for item in response.json()]


def test_a_day_is_ranked_by_upvotes(client, papers):
    assert ids(client.get("/api/daily_papers?date=2025-07-21")) == [f"2507.0000{n}" for n in range(5, 0, -1)]


def test_weeks_months_pages_and_limits(client, papers):
    assert ids(client.get("/api/daily_papers?week=2025-W30"))[:2] == ["2507.14683", "2507.00005"]
    assert ids(client.get("/api/daily_papers?month=2025-06")) == ["2506.00001"]
    assert ids(client.get("/api/daily_papers?date=2025-07-21&limit=2&p=1")) == ["2507.00003", "2507.00002"]
    assert ids(client.get("/api/daily_papers?date=2025-07-21&limit=2&p=9")) == []


def test_without_a_period_the_newest_days_come_first(client, papers):
    assert ids(client.get("/api/daily_papers?limit=3")) == ["2507.14683", "2507.00005", "2507.00004"]


def test_submitter_filter(client, papers):
    assert ids(client.get("/api/daily_papers?submitter=veggiebird")) == ["2507.14683"]
    assert ids(client.get("/api/daily_papers?submitter=nobody")) == []


def test_items_have_the_hugging_face_shape(client, papers):
    item = client.get("/api/daily_papers?date=2025-07-22").json()[0]
    assert set(item) >= {"paper", "publishedAt", "title", "summary", "numComments", "submittedBy", "organization"}
    p = item["paper"]
    assert p["id"] == "2507.14683" and p["upvotes"] == 63
    assert p["authors"][0]["name"] == "Xingxuan Li"
    assert p["publishedAt"] == "2025-07-19T16:21:23.000Z"
    assert p["submittedOnDailyAt"] == "2025-07-22T01:41:01.897Z"
    assert p["submittedOnDailyBy"]["user"] == "veggiebird"
    assert p["githubRepo"] == "https://github.com/MiroMindAsia/MiroMind-M1" and p["githubStars"] == 42
    assert p["ai_keywords"] == ["RLVR"]
    assert p["organization"] == {"_id": "o1", "name": "miromind-ai", "fullname": "MiroMind AI", "avatar": ""}
    assert item["publishedAt"] == "2025-07-22T01:41:01.897Z"


@pytest.mark.parametrize(
    "query",
    [
        "date=2025-02-30",
        "date=x",
        "week=2025-W60",
        "month=2025-13",
        "date=2025-07-21&month=2025-07",
        "limit=0",
        "limit=101",
        "limit=abc",
        "p=-1",
        "p=1e3",
        "sort=votes",
    ],
)
def test_bad_parameters_are_400_json(client, papers, query):
    response = client.get(f"/api/daily_papers?{query}")
    assert response.status_code == 400
    assert set(response.json()) == {"error"}


def test_a_paper_by_id(client, papers):
    data = client.get("/api/papers/2507.14683").json()
    assert data["id"] == "2507.14683" and data["title"].startswith("MiroMind-M1")
    assert client.get("/api/papers/2507.14683v3").json()["id"] == "2507.14683"


def test_unknown_and_hidden_papers_are_404_json(client, papers):
    Paper.objects.filter(pk="2506.00001").update(hidden=True)
    for path in ("/api/papers/2506.00001", "/api/papers/9999.99999", "/api/papers/x", "/api/unknown"):
        response = client.get(path)
        assert response.status_code == 404 and "error" in response.json(), path
    assert "2506.00001" not in ids(client.get("/api/daily_papers?month=2025-06"))


GET_ONLY = ["/api/daily_papers", "/api/papers/search", "/api/papers/2507.14683", "/api/openapi.json", "/healthz"]


@pytest.mark.parametrize("path", GET_ONLY)
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "options"])
def test_the_api_only_reads_405_json_with_allow(papers, path, method):
    client = Client(enforce_csrf_checks=True)  # as a real client: a POST without a CSRF token
    response = getattr(client, method)(path)
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert response.json() == {"error": f"method {method.upper()} not allowed"}


@pytest.mark.parametrize("path", GET_ONLY)
def test_head_answers_like_get_without_a_body(client, papers, path):
    response = client.head(path)
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response.content == b""


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("/api/papers/search?mode=AAA", "mode must be one of hybrid, lexical, semantic"),
        ("/api/papers/search?q=x&mode=AAA", "mode must be one of hybrid, lexical, semantic"),
        ("/api/papers/search?q=" + "a" * 1001, "q must be text of at most 1000 characters, without NUL"),
        ("/api/papers/search?q=a%00b", "q must be text of at most 1000 characters, without NUL"),
        ("/api/papers/search?limit=121", "limit must be an integer from 1 to 120"),
        ("/api/daily_papers?limit=101", "limit must be an integer from 1 to 100"),
        ("/api/daily_papers?limit=", "limit must be an integer from 1 to 100"),
        ("/api/daily_papers?p=1000001", "p must be an integer from 0 to 1000000"),
        ("/api/daily_papers?sort=votes", "sort must be one of publishedAt, trending"),
        ("/api/daily_papers?week=２０２５-W30", "week must be an ISO week, YYYY-Www (W53 only in years that have one)"),
        ("/api/daily_papers?week=2025-W53", "week must be an ISO week, YYYY-Www (W53 only in years that have one)"),
        ("/api/daily_papers?date=2025-02-30", "date must be a day, YYYY-MM-DD"),
        ("/api/daily_papers?month=2025-7", "month must be a month, YYYY-MM"),
        ("/api/daily_papers?submitter=a%00", "submitter must be text of at most 100 characters, without NUL"),
        ("/api/daily_papers?date=2025-07-21&week=2025-W30", "give at most one of date, week and month"),
        ("/api/daily_papers?limit=5&limit=6", "give limit once"),
    ],
)
def test_each_refusal_names_the_parameter(client, papers, query, error):
    response = client.get(query)
    assert (response.status_code, response.json()) == (400, {"error": error})


def test_unknown_parameters_are_ignored(client, papers):
    assert ids(client.get("/api/daily_papers?date=2025-07-21&limit=1&_=123")) == ["2507.00005"]


def test_every_api_error_has_the_one_shape(papers, alice, settings):
    """400, 401, 403, 404, 405, 413, 429 and 500: JSON ``{"error": "..."}`` with the status, whatever
    answered it (a view, Django's CSRF check or method decorators, the handlers, the rate limiter)."""
    anonymous = Client(enforce_csrf_checks=True)
    signed_in = Client(enforce_csrf_checks=True)
    signed_in.force_login(alice)
    as_script = {"HTTP_ACCEPT": "application/json"}
    answers = {
        400: anonymous.get("/api/daily_papers?limit=abc"),
        401: Client().post("/papers/2507.00001/vote", **as_script),
        403: signed_in.post("/papers/2507.00001/vote", **as_script),
        404: anonymous.get("/api/nothing/here"),
        405: anonymous.get("/papers/2507.00001/vote", **as_script),
    }
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    csrf_free = Client()
    csrf_free.force_login(alice)
    answers[413] = csrf_free.post("/papers/2507.00001/vote", {"action": "up", "pad": "x" * 2000}, **as_script)
    for status, response in answers.items():
        assert response.status_code == status, (status, response.content)
        assert response["Content-Type"] == "application/json", status
        body = response.json()
        assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"], status
    assert answers[405]["Allow"] == "POST"


def test_too_many_parameters_is_a_json_400(client, papers):
    response = client.get("/api/daily_papers?" + "&".join(f"x{n}=1" for n in range(1001)))
    assert response.status_code == 400 and set(response.json()) == {"error"}


def test_an_internal_error_is_a_json_500(papers):
    """A broken database (the papers table gone) gives the API client JSON, not an HTML page."""

    class Undo(Exception):
        pass

    with pytest.raises(Undo), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE papers_paper RENAME TO papers_paper_gone")
        response = Client(raise_request_exception=False).get("/api/papers/2507.00001")
        raise Undo
    assert (response.status_code, response.json()) == (500, {"error": "internal error"})


def test_healthz(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    data = response.json()
    assert (data["status"], data["database"], data["index"]["status"]) == ("degraded", "ok", "missing")
    assert data["reason"] == "search index: not built yet; to be built from the database"
    assert data["pending"] == ["search index: not built yet; to be built from the database"]


def test_healthz_reports_how_far_the_index_is_behind(client, papers):
    from paperwire.search.updating import update_indexes

    update_indexes()
    assert client.get("/healthz").json()["index"]["status"] == "ok"
    Paper.objects.filter(pk="2506.00001").update(title="Changed", updated_at=timezone.now() + dt.timedelta(seconds=1))
    index = client.get("/healthz").json()["index"]
    assert (index["status"], index["papers_not_indexed"]) == ("behind", 1)


def test_healthz_names_the_embedding_model_and_says_when_it_cannot_run(client, db, settings, tmp_path):
    """A damaged model file turns semantic search off: /healthz says so and why, as the search
    page does; turned off on purpose (none), it is not a degradation."""
    import shutil

    from paperwire.search.embedder import SHIPPED, reset_embedder
    from paperwire.search.updating import update_indexes

    update_indexes()
    model = client.get("/healthz").json()["model"]
    assert (model["status"], model["name"].startswith("all-MiniLM-L6-v2-int8-")) == ("ok", True)

    folder = tmp_path / "minilm"
    shutil.copytree(SHIPPED, folder)
    (folder / "tokenizer.json").write_text("{}")
    settings.EMBEDDING_MODEL = str(folder)
    reset_embedder()
    try:
        data = client.get("/healthz").json()
        assert (data["status"], data["model"]["status"]) == ("degraded", "unavailable")
        expected = f"{folder / 'tokenizer.json'} does not hold what SHA256SUMS records"
        assert data["reason"].startswith(f"semantic search: {expected}")
        assert data["model"]["reason"].startswith(expected)

        settings.EMBEDDING_MODEL = "none"
        reset_embedder()
        data = client.get("/healthz").json()
        assert (data["status"], data["model"]) == ("ok", {"status": "off"})
    finally:
        reset_embedder()


def test_the_api_and_search_are_rate_limited(client, papers, settings):
    settings.RATE_LIMITS = dict(settings.RATE_LIMITS, api="3/60", search="2/60")
    assert [client.get("/api/daily_papers").status_code for _ in range(4)] == [200, 200, 200, 429]
    limited = client.get("/api/papers/2507.14683")
    assert limited.status_code == 429 and int(limited["Retry-After"]) > 0
    assert limited.json() == {"error": f"Too many requests: try again in {limited['Retry-After']} seconds."}
    assert [client.get("/search", {"q": "x"}).status_code for _ in range(3)] == [200, 200, 429]
    assert client.get("/").status_code == 200
