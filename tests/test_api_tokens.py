"""Personal API tokens (docs/security.md, "API tokens"; docs/api.md): made and revoked on the
settings page, sent as ``Authorization: Bearer``, and what a script writes with one (votes,
comments, replies) through the same domain functions, limits and page cache as the pages."""

from __future__ import annotations

import hashlib
import json
import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from paperwire.accounts.models import ApiToken
from paperwire.accounts.tokens import MAX_TOKENS, create_token
from paperwire.api.writes import COMMENT_FIELDS
from paperwire.discussions.models import Comment
from paperwire.discussions.threads import post_comment
from paperwire.papers.models import Organization, Paper, Vote
from paperwire.people.following import set_following
from paperwire.people.profiles import clean_profile, save_profile

pytestmark = pytest.mark.django_db

SECRET = re.compile(r'id="new-token-secret"[^>]*>(pw_[A-Za-z0-9_-]{43})<')


@pytest.fixture
def attention():
    org, _ = Organization.objects.find_or_create("google", "Google", "https://example.org/g.png", "5e6aca39")
    return Paper.objects.create(
        id="2410.10819",
        title="Attention sinks",
        abstract="...",
        base_upvotes=3,
        upvotes=3,
        num_comments=7,
        organization=org,
    )


def bearer(secret: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def made_on_the_page(client: Client, user, name: str = "my bot") -> str:
    """The secret the settings page shows once, after its form made a token."""
    client.force_login(user)
    response = client.post("/accounts/tokens", {"name": name})
    assert response.status_code == 200, response.content
    assert "no-store" in response["Cache-Control"]
    (secret,) = SECRET.findall(response.content.decode())
    return secret


def vote(client: Client, secret: str, paper_id: str = "2410.10819", method: str = "post"):
    return getattr(client, method)(f"/api/papers/{paper_id}/vote", **bearer(secret))


def comment(client: Client, secret: str, data, paper_id: str = "2410.10819", **extra):
    body = data if isinstance(data, str | bytes) else json.dumps(data)
    return client.post(
        f"/api/papers/{paper_id}/comments", body, content_type="application/json", **bearer(secret), **extra
    )


def error_of(response, status: int) -> str:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    return body["error"]


# --- the lifecycle --------------------------------------------------------------------------------


def test_a_token_is_made_shown_once_listed_used_and_revoked(client, alice, attention):
    client.force_login(alice)
    page = client.get("/accounts/settings")
    assert page.status_code == 200 and b"You have no API token." in page.content
    secret = made_on_the_page(client, alice, "paper bot")
    token = ApiToken.objects.get(user=alice)
    # Kept hashed: the secret is nowhere in the database, its SHA-256 is.
    assert token.digest == hashlib.sha256(secret.encode()).hexdigest() and secret not in str(token.__dict__)
    assert (token.name, token.prefix, token.last_used_at) == ("paper bot", secret[:11], None)
    # Listed by name and prefix only, never shown again.
    page = client.get("/accounts/settings").content.decode()
    assert "paper bot" in page and f"{secret[:11]}…" in page and secret not in page and "never used" in page

    scripts = Client()  # no cookie: the token alone
    me = scripts.get("/api/whoami-v2", **bearer(secret))
    assert me.status_code == 200, me.content
    assert me.json()["name"] == "alice" and me.json()["auth"]["accessToken"]["displayName"] == "paper bot"
    response = vote(scripts, secret)
    assert response.status_code == 200 and response.json() == {"id": "2410.10819", "upvotes": 4, "voted": True}
    assert Vote.objects.filter(user=alice, paper=attention).count() == 1
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert "last used" in client.get("/accounts/settings").content.decode()

    revoked = client.post(f"/accounts/tokens/{token.pk}/revoke")
    assert revoked.status_code == 302 and revoked["Location"] == "/accounts/settings"
    page = client.get("/accounts/settings").content.decode()
    assert "is revoked" in page and "You have no API token." in page
    assert error_of(vote(scripts, secret, method="delete"), 401) == "This API token was revoked."
    assert error_of(scripts.get("/api/whoami-v2", **bearer(secret)), 401) == "This API token was revoked."
    assert Vote.objects.filter(user=alice, paper=attention).count() == 1  # the refused unvote did nothing


def test_the_settings_forms_need_csrf_and_work_without_javascript(alice):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    assert browser.post("/accounts/tokens", {"name": "x"}).status_code == 403
    page = browser.get("/accounts/settings").content.decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert 'action="/accounts/tokens"' in page
    made = browser.post("/accounts/tokens", {"name": "cron", "csrfmiddlewaretoken": csrf})
    assert made.status_code == 200 and SECRET.search(made.content.decode())
    token = ApiToken.objects.get(user=alice)
    assert browser.post(f"/accounts/tokens/{token.pk}/revoke").status_code == 403
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("", "Give the token a name, so that you know later what uses it."),
        ("   ", "Give the token a name, so that you know later what uses it."),
        ("a" * 101, "A token's name can be at most 100 characters long."),
        ("bad\x00name", "A token's name can hold only printable characters."),
    ],
)
def test_a_bad_name_is_refused_beside_the_form_and_keeps_what_was_typed(client, alice, name, error):
    client.force_login(alice)
    response = client.post("/accounts/tokens", {"name": name})
    page = response.content.decode()
    assert response.status_code == 400 and error.replace("'", "&#x27;") in page
    assert not SECRET.search(page) and not ApiToken.objects.exists()


