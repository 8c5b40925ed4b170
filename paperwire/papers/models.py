from __future__ import annotations

import secrets
import threading
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import Count, F, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce, Least
from django.db.models.signals import post_delete, post_save
from django.dispatch import Signal, receiver
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from paperwire.papers.ids import is_arxiv
from paperwire.papers.links import web_url
from paperwire.papers.orgnames import NAME_LENGTH, alias_keys, best_spelling, clean_name, name_key, slug_for


def site_path(name: str, value: str, shape: str) -> str:
    """The URL of a page about ``value`` (a paper id, an organization's slug). A value its URL
    pattern refuses (an id typed with a space in the admin, a row written before the checks)
    gets its path quoted, which answers 404, instead of failing every page that links it."""
    try:
        return reverse(name, args=[value])
    except NoReverseMatch:
        return shape.format(quote(str(value), safe=""))


class OrganizationManager(models.Manager):
    def find_or_create(
        self, name: str, fullname: str = "", avatar_url: str = "", hf_id: str = ""
    ) -> tuple[Organization | None, list[int]]:
        """The organization these names belong to, created if it is new.

        Policy: an organization is found again by any of its names or fullnames folded
        (case, accents, whitespace, punctuation ignored) or by its Hugging Face id. When the
        names given belong to several organizations, those are one organization: the oldest
        absorbs the others (their papers, names and URLs). An empty fullname, avatar or
        Hugging Face id is filled in; nothing else is overwritten here, and the slug never
        changes. (The fullname, the name shown, is then set by ``respell`` from the spellings
        of the organization's papers.)
        Returns the organization (None for an empty name) and the ids of the ones absorbed.
        """
        name, fullname = clean_name(name) or clean_name(fullname), clean_name(fullname)
        if not name:
            return None, []
        keys = alias_keys(name, fullname, hf_id)
        for attempt in range(3):
            try:
                with transaction.atomic():
                    return self._find_or_create(keys, name, fullname, avatar_url, hf_id.strip())
            except IntegrityError:
                # Another process created one of these names at the same moment: look again.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _find_or_create(self, keys, name, fullname, avatar_url, hf_id) -> tuple[Organization, list[int]]:
        # Two lookups, each by a unique index, rather than one join: on PostgreSQL a join planned
        # from stale statistics (tables filled by this very import) scanned every organization.
        ids = set(OrganizationAlias.objects.filter(key__in=keys).values_list("organization_id", flat=True))
        found = sorted(self.filter(pk__in=ids), key=lambda org: org.pk) if ids else []
        if not found:
            org = self.create(
                name=name, fullname=fullname, avatar_url=avatar_url, hf_id=hf_id, slug=self.free_slug(name, fullname)
            )
            OrganizationAlias.objects.bulk_create(
                OrganizationAlias(key=key, organization=org) for key in sorted(keys | {f"s:{org.slug}"})
            )
            return org, []
        org, absorbed = found[0], found[1:]
        if absorbed:
            org.absorb(absorbed)
        org.fill_in(fullname=fullname, avatar_url=avatar_url, hf_id=hf_id)
        known = set(OrganizationAlias.objects.filter(key__in=keys).values_list("key", flat=True))
        OrganizationAlias.objects.bulk_create(OrganizationAlias(key=k, organization=org) for k in sorted(keys - known))
        return org, [other.pk for other in absorbed]

    def free_slug(self, name: str, fullname: str) -> str:
        base = slug_for(name, fullname)
        slug, n = base, 1
        while self.filter(slug=slug).exists() or OrganizationAlias.objects.filter(key=f"s:{slug}").exists():
            n += 1
            slug = f"{base}-{n}"
        return slug

    def respell(self, ids) -> int:
        """Show each of these organizations by the best spelling of the names its papers came
        with (``orgnames.best_spelling``; papers whose spelling is unknown, imported before it
        was kept, do not count). Returns how many names changed. The organizations are updated
        in id order, so that two imports never wait on each other's rows in a cycle."""
        ids = sorted(set(ids) - {None})
        if not ids:
            return 0
        spellings = (
            Paper.objects.filter(organization_id__in=ids)
            .exclude(organization_name="")
            .values_list("organization_id", "organization_name")
            .annotate(papers=Count("pk"))
            .order_by()
        )
        counts: dict[int, dict[str, int]] = {}
        for org_id, spelling, papers in spellings:
            counts.setdefault(org_id, {})[spelling] = papers
        changed = 0
        for org in self.filter(pk__in=ids).order_by("pk"):
            known = counts.get(org.pk) or {org.fullname or org.name: 0}
            shown = best_spelling(known, org.name)
            if shown and shown != (org.fullname or org.name):
                changed += self.filter(pk=org.pk).update(fullname=shown)
        return changed

    def for_url(self, value: str) -> Organization | None:
        """The organization an old or merged URL names: a slug it had, else one of its names."""
        keys = [f"s:{value}", name_key(value)]
        aliases = OrganizationAlias.objects.filter(key__in=keys).select_related("organization")
        found = {alias.key: alias.organization for alias in aliases}
        return next((found[key] for key in keys if key in found), None)


