"""Following authors, organizations and people (docs/community.md, "Following"): the forms
without JavaScript, the JSON the script reads, /following and why each paper is there, the
private Atom feed at its secret address, the page cache, the rate limit, the digest's "From what
you follow" over real SMTP, and follows racing from real processes."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import json
import re
import urllib.parse
import urllib.request

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from paperwire.accounts.models import VerifiedEmail
from paperwire.digests.content import DigestPeriod
from paperwire.digests.models import Delivery, ShownPaper, Subscriber
from paperwire.digests.sending import send_period
from paperwire.ingest.importer import import_files
from paperwire.papers.models import Organization, Paper
from paperwire.people.following import feed_token
from paperwire.people.models import Author, Follow
from paperwire.people.profiles import clean_profile, save_profile
from tests.conftest import paper, paperwire_env, run_paperwire, start_site, stop_site, write_jsonl

pytestmark = pytest.mark.django_db
DAY = "2025-07-22"


@pytest.fixture(autouse=True)
def _no_page_cache(settings):
    settings.PAGE_CACHE_SECONDS = 0  # tested on its own below, with real commits
    settings.BASE_URL = "http://testserver"


@pytest.fixture
def corpus(tmp_path, bob):
    records = [
        paper("2507.00001", "Convolutional nets", authors=["Yann LeCun", "Léon Bottou"], published=DAY, upvotes=3),
        paper("2507.00002", "Llama things", authors=["Hugo Touvron"], organization="Meta AI", published=DAY),
        paper("2507.00003", "Bob's pick", authors=["Someone Else"], published=DAY, upvotes=50),
        paper("2507.00004", "Unrelated", authors=["Nobody Followed"], published=DAY, upvotes=99),
        paper("2507.00005", "Older LeCun", authors=["Y. LeCun", "Léon Bottou"], published="2025-07-01"),
    ]
    import_files([write_jsonl(tmp_path / "c.jsonl", records)], progress=False)
    Paper.objects.filter(pk="2507.00003").update(submitter=bob)
    return {p.pk: p for p in Paper.objects.all()}


def follow(client, kind, key, action="follow", **extra):
    return client.post(reverse("follow"), {"kind": kind, "key": key, "action": action, **extra})


def test_follow_without_javascript_redirects_back(client, alice, corpus):
    client.force_login(alice)
    page = client.get("/authors/yann-lecun").content.decode()
    assert 'action="/follow"' in page and ">Follow<" in page
    response = follow(client, "author", "yann-lecun", next="/authors/yann-lecun?page=1")
    assert response.status_code == 302 and response["Location"] == "/authors/yann-lecun?page=1"
    assert Follow.objects.filter(follower=alice, author__slug="yann-lecun").count() == 1
    page = client.get("/authors/yann-lecun").content.decode()
    assert "You follow Yann LeCun: their new papers appear on your Following page." in page
    assert 'aria-pressed="true" data-name="Yann LeCun">Following<' in page
    # Twice is once; unfollowing goes back; another site is never where it leads.
    follow(client, "author", "yann-lecun")
    assert Follow.objects.count() == 1
    response = follow(client, "author", "yann-lecun", "unfollow", next="https://evil.example/")
    assert response["Location"] == "/authors/yann-lecun" and not Follow.objects.exists()
    response = follow(client, "author", "yann-lecun", next="//evil.example/x")
    assert response["Location"] == "/authors/yann-lecun"


def test_follow_an_organization_and_a_person(client, alice, bob, corpus):
    client.force_login(alice)
    org = Organization.objects.get(name="Meta AI")
    assert ">Follow<" in client.get(org.get_absolute_url()).content.decode()
    assert follow(client, "organization", org.slug)["Location"] == org.get_absolute_url()
    assert follow(client, "user", "bob")["Location"] == "/u/bob"
    assert set(Follow.objects.values_list("organization__name", "user__username")) == {("Meta AI", None), (None, "bob")}
    # Oneself: no button, nothing written.
    assert b'action="/follow"' not in client.get("/u/alice").content
    follow(client, "user", "alice")
    assert Follow.objects.count() == 2


def test_the_script_gets_json(client, alice, corpus):
    client.force_login(alice)
    answer = client.post(
        reverse("follow"), {"kind": "author", "key": "yann-lecun"}, headers={"accept": "application/json"}
    )
    assert answer.status_code == 200 and answer.json() == {"kind": "author", "key": "yann-lecun", "following": True}
    client.logout()
    answer = client.post(
        reverse("follow"), {"kind": "author", "key": "yann-lecun"}, headers={"accept": "application/json"}
    )
    assert answer.status_code == 401 and answer.json() == {"error": "log in to follow"}


@pytest.mark.parametrize(
    ("kind", "key"),
    [
        ("author", "no-one"),
        ("organization", "nope"),
        ("user", "ghost"),
        ("planet", "mars"),
        ("author", "a\x00b"),
        ("user", ""),
    ],
)
def test_nothing_to_follow_is_404(client, alice, corpus, kind, key):
    client.force_login(alice)
    response = follow(client, kind, key)
    assert response.status_code == 404 and b"nothing by that name to follow" in response.content
    assert not Follow.objects.exists()


def test_anonymous_is_sent_to_log_in_and_csrf_is_checked(alice, corpus):
    anonymous = Client()
    response = follow(anonymous, "author", "yann-lecun")
    assert response.status_code == 302 and response["Location"] == "/accounts/login?next=/authors/yann-lecun"
    page = anonymous.get("/authors/yann-lecun").content.decode()
    assert "Log in to follow" in page and 'action="/follow"' not in page
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    response = follow(strict, "author", "yann-lecun")
    assert response.status_code == 403 and not Follow.objects.exists()


def test_following_is_rate_limited(client, alice, corpus, settings):
    settings.RATE_LIMITS = dict(settings.RATE_LIMITS, follow="3/600")
    client.force_login(alice)
    answers = [follow(client, "author", "yann-lecun", "follow" if n % 2 else "unfollow").status_code for n in range(5)]
    assert answers == [302, 302, 302, 429, 429]
    response = follow(client, "author", "leon-bottou")
    assert response.status_code == 429 and int(response["Retry-After"]) > 0 and b"Too many follows" in response.content


def test_the_following_page_says_why_each_paper_is_there(client, alice, bob, corpus):
    client.force_login(alice)
    empty = client.get("/following").content.decode()
    assert "You follow nothing yet" in empty and "Press <strong>Follow</strong> on an author" in empty
    follow(client, "author", "yann-lecun")
    follow(client, "organization", Organization.objects.get(name="Meta AI").slug)
    follow(client, "user", "bob")
    Paper.objects.filter(pk="2507.00001").update(submitted_on_daily_at=timezone.now())
    page = client.get("/following").content.decode()
    titles = re.findall(r'class="paper-title"><a href="/papers/([^"]+)"', page)
    assert titles[0] == "2507.00001" and set(titles) == {"2507.00001", "2507.00002", "2507.00003", "2507.00005"}
    assert "by Yann LeCun (you follow)" in page  # also on "Y. LeCun"'s paper, matched to him
    assert "from Meta AI" in page and "submitted by bob" in page
    assert "2507.00004" not in page
    # Hidden papers and banned people's submissions are left out.
    Paper.objects.filter(pk="2507.00002").update(hidden=True)
    bob.is_active = False
    bob.save()
    page = client.get("/following").content.decode()
    assert "2507.00002" not in page and "2507.00003" not in page
    assert client.get("/following?page=9").status_code == 404
    client.logout()
    assert client.get("/following")["Location"] == "/accounts/login/?next=/following" or client.get("/following")[
        "Location"
    ].startswith("/accounts/login")


def test_the_private_atom_feed(client, alice, bob, corpus, settings):
    settings.PAGE_CACHE_SECONDS = 300
    client.force_login(alice)
    follow(client, "author", "yann-lecun")
    settings_page = client.get(reverse("account_settings")).content.decode()
    url = re.search(r'value="http://testserver(/following/feed/[^"]+\.atom)"', settings_page)[1]
    anonymous = Client()
    feed = anonymous.get(url)
    assert feed.status_code == 200 and feed["Content-Type"].startswith("application/atom+xml")
    assert feed["X-Robots-Tag"] == "noindex, nofollow" and "no-store" in feed["Cache-Control"]
    assert "X-Cache" not in feed and "Why: by Yann LeCun (you follow)." in feed.content.decode()
    assert "Convolutional nets" in feed.content.decode() and "Unrelated" not in feed.content.decode()
    # Another user's id with alice's signature, a changed letter, or bob's own address: never alice's.
    user_part, signature = url.removeprefix("/following/feed/").removesuffix(".atom").split("-")
    assert anonymous.get(f"/following/feed/{bob.pk}-{signature}.atom").status_code == 404
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    assert anonymous.get(f"/following/feed/{user_part}-{flipped}.atom").status_code == 404
    bobs = anonymous.get(reverse("following_feed", args=[feed_token(bob)])).content.decode()
    assert "Convolutional nets" not in bobs
    # A new address: the old one is gone at once, even for a reader whose last answer was cached.
    response = client.post(reverse("rotate_feed"))
    assert response.status_code == 302 and response["Location"] == "/accounts/settings"
    assert anonymous.get(url).status_code == 404
    new = re.search(
        r'value="http://testserver(/following/feed/[^"]+\.atom)"', client.get("/accounts/settings").content.decode()
    )[1]
    assert new != url and anonymous.get(new).status_code == 200
    # A banned account's feed stops.
    alice.is_active = False
    alice.save()
    assert anonymous.get(new).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_follow_state_is_never_served_to_another_reader(alice, bob, corpus, settings):
    settings.PAGE_CACHE_SECONDS = 300
    anonymous, alices, bobs = Client(), Client(), Client()
    alices.force_login(alice)
    bobs.force_login(bob)
    assert anonymous.get("/authors/yann-lecun")["X-Cache"] == "miss"
    assert anonymous.get("/authors/yann-lecun")["X-Cache"] == "hit"
    follow(alices, "author", "yann-lecun")
    for who, client, button in [(alices, alices, "Following"), (bobs, bobs, "Follow")]:
        response = client.get("/authors/yann-lecun")
        assert "X-Cache" not in response and f'">{button}<' in response.content.decode(), who
    cached = anonymous.get("/authors/yann-lecun")
    assert "Log in to follow" in cached.content.decode() and "Following<" not in cached.content.decode()


def test_a_follow_is_one_row_whatever_happens():
    """The database refuses a second row for one follower and one target."""
    from django.contrib.auth.models import User

    user = User.objects.create_user("zoe", "", "pass phrase 12")
    author = Author.objects.create(key="k|x", slug="x", name="X", signature="x")
    Follow.objects.create(follower=user, author=author)
    with pytest.raises(IntegrityError), transaction.atomic():
        Follow.objects.create(follower=user, author=author)
    with pytest.raises(IntegrityError), transaction.atomic():
        Follow.objects.create(follower=user)  # no target
    with pytest.raises(IntegrityError), transaction.atomic():
        Follow.objects.create(follower=user, author=author, user=user)  # two targets


# --- the digest ---------------------------------------------------------------------------


def subscribe(email):
    return Subscriber.objects.create(email=email, state=Subscriber.CONFIRMED, confirmed_at=timezone.now())


def send():
    return send_period(DigestPeriod.containing("daily", dt.date.fromisoformat(DAY)))


def parts(message):
    return (
        message.get_body(preferencelist=("plain",)).get_content(),
        message.get_body(preferencelist=("html",)).get_content(),
    )


def test_the_digest_of_a_verified_address_has_what_its_account_follows(
    client, smtp_server, alice, bob, corpus, settings
):
    settings.DIGEST_TOP_PAPERS = 1
    VerifiedEmail.objects.create(user=alice, email="alice@example.org")
    client.force_login(alice)
    follow(client, "author", "yann-lecun")
    follow(client, "user", "bob")
    follow(client, "author", "leon-bottou")
    subscribe("alice@example.org")
    subscribe("bob@example.org")  # bob's address, not verified: no such section, whatever bob follows
    Follow.objects.create(follower=bob, author=Author.objects.get(slug="hugo-touvron"))
    report = send()
    assert (report.sent, report.failed) == (2, 0)
    [mail] = smtp_server.handler.to("alice@example.org")
    text, html = parts(mail)
    section = text.index("FROM WHAT YOU FOLLOW")
    assert section < text.index("MOST UPVOTED")
    assert text.index("Convolutional nets", section) < text.index("MOST UPVOTED")
    # Each reason isolated (U+2068 … U+2069): a name's own direction stays its own.
    assert "\u2068by Yann LeCun (you follow)\u2069; \u2068by Léon Bottou (you follow)\u2069" in text
    assert "submitted by bob" in text and "Older LeCun" not in text  # another day's paper
    assert "From what you follow" in html and "by Yann LeCun (you follow)" in html
    # Most upvoted leaves out what was already shown: the top paper not followed.
    assert text.count("Unrelated") == 1
    [bobs] = smtp_server.handler.to("bob@example.org")
    assert "FROM WHAT YOU FOLLOW" not in parts(bobs)[0]
    # Exactly once: again sends nothing, and every shown paper is recorded once.
    assert send().sent == 0 and len(smtp_server.handler.messages) == 2
    followed = set(
        ShownPaper.objects.filter(subscriber__email="alice@example.org", followed=True).values_list(
            "paper_id", flat=True
        )
    )
    assert followed == {"2507.00001", "2507.00003"}
    # The web version shows the section as sent.
    web = re.search(r"Web version: http://testserver(\S+)", text)[1]
    page = client.get(web).content.decode()
    assert "From what you follow" in page and "Convolutional nets" in page
    assert Delivery.objects.filter(state=Delivery.SENT).count() == 2


# --- racing from real processes -----------------------------------------------------------

COUNT = "from paperwire.people.models import Follow; print(Follow.objects.count())"
SETUP = """
from django.contrib.auth.models import User
User.objects.create_user("racer", "racer@example.org", "pass phrase 51")
print("ok")
"""


def test_racing_follows_from_real_processes_make_one_row(tmp_path, database):
    home = tmp_path / "site"
    home.mkdir()
    env = paperwire_env(home, **database)
    data = write_jsonl(tmp_path / "p.jsonl", [paper("2507.00001", "Convolutional nets", authors=["Yann LeCun"])])
    assert run_paperwire("import", str(data), env=env).returncode == 0
    assert run_paperwire("shell", "-c", SETUP, env=env).stdout.strip().endswith("ok")
    site = start_site(home, "--workers", "3", wait_for_index=False, **database, PAPERWIRE_RATE_FOLLOW="1000/60")
    try:
        sessions = [site.log_in("racer", "pass phrase 51") for _ in range(6)]

        def post(session, action):
            opener, csrf = session
            body = urllib.parse.urlencode(
                {"csrfmiddlewaretoken": csrf, "kind": "author", "key": "yann-lecun", "action": action}
            )
            request = urllib.request.Request(
                f"{site.url}/follow", body.encode(), headers={"Accept": "application/json", "Referer": site.url}
            )
            with opener.open(request, timeout=30) as response:
                return response.status, json.loads(response.read())["following"]

        for round_ in range(4):
            with concurrent.futures.ThreadPoolExecutor(12) as pool:
                answers = list(pool.map(lambda s: post(s, "follow"), sessions * 2))
            assert answers == [(200, True)] * 12
            count = site.command(
                "shell", "-c", "from paperwire.people.models import Follow; print(Follow.objects.count())"
            )
            assert count.stdout.strip().endswith("\n1"), (round_, count.stderr)
            with concurrent.futures.ThreadPoolExecutor(12) as pool:
                answers = list(
                    pool.map(lambda s: post(s[0], s[1]), [(s, a) for s in sessions for a in ("follow", "unfollow")])
                )
            assert {status for status, _ in answers} == {200}
            count = site.command(
                "shell", "-c", "from paperwire.people.models import Follow; print(Follow.objects.count())"
            )
            assert count.stdout.strip()[-2:] in ("\n0", "\n1"), count.stderr
    finally:
        stop_site(site)


def test_a_hidden_profile_cannot_be_followed_but_can_be_unfollowed(client, alice, bob, corpus):
    client.force_login(alice)
    assert follow(client, "user", "bob").status_code == 302
    assert Follow.objects.filter(follower=alice, user=bob).count() == 1
    save_profile(bob, clean_profile({}))  # every box unticked: a hidden profile
    Follow.objects.all().delete()
    data = {"kind": "user", "key": "bob", "action": "follow"}
    response = client.post(reverse("follow"), data, HTTP_ACCEPT="application/json")
    assert response.status_code == 404
    assert json.loads(response.content) == {"error": "nothing to follow at this name"}
    assert follow(client, "user", "bob").status_code == 404 and not Follow.objects.exists()
    Follow.objects.create(follower=alice, user=bob)  # followed before the profile was hidden
    response = follow(client, "user", "bob", "unfollow", next="/following")
    assert response.status_code == 302 and response["Location"] == "/following"
    assert not Follow.objects.exists()


def test_nobody_is_offered_to_follow_their_own_author_page(client, alice, bob, corpus):
    Author.objects.filter(slug="yann-lecun").update(user=alice)
    client.force_login(alice)
    assert 'action="/follow"' not in client.get("/authors/yann-lecun").content.decode()
    client.force_login(bob)
    page = client.get("/authors/yann-lecun").content.decode()
    assert 'action="/follow"' in page and ">Follow<" in page
    follow(client, "author", "yann-lecun")
    page = client.get("/authors/yann-lecun").content.decode()
    assert 'title="You follow Yann LeCun: press to stop following" aria-pressed="true"' in page


def test_a_script_reads_the_following_feed_with_its_token(client, alice, corpus):
    from jsonschema import Draft202012Validator

    from paperwire.accounts.tokens import create_token
    from tests.test_openapi import response_schema

    client.force_login(alice)
    follow(client, "author", "yann-lecun")
    follow(client, "organization", Organization.objects.get(name="Meta AI").slug)
    _, secret = create_token(alice, "reader")
    script = Client()
    assert script.get("/api/following").status_code == 401  # no account: nothing to read
    answer = script.get("/api/following", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert answer.status_code == 200 and "private" in answer["Cache-Control"]
    items = answer.json()
    spec = client.get("/api/openapi.json").json()
    Draft202012Validator(response_schema(spec, "/api/following", 200)).validate(items)
    assert [(i["paper"]["id"], i["reasons"]) for i in items] == [  # newest first
        ("2507.00001", ["by Yann LeCun (you follow)"]),
        ("2507.00002", ["from Meta AI"]),
        ("2507.00005", ["by Yann LeCun (you follow)"]),  # as "Y. LeCun", on his page
    ]
    first = script.get("/api/following", {"limit": 1}, HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert len(first.json()) == 1 and 'rel="next"' in first["Link"]
    bad = script.get("/api/following", {"limit": 0}, HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert bad.status_code == 400


def test_an_account_follows_at_most_a_thousand(client, alice, bob, corpus, monkeypatch):
    from paperwire.people import following

    monkeypatch.setattr(following, "MAX_FOLLOWS", 2)
    client.force_login(alice)
    follow(client, "author", "yann-lecun")
    follow(client, "user", "bob")
    data = {"kind": "organization", "key": Organization.objects.get(name="Meta AI").slug, "action": "follow"}
    refused = client.post(reverse("follow"), data, HTTP_ACCEPT="application/json")
    assert refused.status_code == 409 and refused.json()["error"].startswith("You follow 2 authors, organizations")
    assert Follow.objects.filter(follower=alice).count() == 2
    follow(client, "author", "yann-lecun")  # following again what one follows is no new follow
    follow(client, "user", "bob", "unfollow")
    assert client.post(reverse("follow"), data, HTTP_ACCEPT="application/json").json()["following"] is True
