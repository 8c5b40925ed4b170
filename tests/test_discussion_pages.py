"""The discussion on a paper's page, through its forms without JavaScript (post, redirect to the
comment's anchor, errors in place with the text kept) and with the script's JSON answers; the
rate limits; the counts on cards and in the API; and the page cache, which serves anonymous
readers and is refreshed by every comment action."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client

from paperwire.discussions.models import Comment, CommentReport, CommentVote
from paperwire.discussions.threads import delete_comment, post_comment, set_hidden
from paperwire.papers.models import Paper
from paperwire.people.profiles import clean_profile, save_profile

pytestmark = pytest.mark.django_db
PAGE = "/papers/2410.10819"
GONE = "The comment you replied to is not on this paper's page any more."
JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture(autouse=True)
def _room_to_write(settings):
    """These tests write more than the limits allow; the tests of the limits set their own."""
    kinds = ["comment", "comment_edit", "comment_vote", "comment_report"]
    settings.RATE_LIMITS = dict(settings.RATE_LIMITS, **{k: "1000/60" for k in kinds + [f"{k}_new" for k in kinds]})


@pytest.fixture
def attention():
    return Paper.objects.create(
        id="2410.10819",
        title="Attention sinks",
        abstract="An abstract.",
        num_comments=7,
        daily_date=dt.date(2024, 10, 14),
    )


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def comment_texts(html: str) -> list[str]:
    """The text of each comment's body on a page, in order (stubs as their words)."""
    found = re.findall(r'<div class="comment-body" dir="auto">(.*?)</div>|<p class="stub-text">(.*?)</p>', html, re.S)
    return [body or stub for body, stub in found]


def error_text(html: str) -> str:
    match = re.search(r'role="alert">(.*?)</p>', html, re.S)
    return unescape(match.group(1)) if match else ""


def test_a_comment_posted_without_javascript_shows_at_its_anchor(client, attention, alice):
    response = signed_in(alice).post(f"{PAGE}/comments", {"body": "Nice *result*: $O(n)$"})
    comment = Comment.objects.get()
    assert response.status_code == 302 and response["Location"] == f"{PAGE}#comment-{comment.pk}"
    page = client.get(PAGE).content.decode()
    assert f'id="comment-{comment.pk}"' in page
    assert comment_texts(page) == ['<p>Nice <em>result</em>: <span class="maths">$O(n)$</span></p>']
    assert '<a class="comment-author" href="/u/alice">alice</a>' in page  # their profile
    assert '<h2 id="discussion-heading">Discussion <span class="muted">(1)</span></h2>' in page
    assert '<a class="comments" href="#discussion">1 comment</a>' in page


def test_an_author_is_linked_to_their_profile_only_while_others_may_see_it(client, attention, alice, django_user_model):
    odd = django_user_model.objects.create_user("o'neil+test@x", password="pw-long-enough-1")
    post_comment(alice, attention, "Hello")
    post_comment(odd, attention, "Hi")
    page = client.get(PAGE).content.decode()
    assert '<a class="comment-author" href="/u/alice">alice</a>' in page
    assert '<a class="comment-author" href="/u/o%27neil%2Btest%40x">o&#x27;neil+test@x</a>' in page
    assert client.get("/u/o%27neil%2Btest%40x").status_code == 200  # the link leads to the page

    save_profile(alice, clean_profile({"public": ""}))  # the box unticked: hidden
    page = client.get(PAGE + "?after=hidden").content.decode()
    assert '<span class="comment-author">alice</span>' in page and 'href="/u/alice"' not in page
    assert client.get("/u/alice").status_code == 404

    django_user_model.objects.filter(pk=odd.pk).update(is_active=False)
    page = client.get(PAGE + "?after=inactive").content.decode()
    assert "/u/o%27neil" not in page


def test_an_anonymous_reader_sees_the_thread_and_no_form(client, attention, alice):
    post_comment(alice, attention, "Hello")
    page = client.get(PAGE).content.decode()
    assert comment_texts(page) == ["<p>Hello</p>"]
    assert "<form" not in page.split('id="discussion"')[1] and "csrfmiddlewaretoken" not in page
    assert '<a href="/accounts/login?next=/papers/2410.10819">Log in</a>' in page


