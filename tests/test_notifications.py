"""Notifications of comments by email, against a real SMTP server on loopback (aiosmtpd): who is
told, batching (time pinned), switching off, unverified addresses, hidden comments, one-click
unsubscribe, hostile comments, and a server that hangs or refuses."""

import datetime as dt
import re

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from paperwire.accounts.models import VerifiedEmail
from paperwire.digests.models import NotificationEvent, NotificationMail, NotificationSettings
from paperwire.digests.notify import EXCERPT_CHARS, send_notifications
from paperwire.digests.tokens import notification_token
from paperwire.discussions.threads import delete_comment, post_comment, set_hidden
from paperwire.ingest.importer import import_files
from paperwire.papers.models import Paper
from paperwire.people.claims import approve, request_claim
from tests.conftest import PINNED_NOW, paper, write_jsonl

pytestmark = pytest.mark.django_db
PAPER = "2507.20001"
LINK = re.compile(r"http://testserver(/\S+)")


@pytest.fixture(autouse=True)
def _base_url(settings):
    settings.BASE_URL = "http://testserver"


@pytest.fixture
def corpus(tmp_path):
    records = [
        paper(PAPER, "Sparse attention <b>for</b> long documents", authors=["Alice Adams", "Dora Diaz"]),
        paper("2507.20002", "Another paper", authors=["Erin Evans"]),
    ]
    import_files([write_jsonl(tmp_path / "p.jsonl", records)], progress=False)
    return Paper.objects.get(pk=PAPER)


def verify(*users):
    for user in users:
        VerifiedEmail.objects.create(user=user, email=user.email)


def mails_to(smtp_server, user) -> list:
    return smtp_server.handler.to(user.email)


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def html_of(message) -> str:
    return message.get_body(("html",)).get_content()


def test_a_reply_is_mailed_once_with_its_excerpt_a_working_link_and_one_click_headers(corpus, alice, bob, smtp_server):
    verify(alice, bob)
    top = post_comment(alice, corpus, "Does this scale to **books**?")
    reply = post_comment(bob, corpus, "Yes: see <section 4> & the *appendix*.", reply_to=top.pk)
    report = send_notifications()
    assert (report.sent, report.problem) == (1, "")
    [message] = smtp_server.handler.messages
    assert message["To"] == "alice@example.org"
    assert message["Subject"] == "A new comment for you on Paperwire"
    unsubscribe = message["List-Unsubscribe"].strip()
    assert re.fullmatch(r"<http://testserver/notifications/unsubscribe/\S+>", unsubscribe)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"] == f"<notify.{alice.pk}.1@testserver>"
    text = text_of(message)
    assert "bob commented on “Sparse attention <b>for</b> long documents” (a reply to your comment):" in text
    assert "Yes: see <section 4> & the appendix." in text  # the rendered text, not the Markdown
    assert f"http://testserver/papers/{PAPER}#comment-{reply.pk}" in text
    html = html_of(message)
    assert "Yes: see &lt;section 4&gt; &amp; the appendix." in html
    assert "Sparse attention &lt;b&gt;for&lt;/b&gt; long documents" in html
    assert f'href="http://testserver/papers/{PAPER}#comment-{reply.pk}"' in html
    # The link leads to the comment on the paper's page.
    page = Client().get(f"/papers/{PAPER}")
    assert page.status_code == 200 and f'id="comment-{reply.pk}"'.encode() in page.content
    # Exactly once: the next runs send nothing.
    assert send_notifications().sent == 0
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)):
        assert send_notifications().sent == 0
    assert len(smtp_server.handler.messages) == 1
    assert NotificationMail.objects.get().state == NotificationMail.SENT