def test_an_account_holds_at_most_max_tokens(client, alice):
    for n in range(MAX_TOKENS):
        create_token(alice, f"t{n}")
    client.force_login(alice)
    response = client.post("/accounts/tokens", {"name": "one more"})
    assert response.status_code == 400 and b"at most 20 tokens" in response.content
    assert ApiToken.objects.filter(user=alice).count() == MAX_TOKENS


def test_another_users_token_is_neither_listed_nor_revocable_and_acts_for_its_owner(client, alice, bob, attention):
    _, bobs = create_token(bob, "bob's")
    bobs_token = ApiToken.objects.get(user=bob)
    client.force_login(alice)
    assert b"bob&#x27;s" not in client.get("/accounts/settings").content
    assert client.post(f"/accounts/tokens/{bobs_token.pk}/revoke").status_code == 404
    assert ApiToken.objects.get(pk=bobs_token.pk).revoked_at is None
    # Alice's session and Bob's token: the token decides, the session is not read.
    response = vote(client, bobs)
    assert response.status_code == 200
    assert list(Vote.objects.values_list("user__username", flat=True)) == ["bob"]


# --- what is refused, and how ---------------------------------------------------------------------


def test_unknown_malformed_and_foreign_tokens_are_401_never_anonymous(client, attention):
    unknown = "pw_" + "A" * 43
    assert error_of(client.get("/api/papers/2410.10819", **bearer(unknown)), 401) == "Unknown API token."
    assert error_of(client.get("/api/papers/2410.10819", **bearer("pw_short")), 401) == (
        "This API token is cut or changed: a Paperwire token is pw_ and 43 letters, digits, - or _."
    )
    # A header meant for another site (huggingface_hub sends HF_TOKEN's hf_ token to whatever
    # endpoint it is given; another scheme): a read goes on as if it were not there, as it did
    # before tokens existed; a write is refused, saying why.
    anonymous = client.get("/api/daily_papers").json()
    for header in ("Bearer hf_" + "a" * 34, "Basic YWxpY2U6cGFzcw==", "Token x"):
        read = client.get("/api/daily_papers", HTTP_AUTHORIZATION=header)
        assert read.status_code == 200 and read.json() == anonymous, header
        assert error_of(client.get("/api/whoami-v2", HTTP_AUTHORIZATION=header), 401).startswith(
            "Authentication required"
        )
    hf = error_of(client.post("/api/papers/2410.10819/vote", **bearer("hf_" + "a" * 34)), 401)
    assert hf.startswith("This is not a Paperwire API token")
    basic = client.post("/api/papers/2410.10819/vote", HTTP_AUTHORIZATION="Basic YWxpY2U6cGFzcw==")
    assert error_of(basic, 401) == 'The Authorization header must be "Bearer <your API token>".'
    assert basic["WWW-Authenticate"] == 'Bearer realm="Paperwire", error="invalid_token"'
    assert not Vote.objects.exists()


