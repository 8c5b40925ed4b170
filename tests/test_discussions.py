"""The rules of discussions (paperwire/discussions/threads.py): one level of replies, edits within
the window, deletes that leave a stub only above replies, one vote and one open report per person,
moderators' hiding, and the paper's count and the content version kept in step."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.contrib.auth.models import User

from paperwire.discussions import rendering
from paperwire.discussions.models import Comment, CommentReport, CommentVote
from paperwire.discussions.threads import (
    CommentError,
    delete_comment,
    edit_comment,
    erase_authors_comments,
    post_comment,
    report_comment,
    resolve_reports,
    set_comment_vote,
    set_hidden,
    threads,
    visible_count,
)
from paperwire.papers.models import Paper, current_content_version

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2025, 7, 22, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def attention():
    return Paper.objects.create(id="2410.10819", title="Attention sinks", abstract="...", num_comments=7)


def shown(paper) -> list[tuple[str, list[str]]]:
    """The threads as a reader sees them: each top comment's text (or its stub) and its replies'."""
    return [(t.stub or t.comment.body, [r.body for r in t.replies]) for t in threads(paper)]


def count(paper) -> int:
    paper.refresh_from_db()
    assert paper.local_comments == visible_count(paper)
    return paper.comment_count


def test_a_comment_and_replies_one_level_deep(attention, alice, bob):
    version = current_content_version()
    first = post_comment(alice, attention, "  First *thoughts*  ")
    assert current_content_version() != version
    assert first.body == "First *thoughts*" and first.html == "<p>First <em>thoughts</em></p>"
    reply = post_comment(bob, attention, "A reply", reply_to=first.pk)
    # A reply to a reply joins the thread of the top comment.
    again = post_comment(alice, attention, "A reply to the reply", reply_to=reply.pk)
    assert (reply.parent_id, again.parent_id) == (first.pk, first.pk)
    post_comment(bob, attention, "Second thread")
    assert shown(attention) == [
        ("First *thoughts*", ["A reply", "A reply to the reply"]),
        ("Second thread", []),
    ]
    assert count(attention) == 4


def test_the_imported_count_is_shown_until_there_are_local_comments(attention, alice):
    assert (attention.comment_count, attention.comments_are_local) == (7, False)
    comment = post_comment(alice, attention, "Hello")
    assert count(attention) == 1 and attention.comments_are_local
    delete_comment(alice, comment.pk)
    assert count(attention) == 7 and not attention.comments_are_local


@pytest.mark.parametrize(
    "body, error",
    [
        ("", "Write your comment first."),
        (" \n\t ", "Write your comment first."),
        (None, "Write your comment first."),
        ("a\x00b", "The comment holds a NUL character, which cannot be kept."),
        ("x" * 10_001, "A comment can be at most 10,000 characters long; this one has 10,001."),
    ],
)
def test_a_body_that_cannot_be_kept_is_refused_saying_why(attention, alice, body, error):
    with pytest.raises(CommentError) as refused:
        post_comment(alice, attention, body)
    assert refused.value.message == error and refused.value.status == 400
    assert Comment.objects.count() == 0 and count(attention) == 7


def test_the_longest_body_counts_line_ends_as_browsers_do(attention, alice):
    """A textarea's maxlength counts a line end as one character; the form posts it as two (CRLF)."""
    body = ("x" * 99 + "\r\n") * 100
    assert len(body.replace("\r\n", "\n").strip()) == rendering.MAX_BODY_CHARS - 1
    assert post_comment(alice, attention, body).body == body.replace("\r\n", "\n").strip()


def test_edits_within_the_window_only_by_the_author(attention, alice, bob, settings):
    settings.COMMENT_EDIT_MINUTES = 30
    with time_machine.travel(NOW, tick=False):
        comment = post_comment(alice, attention, "Frist")
    with time_machine.travel(NOW + dt.timedelta(minutes=30), tick=False):
        edited = edit_comment(alice, comment.pk, "First")
        assert (edited.body, edited.html, edited.edited_at) == ("First", "<p>First</p>", NOW + dt.timedelta(minutes=30))
        with pytest.raises(CommentError) as refused:
            edit_comment(bob, comment.pk, "Mine now")
        assert refused.value.status == 403
    with time_machine.travel(NOW + dt.timedelta(minutes=31), tick=False):
        with pytest.raises(CommentError) as refused:
            edit_comment(alice, comment.pk, "Too late")
    assert refused.value.message == ("A comment can be edited within 30 minutes of posting; this one can no longer be.")
    assert Comment.objects.get().body == "First"