def test_submitter_and_claimed_author_are_told_one_entry_each_never_of_their_own_comment(
    corpus, alice, bob, charlie, admin_user, smtp_server
):
    verify(alice, bob, charlie)
    Paper.objects.filter(pk=PAPER).update(submitter=alice)
    approve(request_claim(charlie, corpus, 1), admin_user)  # charlie is Dora Diaz
    mine = post_comment(alice, corpus, "Submitter here.")  # alice: her own comment, nothing
    post_comment(bob, corpus, "A question for the authors.")  # alice (submitter), charlie (author)
    post_comment(charlie, corpus, "Author here, thanks.", reply_to=mine.pk)  # alice: reply + submitter: one entry
    assert send_notifications().sent == 2
    [to_alice] = mails_to(smtp_server, alice)
    [to_charlie] = mails_to(smtp_server, charlie)
    assert not mails_to(smtp_server, bob)
    text = text_of(to_alice)
    assert to_alice["Subject"] == "2 new comments for you on Paperwire"
    assert text.count("commented on") == 2
    assert "bob commented on “Sparse attention <b>for</b> long documents” (on a paper you submitted)" in text
    assert (
        "charlie commented on “Sparse attention <b>for</b> long documents” "
        "(a reply to your comment, on a paper you submitted)" in text
    )
    assert "alice commented" not in text
    assert "bob commented on “Sparse attention <b>for</b> long documents” (on a paper you authored)" in text_of(
        to_charlie
    )
    assert "charlie commented" not in text_of(to_charlie)
    assert NotificationEvent.objects.filter(user=alice).count() == 2


def test_self_reply_and_comments_on_ones_own_paper_mail_nothing(corpus, alice, smtp_server):
    verify(alice)
    Paper.objects.filter(pk=PAPER).update(submitter=alice)
    top = post_comment(alice, corpus, "A note.")
    post_comment(alice, corpus, "Another note.", reply_to=top.pk)
    assert send_notifications().sent == 0
    assert not smtp_server.handler.messages and not NotificationEvent.objects.exists()


def test_a_reply_to_a_reply_tells_both_the_reply_s_author_and_the_thread_s(corpus, alice, bob, charlie):
    """Replies go one level deep: Charlie's answer to Bob's reply joins Alice's thread, and both
    Bob (answered) and Alice (her thread) are told; a reply answering a top comment tells its
    author once."""
    top = post_comment(alice, corpus, "Top")
    first = post_comment(bob, corpus, "A reply", reply_to=top.pk)
    second = post_comment(charlie, corpus, "Answering Bob", reply_to=first.pk)
    assert (second.parent_id, second.answers_id, first.answers_id) == (top.pk, first.pk, top.pk)
    told = {(e.user.username, e.comment_id, e.as_reply) for e in NotificationEvent.objects.select_related("user")}
    assert told == {("alice", first.pk, True), ("alice", second.pk, True), ("bob", second.pk, True)}


def test_at_most_one_mail_an_hour_collecting_everything_since_the_last(corpus, alice, bob, smtp_server):
    verify(alice, bob)
    top = post_comment(alice, corpus, "Top.")
    with time_machine.travel(PINNED_NOW, tick=False):
        post_comment(bob, corpus, "First reply.", reply_to=top.pk)
        assert send_notifications().sent == 1  # no mail before: at once
    with time_machine.travel(PINNED_NOW + dt.timedelta(minutes=10), tick=False):
        post_comment(bob, corpus, "Second reply.", reply_to=top.pk)
        assert send_notifications().sent == 0
    with time_machine.travel(PINNED_NOW + dt.timedelta(minutes=40), tick=False):
        post_comment(bob, corpus, "Third reply.", reply_to=top.pk)
        assert send_notifications().sent == 0
    with time_machine.travel(PINNED_NOW + dt.timedelta(minutes=59, seconds=59), tick=False):
        assert send_notifications().sent == 0
    with time_machine.travel(PINNED_NOW + dt.timedelta(minutes=60), tick=False):
        assert send_notifications().sent == 1
        assert send_notifications().sent == 0
    first, second = mails_to(smtp_server, alice)
    assert "First reply." in text_of(first) and "Second reply." not in text_of(first)
    assert "Second reply." in text_of(second) and "Third reply." in text_of(second)
    assert "First reply." not in text_of(second)
    assert second["Subject"] == "2 new comments for you on Paperwire"
    assert second["Message-ID"] == f"<notify.{alice.pk}.2@testserver>"


