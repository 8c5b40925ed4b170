"""The Hugging Face-compatible JSON API and the health check."""

import datetime as dt

import pytest
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


def test_the_api_only_reads(client, papers):
    response = client.post("/api/daily_papers")
    assert response.status_code == 405 and response.json() == {"error": "method POST not allowed"}


def test_healthz(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    data = response.json()
    assert (data["status"], data["database"], data["index"]["status"]) == ("degraded", "ok", "missing")
    assert data["reason"] == "search index: not built yet; to be built from the database"


def test_healthz_reports_how_far_the_index_is_behind(client, papers):
    from paperwire.search.indexer import update_indexes

    update_indexes()
    assert client.get("/healthz").json()["index"]["status"] == "ok"
    Paper.objects.filter(pk="2506.00001").update(title="Changed", updated_at=timezone.now() + dt.timedelta(seconds=1))
    index = client.get("/healthz").json()["index"]
    assert (index["status"], index["papers_not_indexed"]) == ("behind", 1)


def test_the_api_and_search_are_rate_limited(client, papers, settings):
    settings.RATE_LIMITS = dict(settings.RATE_LIMITS, api="3/60", search="2/60")
    assert [client.get("/api/daily_papers").status_code for _ in range(4)] == [200, 200, 200, 429]
    limited = client.get("/api/papers/2507.14683")
    assert limited.status_code == 429 and int(limited["Retry-After"]) > 0 and "error" in limited.json()
    assert [client.get("/search", {"q": "x"}).status_code for _ in range(3)] == [200, 200, 429]
    assert client.get("/").status_code == 200