def test_a_token_in_the_query_string_is_refused(client, alice, attention):
    _, secret = create_token(alice, "leaky")
    for url in (f"/api/whoami-v2?token={secret}", f"/api/papers/2410.10819?access_token={secret}"):
        message = error_of(client.get(url), 401)
        assert message.startswith("An API token in the URL is refused"), url
    # Even with the header as well: the URL's copy has leaked.
    assert client.post(f"/api/papers/2410.10819/vote?t={secret}", **bearer(secret)).status_code == 401
    assert not Vote.objects.exists()


HOSTILE = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(min_codepoint=0x80, max_codepoint=0xFF), max_size=60).map("Bearer ".__add__),
    st.text(alphabet="pw_AZaz09-é\u200b\t ", min_size=40, max_size=60).map("Bearer pw_".__add__),
    st.integers(200, 20_000).map(lambda n: "Bearer pw_" + "a" * n),
    st.sampled_from(["Bearer", "Bearer ", "bearer", "Bearer  \t", "Token x", "pw_", "Bearer pw_\x00" + "a" * 42]),
)


@hypothesis_settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=HOSTILE)
def test_hostile_authorization_headers_are_401_never_500(client, attention, header):
    """A write with anything but a valid token is a 401; a read, when the header names a
    Paperwire token ("Bearer pw_..."), else it is the anonymous read."""
    read = client.get("/api/papers/2410.10819", HTTP_AUTHORIZATION=header)
    if re.match(r"[ \t]*bearer [ \t]*pw_", header, re.IGNORECASE):
        assert "pw_a" not in error_of(read, 401)
    else:
        assert read.status_code == 200 and read.json()["id"] == "2410.10819"
    message = error_of(client.post("/api/papers/2410.10819/vote", HTTP_AUTHORIZATION=header), 401)
    assert message and "pw_a" not in message
    assert not Vote.objects.exists()


def test_a_banned_accounts_tokens_stop_working(client, alice, attention):
    _, secret = create_token(alice, "bot")
    assert vote(client, secret).status_code == 200
    admin = User.objects.create_superuser("mod", "mod@example.org", "a long pass phrase")
    staff = Client()
    staff.force_login(admin)
    response = staff.post("/admin/auth/user/", {"action": "ban", "_selected_action": [alice.pk]}, follow=True)
    assert response.status_code == 200
    assert error_of(vote(client, secret, method="delete"), 401) == "The account of this API token is disabled."
    assert error_of(comment(client, secret, {"body": "hi"}), 401) == "The account of this API token is disabled."
    assert not Comment.objects.exists()


def test_tokens_do_not_authenticate_pages_and_their_forms(client, alice, attention):
    _, secret = create_token(alice, "bot")
    page_vote = client.post("/papers/2410.10819/vote", HTTP_ACCEPT="application/json", **bearer(secret))
    assert error_of(page_vote, 401) == "log in to upvote"
    page_comment = client.post("/papers/2410.10819/comments", {"body": "hi"}, **bearer(secret))
    assert page_comment.status_code == 302 and page_comment["Location"].startswith("/accounts/login")
    settings_page = client.get("/accounts/settings", **bearer(secret))
    assert settings_page.status_code == 302 and settings_page["Location"].startswith("/accounts/login")
    assert not Vote.objects.exists() and not Comment.objects.exists()


