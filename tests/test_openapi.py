"""/api/openapi.json and the code agree.

The strategies below are built from the served schema, not from the code: every query the
schema allows is answered 200 with a body matching the schema; every query with one value
outside the schema is answered exactly 400 with the error shape naming that parameter; and
every status an endpoint answers is listed in the schema.
"""

import datetime as dt
import json
import re
import urllib.parse
from pathlib import Path

import jsonschema
import pytest
from django.contrib.auth.models import User
from hypothesis import HealthCheck, assume, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from paperwire.discussions.threads import delete_comment, post_comment
from paperwire.ingest.importer import import_files
from paperwire.papers.models import Paper
from paperwire.search.engine import RANKED
from paperwire.search.updating import update_indexes
from tests.conftest import paper, write_jsonl
from tests.test_import import HF_ITEM

pytestmark = pytest.mark.django_db

LIST_ENDPOINTS = ["/api/daily_papers", "/api/papers/search", "/api/papers/{id}/comments"]
# Where an endpoint of the schema is asked (a path with a parameter: a paper that has comments).
URLS = {"/api/papers/{id}/comments": "/api/papers/2507.14683/comments"}
PERIODS = ("date", "week", "month")  # the operation's description: at most one of them
KNOWN_IDS = {"2507.14683", "2507.70001", "2507.70002", "2507.70003"}
EXAMPLES = 60  # per property: bounded for CI


@pytest.fixture
def papers(tmp_path):
    hf = tmp_path / "hf.json"
    hf.write_text(json.dumps([HF_ITEM]))
    records = [paper(f"2507.7000{n}", f"Paper {n}", published="2025-07-21", upvotes=n) for n in range(1, 4)]
    import_files([hf, write_jsonl(tmp_path / "p.jsonl", records)], progress=False)
    update_indexes()
    author = User.objects.create_user("commenter", password="a long pass phrase")
    known = Paper.objects.get(pk="2507.14683")
    for n in range(3):
        top = post_comment(author, known, f"Thread {n}: $x^{n}$ and [a link](https://example.org)")
        post_comment(author, known, f"Reply to {n}", reply_to=top.pk)
    delete_comment(author, top.pk)  # a stub above its reply


@pytest.fixture
def spec(client, db):
    return client.get("/api/openapi.json").json()


def response_schema(spec: dict, path: str, status: int | str) -> dict:
    response = spec["paths"][path]["get"]["responses"][str(status)]
    return {**response["content"]["application/json"]["schema"], "components": spec["components"]}


def validate(spec: dict, path: str, response) -> None:
    """The status is one the schema lists for the endpoint, and the body matches it."""
    assert str(response.status_code) in spec["paths"][path]["get"]["responses"], (path, response.status_code)
    Draft202012Validator(response_schema(spec, path, response.status_code)).validate(response.json())


def parameters(spec: dict, path: str) -> dict[str, dict]:
    return {p["name"]: p["schema"] for p in spec["paths"][path]["get"]["parameters"] if p["in"] == "query"}


def ecma_pattern(validator, pattern: str, instance, schema):
    """``pattern`` as ECMA-262 (OpenAPI's dialect) reads it, where ``$`` is the end of the text;
    jsonschema uses Python's ``re``, whose ``$`` also matches before a final newline."""
    python = pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern
    if isinstance(instance, str) and not re.search(python, instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


ECMAValidator = jsonschema.validators.extend(Draft202012Validator, {"pattern": ecma_pattern})


def schema_accepts(schema: dict, raw: str) -> bool:
    """Whether the schema allows ``raw`` as the query string's value (integers as numbers)."""
    number = schema["type"] == "integer" and re.fullmatch(r"-?[0-9]{1,4000}", raw)  # int() reads 4300 digits
    value = int(raw) if number else raw
    return ECMAValidator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).is_valid(value)


# --- strategies read from the schema ------------------------------------------------------------

TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=30)
DAYS = st.dates(dt.date(1000, 1, 10), dt.date(2999, 12, 20))
# A pattern cannot say which days, ISO weeks and months exist: valid ones are drawn from the calendar
# (and checked against the schema below).
CALENDAR = {
    "date": DAYS.map(dt.date.isoformat),
    "week": DAYS.map(lambda day: "{:04d}-W{:02d}".format(*day.isocalendar()[:2])),
    "month": DAYS.map(lambda day: f"{day.year:04d}-{day.month:02d}"),
}


