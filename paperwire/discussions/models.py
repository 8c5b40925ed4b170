"""Comments under papers, their votes and their reports.

A comment is a top comment (``parent`` empty) or a reply to one: one level of replies, a reply to
a reply attaches to its top comment (paperwire/discussions/threads.py). Its Markdown is kept as
written (``body``) and as HTML (``html``, made by paperwire/discussions/rendering.py, whose
``VERSION`` it was made with is ``html_version``: a comment read with another version is
rendered again).

A deleted comment keeps its row, emptied (``deleted_at`` set, text gone): shown as a stub while
it has visible replies, not at all otherwise. A hidden one (by a moderator) keeps its text for
the moderators and is shown like a deleted one. ``upvotes`` is the number of its CommentVote rows,
recounted in each vote's transaction. ``Paper.local_comments`` counts the visible comments of a
paper (neither deleted nor hidden), recounted in each comment's transaction.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.signals import pre_delete
from django.dispatch import receiver
from django.utils import timezone

from paperwire.papers.models import Paper, users_banned


class Comment(models.Model):
    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="comments")
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="replies",
        help_text="The top comment this one replies to (replies have no replies).",
    )
    answers = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The comment a reply answers: its top comment, or a reply in the thread (its author is told).",
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="comments"
    )
    body = models.TextField(blank=True, help_text="The Markdown written; empty once deleted.")
    html = models.TextField(blank=True, editable=False)
    html_version = models.CharField(max_length=40, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True, help_text="Deleted by its author (or with the account).")
    hidden = models.BooleanField(default=False, help_text="Hidden by a moderator: shown to no one.")
    upvotes = models.IntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["paper", "parent", "created_at"], name="comment_thread")]

    def __str__(self) -> str:
        return f"#{self.pk} on {self.paper_id} by {self.author or 'nobody'}"

    @property
    def visible(self) -> bool:
        return self.deleted_at is None and not self.hidden

    @property
    def anchor(self) -> str:
        return f"comment-{self.pk}"


class CommentVote(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="comment_votes")
    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="votes")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "comment"], name="one_vote_per_user_and_comment")]

    def __str__(self) -> str:
        return f"{self.user} -> comment {self.comment_id}"


class CommentReport(models.Model):
    """Someone asking the moderators to look at a comment. One open report per person and comment;
    a moderator resolves it (hiding the comment or keeping it)."""

    REASONS = [
        ("spam", "Spam or advertising"),
        ("abuse", "Harassment, hate or personal attacks"),
        ("off-topic", "Not about this paper"),
        ("other", "Something else"),
    ]
    HIDDEN, KEPT, GONE = "hidden", "kept", "gone"
    RESOLUTIONS = [(HIDDEN, "comment hidden"), (KEPT, "comment kept"), (GONE, "deleted by its author")]
    MAX_DETAILS = 500

    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="reports")
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="comment_reports")
    reason = models.CharField(max_length=20, choices=REASONS)
    details = models.TextField(blank=True, max_length=MAX_DETAILS)
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolution = models.CharField(max_length=10, blank=True, choices=RESOLUTIONS)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["comment", "reporter"],
                condition=models.Q(resolved_at__isnull=True),
                name="one_open_report_per_user_and_comment",
            )
        ]
        indexes = [models.Index(fields=["resolved_at", "created_at"], name="report_queue")]

    def __str__(self) -> str:
        return f"{self.get_reason_display()}: comment {self.comment_id} (by {self.reporter})"


@receiver(pre_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="paperwire.discussions.account_deleted")
def _account_deleted(sender, instance, **kwargs) -> None:
    """An account deleted (by itself, in the admin, in a shell): its comments are deleted as it
    would have deleted them, its comment votes withdrawn, before the rows lose their author."""
    from paperwire.discussions.threads import erase_authors_comments

    erase_authors_comments([instance.pk])


@receiver(users_banned, dispatch_uid="paperwire.discussions.users_banned")
def _users_banned(sender, user_ids, **kwargs) -> None:
    from paperwire.discussions.threads import withdraw_votes

    withdraw_votes(user_ids)