def test_a_refused_comment_shows_its_error_in_place_and_keeps_the_text(attention, alice):
    long = "x" * 10_001
    response = signed_in(alice).post(f"{PAGE}/comments", {"body": long})
    page = response.content.decode()
    assert response.status_code == 400
    assert error_text(page) == "A comment can be at most 10,000 characters long; this one has 10,001."
    assert f'aria-invalid="true">{long}</textarea>' in page
    assert 'aria-describedby="new-comment_error new-comment_helptext"' in page
    assert Comment.objects.count() == 0


def test_a_reply_to_a_reply_joins_the_thread_and_errors_show_on_the_reply_page(attention, alice, bob):
    top = post_comment(alice, attention, "Top")
    reply = post_comment(bob, attention, "Reply", reply_to=top.pk)
    page = signed_in(alice).get(f"/comments/{reply.pk}/reply").content.decode()
    assert (
        "<h1>Reply to bob</h1>" in page
        and '<blockquote class="comment-body reported-body" dir="auto"><p>Reply</p>' in page
    )
    assert f'<form class="comment-form" method="post" action="/comments/{reply.pk}/reply">' in page
    response = signed_in(alice).post(f"/comments/{reply.pk}/reply", {"body": "Answer"})
    answer = Comment.objects.get(body="Answer")
    assert answer.parent_id == top.pk and response["Location"] == f"{PAGE}#comment-{answer.pk}"
    # Refused: the error beside the reply's field, the text kept.
    response = signed_in(bob).post(f"/comments/{answer.pk}/reply", {"body": "x" * 10_001})
    page = response.content.decode()
    assert response.status_code == 400 and f'id="reply-{answer.pk}_error"' in page
    assert error_text(page) == "A comment can be at most 10,000 characters long; this one has 10,001."
    assert f'aria-invalid="true">{"x" * 10_001}</textarea>' in page
    # A reply whose thread is gone: refused, the text kept.
    lonely = post_comment(alice, attention, "Lonely")
    signed_in(alice).post(f"/comments/{lonely.pk}/delete")
    response = signed_in(bob).post(f"/comments/{lonely.pk}/reply", {"body": "Too late"})
    page = response.content.decode()
    assert response.status_code == 409 and error_text(page) == (
        "The comment you replied to was deleted: your reply was not posted."
    )
    assert 'aria-invalid="true">Too late</textarea>' in page
    # A script's reply through the paper's form (reply_to): refused ones go to the new comment's form.
    response = signed_in(bob).post(f"{PAGE}/comments", {"body": "Via the form", "reply_to": lonely.pk})
    page = response.content.decode()
    assert response.status_code == 409 and 'aria-invalid="true">Via the form</textarea>' in page
    assert 'id="new-comment_error"' in page
    for bad in ["x", "-1", "99999999999999999999999", "1e3", "٣"]:
        response = signed_in(bob).post(f"{PAGE}/comments", {"body": "Hi", "reply_to": bad})
        assert response.status_code == 404, bad
        assert error_text(response.content.decode()) == GONE
    assert Comment.objects.count() == 4


def test_json_answers_for_the_script(attention, alice, bob):
    response = signed_in(alice).post(f"{PAGE}/comments", {"body": "*Hi*"}, **JSON)
    comment = Comment.objects.get()
    assert response.status_code == 201
    data = response.json()
    assert (data["id"], data["numComments"], data["url"]) == (comment.pk, 1, f"{PAGE}#comment-{comment.pk}")
    assert data["html"].startswith(f'<article class="comment" id="comment-{comment.pk}">')
    assert '<div class="comment-body" dir="auto"><p><em>Hi</em></p></div>' in data["html"]
    response = signed_in(bob).post(f"/comments/{comment.pk}/vote", {"action": "up"}, **JSON)
    assert response.json() == {"id": comment.pk, "upvotes": 1, "voted": True}
    response = signed_in(bob).post(f"{PAGE}/comments", {"body": " "}, **JSON)
    assert (response.status_code, response.json()) == (400, {"error": "Write your comment first."})
    response = Client().post(f"{PAGE}/comments", {"body": "Hi"}, **JSON)
    assert (response.status_code, response.json()) == (401, {"error": "log in to take part in the discussion"})
    response = signed_in(alice).post(f"/comments/{comment.pk}/delete", **JSON)
    assert response.status_code == 200 and response.json()["html"] == "" and response.json()["numComments"] == 7