def calendar(name: str, schema: dict) -> st.SearchStrategy[str] | None:
    """Valid days, weeks or months for a parameter named so or declared a date (search's from, to)."""
    if name in CALENDAR:
        return CALENDAR[name]
    return CALENDAR["date"] if schema.get("format") == "date" else None


OTHER_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")  # fullwidth digits: \d in Python, not in ECMA


def valid_value(name: str, schema: dict) -> st.SearchStrategy[str]:
    if calendar(name, schema) is not None:
        strategy = calendar(name, schema)
    elif "enum" in schema:
        strategy = st.sampled_from(schema["enum"])
    elif schema["type"] == "integer":
        strategy = st.integers(schema["minimum"], schema["maximum"]).map(str)
    else:
        strategy = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=schema["maxLength"])
    return strategy.filter(lambda raw: schema_accepts(schema, raw))


def invalid_value(name: str, schema: dict) -> st.SearchStrategy[str]:
    """Values the schema refuses, and (for week) the one kind a pattern cannot refuse."""
    options = []
    if schema["type"] == "integer" or "enum" in schema or calendar(name, schema) is not None:  # mostly invalid text
        options.append(TEXT.filter(lambda raw: not schema_accepts(schema, raw)))
    if schema["type"] == "integer":
        low, high = schema["minimum"], schema["maximum"]
        options += [
            st.integers(low - 10**6, low - 1).map(str),
            st.integers(high + 1, high + 10**12).map(str),
            st.sampled_from(["", "1.0", "1e3", " 5", "5 ", "+5", "0x10", "٣", "5\n", "9" * 5000]),
        ]
    if "enum" in schema:
        options.append(st.sampled_from(schema["enum"]).flatmap(lambda v: st.sampled_from([v.upper(), v + " ", ""])))
        options.append(st.just("AAA"))
    if "maxLength" in schema:
        longest = schema["maxLength"]
        options.append(st.tuples(st.integers(1, 5), st.sampled_from("aé字")).map(lambda t: t[1] * (longest + t[0])))
        options.append(TEXT.map(lambda text: text + "\x00"))
    if calendar(name, schema) is not None:
        options.append(calendar(name, schema).map(lambda raw: raw.translate(OTHER_DIGITS)))
        options.append(calendar(name, schema).map(lambda raw: raw + "\n"))
        options.append(st.sampled_from(["", "0000-01-01", "2025-02-30", "2025-13", "2025-W00", "2025-W54", "2025-7"]))
    if name == "week":  # matches the pattern; the schema's description says W53 exists only in some years
        options.append(
            st.integers(1000, 2999).filter(lambda y: dt.date(y, 12, 28).isocalendar()[1] == 52).map("{}-W53".format)
        )
    return st.one_of(options)


