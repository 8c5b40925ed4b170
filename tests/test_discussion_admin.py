"""Moderation in the admin: the queue of open reports, hiding and showing comments, resolving
reports; every change keeps the paper's count and the pages in step."""

from __future__ import annotations

import pytest

from paperwire.discussions.models import Comment, CommentReport
from paperwire.discussions.threads import post_comment, report_comment, visible_count
from paperwire.papers.models import Paper

pytestmark = pytest.mark.django_db


@pytest.fixture
def reported(alice, bob, charlie):
    paper = Paper.objects.create(id="2410.10819", title="Attention sinks", abstract="...")
    spam = post_comment(alice, paper, "Buy **cheap** watches")
    fine = post_comment(alice, paper, "A fair point")
    report_comment(bob, spam.pk, "spam", "an advert")
    report_comment(charlie, spam.pk, "abuse")
    report_comment(bob, fine.pk, "off-topic")
    return paper, spam, fine


def queue(admin_client, query: str = "") -> str:
    response = admin_client.get("/admin/discussions/commentreport/" + query)
    assert response.status_code == 200
    return response.content.decode()


def test_the_queue_lists_open_reports(admin_client, reported):
    _, spam, fine = reported
    page = queue(admin_client)
    assert page.count('<td class="field-reason">') == 3
    assert "Buy **cheap** watches" in page and "an advert" in page
    assert "3 comment reports" in page


def test_hiding_from_the_queue_resolves_every_report_of_the_comment(admin_client, reported, admin_user):
    paper, spam, fine = reported
    one = CommentReport.objects.filter(comment=spam).first()
    response = admin_client.post(
        "/admin/discussions/commentreport/", {"action": "hide_comments", "_selected_action": [one.pk]}, follow=True
    )
    assert "Hid 1 comment; resolved 2 reports." in response.content.decode()
    assert Comment.objects.get(pk=spam.pk).hidden
    paper.refresh_from_db()
    assert paper.local_comments == visible_count(paper) == 1
    assert queue(admin_client).count('<td class="field-reason">') == 1
    assert set(CommentReport.objects.filter(comment=spam).values_list("resolution", "resolved_by")) == {
        ("hidden", admin_user.pk)
    }
    page = queue(admin_client, "?status=resolved")
    assert page.count('<td class="field-reason">') == 2 and "comment hidden" in page


def test_keeping_a_comment_resolves_its_reports(admin_client, reported):
    _, _, fine = reported
    report = CommentReport.objects.get(comment=fine)
    response = admin_client.post(
        "/admin/discussions/commentreport/", {"action": "keep_comments", "_selected_action": [report.pk]}, follow=True
    )
    assert "Kept the comments; resolved 1 report." in response.content.decode()
    assert Comment.objects.get(pk=fine.pk).visible
    assert CommentReport.objects.get(pk=report.pk).resolution == "kept"


def test_comments_are_hidden_and_shown_again_from_their_list(admin_client, reported):
    paper, spam, _ = reported
    page = admin_client.get("/admin/discussions/comment/?state=visible").content.decode()
    assert "A fair point" in page and "Buy **cheap** watches" in page
    admin_client.post("/admin/discussions/comment/", {"action": "hide", "_selected_action": [spam.pk]})
    assert "Buy **cheap** watches" in admin_client.get("/admin/discussions/comment/?state=hidden").content.decode()
    assert not CommentReport.objects.filter(comment=spam, resolved_at__isnull=True).exists()
    admin_client.post("/admin/discussions/comment/", {"action": "unhide", "_selected_action": [spam.pk]})
    paper.refresh_from_db()
    assert paper.local_comments == 2


def test_a_comment_s_page_shows_it_as_rendered_and_cannot_be_edited(admin_client, reported):
    _, spam, _ = reported
    page = admin_client.get(f"/admin/discussions/comment/{spam.pk}/change/").content.decode()
    assert '<div class="comment-body"><p>Buy <strong>cheap</strong> watches</p></div>' in page
    assert f'href="/papers/2410.10819#comment-{spam.pk}"' in page
    assert 'name="body"' not in page and 'name="hidden"' not in page
    assert "&lt;p&gt;Buy" not in page and ">Html:<" not in page  # the raw HTML is not shown beside it
    assert admin_client.get("/admin/discussions/comment/add/").status_code == 403


def test_deleting_in_the_admin_recounts(admin_client, reported):
    paper, spam, _ = reported
    admin_client.post(f"/admin/discussions/comment/{spam.pk}/delete/", {"post": "yes"})
    paper.refresh_from_db()
    assert not Comment.objects.filter(pk=spam.pk).exists() and paper.local_comments == 1
