from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models, transaction
from django.db.models import Count, F, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.urls import reverse

from paperwire.papers.ids import is_arxiv


class Organization(models.Model):
    name = models.SlugField(max_length=100, unique=True, help_text="Short name used in URLs, e.g. 'nvidia'.")
    fullname = models.CharField(max_length=200, blank=True)
    avatar_url = models.URLField(max_length=500, blank=True)
    hf_id = models.CharField(max_length=40, blank=True, help_text="The organization's id on Hugging Face.")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.fullname or self.name

    def get_absolute_url(self) -> str:
        return reverse("organization", args=[self.name])


class VisiblePapers(models.Manager):
    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().filter(hidden=False)


class Paper(models.Model):
    """One paper, whatever number of arXiv versions it has had.

    ``upvotes`` is kept equal to ``base_upvotes`` (votes recorded elsewhere before
    import, the highest count seen wins) plus the Vote rows; ``refresh_upvotes``
    recomputes it from those two in one statement, so concurrent votes never drift.
    """

    id = models.CharField(primary_key=True, max_length=64)
    title = models.TextField()
    abstract = models.TextField()
    authors = models.JSONField(default=list, help_text="Author names, in the paper's order.")
    categories = models.JSONField(default=list, blank=True)
    published = models.DateField(null=True, blank=True, help_text="First publication (arXiv v1).")
    published_at = models.DateTimeField(null=True, blank=True)
    submitted_on_daily_at = models.DateTimeField(
        null=True, blank=True, help_text="When the paper was put on the daily feed, if that was explicit."
    )
    daily_date = models.DateField(
        null=True, blank=True, db_index=True, help_text="The day of the daily feed the paper belongs to."
    )
    submitter = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitter_name = models.CharField(max_length=100, blank=True, db_index=True)
    hf_submitter = models.JSONField(null=True, blank=True, help_text="submittedOnDailyBy from Hugging Face.")
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="papers"
    )
    code_urls = models.JSONField(default=list, blank=True)
    github_stars = models.IntegerField(null=True, blank=True)
    project_page = models.URLField(max_length=500, blank=True)
    comment = models.TextField(blank=True)
    doi = models.CharField(max_length=200, blank=True)
    ai_summary = models.TextField(blank=True)
    ai_keywords = models.JSONField(default=list, blank=True)
    num_comments = models.IntegerField(default=0)
    base_upvotes = models.IntegerField(default=0)
    upvotes = models.IntegerField(default=0)
    hidden = models.BooleanField(default=False, help_text="Hidden papers are left out of every page and API.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    objects = models.Manager()
    visible = VisiblePapers()

    class Meta:
        indexes = [
            models.Index(fields=["daily_date", "-upvotes"], name="paper_daily_rank"),
            models.Index(fields=["-submitted_on_daily_at"], name="paper_latest"),
        ]

    def __str__(self) -> str:
        return f"{self.id}: {self.title[:80]}"

    def get_absolute_url(self) -> str:
        return reverse("paper", args=[self.id])

    @property
    def is_arxiv(self) -> bool:
        return is_arxiv(self.id)

    @property
    def arxiv_abs_url(self) -> str:
        return f"https://arxiv.org/abs/{self.id}" if self.is_arxiv else ""

    @property
    def arxiv_pdf_url(self) -> str:
        return f"https://arxiv.org/pdf/{self.id}" if self.is_arxiv else ""

    @property
    def code_url(self) -> str:
        return self.code_urls[0] if self.code_urls else ""

    @property
    def feed_time(self):
        """When the paper entered the daily feed (explicit submission, else publication)."""
        return self.submitted_on_daily_at or self.published_at

    def refresh_upvotes(self) -> int:
        refresh_upvotes([self.pk])
        self.upvotes = Paper.objects.values_list("upvotes", flat=True).get(pk=self.pk)
        return self.upvotes


def refresh_upvotes(paper_ids: list[str]) -> None:
    """Set upvotes = base_upvotes + number of Vote rows, computed inside the database."""
    votes = Vote.objects.filter(paper=OuterRef("pk")).order_by().values("paper").annotate(n=Count("pk")).values("n")
    Paper.objects.filter(pk__in=paper_ids).update(upvotes=F("base_upvotes") + Coalesce(Subquery(votes), Value(0)))
    content_changed()


class ContentVersion(models.Model):
    """One row: what the pages show changes whenever ``counter`` does (see paperwire.pagecache).

    ``token`` is drawn when the row is created, so a database that was emptied and
    started again never matches responses cached for the old one.
    """

    token = models.CharField(max_length=32)
    counter = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"content version {self.token}.{self.counter}"


def content_changed() -> None:
    """Responses cached until now are out of date: bump the version in the current transaction.

    The new version becomes visible in the same commit as the change itself, so no process
    can read the new version and the old rows. Call it last in a transaction: the version row
    is then the last lock taken, and two writers cannot wait on each other through it.
    """
    if not ContentVersion.objects.filter(pk=1).update(counter=F("counter") + 1):
        current_content_version()
        ContentVersion.objects.filter(pk=1).update(counter=F("counter") + 1)


def current_content_version() -> str:
    row = ContentVersion.objects.filter(pk=1).values_list("token", "counter").first()
    if row is None:
        version, _ = ContentVersion.objects.get_or_create(pk=1, defaults={"token": secrets.token_hex(16)})
        row = (version.token, version.counter)
    return f"{row[0]}.{row[1]}"


class Vote(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="votes")
    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="votes")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "paper"], name="one_vote_per_user_and_paper")]

    def __str__(self) -> str:
        return f"{self.user} -> {self.paper_id}"