def test_an_unverified_address_gets_nothing(corpus, alice, bob, smtp_server):
    verify(bob)  # alice has not verified hers
    top = post_comment(alice, corpus, "Top.")
    post_comment(bob, corpus, "A reply.", reply_to=top.pk)
    report = send_notifications()
    assert (report.sent, report.skipped) == (0, 1)
    assert not smtp_server.handler.messages
    # An address verified by another account is not hers either.
    alice.email = "bob@example.org"
    alice.save()
    post_comment(bob, corpus, "Another reply.", reply_to=top.pk)
    assert send_notifications().sent == 0 and not smtp_server.handler.messages
    # Once verified, what comes next is mailed (the skipped mail did not count as the hour's).
    alice.email = "alice@example.org"
    alice.save()
    verify(alice)
    post_comment(bob, corpus, "A third reply.", reply_to=top.pk)
    assert send_notifications().sent == 1
    [message] = mails_to(smtp_server, alice)
    assert "A third reply." in text_of(message) and "A reply." not in text_of(message)


def test_a_comment_hidden_or_deleted_before_the_mail_is_not_mailed(corpus, alice, bob, smtp_server):
    verify(alice, bob)
    top = post_comment(alice, corpus, "Top.")
    hidden = post_comment(bob, corpus, "Buy cheap pills.", reply_to=top.pk)
    deleted = post_comment(bob, corpus, "Oops, wrong thread.", reply_to=top.pk)
    kept = post_comment(bob, corpus, "A real reply.", reply_to=top.pk)
    set_hidden([hidden.pk], True)
    delete_comment(bob, deleted.pk)
    assert send_notifications().sent == 1
    [message] = mails_to(smtp_server, alice)
    text = text_of(message)
    assert "A real reply." in text and "pills" not in text and "wrong thread" not in text
    assert message["Subject"] == "A new comment for you on Paperwire"
    assert f"#comment-{kept.pk}" in text
    # All hidden: no mail at all, and it does not count as the hour's.
    NotificationMail.objects.update(sent_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=2))
    spam = post_comment(bob, corpus, "More spam.", reply_to=top.pk)
    set_hidden([spam.pk], True)
    report = send_notifications()
    assert (report.sent, report.skipped) == (0, 1) and len(smtp_server.handler.messages) == 1


def test_each_kind_is_switched_off_on_the_settings_page(corpus, alice, bob, charlie, smtp_server):
    verify(alice, bob, charlie)
    Paper.objects.filter(pk=PAPER).update(submitter=alice)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    page = browser.get("/accounts/settings")
    body = page.content.decode()
    assert page.status_code == 200 and 'id="notifications"' in body
    assert re.search(r'<input type="checkbox" name="replies" id="id_replies" checked>', body)
    assert re.search(r'<input type="checkbox" name="paper_comments" id="id_paper_comments" checked>', body)
    url = reverse("notification_settings")
    assert browser.post(url, {"paper_comments": "on"}).status_code == 403  # no CSRF token: refused
    assert NotificationSettings.objects.filter(user=alice).count() == 0
    token = browser.cookies["csrftoken"].value
    response = browser.post(url, {"paper_comments": "on", "csrfmiddlewaretoken": token})
    assert response.status_code == 302 and response["Location"] == "/accounts/settings"
    page = browser.get("/accounts/settings").content.decode()
    assert "Your notification settings are saved." in page
    assert '<input type="checkbox" name="replies" id="id_replies">' in page  # unchecked now
    assert '<input type="checkbox" name="paper_comments" id="id_paper_comments" checked>' in page
    top = post_comment(alice, corpus, "Top.")
    post_comment(bob, corpus, "A reply: alice switched these off.", reply_to=top.pk)  # reply AND submitter
    post_comment(charlie, corpus, "A new comment on her paper.")
    assert send_notifications().sent == 1
    [message] = mails_to(smtp_server, alice)
    text = text_of(message)
    # The reply is also on her paper: it comes for that reason only.
    assert "bob commented on “Sparse attention <b>for</b> long documents” (on a paper you submitted)" in text
    assert "charlie commented" in text
    # Both off: nothing more, even with both reasons.
    browser.post(url, {"csrfmiddlewaretoken": token})
    NotificationMail.objects.update(sent_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=2))
    post_comment(bob, corpus, "Another reply.", reply_to=top.pk)
    assert send_notifications().sent == 0 and len(smtp_server.handler.messages) == 1