def test_editing_through_the_edit_page(attention, alice, bob, settings):
    settings.COMMENT_EDIT_MINUTES = 15
    now = dt.datetime(2025, 7, 22, 12, 0, tzinfo=dt.UTC)
    with time_machine.travel(now, tick=False):
        comment = post_comment(alice, attention, "Frist")
        page = signed_in(alice).get(f"/comments/{comment.pk}/edit").content.decode()
        assert f'<textarea id="edit-{comment.pk}" name="body"' in page and ">Frist</textarea>" in page
        assert "It can be edited until Jul 22, 2025, 12:15 UTC." in page
        assert signed_in(bob).get(f"/comments/{comment.pk}/edit").status_code == 404
        response = signed_in(bob).post(f"/comments/{comment.pk}/edit", {"body": "Bob was here"})
        assert response.status_code == 403 and error_text(response.content.decode()) == (
            "Only its author can change a comment."
        )
        response = signed_in(alice).post(f"/comments/{comment.pk}/edit", {"body": "First"})
        assert response["Location"] == f"{PAGE}#comment-{comment.pk}"
        page = Client().get(PAGE).content.decode()
        assert comment_texts(page) == ["<p>First</p>"] and '<span class="comment-edited"' in page
    with time_machine.travel(now + dt.timedelta(minutes=16), tick=False):
        page = signed_in(alice).get(PAGE).content.decode()
        assert 'class="comment-edit"' not in page
        assert (
            "comments can be edited within 15 minutes of posting"
            in signed_in(alice).get(f"/comments/{comment.pk}/edit").content.decode()
        )
        response = signed_in(alice).post(f"/comments/{comment.pk}/edit", {"body": "Late"})
        page = response.content.decode()
        assert response.status_code == 403 and ">Late</textarea>" in page
        assert error_text(page) == "A comment can be edited within 15 minutes of posting; this one can no longer be."
    assert Comment.objects.get().body == "First"


def test_deleting_without_javascript(client, attention, alice, bob):
    top = post_comment(alice, attention, "Top")
    post_comment(bob, attention, "Reply", reply_to=top.pk)
    response = signed_in(bob).post(f"/comments/{top.pk}/delete")
    assert response.status_code == 403 and Comment.objects.get(pk=top.pk).visible
    response = signed_in(alice).post(f"/comments/{top.pk}/delete", follow=True)
    page = response.content.decode()
    assert response.redirect_chain == [(f"{PAGE}#comment-{top.pk}", 302)]
    assert "Your comment was deleted." in page
    assert comment_texts(client.get(PAGE).content.decode()) == ["This comment was deleted.", "<p>Reply</p>"]
    assert signed_in(alice).get(f"/comments/{top.pk}/delete").status_code == 405


def test_reporting_through_the_report_page(attention, alice, bob):
    comment = post_comment(alice, attention, "Buy watches")
    page = signed_in(bob).get(f"/comments/{comment.pk}/report").content.decode()
    assert '<input type="radio" name="reason" value="spam" required>' in page
    response = signed_in(bob).post(f"/comments/{comment.pk}/report", {"reason": "", "details": "an advert"})
    page = response.content.decode()
    assert response.status_code == 400 and error_text(page) == "Choose a reason for the report."
    assert ">an advert</textarea>" in page
    response = signed_in(bob).post(
        f"/comments/{comment.pk}/report", {"reason": "spam", "details": "an ad"}, follow=True
    )
    assert "Thank you: the moderators will look at it." in response.content.decode()
    assert '<span class="comment-reported">Reported</span>' in response.content.decode()
    response = signed_in(bob).post(f"/comments/{comment.pk}/report", {"reason": "abuse"}, follow=True)
    assert "You have reported this comment already." in response.content.decode()
    assert list(CommentReport.objects.values_list("reason", "details")) == [("spam", "an ad")]
    assert signed_in(alice).post(f"/comments/{comment.pk}/report", {"reason": "spam"}).status_code == 403


def test_voting_without_javascript_goes_back_to_the_comment(attention, alice, bob):
    comment = post_comment(alice, attention, "Vote")
    response = signed_in(bob).post(f"/comments/{comment.pk}/vote", {"action": "up"})
    assert response["Location"] == f"{PAGE}#comment-{comment.pk}"
    page = signed_in(bob).get(PAGE).content.decode()
    assert 'class="vote comment-vote voted"' in page and '<span class="count">1</span>' in page
    signed_in(bob).post(f"/comments/{comment.pk}/vote", {"action": "down"})
    assert Comment.objects.get().upvotes == 0 and not CommentVote.objects.exists()


