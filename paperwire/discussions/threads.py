"""What people do with comments (post, reply, edit, delete, vote, report) and what moderators do
(hide, show, resolve reports), each in one transaction that keeps the counts and the pages' content
version in step; and the threads of a paper as pages show them.

Locks, always in this order, so that no two writers wait on each other in a cycle: the paper's row
(every change to which comments a thread shows: post, reply, delete, hide), then a comment's row
(a vote, a delete), then the content version (``content_changed``, last). The rows are locked FOR
NO KEY UPDATE: on PostgreSQL a new row's foreign keys are checked when its transaction commits
(Django makes them deferred), with a FOR KEY SHARE lock on the rows it refers to, after that
transaction took the content version. A reply committing while someone votes on its top comment
would otherwise wait for the voter's FOR UPDATE, and the voter for the content version the reply
holds: a deadlock, which tests/test_comment_races.py met before this.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, F, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from paperwire.discussions import rendering
from paperwire.discussions.models import Comment, CommentReport, CommentVote
from paperwire.papers.models import Paper, content_changed

THREADS_PER_PAGE = 200  # top comments a page of a paper shows, each with all its replies


class CommentError(Exception):
    """Something a person asked for that cannot be done, in words meant for them; ``status`` is
    the HTTP status that says so."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.status = message, status


def check_writer(user) -> None:
    if user is None or not user.is_authenticated:
        raise CommentError("Log in to take part in the discussion.", 401)
    if not user.is_active:
        raise CommentError("This account may not take part in discussions.", 403)


def check_body(body: object) -> str:
    """The text of a comment as it is kept (line ends as "\\n", spaces around it dropped), or a
    CommentError saying what is wrong with it."""
    if not isinstance(body, str):
        raise CommentError("Write your comment first.")
    text = rendering.clean_text(body).strip()
    if not text:
        raise CommentError("Write your comment first.")
    if "\x00" in text:
        raise CommentError("The comment holds a NUL character, which cannot be kept.")
    if len(text) > rendering.MAX_BODY_CHARS:
        raise CommentError(
            f"A comment can be at most {rendering.MAX_BODY_CHARS:,} characters long; this one has {len(text):,}."
        )
    return text


def edit_window() -> dt.timedelta:
    return dt.timedelta(minutes=settings.COMMENT_EDIT_MINUTES)


def editable_until(comment: Comment) -> dt.datetime:
    return comment.created_at + edit_window()


def can_edit(user, comment: Comment, now: dt.datetime | None = None) -> bool:
    return (
        user is not None
        and user.is_authenticated
        and user.is_active
        and comment.author_id == user.pk
        and comment.visible
        and (now or timezone.now()) <= editable_until(comment)
    )


def _lock(model, ids) -> list:
    """Lock these rows (FOR NO KEY UPDATE) in id order, so that two writers never wait on each
    other in a cycle; the ids found."""
    rows = model.objects.select_for_update(no_key=True).filter(pk__in=sorted(set(ids))).order_by("pk")
    return list(rows.values_list("pk", flat=True))


def _lock_paper(paper_id: str) -> None:
    if not _lock(Paper, [paper_id]):
        raise CommentError("This paper is no longer here.", 404)


def recount(paper_ids) -> None:
    """Set each paper's ``local_comments`` to its visible comments. Called inside the transaction
    that changed them, with the papers' rows locked (so that it counts every comment committed
    before, on PostgreSQL too: the statement after the lock sees them)."""
    visible = (
        Comment.objects.filter(paper=OuterRef("pk"), deleted_at__isnull=True, hidden=False)
        .order_by()
        .values("paper")
        .annotate(n=Count("pk"))
        .values("n")
    )
    Paper.objects.filter(pk__in=list(paper_ids)).update(local_comments=Coalesce(Subquery(visible), Value(0)))


def _has_visible_replies(top: Comment) -> bool:
    return top.replies.filter(deleted_at__isnull=True, hidden=False).exists()