class Organization(models.Model):
    name = models.CharField(
        max_length=NAME_LENGTH, help_text="The name its source gives it (Hugging Face's handle, or the name imported)."
    )
    slug = models.SlugField(
        max_length=100, unique=True, allow_unicode=True, help_text="Its URL: /orgs/<slug>. Set once, then kept."
    )
    fullname = models.CharField(
        max_length=NAME_LENGTH,
        blank=True,
        help_text="The name shown: the best spelling of the names its papers came with, set again by each import.",
    )
    avatar_url = models.URLField(
        max_length=500, blank=True, help_text="Kept for the API; pages never load it (no third-party resources)."
    )
    hf_id = models.CharField(max_length=40, blank=True, help_text="The organization's id on Hugging Face.")

    objects = OrganizationManager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.fullname or self.name

    def get_absolute_url(self) -> str:
        return site_path("organization", self.slug, "/orgs/{}")

    @property
    def initials(self) -> str:
        """Up to two letters standing in for a logo."""
        words = [w for w in str(self).replace("-", " ").split() if w[:1].isalnum()]
        visible = [c for c in str(self) if unicodedata.category(c)[0] not in "CZ"]
        return "".join(w[0] for w in words[:2]).upper() or "".join(visible[:1])

    def fill_in(self, **values: str) -> None:
        """Set the fields that are empty and given a value."""
        changed = [field for field, value in values.items() if value and not getattr(self, field)]
        for field in changed:
            setattr(self, field, values[field])
        if changed:
            self.save(update_fields=changed)

    def add_aliases(self, keys: set[str]) -> None:
        """Find this organization by ``keys`` too, except those another organization has."""
        OrganizationAlias.objects.bulk_create(
            [OrganizationAlias(key=key, organization=self) for key in sorted(keys)], ignore_conflicts=True
        )

    def absorb(self, others: list[Organization]) -> None:
        """Make ``others`` part of this organization: their papers, names and URLs come here."""
        ids = [other.pk for other in others]
        Paper.objects.filter(organization_id__in=ids).update(organization=self, updated_at=timezone.now())
        OrganizationAlias.objects.filter(organization_id__in=ids).update(organization=self)
        for other in others:
            self.fill_in(fullname=other.fullname, avatar_url=other.avatar_url, hf_id=other.hf_id)
        Organization.objects.filter(pk__in=ids).delete()
        Organization.objects.respell([self.pk])
        self.refresh_from_db(fields=["fullname"])