def test_anonymous_writes_go_to_the_login_page(attention, alice):
    comment = post_comment(alice, attention, "Hi")
    for path in [f"{PAGE}/comments", f"/comments/{comment.pk}/vote", f"/comments/{comment.pk}/delete"]:
        response = Client().post(path, {"body": "x"})
        assert response.status_code == 302 and response["Location"] == f"/accounts/login?next={PAGE}", path


def test_a_banned_account_s_session_can_no_longer_write(attention, alice, bob, admin_client):
    comment = post_comment(alice, attention, "Hi")
    bobs = signed_in(bob)
    admin_client.post("/admin/auth/user/", {"action": "ban", "_selected_action": [bob.pk]})
    response = bobs.post(f"{PAGE}/comments", {"body": "Spam"})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login")
    bobs.post(f"/comments/{comment.pk}/vote", {"action": "up"})
    assert Comment.objects.count() == 1 and not CommentVote.objects.exists()


def test_unknown_comments_and_pages_of_comments_are_404(client, attention, alice):
    assert signed_in(alice).post("/comments/999/vote").status_code == 404
    assert signed_in(alice).get("/comments/99999999999999999999/edit").status_code == 404
    for page in ["0", "2", "x", "-1", "1" * 30, "٣"]:
        assert client.get(f"{PAGE}?comments={page}").status_code == 404, page
    assert client.get(f"{PAGE}?comments=1").status_code == 200


def test_hostile_text_is_shown_as_text(client, attention, alice):
    post_comment(alice, attention, "<script>alert(1)</script> [x](javascript:alert(1)) <img src=x onerror=alert(1)>")
    page = client.get(PAGE).content.decode()
    assert comment_texts(page) == [
        "<p>&lt;script&gt;alert(1)&lt;/script&gt; [x](javascript:alert(1)) &lt;img src=x onerror=alert(1)&gt;</p>"
    ]
    assert "<script>alert" not in page


# --- rate limits ----------------------------------------------------------------------------------


def test_comments_are_rate_limited_per_account_and_harder_for_new_accounts(attention, settings):
    settings.RATE_LIMITS = dict(settings.RATE_LIMITS, comment="4/600", comment_new="2/600")
    settings.NEW_ACCOUNT_HOURS = 24
    old = User.objects.create_user("old", password="a long pass phrase")
    User.objects.filter(pk=old.pk).update(date_joined=dt.datetime.now(dt.UTC) - dt.timedelta(days=2))
    new = User.objects.create_user("new", password="a long pass phrase")
    answers = [signed_in(new).post(f"{PAGE}/comments", {"body": f"new {n}"}).status_code for n in range(2)]
    assert answers == [302, 302]
    refused = signed_in(new).post(f"{PAGE}/comments", {"body": "new 2"}, **JSON)
    assert refused.status_code == 429 and refused.json()["error"].startswith(
        "Too many comments for a new account (a stricter limit for its first 24 hours): try again in"
    )
    answers = [signed_in(old).post(f"{PAGE}/comments", {"body": f"old {n}"}).status_code for n in range(5)]
    assert answers == [302, 302, 302, 302, 429]
    response = signed_in(old).post(f"{PAGE}/comments", {"body": "more"}, **JSON)
    assert response.status_code == 429 and response.json()["error"].startswith("Too many comments: try again in")
    assert int(response["Retry-After"]) > 0
    assert Comment.objects.count() == 6


@pytest.mark.parametrize(
    "kind, path, fields",
    [
        ("comment_vote", "/comments/{pk}/vote", {"action": "up"}),
        ("comment_edit", "/comments/{pk}/edit", {"body": "edited"}),
        ("comment_report", "/comments/{pk}/report", {"reason": "spam"}),
    ],
)
def test_votes_edits_and_reports_are_rate_limited(attention, alice, bob, settings, kind, path, fields):
    settings.RATE_LIMITS = dict(settings.RATE_LIMITS, **{kind: "1/600", f"{kind}_new": "1/600"})
    mine = post_comment(bob if kind == "comment_edit" else alice, attention, "Hi")
    client = signed_in(bob)
    first = client.post(path.format(pk=mine.pk), fields)
    second = client.post(path.format(pk=mine.pk), fields)
    assert (first.status_code, second.status_code) == (302, 429), kind


# --- counts and the cache -------------------------------------------------------------------------


