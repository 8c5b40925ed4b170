"""Notifications by email: the comments someone is to be told about, batched, sent exactly once
(docs/community.md, "Notifications").

1. **Events.** A new comment (posted, or a reply) records, in its own transaction (a
   ``post_save`` receiver in paperwire/digests/models.py: discussions know nothing of mail), one
   ``NotificationEvent`` per person it concerns: the author of the comment it replies to (a reply
   joins the thread of a top comment: that comment's author), the paper's submitter, and the
   accounts of its authors (approved claims, paperwire.people). Never its own author; one row
   per person and comment whatever the number of reasons. A person who switched a kind off gets
   no row for it.
2. **Batching.** ``plan_mails``: a person with waiting events gets their next
   ``NotificationMail`` when no mail of theirs is under way and none went out in the last
   PAPERWIRE_NOTIFY_INTERVAL_MINUTES; the waiting events are attached to it in the same
   transaction. The mail's ``number`` (their previous one's plus one) is unique per person, so of
   two planners at once one writes it. Events recorded after that wait for the next mail.
3. **Sending.** The digests' machinery (paperwire/digests/sending.py ``deliver``): claim by
   compare-and-set, the SMTP transaction step by step, ``sent``/``retry``/``uncertain``/
   ``failed``, leases, the server's refusals told from an address's. Just before sending, a mail
   is built afresh: events whose comment was hidden or deleted meanwhile, or whose kind was
   switched off, are left out; a mail left with nothing, or whose person has no verified address
   (or is inactive), is ``skipped``, sends nothing and does not count as the hour's mail.

``paperwire digest notify`` runs 2 and 3; the worker runs it every cycle.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.html import strip_tags

from paperwire.accounts.models import verified_email
from paperwire.core.mail import message
from paperwire.core.siteurl import DEFAULT_BASE_URL, absolute
from paperwire.digests.models import NotificationEvent, NotificationMail, NotificationSettings
from paperwire.digests.sending import Run, SendReport, deliver, expire_stale
from paperwire.digests.tokens import notification_token
from paperwire.discussions.models import Comment
from paperwire.discussions.threads import comment_path
from paperwire.people.models import PaperAuthor

EXCERPT_CHARS = 300  # of a comment's text in a mail
MAX_ENTRIES = 50  # comments listed in one mail; the rest are counted, with a link to the paper
BLOCK_TAG = re.compile(r"</?(?:p|br|hr|li|ul|ol|blockquote|pre|h[1-6])\b[^>]*>")  # a space between blocks
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


# --- 1. events ---------------------------------------------------------------------------------


def record_events(comment: Comment) -> None:
    """The people a new comment concerns, one row each (called in the comment's transaction)."""
    reasons: dict[int, dict[str, bool]] = {}

    def add(user_id: int | None, reason: str) -> None:
        if user_id is not None and user_id != comment.author_id:
            reasons.setdefault(user_id, {})[reason] = True

    # A reply tells the author of the comment it answers (a reply in the thread too) and the
    # author of the thread's top comment.
    answered = {comment.parent_id, comment.answers_id} - {None}
    for author_id in Comment.objects.filter(pk__in=answered).values_list("author_id", flat=True):
        add(author_id, "as_reply")
    add(
        type(comment.paper).objects.filter(pk=comment.paper_id).values_list("submitter_id", flat=True).first(),
        "as_submitter",
    )
    for own, variant_of in PaperAuthor.objects.filter(paper_id=comment.paper_id).values_list(
        "author__user_id", "author__same_as__user_id"
    ):
        add(own, "as_author")
        add(variant_of, "as_author")
    if not reasons:
        return
    switched = {
        row.user_id: row
        for row in NotificationSettings.objects.filter(user_id__in=list(reasons)).only(
            "user_id", "replies", "paper_comments"
        )
    }
    events = []
    for user_id, flags in reasons.items():
        event = NotificationEvent(user_id=user_id, comment=comment, created_at=comment.created_at, **flags)
        wanted = switched.get(user_id)
        if wanted is None or wanted.wants(event):
            events.append(event)
    NotificationEvent.objects.bulk_create(events, ignore_conflicts=True)


# --- 2. batching -------------------------------------------------------------------------------


def interval() -> dt.timedelta:
    return dt.timedelta(minutes=settings.NOTIFY_INTERVAL_MINUTES)


WENT_OUT = (NotificationMail.SENT, NotificationMail.UNCERTAIN)


def last_went_out(user_id: int) -> dt.datetime | None:
    """When the person's last notification mail went out (accepted, or maybe: ``uncertain``)."""
    last = NotificationMail.objects.filter(user_id=user_id, state__in=WENT_OUT).order_by("-number").first()
    if last is None:
        return None
    return last.sent_at or last.message_started_at or last.claimed_at or last.created_at


def plan_mails(now: dt.datetime | None = None) -> int:
    """A mail for each person with waiting events whose hour has passed; how many were planned."""
    now = now or timezone.now()
    waiting = NotificationEvent.objects.filter(mail__isnull=True, dropped=False)
    planned = 0
    for user_id in waiting.values_list("user_id", flat=True).distinct().order_by("user_id"):
        planned += plan_mail(user_id, now)
    return planned


def plan_mail(user_id: int, now: dt.datetime) -> bool:
    """The person's next mail, decided on one read of their last one: the new mail's number is
    that one's plus one, so a planner that read before another wrote a mail conflicts with it
    (the unique key) instead of planning a second mail within the hour."""
    last = NotificationMail.objects.filter(user_id=user_id).order_by("-number").first()
    if last is not None and last.state in NotificationMail.OPEN:
        return False  # the one under way goes first; these events wait for the next
    went = last_went_out(user_id)
    if went is not None and went > now - interval():
        return False
    number = (last.number if last else 0) + 1
    with transaction.atomic():
        try:
            with transaction.atomic():
                mail = NotificationMail.objects.create(user_id=user_id, number=number, created_at=now)
        except IntegrityError:
            return False  # another planner wrote this mail first
        NotificationEvent.objects.filter(user_id=user_id, mail__isnull=True, dropped=False).update(mail=mail)
    return True


# --- 3. the mail -------------------------------------------------------------------------------


def excerpt(comment: Comment, limit: int = EXCERPT_CHARS) -> str:
    """The comment's sanitised text (its rendered HTML as text), one line, at most ``limit``
    characters: no markup, no control or direction characters (escaped again by the templates)."""
    text = html.unescape(strip_tags(BLOCK_TAG.sub(" ", comment.html)))
    text = " ".join(CONTROL.sub(" ", text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def one_line(text: str, limit: int = 300) -> str:
    text = " ".join(CONTROL.sub(" ", text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def entries(events: list[NotificationEvent], row: NotificationSettings) -> list[dict]:
    paths: dict[int, str] = {}
    shown = []
    for event in events[:MAX_ENTRIES]:
        comment = event.comment
        if comment.pk not in paths:
            paths[comment.pk] = comment_path(comment, comment.paper)
        why = []
        if event.as_reply and row.replies:
            why.append("a reply to your comment")
        if event.as_submitter and row.paper_comments:
            why.append("on a paper you submitted")
        if event.as_author and row.paper_comments:
            why.append("on a paper you authored")
        shown.append(
            {
                "who": one_line(comment.author.get_username() if comment.author else "", 150) or "someone",
                "paper": one_line(comment.paper.title, 300),
                "why": ", ".join(why),
                "excerpt": excerpt(comment),
                "url": absolute(paths[comment.pk]),
            }
        )
    return shown


def mail_message_id(mail: NotificationMail) -> str:
    domain = urlsplit(settings.BASE_URL or DEFAULT_BASE_URL).hostname or "paperwire"
    domain = f"[{domain}]" if ":" in domain else domain
    return f"<notify.{mail.user_id}.{mail.number}@{domain}>"


def notification_links(row: NotificationSettings) -> dict[str, str]:
    return {
        "unsubscribe_url": absolute(reverse("notifications_unsubscribe", args=[notification_token(row)])),
        "settings_url": absolute(reverse("account_settings") + "#notifications"),
    }


def notification_message(user, address: str, events: list[NotificationEvent], mail: NotificationMail, row):
    links = notification_links(row)
    context = {
        "user": user,
        "entries": entries(events, row),
        "more": max(len(events) - MAX_ENTRIES, 0),
        "count": len(events),
        "minutes": settings.NOTIFY_INTERVAL_MINUTES,
        **links,
    }
    headers = {
        "List-Unsubscribe": f"<{links['unsubscribe_url']}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "Message-ID": mail.message_id or mail_message_id(mail),
        "List-Id": "Paperwire notifications <notifications.paperwire>",
        "Auto-Submitted": "auto-generated",
    }
    return message("notification", context, address, headers)


def mail_events(mail: NotificationMail, row: NotificationSettings) -> list[NotificationEvent]:
    """The mail's events still to tell, read now: visible comments, kinds still wanted."""
    events = (
        NotificationEvent.objects.filter(mail=mail, dropped=False)
        .select_related("comment", "comment__paper", "comment__author")
        .order_by("comment__created_at", "comment_id")
    )
    return [e for e in events if e.comment.visible and row.wants(e)]


def record_mail_sent(mail: NotificationMail, address: str) -> None:
    NotificationMail.objects.filter(pk=mail.pk).update(
        state=NotificationMail.SENT, sent_at=timezone.now(), last_error="", attempts=mail.attempts + 1, email=address
    )


def send_notifications(*, now: dt.datetime | None = None, resend_uncertain: bool = False) -> SendReport:
    """Plan the mails that are due, then send every due one exactly once."""
    report = SendReport()
    plan_mails(now)
    expire_stale(NotificationMail.objects.all())
    if resend_uncertain:
        NotificationMail.objects.filter(state=NotificationMail.UNCERTAIN).update(state=NotificationMail.PENDING)
    due = Q(state=NotificationMail.PENDING) | Q(state=NotificationMail.RETRY, next_attempt_at__lte=timezone.now())
    todo = NotificationMail.objects.filter(due).order_by("pk")
    users = get_user_model().objects

    def prepare(mail: NotificationMail):
        user = users.filter(pk=mail.user_id, is_active=True).first()  # fresh: may have changed meanwhile
        address = verified_email(user) if user is not None else ""
        if not address:
            return None
        row = NotificationSettings.of(user)
        events = mail_events(mail, row)
        if not events:
            return None
        return notification_message(user, address, events, mail, row), lambda: record_mail_sent(mail, address)

    deliver(todo, prepare, report, Run(), ident=mail_message_id, bounce=lambda mail: None)
    report.uncertain = NotificationMail.objects.filter(state=NotificationMail.UNCERTAIN).count()
    return report


def turn_off(row: NotificationSettings) -> None:
    """The one-click unsubscribe: both kinds off, and the events not yet sent dropped."""
    NotificationSettings.objects.filter(pk=row.pk).update(replies=False, paper_comments=False)
    NotificationEvent.objects.filter(user_id=row.user_id, dropped=False).filter(
        Q(mail__isnull=True) | Q(mail__state__in=[NotificationMail.PENDING, NotificationMail.RETRY])
    ).update(dropped=True)