@st.composite
def valid_query(draw, spec: dict, path: str) -> dict[str, str]:
    schemas = parameters(spec, path)
    names = draw(st.sets(st.sampled_from(sorted(schemas))))
    periods = [n for n in sorted(names) if n in PERIODS]
    names -= set(periods[1:])
    query = {name: draw(valid_value(name, schemas[name])) for name in names}
    # What the parameters' descriptions say besides the schema: from not after to; by relevance,
    # a search's pages stop at the RANKED most relevant (p × limit below RANKED).
    if "from" in query and "to" in query and query["from"] > query["to"]:
        query["from"], query["to"] = query["to"], query["from"]
    if path == "/api/papers/search" and "p" in query and query.get("sort", "relevance") == "relevance":
        limit = int(query.get("limit", schemas["limit"]["default"]))
        query["p"] = str(min(int(query["p"]), (RANKED - 1) // limit))
    return query


@st.composite
def invalid_query(draw, spec: dict, path: str) -> tuple[str, str, dict[str, str]]:
    schemas = parameters(spec, path)
    name = draw(st.sampled_from(sorted(schemas)))
    query = {k: v for k, v in draw(valid_query(spec, path)).items() if k not in PERIODS or name not in PERIODS}
    query[name] = draw(invalid_value(name, schemas[name]))
    return name, query[name], query


# --- the schema itself --------------------------------------------------------------------------


def test_the_schema_is_valid_openapi_shaped_json_schema(spec):
    assert spec["openapi"] == "3.1.0"
    assert set(spec["paths"]) == {
        "/api/daily_papers",
        "/api/papers/{id}",
        "/api/papers/{id}/comments",
        "/api/papers/{id}/vote",
        "/api/papers/search",
        "/api/whoami-v2",
        "/api/following",
        "/api/users/{name}/overview",
        "/api/organizations/{name}/overview",
        "/healthz",
        "/api/openapi.json",
    }
    for schema in spec["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    for path in LIST_ENDPOINTS:
        for schema in parameters(spec, path).values():
            Draft202012Validator.check_schema(schema)


def test_every_status_an_endpoint_answers_is_listed_with_the_error_schema(spec):
    answered_by_every_endpoint = {"400", "405", "414", "429", "431", "500"}  # 400: a foreign Host
    # Under /api/, a 401 too: an Authorization header that is no valid token is never read as anonymous.
    expected = {
        ("get", "/api/daily_papers"): {"200", "400", "401"},
        ("get", "/api/papers/search"): {"200", "400", "401"},
        ("get", "/api/papers/{id}"): {"200", "401", "404"},
        ("get", "/api/papers/{id}/comments"): {"200", "400", "401", "404"},
        ("post", "/api/papers/{id}/comments"): {"201", "400", "401", "403", "404", "409", "413"},
        ("post", "/api/papers/{id}/vote"): {"200", "401", "403", "404"},
        ("delete", "/api/papers/{id}/vote"): {"200", "401", "403", "404"},
        ("get", "/api/whoami-v2"): {"200", "401"},
        ("get", "/api/following"): {"200", "400", "401"},
        ("get", "/api/users/{name}/overview"): {"200", "401", "404"},
        ("get", "/api/organizations/{name}/overview"): {"200", "401", "404"},
        ("get", "/api/openapi.json"): {"200", "401"},
        ("get", "/healthz"): {"200", "503"},
    }
    assert {(method, path) for path, operations in spec["paths"].items() for method in operations} == set(expected)
    for (method, path), statuses in expected.items():
        responses = spec["paths"][path][method]["responses"]
        assert set(responses) == statuses | answered_by_every_endpoint, path
        for status in set(responses) - {"200", "201", "503"}:
            schema = responses[status]["content"]["application/json"]["schema"]
            assert schema["$ref"] == "#/components/schemas/Error", (path, status)


def test_the_schema_states_each_limit(spec):
    daily, search = parameters(spec, "/api/daily_papers"), parameters(spec, "/api/papers/search")
    assert daily["limit"] == {"type": "integer", "minimum": 1, "maximum": 100, "default": 50}
    assert daily["sort"] == {"type": "string", "enum": ["publishedAt", "trending"], "default": "publishedAt"}
    assert search["mode"] == {"type": "string", "enum": ["hybrid", "lexical", "semantic"], "default": "hybrid"}
    assert search["q"]["maxLength"] == 1000
    assert daily["week"]["pattern"] == "^[12][0-9]{3}-W(0[1-9]|[1-4][0-9]|5[0-3])$"
    assert not schema_accepts(daily["week"], "２０２５-W30")


# --- real responses -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "url", "status"),
    [
        ("/api/daily_papers", "/api/daily_papers?date=2025-07-22", 200),
        ("/api/daily_papers", "/api/daily_papers?week=2025-W30&limit=2", 200),
        ("/api/daily_papers", "/api/daily_papers?sort=trending", 200),
        ("/api/daily_papers", "/api/daily_papers?date=2025-13-01", 400),
        ("/api/daily_papers", "/api/daily_papers?week=２０２５-W30", 400),
        ("/api/papers/{id}", "/api/papers/2507.14683", 200),
        ("/api/papers/{id}", "/api/papers/9999.99999", 404),
        ("/api/papers/{id}/comments", "/api/papers/2507.14683/comments", 200),
        ("/api/papers/{id}/comments", "/api/papers/2507.14683v2/comments?limit=1&p=2", 200),
        ("/api/papers/{id}/comments", "/api/papers/2507.70001/comments", 200),
        ("/api/papers/{id}/comments", "/api/papers/9999.99999/comments", 404),
        ("/api/papers/{id}/comments", "/api/papers/2507.14683/comments?limit=101", 400),
        ("/api/papers/search", "/api/papers/search?q=reasoning", 200),
        ("/api/papers/search", "/api/papers/search?q=x&limit=0", 400),
        ("/api/papers/search", "/api/papers/search?mode=AAA", 400),
        ("/api/papers/search", "/api/papers/search?q=" + "a" * 1000, 200),
        ("/api/papers/search", "/api/papers/search?q=" + "a" * 1001, 400),
        ("/healthz", "/healthz", 200),
        ("/api/openapi.json", "/api/openapi.json", 200),
    ],
)
def test_real_responses_match_the_schema(client, papers, spec, path, url, status):
    response = client.get(url)
    assert response.status_code == status, response.content
    validate(spec, path, response)


@hypothesis_settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), path=st.sampled_from(LIST_ENDPOINTS))
def test_what_the_schema_allows_is_answered_200(client, papers, spec, data, path):
    query = data.draw(valid_query(spec, path))
    response = client.get(URLS.get(path, path), query)
    assert response.status_code == 200, (query, response.content)
    validate(spec, path, response)