def test_cards_and_the_api_show_the_local_count_once_there_is_one(client, attention, alice):
    def shown() -> tuple[str, int, int]:
        card = client.get("/papers/date/2024-10-14").content.decode()
        # Local comments link to the discussion; Hugging Face's count is text (nothing to read here).
        found = re.search(r'<(span|a) class="comments"([^>]*)>([^<]*)</(?:span|a)>', card)
        element, attributes, stats = found.groups()
        local = 'href="/papers/2410.10819#discussion"' in attributes
        assert (element == "a") == local and (element == "span") == ("Hugging Face" in attributes)
        day = client.get("/api/daily_papers?date=2024-10-14").json()[0]
        one = client.get("/api/papers/2410.10819").json()
        assert day["paper"]["numComments"] == day["numComments"]
        return stats, day["numComments"], one["numComments"]

    assert shown() == ("7 comments", 7, 7)
    comment = post_comment(alice, attention, "Hi")
    assert shown() == ("1 comment", 1, 1)
    signed_in(alice).post(f"/comments/{comment.pk}/delete")
    assert shown() == ("7 comments", 7, 7)


def test_every_comment_action_refreshes_the_anonymous_page(client, attention, alice, bob, admin_client):
    def anonymous() -> tuple[str, list[str]]:
        response = client.get(PAGE)
        again = client.get(PAGE)
        assert again["X-Cache"] == "hit" and again.content == response.content
        return response["X-Cache"], comment_texts(response.content.decode())

    assert anonymous() == ("miss", [])
    assert anonymous() == ("hit", [])
    signed_in(alice).post(f"{PAGE}/comments", {"body": "One"})
    one = Comment.objects.get()
    assert anonymous() == ("miss", ["<p>One</p>"])
    signed_in(bob).post(f"{PAGE}/comments", {"body": "Two", "reply_to": one.pk})
    assert anonymous() == ("miss", ["<p>One</p>", "<p>Two</p>"])
    signed_in(alice).post(f"/comments/{one.pk}/edit", {"body": "Uno"})
    assert anonymous() == ("miss", ["<p>Uno</p>", "<p>Two</p>"])
    signed_in(bob).post(f"/comments/{one.pk}/vote", {"action": "up"})
    page = client.get(PAGE)
    assert page["X-Cache"] == "miss" and '<span class="count">1</span>' in page.content.decode()
    signed_in(alice).post(f"/comments/{one.pk}/delete")
    assert anonymous() == ("miss", ["This comment was deleted.", "<p>Two</p>"])
    two = Comment.objects.get(body="Two")
    admin_client.post("/admin/discussions/comment/", {"action": "hide", "_selected_action": [two.pk]})
    assert anonymous() == ("miss", [])
    # A report changes nothing a reader sees: the cached page stays.
    admin_client.post("/admin/discussions/comment/", {"action": "unhide", "_selected_action": [two.pk]})
    assert anonymous() == ("miss", ["This comment was deleted.", "<p>Two</p>"])
    signed_in(alice).post(f"/comments/{two.pk}/report", {"reason": "spam"})
    assert anonymous() == ("hit", ["This comment was deleted.", "<p>Two</p>"])


def test_no_reply_form_nor_reply_for_a_reply_shown_to_no_one(attention, alice, bob):
    """The reply page named the author of a deleted or hidden reply (any signed-in user could walk
    the ids), and a reply to it went into the thread."""
    top = post_comment(alice, attention, "Top")
    deleted = post_comment(bob, attention, "Oops", reply_to=top.pk)
    hidden = post_comment(bob, attention, "Rude", reply_to=top.pk)
    delete_comment(bob, deleted.pk)
    set_hidden([hidden.pk], True)
    client = signed_in(alice)
    for gone in (deleted, hidden):
        response = client.get(f"/comments/{gone.pk}/reply")
        assert response.status_code == 404 and "bob" not in response.content.decode()
        response = client.post(f"/comments/{gone.pk}/reply", {"body": "to nobody"}, HTTP_ACCEPT="application/json")
        assert response.status_code == 409
        assert response.json() == {"error": "The comment you replied to was deleted: your reply was not posted."}
    assert not Comment.objects.filter(body="to nobody").exists()
    # A top comment deleted above visible replies is still a thread to reply in.
    reply = post_comment(bob, attention, "Visible", reply_to=top.pk)
    delete_comment(alice, top.pk)
    assert client.get(f"/comments/{top.pk}/reply").status_code == 200
    assert client.get(f"/comments/{reply.pk}/reply").status_code == 200