def test_a_session_without_a_token_keeps_the_csrf_check_on_api_writes(alice, attention):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    message = error_of(browser.post("/api/papers/2410.10819/vote"), 403)
    assert message.startswith("CSRF check failed")
    assert not Vote.objects.exists()
    # With the page's CSRF token, the session may write through the API as through the page.
    browser.get("/accounts/settings")
    csrf = browser.cookies["csrftoken"].value
    assert browser.post("/api/papers/2410.10819/vote", HTTP_X_CSRFTOKEN=csrf).json()["voted"] is True
    # A token needs none, even beside a session cookie.
    _, secret = create_token(alice, "bot")
    assert browser.delete("/api/papers/2410.10819/vote", **bearer(secret)).json()["voted"] is False


def test_writes_without_an_account_are_401(client, attention):
    assert error_of(client.post("/api/papers/2410.10819/vote"), 401).startswith("Authentication required")
    anonymous = client.post("/api/papers/2410.10819/comments", {"body": "x"}, content_type="application/json")
    assert error_of(anonymous, 401).startswith("Authentication required")
    assert error_of(client.get("/api/whoami-v2"), 401).startswith("Authentication required")
    assert error_of(client.get("/api/papers/2410.10819/vote"), 405) == "method GET not allowed"


# --- writing: votes and comments --------------------------------------------------------------------


def test_votes_are_idempotent_and_counted_once(client, alice, attention):
    _, secret = create_token(alice, "bot")
    assert [vote(client, secret).json()["upvotes"] for _ in range(3)] == [4, 4, 4]
    assert [vote(client, secret, method="delete").json()["upvotes"] for _ in range(2)] == [3, 3]
    assert error_of(vote(client, secret, "9999.99999"), 404) == "paper '9999.99999' not found"
    assert vote(client, secret, "2410.10819v2").json() == {"id": "2410.10819", "upvotes": 4, "voted": True}


def test_a_comment_and_a_reply_through_the_api(client, alice, bob, attention):
    _, secret = create_token(alice, "bot")
    top = comment(client, secret, {"body": "Nice: $O(n)$"})
    assert top.status_code == 201, top.content
    data = top.json()
    assert data["author"]["name"] == "alice" and data["data"]["latest"]["raw"] == "Nice: $O(n)$"
    assert top["Location"].endswith(f"/papers/2410.10819#comment-{data['id']}")
    reply = comment(client, secret, {"body": "And a reply", "reply_to": data["id"]})
    assert reply.status_code == 201 and reply.json()["data"]["parentCommentId"] == data["id"]
    assert comment(client, secret, {"body": "Numeric id", "reply_to": int(data["id"])}).status_code == 201
    listed = client.get("/api/papers/2410.10819/comments").json()
    assert [c["data"]["latest"]["raw"] for c in listed[0]["replies"]] == ["And a reply", "Numeric id"]
    assert client.get("/api/papers/2410.10819").json()["numComments"] == 3


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"body": ""}, 400, "Write your comment first."),
        ({"body": "x" * 10_001}, 400, "A comment can be at most 10,000 characters long; this one has 10,001."),
        ({}, 400, "body must be the comment's text (Markdown), a string"),
        ({"body": 3}, 400, "body must be the comment's text (Markdown), a string"),
        ({"body": "x", "text": "y"}, 400, "unknown field 'text': a comment has body and reply_to"),
        (
            {"body": "x", "reply_to": "abc"},
            400,
            "reply_to must be a comment's id (a string of digits, as the API gives it) or null",
        ),
        (
            {"body": "x", "reply_to": True},
            400,
            "reply_to must be a comment's id (a string of digits, as the API gives it) or null",
        ),
        ({"body": "x", "reply_to": "999999"}, 404, "The comment you replied to is not on this paper's page any more."),
        ("[1, 2]", 400, 'the body must be a JSON object, {"body": "..."}'),
        ("{", 400, "the body is not valid JSON (UTF-8)"),
        (b"\xff\xfe", 400, "the body is not valid JSON (UTF-8)"),
        ("[" * 5000 + "]" * 5000, 400, "the body is not valid JSON (UTF-8)"),  # RecursionError, once a 500
        ('{"body": ' + "[" * 1100 + "]" * 1100 + "}", 400, "the body is not valid JSON (UTF-8)"),
    ],
)
def test_a_refused_comment_says_why_and_writes_nothing(client, alice, attention, body, status, error):
    _, secret = create_token(alice, "bot")
    assert error_of(comment(client, secret, body), status) == error
    assert not Comment.objects.exists()


