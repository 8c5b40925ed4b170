"""Where a form sends the browser next (``next``): a path of this site, or the form's own default.

Any other value (a URL elsewhere, a relative path, a URL name, text with control characters) is
ignored, never a 500 after the write is done (round 3: ``next=papers`` was read as a URL name)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils.encoding import iri_to_uri
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from paperwire.ingest.importer import import_files
from paperwire.papers.models import Vote
from paperwire.web.papers import PLAIN_PATH
from tests.conftest import paper, write_jsonl

pytestmark = pytest.mark.django_db

FALLBACK = "/papers/2410.10819"
# Values the attacker sent, and their kin: relative paths, URL names, other sites.
ODD = [
    "papers",
    "welcome",
    "home",
    "x@y",
    "-1",
    "a\x00b",
    "admin:index",
    "./papers",
    "../admin/",
    "?q=1",
    "#top",
    "//evil.example/x",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    " /papers",
    "https://evil.example/",
    "http://testserver/orgs",  # this site, but a URL rather than a path
    "javascript:alert(1)",
    "data:text/html,hi",
    "\x00",
    "/papers\x00x",
    "/papers\nSet-Cookie: a=b",
]
GOOD = ["/", "/orgs", "/papers/2410.10819", "/search?q=attention&x=1", "/papers/date/2024-10-14#top", "/orgs/Zoë"]


@pytest.fixture
def attention(tmp_path):
    import_files([write_jsonl(tmp_path / "p.jsonl", [paper("2410.10819", "Attention", published="2024-10-14")])])


def expected_location(next_value: str, fallback: str) -> str:
    """The one rule: a path of this site starting with one slash, else the fallback."""
    return next_value if PLAIN_PATH.fullmatch(next_value) else fallback


def assert_lands_on_site(location: str) -> None:
    parts = urlsplit(location)
    assert not parts.scheme and not parts.netloc and location.startswith("/"), location
    assert not re.search(r"[\s\x00-\x1f\x7f\\]", location), location


@pytest.mark.parametrize("target", ODD + GOOD)
def test_a_vote_goes_to_next_or_back_to_the_paper(client, attention, alice, settings, target):
    settings.RATE_LIMITS = dict(settings.RATE_LIMITS, vote="100000/60")
    client.force_login(alice)
    client.raise_request_exception = False
    response = client.post(f"{FALLBACK}/vote", {"next": target})
    assert response.status_code == 302, response.content[:300]
    assert response["Location"] == (iri_to_uri(target) if target in GOOD else FALLBACK)
    assert Vote.objects.filter(user=alice, paper_id="2410.10819").exists()


@hypothesis_settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(target=st.text(max_size=40) | st.from_regex(r"[/\\a-z:.@?#%-]{0,12}", fullmatch=True))
@example(target="papers")
@example(target="x@y")
def test_any_next_of_a_vote_is_a_site_path_or_the_paper(client, attention, alice, settings, target):
    settings.RATE_LIMITS = dict(settings.RATE_LIMITS, vote="100000/60")
    client.force_login(alice)
    client.raise_request_exception = False
    for where in ("POST", "GET"):
        url = f"{FALLBACK}/vote"
        if where == "POST":
            response = client.post(url, {"next": target, "action": "up"})
        else:
            response = client.post(f"{url}?next={_quote(target)}", {"action": "up"})
        assert response.status_code == 302, (where, target, response.content[:300])
        assert response["Location"] == iri_to_uri(expected_location(target, FALLBACK)), (where, target)
        assert_lands_on_site(response["Location"])


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


@pytest.mark.parametrize("target", ["welcome", "papers", "x@y", "-1", "a\x00b", "https://evil.example/", "/orgs"])
def test_sign_up_with_any_next_logs_in_and_lands_on_site(target, settings):
    settings.RATE_LIMITS = dict(settings.RATE_LIMITS, signup="100000/60")
    client = Client(raise_request_exception=False)
    form = {"username": "newcomer", "email": "new@example.org", "password1": "a long pass phrase 42"}
    form["password2"] = form["password1"]
    response = client.post("/accounts/signup?next=" + _quote(target), form)
    assert response.status_code == 302, response.content[:300]
    assert response["Location"] == ("/orgs" if target == "/orgs" else "/")
    assert get_user_model().objects.filter(username="newcomer").exists()
    assert client.get("/").context["user"].username == "newcomer"  # the session was saved


@pytest.mark.parametrize("target", ["welcome", "papers", "../admin/", "x@y", "https://evil.example/", "/orgs"])
def test_log_in_and_out_with_any_next_land_on_site(client, alice, target):
    response = client.post(
        "/accounts/login", {"username": "alice", "password": "correct horse battery", "next": target}
    )
    assert response.status_code == 302
    assert response["Location"] == ("/orgs" if target == "/orgs" else "/")
    response = client.post("/accounts/logout", {"next": target})
    assert response.status_code == 302
    assert response["Location"] == ("/orgs" if target == "/orgs" else "/")
