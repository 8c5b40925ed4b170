"""Every route that takes a POST is rate-limited (round 3: POST /subscription/<token>, the
confirmation, unsubscribe and verification links and Django's password-reset form took 300 POSTs in
5 s, no 429). The walk below goes through every URL route of the site: a new route that takes
POSTs and forgets its limit fails it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from paperwire.accounts.tokens import create_token
from paperwire.accounts.verification import verification_token
from paperwire.digests.models import NotificationSettings, Subscriber
from paperwire.digests.tokens import confirmation_token, notification_token, subscriber_token
from paperwire.discussions.threads import post_comment
from paperwire.ingest.importer import import_files
from paperwire.papers.models import Organization, Paper
from paperwire.people.following import feed_token
from tests.conftest import paper, write_jsonl

pytestmark = pytest.mark.django_db

# Routes that take POSTs without a limit, and why that is right.
UNLIMITED = {
    "logout": "logging out only ends the client's own session; a limit would keep a person logged in",
    "admin:logout": "the same, for the admin",
    "revoke_api_token": "revoking only disables one of the account's own tokens; a limit would keep a leak working",
}


# Routes that answer a POST without writing anything, for this visitor.
NO_WRITE = {("login", "alice"): "already logged in: sent on to the home page, no password checked"}


def every_route(patterns=None, namespace="") -> list[str]:
    """The name of every URL route (admin:login and admin:logout of the admin's own, whose other
    pages are the staff's and take their writes only from logged-in staff)."""
    names = []
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            if inner == "admin:":
                names += ["admin:login", "admin:logout"]
                continue
            names += every_route(entry.url_patterns, inner)
        elif isinstance(entry, URLPattern):
            assert entry.name, f"a route with no name: {entry.pattern}"
            names.append(namespace + entry.name)
    return names


@pytest.fixture
def links(tmp_path, alice):
    """A working URL of every route that needs arguments, made when asked (a POST that got
    through may have retired the links made before it)."""
    import_files([write_jsonl(tmp_path / "p.jsonl", [paper("2410.10819", "Attention", organization="Acme")])])
    Subscriber.objects.create(email="sub@example.org", state=Subscriber.CONFIRMED)
    comment = post_comment(alice, Paper.objects.get(pk="2410.10819"), "A comment")

    def subscriber():
        return Subscriber.objects.get(email="sub@example.org")

    def reset():
        alice.refresh_from_db()  # a token is made for the last login: logging in retires it
        return reverse(
            "password_reset_confirm",
            args=[urlsafe_base64_encode(force_bytes(alice.pk)), default_token_generator.make_token(alice)],
        )

    return {
        "feed": lambda: reverse("feed", args=["date", "2024-10-14"]),
        "paper": lambda: reverse("paper", args=["2410.10819"]),
        "paper_markdown": lambda: reverse("paper_markdown", args=["2410.10819"]),
        "vote": lambda: reverse("vote", args=["2410.10819"]),
        "claim": lambda: reverse("claim", args=["2410.10819"]),
        "author": lambda: reverse("author", args=["ada-lovelace"]),
        "api_paper": lambda: reverse("api_paper", args=["2410.10819"]),
        "api_paper_comments": lambda: reverse("api_paper_comments", args=["2410.10819"]),
        "api_paper_vote": lambda: reverse("api_paper_vote", args=["2410.10819"]),
        "api_user": lambda: reverse("api_user", args=["alice"]),
        "api_organization": lambda: reverse("api_organization", args=["Acme"]),
        "revoke_api_token": lambda: reverse("revoke_api_token", args=[create_token(alice, "bot")[0].pk]),
        "post_comment": lambda: reverse("post_comment", args=["2410.10819"]),
        **{
            name: (lambda name=name: reverse(name, args=[comment.pk]))
            for name in ("edit_comment", "delete_comment", "vote_comment", "report_comment", "reply_comment")
        },
        "organization": lambda: Organization.objects.get(name="Acme").get_absolute_url(),
        "profile": lambda: reverse("profile", args=["alice"]),
        "following_feed": lambda: reverse("following_feed", args=[feed_token(alice)]),
        "verify_email": lambda: reverse("verify_email", args=[verification_token(alice)]),
        "password_reset_confirm": reset,
        "confirm_subscription": lambda: reverse(
            "confirm_subscription", args=[confirmation_token(subscriber().pk, "sub@example.org", "daily", "")]
        ),
        "manage_subscription": lambda: reverse("manage_subscription", args=[subscriber_token(subscriber())]),
        "new_subscription_links": lambda: reverse("new_subscription_links", args=[subscriber_token(subscriber())]),
        "unsubscribe": lambda: reverse("unsubscribe", args=[subscriber_token(subscriber())]),
        "digest_web": lambda: reverse("digest_web", args=[subscriber_token(subscriber()), "daily-2024-10-14"]),
        "notifications_unsubscribe": lambda: reverse(
            "notifications_unsubscribe", args=[notification_token(NotificationSettings.of(alice))]
        ),
    }


FORM = {
    "username": "alice",
    "password": "wrong password",
    "email": "alice@example.org",
    "frequency": "weekly",
    "topics": "",
    "paper": "2410.10819",
    "new_password1": "a new long pass phrase 42",
    "new_password2": "a new long pass phrase 42",
}


def test_every_route_taking_a_post_is_rate_limited(client, links, alice, settings):
    settings.RATE_LIMITS = {kind: "0/60" for kind in settings.RATE_LIMITS}  # every counted write is refused
    names = every_route()
    assert {"unsubscribe", "manage_subscription", "password_reset_confirm", "admin:login"} <= set(names)
    missing = [n for n in names if n not in links and not n.startswith("admin:") and "<" in _pattern_of(n)]
    assert not missing, f"give the walk a working URL of {missing}"
    unlimited = {}
    for name in names:
        if name in UNLIMITED:
            continue
        # A password-reset link is for someone who cannot log in (and logging in retires it).
        for who in ("anonymous",) if name == "password_reset_confirm" else ("anonymous", "alice"):
            if who == "alice":
                client.force_login(alice)
            else:
                client.logout()
            url = links[name]() if name in links else reverse(name)
            if name == "password_reset_confirm":  # Django moves the token to the session first
                url = client.get(url)["Location"]
            response = client.post(url, FORM)
            if response.status_code not in (405, 429) and not sent_to_log_in(response) and (name, who) not in NO_WRITE:
                unlimited[f"{name} ({who})"] = response.status_code
            if response.status_code == 429:
                assert int(response["Retry-After"]) > 0 and b"Too many" in response.content
    assert not unlimited, f"routes that take a POST with no limit: {unlimited}"
    assert not mail.outbox


def sent_to_log_in(response) -> bool:
    """An anonymous POST to a page that needs an account: sent to log in, nothing written."""
    location = response.get("Location", "") if response.status_code == 302 else ""
    return location.startswith(("/accounts/login?next=", "/admin/login/?next="))


def _pattern_of(name: str) -> str:
    for entry in get_resolver().url_patterns:
        if isinstance(entry, URLPattern) and entry.name == name:
            return str(entry.pattern)
        if isinstance(entry, URLResolver) and not entry.namespace:
            for inner in entry.url_patterns:
                if isinstance(inner, URLPattern) and inner.name == name:
                    return str(inner.pattern)
    return ""


def test_three_hundred_saves_of_one_subscription_are_limited(client, links, settings):
    settings.RATE_LIMITS = dict(settings.RATE_LIMITS, link="30/3600")
    answers = [client.post(links["manage_subscription"](), {"frequency": "weekly"}).status_code for _ in range(300)]
    assert answers[:30] == [200] * 30 and set(answers[30:]) == {429}
    assert Subscriber.objects.get(email="sub@example.org").frequency == "weekly"


def test_one_click_unsubscribe_works_for_a_person_whose_mail_provider_posts_for_everyone(client, settings):
    """RFC 8058: the mail provider POSTs from its own addresses, one for many people: one-click
    unsubscribe is counted per subscription, never per client, so the provider posting for many
    subscribers (here all from one address) unsubscribes each of them."""
    settings.RATE_LIMITS = dict(settings.RATE_LIMITS, link="3/3600")
    subscribers = [
        Subscriber.objects.create(email=f"reader{n}@example.org", state=Subscriber.CONFIRMED) for n in range(10)
    ]
    for subscriber in subscribers:
        url = reverse("unsubscribe", args=[subscriber_token(subscriber)])
        response = client.post(url, {"List-Unsubscribe": "One-Click"}, REMOTE_ADDR="203.0.113.9")
        assert response.status_code == 200 and b"You are unsubscribed" in response.content
    assert set(Subscriber.objects.values_list("state", flat=True)) == {Subscriber.UNSUBSCRIBED}
    # One link posted over and over is limited; a garbage link counts nothing anywhere.
    url = reverse("unsubscribe", args=[subscriber_token(subscribers[0])])
    assert [client.post(url).status_code for _ in range(3)] == [200, 200, 429]
    assert client.post("/unsubscribe/not-a-token").status_code == 410


def test_the_limits_of_links_do_not_stop_the_next_day(client, links, settings, time_machine):
    settings.RATE_LIMITS = dict(settings.RATE_LIMITS, link="2/3600")
    time_machine.move_to(dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC), tick=False)
    statuses = [client.post(links["manage_subscription"](), {"frequency": "daily"}).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    time_machine.move_to(dt.datetime(2026, 1, 5, 11, 0, 1, tzinfo=dt.UTC), tick=False)
    assert client.post(links["manage_subscription"](), {"frequency": "daily"}).status_code == 200