def test_a_comment_must_be_json(client, alice, attention):
    _, secret = create_token(alice, "bot")
    response = client.post("/api/papers/2410.10819/comments", {"body": "form"}, **bearer(secret))
    assert error_of(response, 400).startswith('send the body as JSON with "Content-Type: application/json"')
    assert not Comment.objects.exists()


def test_a_reply_to_a_comment_of_a_hidden_paper_is_404(client, alice, attention):
    _, secret = create_token(alice, "bot")
    Paper.objects.filter(pk=attention.pk).update(hidden=True)
    assert error_of(comment(client, secret, {"body": "x"}), 404) == "paper '2410.10819' not found"


# --- rate limits ------------------------------------------------------------------------------------


def test_token_writes_count_against_the_accounts_limits_of_the_pages(client, alice, attention, settings):
    settings.RATE_LIMITS = dict(settings.RATE_LIMITS, vote="2/60", comment="2/600", comment_new="100/600")
    _, secret = create_token(alice, "bot")
    # One page vote (the session) and one token vote: the account's two votes of the window.
    client.force_login(alice)
    assert client.post("/papers/2410.10819/vote", HTTP_ACCEPT="application/json").status_code == 200
    assert vote(Client(), secret, method="delete").status_code == 200
    refused = vote(Client(), secret)
    assert error_of(refused, 429) == "Too many votes: try again in " + refused["Retry-After"] + " seconds."
    assert not Vote.objects.exists()  # the page's vote was withdrawn, the third refused
    assert comment(Client(), secret, {"body": "one"}).status_code == 201
    assert comment(Client(), secret, {"body": "two"}).status_code == 201
    assert error_of(comment(Client(), secret, {"body": "three"}), 429).startswith("Too many comments")
    assert Comment.objects.count() == 2


def test_new_accounts_are_limited_harder_through_the_api_too(client, alice, attention, settings):
    settings.RATE_LIMITS = dict(settings.RATE_LIMITS, comment="100/600", comment_new="1/600")
    _, secret = create_token(alice, "bot")  # alice was made just now: a new account
    assert comment(client, secret, {"body": "one"}).status_code == 201
    assert error_of(comment(client, secret, {"body": "two"}), 429).startswith("Too many comments for a new account")


def test_the_api_limit_counts_token_requests_per_account(client, alice, bob, attention, settings):
    settings.RATE_LIMITS = dict(settings.RATE_LIMITS, api="3/60")
    _, alices = create_token(alice, "bot")
    _, bobs = create_token(bob, "bot")
    answers = [client.get("/api/papers/2410.10819", **bearer(alices)).status_code for _ in range(3)]
    answers.append(vote(client, alices).status_code)
    assert answers == [200, 200, 200, 429]
    assert client.get("/api/papers/2410.10819", **bearer(bobs)).status_code == 200  # another account
    assert not Vote.objects.exists()


def test_making_tokens_is_rate_limited(client, alice, settings):
    settings.RATE_LIMITS = dict(settings.RATE_LIMITS, api_token="2/3600")
    client.force_login(alice)
    assert [client.post("/accounts/tokens", {"name": f"t{n}"}).status_code for n in range(3)] == [200, 200, 429]
    assert ApiToken.objects.count() == 2


# --- the page cache ---------------------------------------------------------------------------------