def set_vote(user, paper: Paper, up: bool) -> int:
    """Record or withdraw ``user``'s vote on ``paper``; returns the paper's new count.

    Idempotent: voting twice is one vote, withdrawing a vote that is not there does
    nothing. The unique constraint settles races between concurrent requests.
    """
    with transaction.atomic():
        if up:
            Vote.objects.get_or_create(user=user, paper=paper)
        else:
            Vote.objects.filter(user=user, paper=paper).delete()
        return paper.refresh_upvotes()


class Submission(models.Model):
    """A user putting a paper on the daily feed by its arXiv id.

    A paper already in the database goes on the feed at once (``done``). Otherwise its
    metadata must come from arXiv: the submission is ``pending`` until a fetch succeeds
    (``done``, ``paper`` set) or arXiv says it has no such paper or keeps failing
    (``failed``, ``last_error`` says why, in words meant for the user). ``attempts`` counts
    the fetches claimed so far; a fetch owns the row until ``claimed_until``, so that a web
    request and any number of workers never complete the same submission twice.
    """

    PENDING, DONE, FAILED = "pending", "done", "failed"
    STATES = [(PENDING, "waiting for arXiv"), (DONE, "on the feed"), (FAILED, "failed")]

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="submissions")
    arxiv_id = models.CharField(max_length=64, help_text="The paper asked for.")
    paper = models.ForeignKey(Paper, null=True, blank=True, on_delete=models.CASCADE, related_name="submissions")
    state = models.CharField(max_length=10, choices=STATES, default=DONE)
    attempts = models.IntegerField(default=0)
    last_error = models.TextField(blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["arxiv_id"], condition=models.Q(state="pending"), name="one_pending_submission_per_paper"
            )
        ]
        indexes = [models.Index(fields=["user", "created_at"], name="submission_user_day")]

    def __str__(self) -> str:
        return f"{self.user} submitted {self.arxiv_id} ({self.state})"


@receiver([post_save, post_delete], sender=Paper)
@receiver([post_save, post_delete], sender=Organization)
def saved_or_deleted(sender, **kwargs) -> None:
    """Edits one at a time (the admin's forms, deletions, organizations an import meets):
    these can come first in a transaction, so the version is bumped after its commit."""
    transaction.on_commit(content_changed, robust=True)