def can_reply_to(comment: Comment) -> bool:
    """Whether a reply to ``comment`` goes in its thread: a comment shown, or the stub of a top
    comment above visible replies (a reply that was deleted or hidden is shown to no one: no
    reply to it, nor a form that names its author)."""
    if comment.visible:
        return True
    return comment.parent_id is None and _has_visible_replies(comment)


def post_comment(user, paper: Paper, body: object, reply_to: int | None = None) -> Comment:
    """A new comment on ``paper``, or a reply in the thread of ``reply_to`` (a top comment or a
    reply: a reply to a reply joins its top comment). The paper's count and the content version
    move in the same transaction."""
    check_writer(user)
    text = check_body(body)
    html = rendering.render(text)  # before the transaction: no lock is held while it renders
    with transaction.atomic():
        _lock_paper(paper.pk)
        parent = None
        if reply_to is not None:
            target = Comment.objects.filter(pk=reply_to, paper=paper).select_related("parent").first()
            if target is None:
                raise CommentError("The comment you replied to is not on this paper's page any more.", 404)
            if not can_reply_to(target):
                raise CommentError("The comment you replied to was deleted: your reply was not posted.", 409)
            parent = target.parent or target
        comment = Comment.objects.create(
            paper=paper,
            parent=parent,
            answers=target if parent is not None else None,
            author=user,
            body=text,
            html=html,
            html_version=rendering.VERSION,
        )
        recount([paper.pk])
        content_changed()
    return comment


def own_comment(user, comment_id: int) -> Comment:
    comment = Comment.objects.filter(pk=comment_id).first()
    if comment is None or (not comment.visible and comment.author_id != user.pk):
        raise CommentError("There is no such comment.", 404)
    if comment.author_id != user.pk:
        raise CommentError("Only its author can change a comment.", 403)
    return comment


def edit_comment(user, comment_id: int, body: object) -> Comment:
    """The author's new text, within the edit window (PAPERWIRE_COMMENT_EDIT_MINUTES of posting)."""
    check_writer(user)
    comment = own_comment(user, comment_id)
    text = check_body(body)
    if not comment.visible:
        raise CommentError("This comment was deleted or hidden: it cannot be edited.", 409)
    now = timezone.now()
    if now > editable_until(comment):
        raise CommentError(
            f"A comment can be edited within {settings.COMMENT_EDIT_MINUTES} minutes of posting; "
            "this one can no longer be.",
            403,
        )
    if text == comment.body:
        return comment
    html = rendering.render(text)
    with transaction.atomic():
        # One conditional update: a delete or a hide that came first wins, and is not undone.
        changed = Comment.objects.filter(pk=comment.pk, deleted_at__isnull=True, hidden=False).update(
            body=text, html=html, html_version=rendering.VERSION, edited_at=now
        )
        if not changed:
            raise CommentError("This comment was deleted or hidden: it cannot be edited.", 409)
        content_changed()
    comment.body, comment.html, comment.html_version, comment.edited_at = text, html, rendering.VERSION, now
    return comment


def _erase(comments, *, keep_reported: bool = False) -> None:
    """Delete these comments (a queryset): their text and votes go, the rows stay as stubs.
    ``keep_reported``: a comment with open reports keeps its text for the moderators (shown to
    no one else), and its reports stay open: deleting it does not take it out of their queue."""
    ids = list(comments.values_list("pk", flat=True))
    reported = CommentReport.objects.filter(comment_id__in=ids, resolved_at__isnull=True)
    kept = set(reported.values_list("comment_id", flat=True)) if keep_reported else set()
    now = timezone.now()
    Comment.objects.filter(pk__in=ids).exclude(pk__in=kept).update(deleted_at=now, body="", html="", upvotes=0)
    Comment.objects.filter(pk__in=kept).update(deleted_at=now, upvotes=0)
    CommentVote.objects.filter(comment_id__in=ids).delete()
    _resolve(CommentReport.objects.filter(comment_id__in=ids).exclude(comment_id__in=kept), None, CommentReport.GONE)