class OrganizationAlias(models.Model):
    """A key an organization is found by: a folded name (``n:``), a Hugging Face id (``hf:``)
    or a slug it had (``s:``); see paperwire.papers.orgnames."""

    key = models.CharField(max_length=255, unique=True)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="aliases")

    def __str__(self) -> str:
        return self.key


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
    organization_name = models.CharField(
        max_length=NAME_LENGTH,
        blank=True,
        help_text="The organization's name as this paper's source spelled it (its fullname, else its name).",
    )
    code_urls = models.JSONField(default=list, blank=True)
    github_stars = models.IntegerField(null=True, blank=True)
    project_page = models.URLField(max_length=500, blank=True)
    comment = models.TextField(blank=True)
    doi = models.CharField(max_length=200, blank=True)
    ai_summary = models.TextField(blank=True)
    ai_keywords = models.JSONField(default=list, blank=True)
    num_comments = models.IntegerField(default=0, help_text="Comments on Hugging Face, as imported.")
    local_comments = models.IntegerField(
        default=0,
        help_text="Visible comments written here (kept by paperwire.discussions in each comment's transaction).",
    )
    base_upvotes = models.IntegerField(default=0)
    upvotes = models.IntegerField(default=0)
    hidden = models.BooleanField(default=False, help_text="Hidden papers are left out of every page and API.")
    upvotes_changed_at = models.DateTimeField(
        null=True, blank=True, db_index=True, help_text="When refresh_upvotes last recounted the votes."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    objects = models.Manager()
    visible = VisiblePapers()

    class Meta:
        indexes = [
            models.Index(fields=["daily_date", "-upvotes"], name="paper_daily_rank"),
            # A feed's page: its ids in ranking order from this index alone (ranking.IdsFirst).
            models.Index(
                fields=["daily_date", "-upvotes", "-submitted_on_daily_at", "-published_at", "id"],
                condition=models.Q(hidden=False, daily_date__isnull=False),
                name="paper_feed_order",
            ),
            models.Index(fields=["-submitted_on_daily_at"], name="paper_latest"),
            # Search leaves hidden papers out of its counts: it reads their ids on every content change.
            models.Index(fields=["id"], condition=models.Q(hidden=True), name="paper_hidden"),
            # While the keyword index is missing, search reads the newest papers from the database
            # (search/fallback.py): this index finds them without reading the others.
            models.Index(fields=["published", "id"], condition=models.Q(hidden=False), name="paper_published"),
        ]

    def __str__(self) -> str:
        return f"{self.id}: {self.title[:80]}"

    def get_absolute_url(self) -> str:
        return site_path("paper", self.id, "/papers/{}")

    @property
    def vote_url(self) -> str:
        return site_path("vote", self.id, "/papers/{}/vote")

    @property
    def markdown_url(self) -> str:
        return site_path("paper_markdown", self.id, "/papers/{}.md")

    @property
    def is_arxiv(self) -> bool:
        return is_arxiv(self.id)

    @property
    def arxiv_abs_url(self) -> str:
        return f"https://arxiv.org/abs/{self.id}" if self.is_arxiv else ""

    @property
    def arxiv_pdf_url(self) -> str:
        return f"https://arxiv.org/pdf/{self.id}" if self.is_arxiv else ""

    # Links from data are shown only through papers.links.web_url: http(s) or nothing.
    @property
    def code_links(self) -> list[str]:
        return [url for url in map(web_url, self.code_urls or []) if url]

    @property
    def code_url(self) -> str:
        return next(iter(self.code_links), "")

    @property
    def project_url(self) -> str:
        return web_url(self.project_page)

    @property
    def doi_url(self) -> str:
        return f"https://doi.org/{quote(self.doi.strip(), safe='/:;()._-')}" if self.doi.strip() else ""

    @property
    def comment_count(self) -> int:
        """The comments a reader is told of: the visible ones written here once there are any,
        else the count imported from Hugging Face (docs/community.md)."""
        return self.local_comments if self.local_comments > 0 else self.num_comments

    @property
    def comments_are_local(self) -> bool:
        return self.local_comments > 0

    @property
    def feed_time(self):
        """When the paper entered the daily feed (explicit submission, else publication)."""
        return self.submitted_on_daily_at or self.published_at

    def refresh_upvotes(self) -> int:
        refresh_upvotes([self.pk])
        self.upvotes = Paper.objects.values_list("upvotes", flat=True).get(pk=self.pk)
        return self.upvotes


# The largest count a paper holds: an IntegerField's maximum on every database (PostgreSQL's
# `integer`). Imported upvotes go up to it (docs/import.md); votes cast here are added to them
# and the sum is held there, so that it always fits the column.
MAX_COUNT = 2**31 - 1


def refresh_upvotes(paper_ids: list[str]) -> None:
    """Set upvotes = base_upvotes + number of Vote rows (at most MAX_COUNT), computed inside the
    database. Deleting votes by any path calls it (``_vote_deleted``).

    ``upvotes_changed_at`` tells the search index which papers to re-sort (``updated_at`` is left
    alone: feeds give it as the time an entry was last edited, which a vote is not).

    The rows are locked first (in id order, so two refreshes never deadlock): on PostgreSQL an
    UPDATE that waited for another transaction's lock still computes its subquery from the
    snapshot it started with, so two votes committed at once could each miss the other's.
    After the lock, the UPDATE is a new statement with a new snapshot that sees them all.
    The lock is FOR NO KEY UPDATE: a transaction committing a row that refers to the paper (a
    comment) checks the reference then, with FOR KEY SHARE, after taking the content version;
    FOR UPDATE would make it wait in a cycle with this one (tests/test_lock_order.py).
    """
    votes = Vote.objects.filter(paper=OuterRef("pk")).order_by().values("paper").annotate(n=Count("pk")).values("n")
    with transaction.atomic():
        locked = Paper.objects.select_for_update(no_key=True).filter(pk__in=paper_ids).order_by("pk")
        list(locked.values_list("pk", flat=True))
        Paper.objects.filter(pk__in=paper_ids).update(
            # PostgreSQL adds an integer and a count as bigints: the sum is held before it is stored.
            upvotes=Least(F("base_upvotes") + Coalesce(Subquery(votes), Value(0)), Value(MAX_COUNT)),
            upvotes_changed_at=timezone.now(),
        )
    content_changed()


class ContentVersion(models.Model):
    """One row: what the pages show changes whenever ``counter`` does (see paperwire.operations.pagecache).

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


_recounting = threading.local()


@contextmanager
def recount_once() -> Iterator[None]:
    """Votes deleted inside the block (any number, any way) are recounted once per paper at its
    end, in one transaction with the deletion, instead of once per vote."""
    if getattr(_recounting, "papers", None) is not None:
        yield  # an outer block recounts
        return
    _recounting.papers = set()
    try:
        with transaction.atomic():
            yield
            if _recounting.papers:
                refresh_upvotes(sorted(_recounting.papers))
    finally:
        _recounting.papers = None


@receiver(post_delete, sender=Vote, dispatch_uid="paperwire.papers.vote_deleted")
def _vote_deleted(sender, instance: Vote, **kwargs) -> None:
    """A vote is gone: a user deleted in the admin or the shell (the cascade sends this for each
    of their votes), a bulk delete, a withdrawn vote. Its paper's count follows."""
    pending = getattr(_recounting, "papers", None)
    if pending is not None:
        pending.add(instance.paper_id)
    else:
        refresh_upvotes([instance.paper_id])


def set_vote(user, paper: Paper, up: bool) -> int:
    """Record or withdraw ``user``'s vote on ``paper``; returns the paper's new count.

    Idempotent: voting twice is one vote, withdrawing a vote that is not there does
    nothing. The unique constraint settles races between concurrent requests.
    """
    with recount_once():  # a withdrawn vote is recounted below, not once more by the signal
        if up:
            Vote.objects.get_or_create(user=user, paper=paper)
        else:
            Vote.objects.filter(user=user, paper=paper).delete()
        return paper.refresh_upvotes()


# Sent by the moderators' ban (papers/admin.py) with ``user_ids``, in its transaction: the floors
# above take back what those accounts did there (paperwire/discussions: their comment votes).
users_banned = Signal()


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
