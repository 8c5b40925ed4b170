"""Hostile and malformed requests get 4xx answers, never a 500."""

import pytest

from paperwire.ingest.importer import import_files
from tests.conftest import paper, write_jsonl

pytestmark = pytest.mark.django_db

NASTY_PATHS = [
    "/papers/date/9999-12-31",
    "/papers/date/0001-01-01",
    "/papers/week/9999-W52",
    "/papers/month/9999-12",
    "/papers/week/0001-W01",
    "/papers/date/2025-07-21?page=0",
    "/papers/date/2025-07-21?page=99999999999999999999",
    "/papers/date/2025-07-21?page=%00",
    "/papers/%E2%80%AE",
    "/papers/..%2F..%2Fetc%2Fpasswd",
    "/papers/2401.00001/../../admin",
    "/papers/2401.00001.md.md",
    "/papers/" + "9" * 5000,
    "/orgs/%00",
    "/orgs?page=-1",
    "/api/daily_papers?date=9999-12-31",
    "/api/daily_papers?month=9999-12",
    "/api/daily_papers?week=9999-W52",
    "/api/daily_papers?submitter=%00",
    "/api/daily_papers?date=%00",
    "/api/daily_papers?p=99999999999999999999999",
    "/api/daily_papers?limit=-5",
    "/api/papers/%00",
    "/api/papers/" + "x" * 5000,
    "/api/papers/2401.00001%0A",
]


@pytest.mark.parametrize("path", NASTY_PATHS)
def test_nasty_requests_are_never_a_500(client, tmp_path, path):
    import_files([write_jsonl(tmp_path / "p.jsonl", [paper("2401.00001", published="2025-07-21")])], progress=False)
    response = client.get(path)
    assert response.status_code < 500, (path, response.status_code)
    if path.startswith("/api/") and response.status_code >= 400:
        assert "error" in response.json()


def test_an_extreme_day_is_a_404_page(client, db):
    assert client.get("/papers/date/9999-12-31").status_code == 404


def test_nul_bytes_in_api_parameters_are_a_400(client, db):
    response = client.get("/api/daily_papers?submitter=%00")
    assert response.status_code == 400
    assert response.json() == {"error": "submitter must be text of at most 100 characters, without NUL"}