def delete_comment(user, comment_id: int) -> Comment:
    """The author deletes their comment. Its text and votes go; a top comment with visible replies
    stays as a "deleted" stub above them, any other is no longer shown. Deleting twice is once."""
    check_writer(user)
    comment = own_comment(user, comment_id)
    with transaction.atomic():
        _lock_paper(comment.paper_id)
        now = Comment.objects.filter(pk=comment.pk).values("deleted_at", "hidden").first()
        if now is None or now["deleted_at"] is not None:
            return comment
        if now["hidden"]:  # what a moderator hid stays as it is, for them (as an edit would not change it)
            raise CommentError("This comment was hidden by a moderator: it cannot be deleted.", 409)
        _erase(Comment.objects.filter(pk=comment.pk), keep_reported=True)
        recount([comment.paper_id])
        content_changed()
    comment.refresh_from_db()
    return comment


def refresh_comment_upvotes(comment_ids) -> None:
    """upvotes = the comment's CommentVote rows, computed in the database (the rows locked first,
    in id order, as ``papers.models.refresh_upvotes`` does and for the same reason)."""
    votes = CommentVote.objects.filter(comment=OuterRef("pk")).order_by().values("comment").annotate(n=Count("pk"))
    with transaction.atomic():
        ids = _lock(Comment, comment_ids)
        Comment.objects.filter(pk__in=ids).update(upvotes=Coalesce(Subquery(votes.values("n")), Value(0)))


def set_comment_vote(user, comment_id: int, up: bool) -> tuple[int, bool]:
    """Record or withdraw ``user``'s upvote of a comment: (its new count, whether the user's vote is
    on it). Idempotent; the comment's row is locked before the vote is written, so two voters are
    counted one after the other (the unique constraint holds one vote per person)."""
    check_writer(user)
    with transaction.atomic():
        comment = Comment.objects.select_for_update(no_key=True).filter(pk=comment_id).first()
        if comment is None or not comment.visible:
            raise CommentError("This comment is no longer shown: it cannot be voted on.", 404)
        if up:
            CommentVote.objects.get_or_create(user=user, comment=comment)
        else:
            CommentVote.objects.filter(user=user, comment=comment).delete()
        refresh_comment_upvotes([comment.pk])
        content_changed()
        count = Comment.objects.values_list("upvotes", flat=True).get(pk=comment.pk)
    return count, up


def report_comment(user, comment_id: int, reason: str, details: str = "") -> tuple[CommentReport, bool]:
    """A report for the moderators: (the report, whether it is new). A person has at most one open
    report of a comment; reporting it again while it is open changes nothing."""
    check_writer(user)
    if reason not in dict(CommentReport.REASONS):
        raise CommentError("Choose a reason for the report.")
    details = rendering.clean_text(details if isinstance(details, str) else "").strip()
    if "\x00" in details:
        raise CommentError("The details hold a NUL character, which cannot be kept.")
    if len(details) > CommentReport.MAX_DETAILS:
        raise CommentError(f"The details can be at most {CommentReport.MAX_DETAILS} characters long.")
    comment = Comment.objects.filter(pk=comment_id).first()
    if comment is None or not comment.visible:
        raise CommentError("This comment is no longer shown.", 404)
    if comment.author_id == user.pk:
        raise CommentError("This is your own comment: you can edit or delete it instead.", 403)
    open_reports = CommentReport.objects.filter(comment=comment, reporter=user, resolved_at__isnull=True)
    if existing := open_reports.first():
        return existing, False
    try:
        with transaction.atomic():
            return CommentReport.objects.create(comment=comment, reporter=user, reason=reason, details=details), True
    except IntegrityError:  # the same person's report sent twice at once: the first is the one
        return open_reports.get(), False