def test_the_page_cache_never_mixes_token_and_anonymous_answers(client, alice, attention):
    _, secret = create_token(alice, "bot")
    url = "/api/papers/2410.10819"
    assert [client.get(url)["X-Cache"] for _ in range(2)] == ["miss", "hit"]
    # A token's read is computed, never served from nor stored in the cache.
    authed = client.get(url, **bearer(secret))
    assert authed.status_code == 200 and "X-Cache" not in authed
    # Its vote changes what anonymous readers see, at once.
    assert vote(client, secret).json()["upvotes"] == 4
    fresh = client.get(url)
    assert fresh["X-Cache"] == "miss" and fresh.json()["upvotes"] == 4
    page = client.get("/papers/2410.10819")
    assert page["X-Cache"] == "miss" and b'<span class="count">4</span>' in page.content
    # A comment too (the paper's page and the comment list).
    client.get("/api/papers/2410.10819/comments")
    assert comment(client, secret, {"body": "Fresh"}).status_code == 201
    listed = client.get("/api/papers/2410.10819/comments")
    assert listed["X-Cache"] == "miss" and listed.json()[0]["data"]["latest"]["raw"] == "Fresh"
    # An answer made for the token's owner is never given to anonymous readers, nor the reverse.
    assert client.get("/api/whoami-v2", **bearer(secret)).json()["name"] == "alice"
    assert error_of(client.get("/api/whoami-v2"), 401)


# --- accounts and organizations -------------------------------------------------------------------


def test_whoami_gives_what_huggingface_hub_reads(client, alice):
    _, secret = create_token(alice, "laptop")
    me = client.get("/api/whoami-v2", **bearer(secret)).json()
    assert me["type"] == "user" and me["name"] == "alice" and me["orgs"] == []
    assert me["auth"]["type"] == "access_token"
    assert me["auth"]["accessToken"]["displayName"] == "laptop" and me["auth"]["accessToken"]["role"] == "write"
    client.force_login(alice)
    assert client.get("/api/whoami-v2").json()["auth"] == {"type": "session"}


def test_user_overview(client, alice, attention):
    post_comment(alice, attention, "hello")
    data = client.get("/api/users/alice/overview").json()
    assert data["user"] == "alice" and data["type"] == "user" and data["numPapers"] == 0 and data["orgs"] == []
    assert client.get("/api/users/ALICE/overview").json()["user"] == "alice"
    assert error_of(client.get("/api/users/nobody/overview"), 404) == "user 'nobody' not found"
    assert (data["fullname"], data["details"], data["numFollowers"], data["numFollowing"]) == ("alice", "", 0, 0)
    assert "isFollowing" not in data  # nobody asked
    # As the profile page shows it: its display name and bio; who follows it.
    bob = User.objects.create_user("bob", password="a long pass phrase")
    set_following(bob, alice, True)
    save_profile(alice, clean_profile({"display_name": "Alice Ó", "bio": "<b>hi</b>", "public": "on"}))
    client.force_login(bob)
    data = client.get("/api/users/alice/overview").json()
    assert (data["fullname"], data["details"], data["numFollowers"], data["isFollowing"]) == (
        "Alice Ó",
        "<b>hi</b>",
        1,
        True,
    )
    assert client.get("/api/users/bob/overview").json()["numFollowing"] == 1
    # A hidden profile is not found, but by its owner.
    save_profile(alice, clean_profile({}))
    assert error_of(client.get("/api/users/alice/overview"), 404) == "user 'alice' not found"
    client.force_login(alice)
    assert client.get("/api/users/alice/overview").json()["user"] == "alice"
    User.objects.filter(pk=alice.pk).update(is_active=False)
    client.logout()
    assert error_of(client.get("/api/users/alice/overview"), 404) == "user 'alice' not found"


def test_organization_overview(client, attention):
    data = client.get("/api/organizations/google/overview").json()
    assert data == {
        "_id": "5e6aca39",
        "name": "google",
        "fullname": "Google",
        "avatarUrl": "https://example.org/g.png",
        "type": "org",
        "numPapers": 1,
    }
    slug = Organization.objects.get().slug
    assert client.get(f"/api/organizations/{slug}/overview").json()["name"] == "google"
    assert error_of(client.get("/api/organizations/nope/overview"), 404) == "organization 'nope' not found"


