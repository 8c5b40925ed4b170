"""/api/openapi.json describes the JSON endpoints; real responses validate against it, and
random parameters (a bounded hypothesis run) never produce a 500."""

import json

import jsonschema
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from paperwire.ingest.importer import import_files
from paperwire.search.indexer import update_indexes
from tests.conftest import paper, write_jsonl
from tests.test_import import HF_ITEM

pytestmark = pytest.mark.django_db


@pytest.fixture
def papers(tmp_path):
    hf = tmp_path / "hf.json"
    hf.write_text(json.dumps([HF_ITEM]))
    records = [paper(f"2507.7000{n}", f"Paper {n}", published="2025-07-21", upvotes=n) for n in range(1, 4)]
    import_files([hf, write_jsonl(tmp_path / "p.jsonl", records)], progress=False)
    update_indexes()


def response_schema(spec: dict, path: str, status: str) -> dict:
    content = spec["paths"][path]["get"]["responses"][status]["content"]["application/json"]["schema"]
    return {**content, "components": spec["components"]}


def validate(spec: dict, path: str, response) -> None:
    Draft202012Validator(response_schema(spec, path, str(response.status_code))).validate(response.json())


def test_the_schema_is_valid_openapi_shaped_json_schema(client, db):
    spec = client.get("/api/openapi.json").json()
    assert spec["openapi"] == "3.1.0"
    assert set(spec["paths"]) == {
        "/api/daily_papers",
        "/api/papers/{id}",
        "/api/papers/search",
        "/healthz",
        "/api/openapi.json",
    }
    for schema in spec["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize(
    ("path", "url"),
    [
        ("/api/daily_papers", "/api/daily_papers?date=2025-07-22"),
        ("/api/daily_papers", "/api/daily_papers?week=2025-W30&limit=2"),
        ("/api/daily_papers", "/api/daily_papers?sort=trending"),
        ("/api/daily_papers", "/api/daily_papers?date=2025-13-01"),
        ("/api/papers/{id}", "/api/papers/2507.14683"),
        ("/api/papers/{id}", "/api/papers/9999.99999"),
        ("/api/papers/search", "/api/papers/search?q=reasoning"),
        ("/api/papers/search", "/api/papers/search?q=x&limit=0"),
        ("/healthz", "/healthz"),
    ],
)
def test_real_responses_match_the_schema(client, papers, path, url):
    spec = client.get("/api/openapi.json").json()
    response = client.get(url)
    assert str(response.status_code) in spec["paths"][path]["get"]["responses"]
    validate(spec, path, response)


TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
PARAMS = st.fixed_dictionaries(
    {},
    optional={
        "date": st.one_of(TEXT, st.dates().map(str)),
        "week": TEXT,
        "month": TEXT,
        "submitter": TEXT,
        "sort": st.sampled_from(["publishedAt", "trending", "x", ""]),
        "p": st.one_of(TEXT, st.integers(-5, 10**12).map(str)),
        "limit": st.one_of(TEXT, st.integers(-5, 500).map(str)),
        "q": TEXT,
        "mode": TEXT,
    },
)


@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=PARAMS, path=st.sampled_from(["/api/daily_papers", "/api/papers/search"]), paper_id=TEXT)
def test_random_parameters_never_cause_a_500(client, papers, params, path, paper_id):
    spec = client.get("/api/openapi.json").json()
    response = client.get(path, params)
    assert response.status_code < 500, (path, params)
    validate(spec, path, response)
    by_id = client.get("/api/papers/" + paper_id.replace("/", "_").replace("?", "_").replace("#", "_"))
    assert by_id.status_code < 500
    if by_id.status_code in (200, 404) and by_id["Content-Type"] == "application/json":
        validate(spec, "/api/papers/{id}", by_id)


def test_schema_errors_are_caught(client, papers):
    spec = client.get("/api/openapi.json").json()
    with pytest.raises(jsonschema.ValidationError):
        Draft202012Validator(response_schema(spec, "/api/papers/{id}", "200")).validate({"id": 3})
