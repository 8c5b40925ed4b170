"""Claims: "I am this author" from a paper's page, staff's queue in the admin, what an approved
claim changes (the author's page, paper pages, the API as huggingface.co shapes it), one account
per author, the rate limit and the page cache."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from huggingface_hub.hf_api import PaperInfo
from jsonschema import Draft202012Validator

from paperwire.accounts.models import VerifiedEmail
from paperwire.ingest.importer import import_files
from paperwire.papers.models import current_content_version
from paperwire.people.models import Author, AuthorClaim
from tests.conftest import paper, write_jsonl
from tests.test_openapi import response_schema
from tests.test_upgrade import visible_text

pytestmark = pytest.mark.django_db

DAY = "2025-03-10"
PAPERS = [
    paper("2503.00001", "Deep learning", authors=["Yann LeCun", "Yoshua Bengio"], upvotes=30, published=DAY),
    # "Y. LeCun" is on Yann LeCun's page: nothing contradicts it, Yoshua Bengio supports it.
    paper(
        "2503.00002",
        "Convolutional nets",
        authors=["Léon Bottou", "Y. LeCun", "Yoshua Bengio"],
        upvotes=20,
        published=DAY,
    ),
]
CLAIMS = "/admin/people/authorclaim/"


@pytest.fixture
def corpus(tmp_path):
    import_files([write_jsonl(tmp_path / "p.jsonl", PAPERS)], progress=False)


def verified(user) -> User:
    VerifiedEmail.objects.create(user=user, email=user.email)
    return user


def signed_in(client, user):
    client.force_login(user)
    return client


def claim(client, paper_id: str, position, follow: bool = True):
    return client.post(f"/papers/{paper_id}/claim", {"position": str(position)}, follow=follow)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def approve_in_admin(admin_client, *claims: AuthorClaim):
    data = {"action": "approve_claims", "_selected_action": [c.pk for c in claims]}
    return admin_client.post(CLAIMS, data, follow=True)


def test_a_claim_waits_for_staff_and_their_approval_links_the_account(client, admin_client, corpus, alice, bob):
    signed_in(client, verified(alice))
    response = claim(client, "2503.00002", 1, follow=False)  # "Y. LeCun", on Yann LeCun's page
    assert response.status_code == 302 and response["Location"] == "/papers/2503.00002#authors"
    response = client.get(response["Location"])
    assert messages_of(response) == [
        "Thanks: your claim to be “Yann LeCun” is waiting for staff. Once they approve it, the author's page shows "
        "your account."
    ]
    made = AuthorClaim.objects.get()
    assert (made.user, made.author.key, made.paper_id, made.name, made.state) == (
        alice, "yann|lecun", "2503.00002", "Y. LeCun", "pending",
    )  # fmt: skip
    assert "Y. LeCun your claim is waiting for staff" in visible_text(client.get("/papers/2503.00002").content)

    # Staff's queue shows it, with the address that was verified, and approves it.
    queue = admin_client.get(CLAIMS)
    assert queue.status_code == 200
    assert "alice@example.org" in visible_text(queue.content) and "Y. LeCun" in visible_text(queue.content)
    version = current_content_version()
    response = approve_in_admin(admin_client, made)
    assert "Approved 1 claim." in messages_of(response)
    assert current_content_version() != version
    made.refresh_from_db()
    assert made.state == "approved" and made.decided_at is not None
    assert Author.objects.get(key="yann|lecun").user == alice

    # A reader sees the account on the author's page, and the mark on every paper of the name.
    anonymous = type(client)()
    text = visible_text(anonymous.get("/authors/yann-lecun").content)
    assert "✓ On Paperwire as alice" in text
    for pid, name in (("2503.00001", "Yann LeCun"), ("2503.00002", "Y. LeCun")):
        body = anonymous.get(f"/papers/{pid}").content.decode()
        assert (
            f'<bdi>{name}</bdi></a><span class="on-site" title="On Paperwire as alice"><span aria-hidden="true">✓'
            in body
        ), pid
    # Alice sees she is on the paper, and no more buttons.
    body = client.get("/papers/2503.00002").content.decode()
    assert "You are on this paper as Y. LeCun ." in visible_text(body) and "This is me" not in body
    assert "Y. LeCun on Paperwire as alice" in visible_text(
        signed_in(type(client)(), verified(bob)).get("/papers/2503.00002").content
    )


def test_the_api_gives_a_claimed_author_its_user_as_huggingface_does(client, admin_client, corpus, alice):
    signed_in(client, verified(alice))
    claim(client, "2503.00001", 0)
    approve_in_admin(admin_client, AuthorClaim.objects.get())
    approved = AuthorClaim.objects.get().decided_at
    spec = client.get("/api/openapi.json").json()

    body = client.get("/api/papers/2503.00002").json()
    Draft202012Validator(response_schema(spec, "/api/papers/{id}", 200)).validate(body)
    unclaimed, claimed, _ = body["authors"]
    assert unclaimed == {"_id": "2503.00002-0", "name": "Léon Bottou", "hidden": False}
    assert list(claimed) == ["_id", "user", "name", "status", "statusLastChangedAt", "hidden"]  # huggingface.co's order
    assert claimed["user"] == {
        "_id": f"pw-user-{alice.pk}", "avatarUrl": "", "isPro": False, "fullname": "alice", "user": "alice",
        "type": "user",
    }  # fmt: skip
    assert (claimed["name"], claimed["status"], claimed["hidden"]) == ("Y. LeCun", "claimed_verified", False)
    assert (
        claimed["statusLastChangedAt"]
        == approved.strftime("%Y-%m-%dT%H:%M:%S.") + f"{approved.microsecond // 1000:03d}Z"
    )

    items = client.get("/api/daily_papers", {"date": DAY}).json()
    Draft202012Validator(response_schema(spec, "/api/daily_papers", 200)).validate(items)
    for item in items:
        info = PaperInfo(**item)  # huggingface_hub's own reading of it
        lecun = next(a for a in info.authors if "LeCun" in a.name)
        assert (lecun.user.username, lecun.status) == ("alice", "claimed_verified")
        assert lecun.status_last_changed_at is not None
        assert all(a.user is None for a in info.authors if a is not lecun)


def test_one_account_per_author(client, admin_client, corpus, alice, bob):
    signed_in(client, verified(alice))
    claim(client, "2503.00001", 0)
    bobs = type(client)()
    signed_in(bobs, verified(bob))
    claim(bobs, "2503.00002", 1)  # the same author, from the other paper
    first, second = AuthorClaim.objects.order_by("pk")
    response = approve_in_admin(admin_client, first)
    second.refresh_from_db()
    assert (second.state, second.note) == ("rejected", "Another account was linked to this author.")
    # A new claim on a claimed author is refused with the reason.
    response = claim(bobs, "2503.00001", 0)
    assert messages_of(response) == [
        "“Yann LeCun” is already linked to another account on Paperwire (alice): an author has one account. "
        "If that is wrong, write to the site's staff."
    ]
    assert AuthorClaim.objects.count() == 2
    # Approving a claim on an author another account holds is refused in the admin too.
    AuthorClaim.objects.filter(pk=second.pk).update(state="pending")
    response = approve_in_admin(admin_client, second)
    assert any("is linked to alice already: one account per author" in m for m in messages_of(response))
    assert Author.objects.get(key="yann|lecun").user == alice
    second.refresh_from_db()
    assert second.state == "pending"
    # Alice claiming her own author again is told so.
    assert messages_of(claim(client, "2503.00002", 1)) == ["“Yann LeCun” is already linked to your account."]


def test_claims_that_cannot_be_made(client, corpus, alice, bob):
    response = claim(client, "2503.00001", 0, follow=False)  # signed out
    assert response.status_code == 302 and response["Location"] == "/accounts/login?next=/papers/2503.00001"
    signed_in(client, alice)  # no verified address
    response = claim(client, "2503.00001", 0)
    assert messages_of(response) == [
        "Verify your email address first (the link of the mail sent at sign-up; your settings page sends it "
        "again): staff need it to check who you are."
    ]
    body = visible_text(response.content)
    assert (
        "To claim your name, first verify your email address: open the link of the mail sent when you signed up, "
        "or send it again from your settings page" in body
    )
    verified(alice)
    for position in ("", "x", "-1", "2", "99999999999999999999999"):
        assert messages_of(claim(client, "2503.00001", position)) == ["Choose your name among the paper's authors."]
    claim(client, "2503.00001", 1)
    assert messages_of(claim(client, "2503.00001", 1)) == [
        "Your claim to be “Yoshua Bengio” is already waiting for staff."
    ]
    assert AuthorClaim.objects.count() == 1
    assert client.post("/papers/2599.99999/claim", {"position": "0"}).status_code == 404
    assert client.get("/papers/2503.00001/claim").status_code == 405


def test_claims_are_rate_limited(client, corpus, alice, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "claim": "2/3600"}
    signed_in(client, verified(alice))
    for position in (0, 1):
        assert claim(client, "2503.00001", position, follow=False).status_code == 302
    response = claim(client, "2503.00002", 0, follow=False)
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert "Too many requests" in visible_text(response.content)
    assert AuthorClaim.objects.count() == 2


def test_rejection_and_unlinking(client, admin_client, corpus, alice):
    signed_in(client, verified(alice))
    claim(client, "2503.00001", 1)
    made = AuthorClaim.objects.get()
    response = admin_client.post(CLAIMS, {"action": "reject_claims", "_selected_action": [made.pk]}, follow=True)
    assert "Rejected 1 claim." in messages_of(response)
    made.refresh_from_db()
    assert made.state == "rejected" and Author.objects.get(key="yoshua|bengio").user is None
    # The queue shows waiting claims unless asked for others.
    assert "Yoshua Bengio" not in visible_text(admin_client.get(CLAIMS).content)
    assert "Yoshua Bengio" in visible_text(admin_client.get(CLAIMS, {"state": "rejected"}).content)
    # The user may claim again; once approved, staff can unlink it.
    claim(client, "2503.00001", 1)
    approve_in_admin(admin_client, AuthorClaim.objects.get(state="pending"))
    bengio = Author.objects.get(key="yoshua|bengio")
    assert bengio.user == alice
    version = current_content_version()
    data = {"action": "unlink_accounts", "_selected_action": [bengio.pk]}
    response = admin_client.post("/admin/people/author/", data, follow=True)
    assert "Unlinked 1 author." in messages_of(response)
    assert Author.objects.get(key="yoshua|bengio").user is None and current_content_version() != version
    assert "On Paperwire" not in visible_text(client.get("/authors/yoshua-bengio").content)


def test_approval_reaches_readers_served_from_the_page_cache(client, admin_client, corpus, alice, settings):
    settings.PAGE_CACHE_SECONDS = 300
    anonymous = type(client)()
    for path in ("/authors/yann-lecun", "/papers/2503.00001", "/api/papers/2503.00001"):
        assert "alice" not in anonymous.get(path).content.decode()
        assert anonymous.get(path)["X-Cache"] == "hit"
    signed_in(client, verified(alice))
    claim(client, "2503.00001", 0)
    approve_in_admin(admin_client, AuthorClaim.objects.get())
    for path in ("/authors/yann-lecun", "/papers/2503.00001", "/api/papers/2503.00001"):
        response = anonymous.get(path)
        assert response["X-Cache"] == "miss" and "alice" in response.content.decode(), path


def test_a_deleted_account_leaves_its_authors(client, admin_client, corpus, alice, django_capture_on_commit_callbacks):
    signed_in(client, verified(alice))
    claim(client, "2503.00001", 0)
    approve_in_admin(admin_client, AuthorClaim.objects.get())
    version = current_content_version()
    with django_capture_on_commit_callbacks(execute=True):
        alice.delete()
    assert Author.objects.get(key="yann|lecun").user is None and current_content_version() != version
    assert "On Paperwire" not in visible_text(client.get("/authors/yann-lecun").content)


def test_a_banned_account_is_shown_as_no_author_and_its_waiting_claims_are_rejected(
    client, admin_client, corpus, alice, bob, settings, django_capture_on_commit_callbacks
):
    settings.PAGE_CACHE_SECONDS = 300
    signed_in(client, verified(alice))
    claim(client, "2503.00001", 0)
    approve_in_admin(admin_client, AuthorClaim.objects.get())
    signed_in(client, verified(bob))
    claim(client, "2503.00001", 1)  # Yoshua Bengio: waiting for staff
    anonymous = type(client)()
    for path in ("/authors/yann-lecun", "/papers/2503.00001", "/api/papers/2503.00001"):
        assert "alice" in anonymous.get(path).content.decode() and anonymous.get(path)["X-Cache"] == "hit"

    data = {"action": "ban", "_selected_action": [alice.pk, bob.pk]}
    assert admin_client.post("/admin/auth/user/", data, follow=True).status_code == 200
    # Shown nowhere, at once (the cached pages are stale), the link kept for a reactivation.
    for path in ("/authors/yann-lecun", "/papers/2503.00001", "/api/papers/2503.00001"):
        response = anonymous.get(path)
        assert response["X-Cache"] == "miss" and "alice" not in response.content.decode(), path
    assert all("user" not in a for a in client.get("/api/papers/2503.00002").json()["authors"])
    assert Author.objects.get(key="yann|lecun").user == alice
    # Bob's waiting claim is rejected, and no approval can link a disabled account.
    waiting = AuthorClaim.objects.get(user=bob)
    assert (waiting.state, waiting.note) == (AuthorClaim.REJECTED, "The account was disabled.")
    AuthorClaim.objects.filter(pk=waiting.pk).update(state=AuthorClaim.PENDING)
    response = approve_in_admin(admin_client, waiting)
    assert "The account bob is disabled (banned): reject this claim." in response.content.decode()
    assert Author.objects.get(key="yoshua|bengio").user is None

    # Active again (the admin's form): shown again, and the cached pages know it.
    with django_capture_on_commit_callbacks(execute=True):
        alice.refresh_from_db()
        alice.is_active = True
        alice.save()
    response = anonymous.get("/authors/yann-lecun")
    assert response["X-Cache"] == "miss" and "On Paperwire as alice" in visible_text(response.content)


def test_the_list_of_names_opens_again_after_a_refused_claim_only(client, corpus, alice):
    signed_in(client, verified(alice))
    refused = claim(client, "2503.00001", 9)
    assert messages_of(refused) == ["Choose your name among the paper's authors."]
    assert '<details class="claim" open>' in refused.content.decode()
    made = claim(client, "2503.00001", 0)  # another message on the page: the list stays closed
    assert messages_of(made)[0].startswith("Thanks: your claim")
    assert '<details class="claim">' in made.content.decode() or "claim" not in made.content.decode()
    assert '<details class="claim" open>' not in made.content.decode()


def test_a_claimed_author_page_links_the_account_s_profile_while_others_may_see_it(client, admin_client, corpus, alice):
    from paperwire.people.profiles import clean_profile, save_profile

    signed_in(client, verified(alice))
    claim(client, "2503.00001", 0)
    approve_in_admin(admin_client, AuthorClaim.objects.get())
    reader = type(client)()
    assert '<a href="/u/alice"><strong>alice</strong></a>' in reader.get("/authors/yann-lecun").content.decode()
    save_profile(alice, clean_profile({}))  # hidden
    page = reader.get("/authors/yann-lecun?hidden").content.decode()
    assert "On Paperwire as <strong>alice</strong>" in page and 'href="/u/alice"' not in page