def test_a_kind_switched_off_after_the_comment_but_before_the_mail_is_not_mailed(corpus, alice, bob, smtp_server):
    verify(alice, bob)
    top = post_comment(alice, corpus, "Top.")
    post_comment(bob, corpus, "A reply.", reply_to=top.pk)
    NotificationSettings.objects.create(user=alice, replies=False)
    assert send_notifications().sent == 0 and not smtp_server.handler.messages


def unsubscribe_link(message) -> str:
    return message["List-Unsubscribe"].strip()[1:-1].removeprefix("http://testserver")


def test_one_click_unsubscribe_turns_notifications_off_for_that_person_only(corpus, alice, bob, smtp_server):
    verify(alice, bob)
    top = post_comment(alice, corpus, "Top.")
    theirs = post_comment(bob, corpus, "Bob's own.")
    post_comment(bob, corpus, "A reply.", reply_to=top.pk)
    post_comment(alice, corpus, "And one for bob.", reply_to=theirs.pk)
    assert send_notifications().sent == 2
    [to_alice] = mails_to(smtp_server, alice)
    link = unsubscribe_link(to_alice)
    assert link in text_of(to_alice) and f'href="http://testserver{link}"' in html_of(to_alice)
    # Opened in a browser: a page to confirm, and a way to manage; nothing changes by looking.
    page = Client().get(link)
    assert page.status_code == 200
    assert b"Turn off notification mails" in page.content and b'href="/accounts/settings#notifications"' in page.content
    assert NotificationSettings.objects.get(user=alice).replies is True
    # RFC 8058: the mail client POSTs "List-Unsubscribe=One-Click", with no session or CSRF token.
    response = Client(enforce_csrf_checks=True).post(
        link, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200 and b"Notification mails are off" in response.content
    row = NotificationSettings.objects.get(user=alice)
    assert (row.replies, row.paper_comments) == (False, False)
    assert NotificationSettings.objects.get(user=bob).replies is True  # bob's are his
    # A forged link, or one with another user's id, changes nothing.
    forged = re.sub(r"/unsubscribe/\d+", f"/unsubscribe/{NotificationSettings.objects.get(user=bob).pk}", link)
    assert Client().post(forged).status_code == 410
    assert Client().post(link[:-3] + "abc").status_code == 410
    assert NotificationSettings.objects.get(user=bob).replies is True
    # Alice gets nothing more; bob still does.
    NotificationMail.objects.update(sent_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=2))
    post_comment(bob, corpus, "Another reply.", reply_to=top.pk)
    post_comment(alice, corpus, "Another one for bob.", reply_to=theirs.pk)
    assert send_notifications().sent == 1
    assert len(mails_to(smtp_server, alice)) == 1 and len(mails_to(smtp_server, bob)) == 2
    # Posting again (mail clients retry) answers the same.
    assert Client().post(link).status_code == 200


def test_a_token_is_its_users_only(alice, bob):
    a, b = NotificationSettings.of(alice), NotificationSettings.of(bob)
    assert notification_token(a) != notification_token(b)
    assert notification_token(a).split(":")[0] == str(a.pk)
    assert len(notification_token(a).split(":")[1]) >= 27  # a signature, not a guessable number


HOSTILE = st.lists(
    st.sampled_from(
        list("ab <>&\"'`$*_[]()#!\\\r\n\t:.;=/")
        + ["\x00", "\u202e", "\u2028", "\x0b", "\x85", "é", "𝔸"]
        + [
            "<script>alert(1)</script>",
            "\r\nBcc: evil@example.org\r\n",
            "\nSubject: hi",
            "javascript:x",
            "&lt;",
            "]]>",
            "<!--",
            "$\\frac{<b>}{2}$",
            "\n.\n",
            "\r\n.\r\n",
            "=?utf-8?q?x?=",
        ]
    ),
    min_size=1,
    max_size=60,
).map(lambda parts: "".join(parts) * 3)