@hypothesis_settings(
    max_examples=EXAMPLES * 2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data(), path=st.sampled_from(LIST_ENDPOINTS))
def test_one_value_outside_the_schema_is_answered_400_naming_it(client, papers, spec, data, path):
    name, value, query = data.draw(invalid_query(spec, path))
    schema = parameters(spec, path)[name]
    week_53 = name == "week" and value.endswith("W53")
    assert week_53 or not schema_accepts(schema, value), (name, value)
    response = client.get(URLS.get(path, path), query)
    assert response.status_code == 400, (query, response.content)
    validate(spec, path, response)
    assert set(response.json()) == {"error"} and response.json()["error"].startswith(f"{name} must be "), query


@hypothesis_settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(paper_id=st.one_of(TEXT, st.sampled_from(sorted(KNOWN_IDS))))
def test_a_paper_id_is_answered_200_when_known_else_404(client, papers, spec, paper_id):
    assume(paper_id not in ("search", ""))
    response = client.get("/api/papers/" + urllib.parse.quote(paper_id, safe=""))
    assert response.status_code == (200 if paper_id in KNOWN_IDS else 404), (paper_id, response.content)
    validate(spec, "/api/papers/{id}", response)


UNLISTED = ["_=123", "Limit=1", "x=1&x=2", "cursor=%00"]


@pytest.mark.parametrize(
    ("url", "unlisted"),
    [
        ("/api/daily_papers?date=2025-07-21", UNLISTED),
        ("/api/daily_papers?limit=0", UNLISTED),
        ("/api/papers/search?q=reasoning", [*UNLISTED, "date=x"]),
        ("/api/papers/2507.14683", [*UNLISTED, "date=x&limit=0&q=%00"]),
        ("/api/papers/9999.99999", UNLISTED),
        ("/api/papers/2507.14683/comments?limit=2", [*UNLISTED, "q=x&date=x"]),
        ("/api/openapi.json", [*UNLISTED, "limit=0"]),
    ],
)
def test_parameters_the_schema_does_not_list_are_ignored_by_every_endpoint(client, papers, url, unlisted):
    """As the schema's description says, and as huggingface.co does: a cache buster, a parameter of
    another endpoint, a listed name in another case change nothing."""
    expected = client.get(url)
    for extra in unlisted:
        response = client.get(url + ("&" if "?" in url else "?") + extra)
        assert (response.status_code, response.content) == (expected.status_code, expected.content), extra


def test_the_schema_rejects_what_it_should(spec):
    with pytest.raises(jsonschema.ValidationError):
        Draft202012Validator(response_schema(spec, "/api/papers/{id}", "200")).validate({"id": 3})


# --- the docs -----------------------------------------------------------------------------------


def test_the_docs_state_the_schema_s_parameters():
    """docs/api.md carries each endpoint's parameter table as generated from the one declaration."""
    from paperwire.api import params

    docs = (Path(__file__).resolve().parent.parent / "docs" / "api.md").read_text()
    for declared in (params.DAILY_PAPERS, params.SEARCH, params.COMMENTS):
        assert declared.markdown() in docs, f"update docs/api.md with:\n{declared.markdown()}"


def test_every_endpoint_lists_the_400_of_a_foreign_host(client):
    """Any request naming a Host the site does not serve gets 400 JSON, on every endpoint
    (/healthz and /api/openapi.json included): the schema says so."""
    spec = client.get("/api/openapi.json").json()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            assert "400" in operation["responses"], (method, path)
    response = client.get("/healthz", HTTP_HOST="evil.example")
    assert response.status_code == 400 and "error" in response.json()