def test_deleting_leaves_a_stub_only_above_replies(attention, alice, bob):
    lonely = post_comment(alice, attention, "Nobody answers")
    answered = post_comment(alice, attention, "Somebody answers")
    reply = post_comment(bob, attention, "I do", reply_to=answered.pk)
    vote = set_comment_vote(bob, answered.pk, True)
    assert vote == (1, True)
    delete_comment(alice, lonely.pk)
    delete_comment(alice, answered.pk)
    delete_comment(alice, answered.pk)  # twice is once
    assert shown(attention) == [("deleted", ["I do"])]
    stub = Comment.objects.get(pk=answered.pk)
    assert (stub.body, stub.html, stub.upvotes) == ("", "", 0) and not CommentVote.objects.exists()
    assert count(attention) == 1
    # A reply to the stub's thread is still welcome; when its last reply goes, the stub goes.
    post_comment(alice, attention, "Sorry, I deleted mine", reply_to=answered.pk)
    delete_comment(bob, reply.pk)
    assert shown(attention) == [("deleted", ["Sorry, I deleted mine"])]
    delete_comment(alice, Comment.objects.get(body="Sorry, I deleted mine").pk)
    assert shown(attention) == [] and count(attention) == 7
    with pytest.raises(CommentError) as refused:
        post_comment(bob, attention, "Hello?", reply_to=lonely.pk)
    assert refused.value.status == 409


def test_only_the_author_deletes(attention, alice, bob):
    comment = post_comment(alice, attention, "Mine")
    with pytest.raises(CommentError) as refused:
        delete_comment(bob, comment.pk)
    assert refused.value.status == 403 and Comment.objects.get().visible


def test_one_vote_per_person(attention, alice, bob, charlie):
    comment = post_comment(alice, attention, "Vote for me")
    assert set_comment_vote(bob, comment.pk, True) == (1, True)
    assert set_comment_vote(bob, comment.pk, True) == (1, True)
    assert set_comment_vote(charlie, comment.pk, True) == (2, True)
    assert set_comment_vote(bob, comment.pk, False) == (1, False)
    assert set_comment_vote(bob, comment.pk, False) == (1, False)
    assert Comment.objects.get().upvotes == CommentVote.objects.count() == 1


def test_a_banned_account_cannot_comment_or_vote(attention, alice, bob):
    comment = post_comment(alice, attention, "Hello")
    User.objects.filter(pk=bob.pk).update(is_active=False)
    bob.refresh_from_db()
    for attempt in (
        lambda: post_comment(bob, attention, "Spam"),
        lambda: set_comment_vote(bob, comment.pk, True),
        lambda: report_comment(bob, comment.pk, "spam"),
    ):
        with pytest.raises(CommentError) as refused:
            attempt()
        assert refused.value.status == 403
    assert Comment.objects.count() == 1 and not CommentVote.objects.exists()


def test_one_open_report_per_person_and_comment(attention, alice, bob, charlie, admin_user):
    comment = post_comment(alice, attention, "Buy cheap watches")
    report, new = report_comment(bob, comment.pk, "spam", "An advert")
    assert new and (report.reason, report.details) == ("spam", "An advert")
    assert report_comment(bob, comment.pk, "abuse") == (report, False)
    report_comment(charlie, comment.pk, "spam")
    with pytest.raises(CommentError) as refused:
        report_comment(alice, comment.pk, "spam")
    assert refused.value.status == 403
    with pytest.raises(CommentError) as refused:
        report_comment(charlie, comment.pk, "because")
    assert refused.value.message == "Choose a reason for the report."
    # Kept by a moderator: both reports are answered, and a new one may come.
    assert resolve_reports([report.pk], admin_user, hide=False) == (2, 0)
    assert not CommentReport.objects.filter(resolved_at__isnull=True).exists()
    assert report_comment(bob, comment.pk, "spam")[1]
    # Hidden: the comment is shown to no one, and its open reports are resolved.
    assert resolve_reports(CommentReport.objects.values_list("pk", flat=True), admin_user, hide=True) == (1, 1)
    assert shown(attention) == [] and count(attention) == 7
    assert set(CommentReport.objects.values_list("resolution", flat=True)) == {"kept", "hidden"}


