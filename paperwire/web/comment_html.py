"""The HTML of a paper's threads, for its page and for the script's answers alike.

Written in Python rather than as a template included once per comment: the page of a paper with
200 comments took ten times as long as the page without them in Django's template engine, and
still almost four times with ``format_html`` (bench/comment_page.py); the target is two. Every
value from a row or a request is escaped (``escape``; ids and counts are integers, URLs come from
``reverse``) except the comment's HTML, made safe when it was written
(paperwire/discussions/rendering.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from urllib.parse import quote

from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe

from paperwire.discussions.models import Comment
from paperwire.discussions.threads import Thread, edit_window, reported_comments, voted_comments
from paperwire.people.profiles import unlisted_users

ACTIONS = ("vote_comment", "edit_comment", "delete_comment", "report_comment", "reply_comment")
PLACEHOLDER = 987654321987654321  # an id no comment has: replaced by each comment's


@dataclass
class Viewer:
    """What one reader may do with the comments shown, worked out once for the whole page."""

    user_id: int | None
    csrf_input: str = ""
    login_url: str = ""
    voted: set[int] = field(default_factory=set)
    reported: set[int] = field(default_factory=set)
    editable: set[int] = field(default_factory=set)
    urls: dict[str, tuple[str, str]] = field(default_factory=dict)  # before and after the id
    zone: object = None
    unlisted: set[int] = field(default_factory=set)  # authors without a profile page to link
    profile_url: tuple[str, str] = ("", "")  # before and after the name

    def author_html(self, comment: Comment) -> str:
        """The author's name, a link to their profile page when others may see it."""
        name = author_name(comment)
        if not name:
            return '<span class="comment-author">deleted account</span>'
        if comment.author_id in self.unlisted or not self.profile_url[0]:
            return f'<span class="comment-author">{escape(name)}</span>'
        before, after = self.profile_url
        return f'<a class="comment-author" href="{before}{escape(quote(name))}{after}">{escape(name)}</a>'

    @classmethod
    def of(cls, request: HttpRequest, comments: list[Comment], paper_url: str) -> Viewer:
        user = request.user
        urls = {name: tuple(reverse(name, args=[PLACEHOLDER]).split(str(PLACEHOLDER))) for name in ACTIONS}
        shown = {
            "unlisted": unlisted_users({c.author_id for c in comments if c.author_id}),
            "profile_url": tuple(reverse("profile", args=[str(PLACEHOLDER)]).split(str(PLACEHOLDER))),
            "zone": timezone.get_current_timezone(),
        }
        if not user.is_authenticated:
            login_url = f"{reverse('login')}?{urlencode({'next': paper_url})}"
            return cls(None, login_url=login_url, urls=urls, **shown)
        csrf = format_html('<input type="hidden" name="csrfmiddlewaretoken" value="{}">', get_token(request))
        return cls(
            user.pk,
            csrf_input=csrf,
            voted=voted_comments(user, comments),
            reported=reported_comments(user, comments),
            editable=editable(user, comments),
            urls=urls,
            **shown,
        )

    def url(self, name: str, comment: Comment) -> str:
        before, after = self.urls[name]
        return f"{before}{comment.id}{after}"


def editable(user, comments: list[Comment]) -> set[int]:
    """The comments ``user`` may edit now (threads.can_edit, worked out once for them all)."""
    if not user.is_active:
        return set()
    now, window, mine = timezone.now(), edit_window(), user.pk
    return {c.id for c in comments if c.author_id == mine and c.visible and now <= c.created_at + window}


STUBS = {"deleted": "This comment was deleted.", "hidden": "This comment was hidden by a moderator."}
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def shown_time(value, zone) -> str:
    """The moment as the pages write one, "Jul 22, 2025, 12:00" (Django's "M j, Y, H:i"), in ``zone``."""
    local = value.astimezone(zone)
    return f"{MONTHS[local.month - 1]} {local.day}, {local.year}, {local.hour:02d}:{local.minute:02d}"


