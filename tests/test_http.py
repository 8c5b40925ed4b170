"""HTTP as clients and proxies use it: HEAD on every page, and only the site's own host names."""

import http.client
import json

import pytest
from django.test import Client

from paperwire.accounts.models import verified_email
from paperwire.accounts.verification import verification_token
from paperwire.digests.models import Subscriber
from paperwire.digests.tokens import confirmation_token, subscriber_token
from paperwire.ingest.importer import import_files
from tests.conftest import paper, paperwire_env, run_paperwire, start_site, stop_site, write_jsonl

DAY = "2024-10-14"

# Every page a GET reaches without signing in (the paper pages, feeds, API, forms, health).
ANONYMOUS_PAGES = [
    "/",
    "/papers/trending",
    f"/papers/date/{DAY}",
    "/papers/week/2024-W42",
    "/papers/month/2024-10",
    "/papers/2410.10819",
    "/papers/2410.10819.md",
    "/orgs",
    "/orgs/acme",
    "/search",
    "/search?q=attention",
    "/subscribe",
    "/papers/feed.rss",
    "/papers/feed.atom",
    "/search/feed.atom?q=attention",
    f"/api/daily_papers?date={DAY}",
    "/api/papers/2410.10819",
    "/api/papers/search?q=attention",
    "/api/openapi.json",
    "/healthz",
    "/accounts/login",
    "/accounts/signup",
    "/accounts/password-reset",
]
SIGNED_IN_PAGES = ["/submit", "/accounts/settings"]


@pytest.fixture
def attention(tmp_path):
    record = paper("2410.10819", "Attention sinks", published=DAY, upvotes=2, organization="acme")
    import_files([write_jsonl(tmp_path / "a.jsonl", [record])], progress=False)


def subscriber_pages() -> list[str]:
    reader = Subscriber.objects.create(email="reader@example.org", state=Subscriber.CONFIRMED)
    token = subscriber_token(reader)
    confirm = confirmation_token(reader.pk, reader.email, "daily", "")
    return [f"/subscription/{token}", f"/unsubscribe/{token}", f"/subscribe/confirm/{confirm}"]


def assert_head_like_get(client: Client, path: str) -> None:
    got, head = client.get(path), client.head(path)
    assert (got.status_code, head.status_code) == (200, 200), path
    assert head["Content-Type"] == got["Content-Type"], path
    assert head.content == b"", path


@pytest.mark.django_db
def test_head_answers_like_get_without_a_body(attention, alice):
    for path in ANONYMOUS_PAGES + subscriber_pages():
        assert_head_like_get(Client(), path)
    assert Subscriber.objects.get().state == Subscriber.CONFIRMED  # HEAD on unsubscribe changes nothing
    signed_in = Client()
    signed_in.force_login(alice)
    for path in SIGNED_IN_PAGES + ["/", "/papers/2410.10819"]:
        assert_head_like_get(signed_in, path)
    assert_head_like_get(Client(), f"/accounts/verify/{verification_token(alice)}")
    assert verified_email(alice) == ""  # HEAD on the verification link verifies nothing


@pytest.mark.django_db
def test_head_is_served_from_the_page_cache(attention):
    client = Client()
    assert client.get("/papers/2410.10819")["X-Cache"] == "miss"
    assert client.head("/papers/2410.10819")["X-Cache"] == "hit"


@pytest.mark.django_db
def test_writes_still_refuse_head(attention):
    assert Client().head("/papers/2410.10819/vote").status_code == 405


def raw_request(site, method: str, path: str, host: str) -> tuple[int, dict, bytes]:
    """One request with the Host header given as is (urllib would set its own)."""
    port = int(site.url.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.putrequest(method, path, skip_host=True)
        connection.putheader("Host", host)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def live_site(tmp_path_factory):
    """A real `paperwire serve` (gunicorn) over a small corpus, with public URL papers.example.org."""
    home = tmp_path_factory.mktemp("site")
    record = paper("2410.10819", "Attention sinks", published=DAY, upvotes=2, organization="acme")
    env = paperwire_env(home)
    jsonl = write_jsonl(home.parent / "a.jsonl", [record])
    assert run_paperwire("import", str(jsonl), env=env).returncode == 0
    site = start_site(home, PAPERWIRE_BASE_URL="https://papers.example.org")
    yield site
    stop_site(site)


def test_head_through_gunicorn(live_site):
    host = live_site.url.split("://", 1)[1]
    for path in ANONYMOUS_PAGES:
        get_status, get_headers, get_body = raw_request(live_site, "GET", path, host)
        head_status, head_headers, head_body = raw_request(live_site, "HEAD", path, host)
        assert (get_status, head_status) == (200, 200), path
        assert head_headers["content-type"] == get_headers["content-type"], path
        assert get_body and head_body == b"", path


def test_only_the_sites_own_host_names_are_served(live_site):
    port = live_site.url.rsplit(":", 1)[1]
    for host in ["papers.example.org", "127.0.0.1:" + port, "localhost:" + port, "[::1]:" + port]:
        status, _, body = raw_request(live_site, "GET", "/", host)
        assert status == 200 and b"Attention sinks" in body, host
    status, headers, body = raw_request(live_site, "GET", "/", "evil.example")
    assert status == 400 and b"Bad request" in body
    status, headers, body = raw_request(live_site, "GET", f"/api/daily_papers?date={DAY}", "evil.example")
    assert (status, headers["content-type"], json.loads(body)) == (400, "application/json", {"error": "bad request"})


def test_the_page_cache_is_keyed_on_the_path_not_the_host(live_site):
    port = live_site.url.rsplit(":", 1)[1]
    path = "/papers/feed.atom?cache=host-test"
    first = raw_request(live_site, "GET", path, f"localhost:{port}")
    assert first[0] == 200 and first[1]["x-cache"] == "miss"
    assert raw_request(live_site, "GET", path, "evil.example")[0] == 400
    second = raw_request(live_site, "GET", path, f"127.0.0.1:{port}")
    assert (second[0], second[1]["x-cache"]) == (200, "hit")  # one entry, whatever the Host
    assert b"https://papers.example.org/papers/2410.10819" in second[2]
    assert b"evil.example" not in second[2] and b"localhost" not in second[2]


@pytest.mark.django_db
def test_head_hands_the_wsgi_server_no_body(attention):
    """What a WSGI server (gunicorn) is given for HEAD: GET's headers, Content-Length included,
    and no body bytes (the test client would hide a body by dropping it itself)."""
    from wsgiref.util import setup_testing_defaults

    from django.core.handlers.wsgi import WSGIHandler

    def call(method: str) -> tuple[dict, bytes]:
        environ = {"REQUEST_METHOD": method, "PATH_INFO": "/papers/2410.10819", "HTTP_HOST": "127.0.0.1"}
        setup_testing_defaults(environ)
        started = {}
        body = b"".join(WSGIHandler()(environ, lambda status, headers: started.update(headers)))
        return started, body

    got_headers, got_body = call("GET")
    head_headers, head_body = call("HEAD")
    assert got_body and head_body == b""
    assert head_headers["Content-Length"] == got_headers["Content-Length"] == str(len(got_body))
    assert head_headers["Content-Type"] == got_headers["Content-Type"]