def test_what_a_moderator_hid_or_must_judge_stays_for_them_when_its_author_deletes(attention, alice, bob, admin_user):
    """An author could erase the evidence: delete a hidden comment, or delete a reported one
    before the moderators saw it (its reports then resolved themselves as gone)."""
    hidden = post_comment(alice, attention, "abusive text EVIDENCE-1")
    report_comment(bob, hidden.pk, "abuse")
    resolve_reports(CommentReport.objects.values_list("pk", flat=True), admin_user, hide=True)
    with pytest.raises(CommentError) as refused:
        delete_comment(alice, hidden.pk)
    assert (refused.value.status, refused.value.message) == (
        409,
        "This comment was hidden by a moderator: it cannot be deleted.",
    )
    hidden.refresh_from_db()
    assert (hidden.body, hidden.deleted_at) == ("abusive text EVIDENCE-1", None)

    reported = post_comment(alice, attention, "abusive text EVIDENCE-2")
    report, _ = report_comment(bob, reported.pk, "abuse")
    delete_comment(alice, reported.pk)
    reported.refresh_from_db()
    assert reported.deleted_at is not None and reported.body == "abusive text EVIDENCE-2"  # for the moderators
    assert shown(attention) == [] and count(attention) == 7  # for no one else
    report.refresh_from_db()
    assert report.resolved_at is None  # still in their queue
    # Kept by the moderators: the author's deletion then takes its text.
    resolve_reports([report.pk], admin_user, hide=False)
    reported.refresh_from_db()
    assert (reported.body, reported.html) == ("", "")

    # Without reports, a deletion takes the text at once, as before.
    plain = post_comment(alice, attention, "just a thought")
    delete_comment(alice, plain.pk)
    plain.refresh_from_db()
    assert (plain.body, plain.html) == ("", "")


def test_a_hidden_comment_is_a_stub_above_its_replies_and_can_be_shown_again(attention, alice, bob):
    top = post_comment(alice, attention, "Rude words")
    post_comment(bob, attention, "Please be kind", reply_to=top.pk)
    assert set_hidden([top.pk], True) == 1
    assert shown(attention) == [("hidden", ["Please be kind"])] and count(attention) == 1
    with pytest.raises(CommentError):
        edit_comment(alice, top.pk, "Nice words")
    with pytest.raises(CommentError):
        set_comment_vote(bob, top.pk, True)
    assert set_hidden([top.pk], False) == 1
    assert shown(attention) == [("Rude words", ["Please be kind"])] and count(attention) == 2


def test_a_deleted_account_s_comments_go_as_if_it_had_deleted_them(attention, alice, bob):
    top = post_comment(alice, attention, "Mine")
    post_comment(bob, attention, "Answer", reply_to=top.pk)
    other = post_comment(bob, attention, "Bob's")
    set_comment_vote(alice, other.pk, True)
    alice.delete()
    assert shown(attention) == [("deleted", ["Answer"]), ("Bob's", [])]
    assert Comment.objects.get(pk=other.pk).upvotes == 0 and count(attention) == 2


def test_the_ban_withdraws_comment_votes(attention, alice, bob, admin_client):
    comment = post_comment(alice, attention, "Hello")
    set_comment_vote(bob, comment.pk, True)
    response = admin_client.post("/admin/auth/user/", {"action": "ban", "_selected_action": [bob.pk]}, follow=True)
    assert response.status_code == 200 and "Banned 1 users" in response.content.decode()
    assert Comment.objects.get().upvotes == 0 and not CommentVote.objects.exists()


def test_html_made_by_another_renderer_version_is_made_again(attention, alice):
    comment = post_comment(alice, attention, "*new*")
    Comment.objects.filter(pk=comment.pk).update(html="<p>old</p>", html_version="0/old")
    assert [t.comment.html for t in threads(attention)] == ["<p><em>new</em></p>"]
    assert Comment.objects.get().html_version == rendering.VERSION


def test_erasing_an_account_that_never_commented_changes_nothing(attention, alice):
    erase_authors_comments([alice.pk])
    assert count(attention) == 7
