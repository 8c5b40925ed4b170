"""Public profiles (/u/<username>) and their settings (docs/community.md, "Profiles"): what a
reader sees, what the owner may say about themselves, and what is never shown."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from paperwire.accounts.models import VerifiedEmail
from paperwire.discussions.threads import post_comment
from paperwire.ingest.importer import import_files
from paperwire.papers.models import Paper, Submission, set_vote
from paperwire.people.claims import approve, request_claim
from paperwire.people.models import Profile
from tests.conftest import paper, write_jsonl

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_page_cache(settings):
    """Writes here commit with the test's transaction (never, for on_commit): the page cache is
    tested on its own below, with real commits."""
    settings.PAGE_CACHE_SECONDS = 0


@pytest.fixture
def papers(tmp_path):
    records = [
        paper("2501.00001", "Alice's own paper", authors=["Alice Liddell", "Ada Lovelace"], published="2025-01-02"),
        paper("2501.00002", "A paper Alice submitted", published="2025-01-03"),
        paper("2501.00003", "A paper Alice upvoted", published="2025-01-04"),
        paper("2501.00004", "A hidden paper", published="2025-01-05"),
    ]
    import_files([write_jsonl(tmp_path / "p.jsonl", records)], progress=False)
    Paper.objects.filter(pk="2501.00004").update(hidden=True)
    return {p.pk: p for p in Paper.objects.all()}


def edit(client, **values):
    form = {"display_name": "", "bio": "", "links": "", "public": "on"} | values
    return client.post(reverse("edit_profile"), {k: v for k, v in form.items() if v is not None})


def test_a_profile_shows_what_the_person_did(client, alice, bob, papers, django_user_model):
    staff = django_user_model.objects.create_superuser("staff", "staff@example.org", "pass phrase 99")
    VerifiedEmail.objects.create(user=alice, email="alice@example.org")
    approve(request_claim(alice, papers["2501.00001"], 0), staff)
    Paper.objects.filter(pk="2501.00002").update(submitter=alice)
    Submission.objects.create(user=alice, arxiv_id="2501.00002", paper=papers["2501.00002"])
    set_vote(alice, papers["2501.00003"], True)
    shown = post_comment(alice, papers["2501.00001"], "Shown **comment** about attention")
    post_comment(alice, papers["2501.00004"], "On a paper later hidden")
    gone = post_comment(alice, papers["2501.00002"], "A comment she deleted")
    gone.deleted_at, gone.body = gone.created_at, ""
    gone.save()
    hidden = post_comment(alice, papers["2501.00003"], "A comment a moderator hid")
    hidden.hidden = True
    hidden.save()

    page = client.get("/u/alice").content.decode()
    assert "<h1><bdi>alice</bdi></h1>" in page
    assert "Papers authored" in page and "Alice&#x27;s own paper" in page
    assert "Papers submitted" in page and "A paper Alice submitted" in page
    assert "Shown comment about attention" in page and f"#comment-{shown.pk}" in page
    assert "A comment she deleted" not in page and "moderator hid" not in page and "later hidden" not in page
    assert "A hidden paper" not in page
    # Upvotes are not shown until she opts in.
    assert "Papers upvoted" not in page and "A paper Alice upvoted" not in page
    client.force_login(alice)
    assert edit(client, upvotes_public="on").status_code == 302
    client.logout()
    page = client.get("/u/alice").content.decode()
    assert "Papers upvoted" in page and "A paper Alice upvoted" in page


def test_settings_save_a_profile_shown_escaped(client, alice):
    client.force_login(alice)
    settings_page = client.get(reverse("account_settings")).content.decode()
    assert 'action="/accounts/profile"' in settings_page and "/u/alice" in settings_page
    response = edit(
        client,
        display_name="Alice <script>alert(1)</script>",
        bio="Ich lese Papiere über Aufmerksamkeit.\n<img src=x onerror=alert(1)>",
        links="https://alice.example.org/\nhttp://lab.example.org/~alice",
    )
    assert response.status_code == 302 and response["Location"] == "/accounts/settings#profile"
    profile = Profile.objects.get(user=alice)
    assert profile.links == ["https://alice.example.org/", "http://lab.example.org/~alice"]
    client.logout()
    page = client.get("/u/alice").content.decode()
    assert "Alice &lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "<img src=x" not in page
    assert '<a href="https://alice.example.org/" rel="nofollow ugc noopener">' in page
    assert 'dir="auto"' in page


@pytest.mark.parametrize(
    "links",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "//evil.example/",
        "/relative",
        "vbscript:msgbox(1)",
        "https://ok.example/\n" * 6,
        "https://example.org/\u202egpj.exe",  # shown as .../exe.jpg
        "https://example.org/%E2%80%AEgpj.exe",  # the same, percent-encoded
        "https://exa\u200bmple.org/",
    ],
)
def test_links_other_than_http_are_refused(client, alice, links):
    client.force_login(alice)
    response = edit(client, links=links, bio="kept")
    body = response.content.decode()
    assert response.status_code == 400
    assert (
        "Only http:// and https:// addresses can be links" in body
        or "At most 5 links" in body
        or "written plainly" in body
    )
    assert "kept" in body  # what was typed stays in the form
    assert not Profile.objects.filter(user=alice, bio="kept").exists()


def test_a_long_bio_is_refused_and_a_huge_one_is_too_large(client, alice):
    client.force_login(alice)
    response = edit(client, bio="a" * 1001)
    assert response.status_code == 400 and "At most 1,000 characters (this has 1,001)." in response.content.decode()
    response = edit(client, bio="é" * (12 * 1024 * 1024))
    assert response.status_code == 413 and b"Too large" in response.content
    assert not Profile.objects.exclude(bio="").exists()


def test_a_nul_or_a_broken_character_is_refused(client, alice):
    client.force_login(alice)
    for bio in ["before\x00after", "bell\x07"]:
        response = edit(client, bio=bio)
        assert response.status_code == 400, bio
    # A lone surrogate cannot travel as UTF-8: a browser sends it as the bytes Django reads as U+FFFD.
    response = client.post(
        reverse("edit_profile"),
        b"bio=%ED%A0%80&display_name=x&public=on",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 302
    assert Profile.objects.get(user=alice).bio == "\ufffd\ufffd\ufffd"


text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]) | st.sampled_from("é\u202eمرحبا😀\x00\u200f"),
    max_size=120,
)


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=text, bio=text, link=text)
def test_hostile_profile_values_never_break_a_page(client, alice, settings, name, bio, link):
    settings.RATE_LIMITS = dict(settings.RATE_LIMITS, profile="100000/60")
    client.force_login(alice)
    response = edit(client, display_name=name, bio=bio, links=link)
    assert response.status_code in (302, 400)  # saved, or refused with the reason (below)
    if response.status_code == 400:
        assert b'class="errorlist' in response.content
    else:
        profile = Profile.objects.get(user=alice)
        assert "\x00" not in profile.display_name + profile.bio
        assert all(u.startswith(("http://", "https://")) for u in profile.links)
    page = client.get("/u/alice")
    assert page.status_code == 200
    assert b"<script" not in page.content.split(b"</head>")[1]


@pytest.mark.parametrize(
    "path",
    ["/u/nobody", "/u/%00", "/u/a%C0b", "/u/" + "x" * 151, "/u/..", "/u/%E2%80%AE", "/u/al%20ice", "/u/%ED%A0%80"],
)
def test_unknown_or_odd_usernames_are_404(client, alice, path):
    response = client.get(path)
    assert response.status_code == 404 and b"Page not found" in response.content


def test_odd_but_valid_usernames_have_pages(client):
    for name in ["José.García", "محمد", "a+b@c-d_e", "李伟"]:
        User.objects.create_user(name, "", "pass phrase 42")
        response = client.get(reverse("profile", args=[name]))
        assert response.status_code == 200 and name.encode() in response.content


def test_banned_inactive_and_hidden_profiles_are_404(client, alice, bob):
    alice.is_active = False
    alice.save()
    assert client.get("/u/alice").status_code == 404
    Profile.objects.create(user=bob, public=False)
    assert client.get("/u/bob").status_code == 404
    client.force_login(bob)
    own = client.get("/u/bob")
    assert own.status_code == 200 and b"it is hidden: only you see it" in own.content


def test_a_name_in_another_case_leads_to_the_profile_unless_it_is_hidden(client, alice, bob):
    response = client.get("/u/ALICE")
    assert response.status_code == 302 and response["Location"] == "/u/alice"
    Profile.objects.create(user=bob, public=False)
    response = client.get("/u/Bob")  # a hidden profile is not told to exist
    assert response.status_code == 404 and b"There is no profile at this address." in response.content
    client.force_login(bob)
    assert client.get("/u/Bob")["Location"] == "/u/bob"  # its owner is led to it
    client.logout()
    assert client.get("/u/ALICE-X").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_the_page_cache_forgets_a_profile_when_it_changes(client, alice, papers, settings):
    settings.PAGE_CACHE_SECONDS = 300
    anonymous = type(client)()
    first = anonymous.get("/u/alice")
    assert first["X-Cache"] == "miss" and b"Before" not in first.content
    assert anonymous.get("/u/alice")["X-Cache"] == "hit"
    client.force_login(alice)
    assert edit(client, bio="Before").status_code == 302
    response = anonymous.get("/u/alice")
    assert response["X-Cache"] == "miss" and b"Before" in response.content
    post_comment(alice, papers["2501.00001"], "A fresh comment")
    assert b"A fresh comment" in anonymous.get("/u/alice").content
    assert edit(client, bio="Before", public=None).status_code == 302
    assert anonymous.get("/u/alice").status_code == 404
    # The owner's own view is never cached, nor served from the cache.
    assert client.get("/u/alice").get("X-Cache") is None


def test_a_display_name_cannot_turn_the_text_after_it_around(client, alice):
    client.force_login(alice)
    for name in ("Alice \u202eevil", "\u2067Alice", "Alice\u202d"):
        response = edit(client, display_name=name)
        assert response.status_code == 400, name
        assert "a control character or a broken one" in response.content.decode()
    assert edit(client, display_name="\u05d0\u05dc\u05d9\u05e1 \u200fAlice").status_code == 302  # Hebrew, a mark


def test_a_comment_excerpt_shows_its_formulas_as_the_abstracts_do(client, alice, papers):
    post_comment(alice, papers["2501.00001"], "Cost $O(n^2)$ & *more* <b>x</b>")
    page = client.get("/u/alice").content.decode()
    excerpt = page.split('<p class="comment-excerpt" dir="auto">', 1)[1].split("</p>", 1)[0]
    assert excerpt == 'Cost <span class="maths">$O(n^2)$</span> &amp; more &lt;b&gt;x&lt;/b&gt;'