def set_hidden(comment_ids, hidden: bool, moderator=None) -> int:
    """Moderators hide comments (shown to no one; a top comment with visible replies as a stub),
    which resolves their open reports, or show them again. Returns how many changed."""
    ids = list(comment_ids)
    with transaction.atomic():
        papers = sorted(set(Comment.objects.filter(pk__in=ids).values_list("paper_id", flat=True)))
        _lock(Paper, papers)
        changed = Comment.objects.filter(pk__in=ids).exclude(hidden=hidden).update(hidden=hidden)
        if hidden:
            _resolve(CommentReport.objects.filter(comment_id__in=ids), moderator, CommentReport.HIDDEN)
        if changed:
            recount(papers)
            content_changed()
    return changed


def delete_for_good(comment_ids) -> None:
    """Remove comments and their replies entirely (the admin's delete; hiding is the usual way)."""
    ids = list(comment_ids)
    with transaction.atomic():
        papers = sorted(set(Comment.objects.filter(pk__in=ids).values_list("paper_id", flat=True)))
        _lock(Paper, papers)
        Comment.objects.filter(pk__in=ids).delete()
        recount(papers)
        content_changed()


def _resolve(reports, moderator, resolution: str) -> int:
    return reports.filter(resolved_at__isnull=True).update(
        resolved_at=timezone.now(), resolved_by=moderator, resolution=resolution
    )


def resolve_reports(report_ids, moderator, hide: bool) -> tuple[int, int]:
    """Resolve open reports: their comments hidden (``hide``) or kept. Every open report of those
    comments is answered by the decision, not only those selected. Returns (reports resolved,
    comments hidden)."""
    with transaction.atomic():
        reports = CommentReport.objects.filter(pk__in=list(report_ids), resolved_at__isnull=True)
        comment_ids = set(reports.values_list("comment_id", flat=True))
        of_them = CommentReport.objects.filter(comment_id__in=comment_ids)
        if hide:
            open_before = of_them.filter(resolved_at__isnull=True).count()
            return open_before, set_hidden(comment_ids, True, moderator)
        # Kept: a comment its author deleted while it was reported loses its text now.
        Comment.objects.filter(pk__in=comment_ids, deleted_at__isnull=False, hidden=False).update(body="", html="")
        return _resolve(of_them, moderator, CommentReport.KEPT), 0


def erase_authors_comments(user_ids) -> None:
    """An account is deleted: its comments are deleted as their author would have (stubs above
    visible replies), and its comment votes withdrawn."""
    ids = list(user_ids)
    with transaction.atomic():
        papers = sorted(set(Comment.objects.filter(author_id__in=ids).values_list("paper_id", flat=True)))
        _lock(Paper, papers)
        _erase(Comment.objects.filter(author_id__in=ids, deleted_at__isnull=True))
        withdraw_votes(ids)
        if papers:
            recount(papers)
        content_changed()


def withdraw_votes(user_ids) -> None:
    """Remove these accounts' comment votes (a ban, a deleted account) and recount the comments."""
    with transaction.atomic():
        voted = set(CommentVote.objects.filter(user_id__in=list(user_ids)).values_list("comment_id", flat=True))
        if voted:
            _lock(Comment, voted)
            CommentVote.objects.filter(user_id__in=list(user_ids)).delete()
            refresh_comment_upvotes(voted)
            content_changed()


# --- what a page shows --------------------------------------------------------------------------


@dataclass
class Thread:
    """A top comment as shown (``stub``: "" when visible, else "deleted" or "hidden") and its
    visible replies, oldest first."""

    comment: Comment
    replies: list[Comment] = field(default_factory=list)
    stub: str = ""


def stub_of(comment: Comment) -> str:
    return "" if comment.visible else ("deleted" if comment.deleted_at else "hidden")


