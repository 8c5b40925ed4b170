"""The API's limits through a real `paperwire serve` (gunicorn in front of Django): a too-long
query is refused by the application with its JSON 400 up to gunicorn's longest request line,
and beyond it gunicorn's own refusal is JSON too; the official client keeps working."""

import http.client
import json
import urllib.parse

import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import BadRequestError

from tests.conftest import FIXTURES, paperwire_env, run_paperwire, start_site, stop_site

LONGEST_REQUEST_LINE = 8190  # gunicorn's maximum limit_request_line, which serve sets
MAX_QUERY = 1000  # the schema's maxLength of q


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    home = tmp_path_factory.mktemp("api-live-home")
    result = run_paperwire("import", str(FIXTURES / "hf_2025-07-22.json"), env=paperwire_env(home))
    assert result.returncode == 0, result.stderr
    site = start_site(home)
    yield site
    stop_site(site)


def request(site, method: str, target: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    """Send exactly this request line (http.client does not limit it) and read the answer."""
    host, port = urllib.parse.urlsplit(site.url).netloc.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request(method, target, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def search_target(request_line_length: int) -> str:
    """/api/papers/search?q=aaa… such that `GET <target> HTTP/1.1` is that many bytes long."""
    prefix = "/api/papers/search?q="
    return prefix + "a" * (request_line_length - len("GET  HTTP/1.1") - len(prefix))


def assert_json_error(status: int, headers: dict, body: bytes, expected_status: int) -> str:
    assert status == expected_status, body[:300]
    assert headers["Content-Type"] == "application/json", headers
    error = json.loads(body)
    assert set(error) == {"error"}
    return error["error"]


def test_a_query_one_character_too_long_is_a_json_400(site):
    ok = request(site, "GET", "/api/papers/search?q=" + "a" * MAX_QUERY)
    assert ok[0] == 200 and isinstance(json.loads(ok[2]), list)
    message = assert_json_error(*request(site, "GET", "/api/papers/search?q=" + "a" * (MAX_QUERY + 1)), 400)
    assert message == f"q must be text of at most {MAX_QUERY} characters, without NUL"
    six_bytes_each = urllib.parse.quote("é" * (MAX_QUERY + 1))  # fits in gunicorn's longest request line
    assert assert_json_error(*request(site, "GET", "/api/papers/search?q=" + six_bytes_each), 400) == message
    nine_bytes_each = urllib.parse.quote("字" * (MAX_QUERY + 1))  # does not: gunicorn's JSON 414
    assert_json_error(*request(site, "GET", "/api/papers/search?q=" + nine_bytes_each), 414)


def test_the_longest_request_line_gunicorn_reads_is_still_answered_by_the_application(site):
    message = assert_json_error(*request(site, "GET", search_target(LONGEST_REQUEST_LINE)), 400)
    assert message.startswith("q must be ")


def test_a_longer_request_line_is_refused_by_gunicorn_as_json_414(site):
    message = assert_json_error(*request(site, "GET", search_target(LONGEST_REQUEST_LINE + 1)), 414)
    assert message == f"request line too long: at most {LONGEST_REQUEST_LINE} bytes"
    assert_json_error(*request(site, "GET", search_target(100_000)), 414)


def test_too_large_headers_are_refused_as_json_431(site):
    status, headers, body = request(site, "GET", "/api/daily_papers", {"X-Padding": "x" * 9000})
    assert assert_json_error(status, headers, body, 431) == "request header fields too large"


def test_writes_to_the_api_are_405_json_not_a_csrf_page(site):
    for method in ("POST", "PUT", "DELETE", "OPTIONS"):
        status, headers, body = request(site, method, "/api/daily_papers")
        assert assert_json_error(status, headers, body, 405) == f"method {method} not allowed"
        assert headers["Allow"] == "GET, HEAD"


def test_head_is_answered_without_a_body(site):
    status, headers, body = request(site, "HEAD", "/api/daily_papers?date=2025-07-22")
    assert (status, headers["Content-Type"], body) == (200, "application/json", b"")


def test_unknown_paths_under_api_are_json_404(site):
    status, headers, body = request(site, "GET", "/api/no/such/thing")
    assert assert_json_error(status, headers, body, 404) == "not found"


def test_the_official_client_gets_what_huggingface_co_answers(site):
    """huggingface_hub's own production tests: a page past the end is empty, an impossible date is a
    400 (BadRequestError), and the limits its CLI sends (50 a page, 20 search results) are accepted."""
    api = HfApi(endpoint=site.url, token=False)
    assert list(api.list_daily_papers(date="2025-07-22", p=100)) == []
    with pytest.raises(BadRequestError) as error:
        list(api.list_daily_papers(date="2025-13-40"))
    assert error.value.response.json() == {"error": "date must be a day, YYYY-MM-DD"}
    assert len(list(api.list_daily_papers(limit=50))) == 2
    assert [p.id for p in api.list_papers(query="MiroMind", limit=20)][0] == "2507.14683"


def test_more_than_1000_parameters_are_a_400_on_paths_that_read_none(site):
    """`paperwire serve` answers like the test client: JSON on the API, the error page elsewhere."""
    too_many = "?" + "&".join(f"x{n}=1" for n in range(1001))
    status, headers, body = request(site, "GET", "/api/papers/2507.14683" + too_many)
    assert assert_json_error(status, headers, body, 400) == "too many parameters"
    status, headers, body = request(site, "GET", "/papers/2507.14683" + too_many)
    assert (status, headers["Content-Type"]) == (400, "text/html; charset=utf-8")
    assert b"<h1>Bad request</h1>" in body
    assert request(site, "GET", "/api/papers/2507.14683?" + too_many[1:].rsplit("&", 1)[0])[0] == 200