def author_name(comment: Comment) -> str:
    """The author's name: read with the comment (``threads``), or from its account ("" for none)."""
    name = comment.__dict__.get("author_name")
    if name is None:
        name = comment.author.get_username() if comment.author_id else ""
    return name


def comment_html(comment: Comment, viewer: Viewer, stub: str = "") -> SafeString:
    """One comment (or a stub) as an <article>, its actions those the viewer may take. Every value
    is escaped here but the comment's HTML, made safe when it was written (discussions.rendering)."""
    if stub:
        return mark_safe(
            f'<article class="comment comment-stub" id="comment-{comment.id}"><p class="stub-text">{STUBS[stub]}</p>'
            "</article>"
        )
    edited = ""
    if comment.edited_at:
        when = shown_time(comment.edited_at, viewer.zone)
        edited = f' <span class="comment-edited" title="Edited {when} UTC">edited</span>'
    return mark_safe(
        f'<article class="comment" id="comment-{comment.id}">'
        f'<header class="comment-head">{viewer.author_html(comment)} '
        f'<a class="comment-time" href="#comment-{comment.id}"><time datetime="{comment.created_at.isoformat()}">'
        f"{shown_time(comment.created_at, viewer.zone)}</time></a>{edited}</header>"
        f'<div class="comment-body" dir="auto">{comment.html}</div>'
        f'<div class="comment-actions">{actions_html(comment, viewer)}</div></article>'
    )


def actions_html(comment: Comment, viewer: Viewer) -> str:
    count = (
        f'<span class="arrow" aria-hidden="true">▲</span><span class="count">{int(comment.upvotes)}</span>'
        '<span class="visually-hidden"> upvotes</span>'
    )
    if viewer.user_id is None:
        return f'<a class="vote comment-vote" href="{escape(viewer.login_url)}" title="Log in to upvote">{count}</a>'
    voted = comment.id in viewer.voted
    title, action, pressed = ("Remove your upvote", "down", "true") if voted else ("Upvote this comment", "up", "false")
    parts = [
        f'<form class="vote comment-vote{" voted" if voted else ""}" method="post" '
        f'action="{viewer.url("vote_comment", comment)}">{viewer.csrf_input}'
        f'<input type="hidden" name="action" value="{action}">'
        f'<button type="submit" title="{title}" aria-pressed="{pressed}">{count}</button></form>',
        f'<a class="comment-reply" href="{viewer.url("reply_comment", comment)}">Reply</a>',
    ]
    if comment.id in viewer.editable:
        parts.append(f'<a class="comment-edit" href="{viewer.url("edit_comment", comment)}">Edit</a>')
    if comment.author_id == viewer.user_id:
        parts.append(
            '<details class="comment-delete"><summary>Delete</summary>'
            f'<form method="post" action="{viewer.url("delete_comment", comment)}">{viewer.csrf_input}'
            '<span>Delete this comment?</span> <button type="submit">Delete</button></form></details>'
        )
    elif comment.id in viewer.reported:
        parts.append('<span class="comment-reported">Reported</span>')
    else:
        parts.append(f'<a class="comment-report" href="{viewer.url("report_comment", comment)}">Report</a>')
    return " ".join(parts)


def thread_html(thread: Thread, viewer: Viewer) -> SafeString:
    """A thread as an <li>: its top comment (or stub), then its replies."""
    replies = "".join(f"<li>{comment_html(reply, viewer)}</li>" for reply in thread.replies)
    listed = f'<ol class="replies">{replies}</ol>' if replies else ""
    return mark_safe(f'<li class="thread">{comment_html(thread.comment, viewer, thread.stub)}{listed}</li>')


def threads_html(threads: list[Thread], viewer: Viewer) -> SafeString:
    return mark_safe("".join(thread_html(thread, viewer) for thread in threads))