# What a page shows of a comment: not its Markdown (read when it is rendered again), and of its
# author only the name (``author_name``).
SHOWN = (
    "paper",
    "parent",
    "author",
    "html",
    "html_version",
    "created_at",
    "edited_at",
    "deleted_at",
    "hidden",
    "upvotes",
)


def threads(paper: Paper, *, with_text: bool = False) -> list[Thread]:
    """Every thread of ``paper`` a reader sees, oldest first: visible top comments, and the others
    (as stubs) while they have visible replies. Two queries, whatever the number of comments;
    each comment has its author's name as ``author_name`` ("" for a deleted account);
    ``with_text``: the comments' Markdown too (the API gives it)."""
    comments = (
        Comment.objects.filter(paper=paper)
        .annotate(author_name=Coalesce(F("author__username"), Value("")))
        .order_by("created_at", "pk")
    )
    if not with_text:
        comments = comments.only(*SHOWN)
    tops = list(comments.filter(parent__isnull=True))
    replies = comments.filter(parent__isnull=False, deleted_at__isnull=True, hidden=False)
    by_top: dict[int, list[Comment]] = {}
    for reply in replies:
        by_top.setdefault(reply.parent_id, []).append(reply)
    shown = [Thread(top, by_top.get(top.pk, []), stub_of(top)) for top in tops]
    shown = [t for t in shown if not t.stub or t.replies]
    fresh_html([c for t in shown for c in ([] if t.stub else [t.comment]) + t.replies])
    return shown


def page_of_threads(all_threads: list[Thread], number: int) -> list[Thread]:
    start = (number - 1) * THREADS_PER_PAGE
    return all_threads[start : start + THREADS_PER_PAGE]


def page_number(all_threads: list[Thread], comment: Comment) -> int:
    """The page of the paper's threads that shows ``comment`` (1 when it is not shown)."""
    top = comment.parent_id or comment.pk
    for index, thread in enumerate(all_threads):
        if thread.comment.pk == top:
            return index // THREADS_PER_PAGE + 1
    return 1


def comment_path(comment: Comment, paper: Paper | None = None) -> str:
    """Where a comment is shown: the page of the paper's threads that holds it, at its anchor
    (at its thread's, or the discussion's, when it is no longer shown). The pages' redirects and
    the notification mails link it."""
    paper = paper or comment.paper
    every = threads(paper)
    number = page_number(every, comment)
    query = f"?comments={number}" if number > 1 else ""
    top = comment.parent_id or comment.pk
    shown = {c.pk for t in every for c in [t.comment, *t.replies]}
    anchor = f"comment-{comment.pk}" if comment.pk in shown else f"comment-{top}" if top in shown else "discussion"
    return f"{paper.get_absolute_url()}{query}#{anchor}"


def fresh_html(comments: list[Comment]) -> None:
    """Comments rendered by another version of the renderer are rendered again, and kept."""
    stale = [c for c in comments if c.html_version != rendering.VERSION]
    for comment in stale:
        comment.html, comment.html_version = rendering.render(comment.body), rendering.VERSION
    if stale:
        Comment.objects.bulk_update(stale, ["html", "html_version"])


def voted_comments(user, comments: list[Comment]) -> set[int]:
    if not user.is_authenticated or not comments:
        return set()
    ids = [c.pk for c in comments]
    return set(CommentVote.objects.filter(user=user, comment_id__in=ids).values_list("comment_id", flat=True))


def reported_comments(user, comments: list[Comment]) -> set[int]:
    if not user.is_authenticated or not comments:
        return set()
    ids = [c.pk for c in comments]
    reports = CommentReport.objects.filter(reporter=user, comment_id__in=ids, resolved_at__isnull=True)
    return set(reports.values_list("comment_id", flat=True))


def visible_count(paper: Paper) -> int:
    """What ``Paper.local_comments`` holds, counted again (tests and checks)."""
    return Comment.objects.filter(Q(paper=paper), deleted_at__isnull=True, hidden=False).count()