# --- the schema -----------------------------------------------------------------------------------


def test_real_answers_match_the_openapi_schema(client, alice, attention):
    spec = client.get("/api/openapi.json").json()
    _, secret = create_token(alice, "bot")

    def check(method: str, path: str, response) -> None:
        responses = spec["paths"][path][method]["responses"]
        assert str(response.status_code) in responses, (method, path, response.status_code)
        schema = responses[str(response.status_code)]["content"]["application/json"]["schema"]
        Draft202012Validator({**schema, "components": spec["components"]}).validate(response.json())

    top = comment(client, secret, {"body": "Top"})
    new_comment = {**spec["components"]["schemas"]["NewComment"], "components": spec["components"]}
    assert tuple(new_comment["properties"]) == COMMENT_FIELDS  # the fields the endpoint reads
    for sent in ({"body": "Top"}, {"body": "x", "reply_to": top.json()["id"]}, {"body": "x", "reply_to": 3}):
        Draft202012Validator(new_comment).validate(sent)
    answers = [
        ("post", "/api/papers/{id}/comments", top),
        ("post", "/api/papers/{id}/comments", comment(client, secret, {"body": "R", "reply_to": top.json()["id"]})),
        ("post", "/api/papers/{id}/comments", comment(client, secret, {"body": ""})),
        ("post", "/api/papers/{id}/comments", comment(client, "pw_" + "x" * 43, {"body": "x"})),
        ("post", "/api/papers/{id}/vote", vote(client, secret)),
        ("delete", "/api/papers/{id}/vote", vote(client, secret, method="delete")),
        ("post", "/api/papers/{id}/vote", vote(client, secret, "9999.99999")),
        ("get", "/api/whoami-v2", client.get("/api/whoami-v2", **bearer(secret))),
        ("get", "/api/whoami-v2", client.get("/api/whoami-v2")),
        ("get", "/api/users/{name}/overview", client.get("/api/users/alice/overview")),
        ("get", "/api/users/{name}/overview", client.get("/api/users/nobody/overview")),
        ("get", "/api/organizations/{name}/overview", client.get("/api/organizations/google/overview")),
        ("get", "/api/organizations/{name}/overview", client.get("/api/organizations/nope/overview")),
        ("get", "/api/papers/{id}", client.get("/api/papers/2410.10819", HTTP_AUTHORIZATION="Bearer")),
    ]
    for method, path, response in answers:
        check(method, path, response)
    client.force_login(alice)
    check("get", "/api/whoami-v2", client.get("/api/whoami-v2"))


def test_answers_say_they_depend_on_the_token_and_an_account_s_are_private(client, alice, attention):
    _, secret = create_token(alice, "bot")
    anonymous = client.get("/api/papers/2410.10819")
    assert "Authorization" in anonymous["Vary"] and "private" not in anonymous.get("Cache-Control", "")
    mine = client.get("/api/whoami-v2", **bearer(secret))
    assert mine.status_code == 200 and "Authorization" in mine["Vary"]
    assert "private" in mine["Cache-Control"]
    client.force_login(alice)
    settings_page = client.get("/accounts/settings")
    assert "no-store" in settings_page["Cache-Control"] or "private" in settings_page["Cache-Control"]


def test_staff_revoke_a_leaked_token_in_the_admin(client, admin_client, alice, attention):
    token, secret = create_token(alice, "leaked")
    page = admin_client.get("/admin/accounts/apitoken/").content.decode()
    assert token.prefix in page and secret not in page
    assert admin_client.get("/admin/accounts/apitoken/add/").status_code == 403
    data = {"action": "revoke", "_selected_action": [token.pk]}
    answer = admin_client.post("/admin/accounts/apitoken/", data, follow=True).content.decode()
    assert "Revoked 1 token: they no longer work." in answer
    assert error_of(vote(client, secret), 401) == "This API token was revoked."