@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=HOSTILE)
def test_hostile_comments_never_break_the_mail_or_its_headers(corpus, alice, bob, smtp_server, settings, body):
    settings.NOTIFY_INTERVAL_MINUTES = 0
    if not VerifiedEmail.objects.filter(user=alice).exists():
        verify(alice)
    top = post_comment(alice, corpus, "Top.")
    before = len(smtp_server.handler.messages)
    try:
        reply = post_comment(bob, corpus, body, reply_to=top.pk)
    except Exception as error:  # an empty body, a NUL: refused with a sentence, nothing to mail
        assert type(error).__name__ == "CommentError"
        return
    report = send_notifications()
    assert (report.sent, report.problem) == (1, "")
    message = smtp_server.handler.messages[before]
    assert len(smtp_server.handler.messages) == before + 1
    assert message["To"] == "alice@example.org" and message["Bcc"] is None and message["Cc"] is None
    assert message["Subject"] == "A new comment for you on Paperwire"
    assert set(message.keys()) >= {"List-Unsubscribe", "List-Unsubscribe-Post", "Message-ID"}
    assert message.defects == []
    text, html = text_of(message), html_of(message)
    [line] = [line for line in text.splitlines() if line.startswith("1. bob commented")]
    excerpt = text.splitlines()[text.splitlines().index(line) + 1].strip()
    assert len(excerpt) <= EXCERPT_CHARS
    assert "<script" not in html.lower()
    assert f"#comment-{reply.pk}" in text
    # The HTML is the template's own markup only: every tag in it is one the template writes.
    tags = set(re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)", html))
    assert tags <= {"html", "head", "meta", "title", "body", "div", "h1", "strong", "a", "p"}


def test_a_hanging_server_then_a_working_one_sends_each_mail_once(
    corpus, alice, bob, smtp_server, settings, silent_server
):
    verify(alice)
    top = post_comment(alice, corpus, "Top.")
    post_comment(bob, corpus, "A reply.", reply_to=top.pk)
    working = settings.EMAIL_PORT
    settings.EMAIL_PORT, settings.BACKGROUND_EMAIL_TIMEOUT = silent_server.port, 0.5
    report = send_notifications()
    assert report.sent == 0 and "could not reach the SMTP server" in report.problem
    mail = NotificationMail.objects.get()
    assert (mail.state, mail.attempts) == (NotificationMail.RETRY, 1)
    settings.EMAIL_PORT, settings.BACKGROUND_EMAIL_TIMEOUT = working, 10
    with time_machine.travel(mail.next_attempt_at + dt.timedelta(seconds=1)):
        assert send_notifications().sent == 1
        assert send_notifications().sent == 0
    assert len(mails_to(smtp_server, alice)) == 1


def test_a_refused_address_fails_and_an_unanswered_message_is_never_sent_twice(
    corpus, alice, bob, charlie, smtp_server, settings
):
    verify(alice, bob)
    smtp_server.handler.rcpt_answers["alice@example.org"] = ["550 5.1.1 No such mailbox"]
    top = post_comment(alice, corpus, "Top.")
    theirs = post_comment(bob, corpus, "Bob's.")
    post_comment(charlie, corpus, "A reply to alice.", reply_to=top.pk)
    post_comment(charlie, corpus, "A reply to bob.", reply_to=theirs.pk)
    # bob's message is kept by the server, which answers only after the sender gave up.
    settings.BACKGROUND_EMAIL_TIMEOUT = 1
    smtp_server.handler.hold_at, smtp_server.handler.hold_seconds = 1, 3.0
    report = send_notifications()
    states = dict(NotificationMail.objects.values_list("user__username", "state"))
    assert states == {"alice": "failed", "bob": "uncertain"}
    assert report.uncertain == 1
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(hours=7)):
        assert send_notifications().sent == 0
    assert len(mails_to(smtp_server, bob)) == 1 and not mails_to(smtp_server, alice)


def test_the_command_and_the_worker_send_them(corpus, alice, bob, smtp_server, capsys, settings):
    verify(alice)
    settings.WORKER_INGEST, settings.DIGEST_HOUR = [], 23
    top = post_comment(alice, corpus, "Top.")
    post_comment(bob, corpus, "A reply.", reply_to=top.pk)
    call_command("digest", "notify")
    assert "notifications: sent 1, skipped 0, failed 0" in capsys.readouterr().out
    NotificationMail.objects.update(sent_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=2))
    post_comment(bob, corpus, "Another.", reply_to=top.pk)
    call_command("worker", "--once")
    assert "notifications: sent 1, skipped 0, failed 0" in capsys.readouterr().out
    assert len(mails_to(smtp_server, alice)) == 2
