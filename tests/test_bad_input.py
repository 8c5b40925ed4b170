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


# --- more parameters than Django reads (DATA_UPLOAD_MAX_NUMBER_FIELDS, 1000) ---------------------

# A path of every route (tests/test_bad_input.py checks that none is missing): the limit holds
# whether or not the view reads a parameter.
ROUTE_SAMPLES = {
    "home": "/",
    "trending": "/papers/trending",
    "feed_rss": "/papers/feed.rss",
    "feed_atom": "/papers/feed.atom",
    "search_feed": "/search/feed.atom?q=x",
    "feed": "/papers/date/2025-07-21",
    "paper_markdown": "/papers/2401.00001.md",
    "vote": "/papers/2401.00001/vote",
    "paper": "/papers/2401.00001",
    "submit": "/submit",
    "organizations": "/orgs",
    "organization": "/orgs/nobody",
    "signup": "/accounts/signup",
    "login": "/accounts/login",
    "logout": "/accounts/logout",
    "resend_verification": "/accounts/verify",
    "verify_email": "/accounts/verify/abc",
    "password_reset": "/accounts/password-reset",
    "password_reset_done": "/accounts/password-reset/sent",
    "password_reset_confirm": "/accounts/password-reset/MQ/abc-def",
    "password_reset_complete": "/accounts/password-reset/done",
    "search": "/search?q=x",
    "subscribe": "/subscribe",
    "confirm_subscription": "/subscribe/confirm/abc",
    "manage_subscription": "/subscription/abc",
    "new_subscription_links": "/subscription/abc/new-link",
    "unsubscribe": "/unsubscribe/abc",
    "digest_preview": "/digest/preview",
    "digest_web": "/digest/abc/2025-07-21",
    "account_settings": "/accounts/settings",
    "api_daily_papers": "/api/daily_papers",
    "api_search": "/api/papers/search",
    "api_paper": "/api/papers/2401.00001",
    "healthz": "/healthz",
    "openapi": "/api/openapi.json",
    "favicon": "/favicon.ico",
    # The community (docs/community.md).
    "post_comment": "/papers/2401.00001/comments",
    "edit_comment": "/comments/1/edit",
    "delete_comment": "/comments/1/delete",
    "vote_comment": "/comments/1/vote",
    "report_comment": "/comments/1/report",
    "reply_comment": "/comments/1/reply",
    "claim": "/papers/2401.00001/claim",
    "author": "/authors/nobody",
    "profile": "/u/nobody",
    "follow": "/follow",
    "following": "/following",
    "rotate_feed": "/following/feed/rotate",
    "following_feed": "/following/feed/1-" + "0" * 40 + ".atom",
    "edit_profile": "/accounts/profile",
    "notification_settings": "/accounts/settings/notifications",
    "notifications_unsubscribe": "/notifications/unsubscribe/abc",
    "create_api_token": "/accounts/tokens",
    "revoke_api_token": "/accounts/tokens/1/revoke",
    "api_paper_comments": "/api/papers/2401.00001/comments",
    "api_paper_vote": "/api/papers/2401.00001/vote",
    "api_whoami": "/api/whoami-v2",
    "api_following": "/api/following",
    "api_user": "/api/users/nobody/overview",
    "api_organization": "/api/organizations/nobody/overview",
}
MORE_PATHS = ["/api/no/such/thing", "/no/such/page", "/admin/", "/admin/login/"]
TOO_MANY = "&".join(f"x{n}=1" for n in range(1001))
AS_MANY_AS_READ = "&".join(f"x{n}=1" for n in range(999))  # with the sample's own parameter: 1000


def routes() -> dict[str, str]:
    from django.urls import URLResolver, get_resolver

    def walk(patterns):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if pattern.app_name != "admin":
                    yield from walk(pattern.url_patterns)
            else:
                yield pattern.name

    return set(walk(get_resolver().url_patterns))


def test_every_route_has_a_sample():
    assert routes() == set(ROUTE_SAMPLES)


def with_query(path: str, query: str) -> str:
    return path + ("&" if "?" in path else "?") + query


def assert_too_many(response, path: str) -> None:
    """The documented 400: JSON on API paths, the site's error page elsewhere (HEAD: no body)."""
    assert response.status_code == 400, (path, response.status_code, response.content[:300])
    api = path.startswith(("/api/", "/healthz"))
    assert response["Content-Type"] == "application/json" if api else response["Content-Type"].startswith("text/html")
    if response.request["REQUEST_METHOD"] == "HEAD":
        assert response.content == b""
    elif api:
        assert response.json() == {"error": "too many parameters"}
    else:
        assert "<h1>Bad request</h1>" in response.content.decode()


@pytest.mark.parametrize("path", [*ROUTE_SAMPLES.values(), *MORE_PATHS])
def test_more_than_1000_query_parameters_are_a_400_on_every_path(client, db, path):
    assert_too_many(client.get(with_query(path, TOO_MANY)), path)
    assert_too_many(client.head(with_query(path, TOO_MANY)), path)
    assert_too_many(client.post(with_query(path, TOO_MANY)), path)
    # As many as Django reads are answered as the path is without them.
    usual = client.get(path).status_code
    assert usual != 400 and client.get(with_query(path, AS_MANY_AS_READ)).status_code == usual


@pytest.mark.parametrize("path", [*ROUTE_SAMPLES.values(), *MORE_PATHS])
def test_a_form_of_more_than_1000_fields_is_a_400_on_every_path(client, db, path):
    fields = {f"x{n}": "1" for n in range(1001)}
    assert_too_many(client.post(path, fields), path)
