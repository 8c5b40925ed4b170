"""Authors of papers, and people's claims to be one of them (docs/community.md, "Authors").

An ``Author`` is one name key (``names.parse``): every spelling with that key is the same
author. ``PaperAuthor`` puts an author at a position of a paper's list of names
(``Paper.authors``, which stays the text every reader and the API show). An abbreviated author
("Y. LeCun") whose name the rules give to a full one has ``same_as`` set: its papers are shown
on that author's page, its own URL leads there. ``same_as`` follows the corpus (a new "Yves
LeCun" undoes it) and only ever points at an author whose own ``same_as`` is empty.

An ``AuthorClaim`` is a signed-in user saying "I am this author" on a paper; staff approve or
reject it in the admin. Approval links the author to the account (``Author.user``): one
account per author.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models, transaction
from django.db.models.signals import post_delete, post_save, pre_delete
from django.dispatch import receiver
from django.utils import timezone

from paperwire.papers.models import Paper, content_changed, site_path, users_banned
from paperwire.people.linking import relink, resolve
from paperwire.people.names import FAMILY_LENGTH, INITIALS_LENGTH, KEY_LENGTH, NAME_LENGTH


class Author(models.Model):
    key = models.CharField(max_length=KEY_LENGTH, unique=True, help_text="The folded name (paperwire.people.names).")
    slug = models.SlugField(
        max_length=100, unique=True, allow_unicode=True, help_text="Its URL: /authors/<slug>. Set once, then kept."
    )
    name = models.CharField(max_length=NAME_LENGTH, help_text="The name shown: the best of its spellings.")
    family = models.CharField(max_length=FAMILY_LENGTH, blank=True)
    initials = models.CharField(max_length=INITIALS_LENGTH, blank=True)
    abbreviated = models.BooleanField(default=False, help_text="Its given names are all initials.")
    signature = models.CharField(
        max_length=KEY_LENGTH,
        db_index=True,
        help_text="The first initial and the family name (else the key): the group the matching rules read, and "
        "what co-authors are compared by (paperwire.people.names.signature).",
    )
    same_as = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="variants",
        help_text="The full name whose page this abbreviated name is on (set by the matching rules).",
    )
    support = models.CharField(
        max_length=255,
        blank=True,
        help_text="The signatures of the co-authors that support the match (space-separated), so that an import "
        "that makes one of them ambiguous checks the match again.",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="authors",
        help_text="The account an approved claim linked to this author.",
    )
    claimed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        indexes = [
            # The matching rules read the groups that hold an abbreviated name (1 author in 100).
            models.Index(fields=["signature"], condition=models.Q(abbreviated=True), name="author_abbreviated"),
            # And the matches (a few in a thousand), to undo them in a group that a new full name
            # crowds (thousands of names for "y|wang"): linking.resolve.
            models.Index(
                fields=["signature"],
                condition=models.Q(same_as__isnull=False) | ~models.Q(support=""),
                name="author_matched",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return site_path("author", self.slug, "/authors/{}")

    @property
    def account(self):
        """The account linked to this author (an approved claim), while it is active: a banned or
        deactivated account is shown nowhere, its link kept should it be active again."""
        return self.user if self.user_id and self.user.is_active else None

    @property
    def shown(self) -> Author:
        """The author whose page this name is on: itself, or the full name it was matched to."""
        return self.same_as if self.same_as_id else self


class PaperAuthor(models.Model):
    """The author at ``position`` of a paper's names (the position in ``Paper.authors`` among
    its strings, as the API numbers them)."""

    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="author_links")
    position = models.PositiveIntegerField()
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="paper_links")

    class Meta:
        ordering = ["paper", "position"]
        constraints = [models.UniqueConstraint(fields=["paper", "position"], name="one_author_per_position")]

    def __str__(self) -> str:
        return f"{self.paper_id} #{self.position}: {self.author_id}"


class AuthorClaim(models.Model):
    PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"
    STATES = [(PENDING, "waiting for staff"), (APPROVED, "approved"), (REJECTED, "rejected")]

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="author_claims")
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="claims")
    paper = models.ForeignKey(
        Paper, on_delete=models.CASCADE, related_name="author_claims", help_text="The paper it was made on."
    )
    name = models.CharField(max_length=NAME_LENGTH, help_text="The name as that paper writes it.")
    state = models.CharField(max_length=10, choices=STATES, default=PENDING)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=500, blank=True, help_text="Why it was rejected, in words for its user.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "author"], condition=models.Q(state="pending"), name="one_pending_claim_per_author"
            )
        ]
        indexes = [models.Index(fields=["state", "created_at"], name="claim_queue")]

    def __str__(self) -> str:
        return f"{self.user} claims {self.author} ({self.state})"


@receiver([post_save, post_delete], sender=Author, dispatch_uid="paperwire.people.author_saved")
def _author_saved(sender, **kwargs) -> None:
    """An admin edit of an author (a link to an account removed, a name): pages change."""
    transaction.on_commit(content_changed, robust=True)


@receiver(pre_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="paperwire.people.account_deleted")
def _account_deleted(sender, instance, **kwargs) -> None:
    """The authors linked to a deleted account lose the link (SET_NULL sends no signal)."""
    if Author.objects.filter(user_id=instance.pk).exists():
        transaction.on_commit(content_changed, robust=True)


@receiver(post_save, sender=Paper, dispatch_uid="paperwire.people.paper_saved")
def _paper_saved(sender, instance: Paper, raw: bool = False, update_fields=None, **kwargs) -> None:
    """A paper saved by itself (the admin, the shell): its names are linked again. Imports
    write papers in bulk and link them themselves (paperwire.ingest.upsert)."""
    if raw or (update_fields is not None and "authors" not in update_fields):
        return
    relink({instance.pk: instance.authors})


@receiver(pre_delete, sender=Paper, dispatch_uid="paperwire.people.paper_deleted")
def _paper_deleted(sender, instance: Paper, **kwargs) -> None:
    """A deleted paper's authors may have lost their last paper: their families are matched
    again once it is gone."""
    authors = list(PaperAuthor.objects.filter(paper_id=instance.pk).values_list("author_id", flat=True))
    if authors:
        transaction.on_commit(lambda: resolve(authors) and content_changed(), robust=True)


class Profile(models.Model):
    """What a user says about themselves on their public page (``/u/<username>``), and their
    choices of what it shows (docs/community.md, "Profiles"). An account without a row has the
    defaults: a public page, upvotes not shown. ``feed_nonce`` makes the secret address of the
    account's private Following feed (``people.following.feed_token``); rotating it retires
    the address given out before."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    display_name = models.CharField(max_length=80, blank=True)
    bio = models.TextField(blank=True, help_text="Plain text, shown escaped.")
    links = models.JSONField(default=list, blank=True, help_text="http(s) URLs (papers.links.web_url).")
    public = models.BooleanField(default=True, help_text="Others may see the profile page.")
    upvotes_public = models.BooleanField(default=False, help_text="The profile lists the papers upvoted.")
    feed_nonce = models.CharField(max_length=64, blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"profile of {self.user}"


class Follow(models.Model):
    """A user following one author, one organization or one other user: exactly one of the three
    targets is set, and a user follows each target at most once (the database says so: two
    requests racing to follow make one row)."""

    AUTHOR, ORGANIZATION, USER = "author", "organization", "user"
    KINDS = (AUTHOR, ORGANIZATION, USER)

    follower = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="follows")
    author = models.ForeignKey(Author, null=True, blank=True, on_delete=models.CASCADE, related_name="followers")
    organization = models.ForeignKey(
        "papers.Organization", null=True, blank=True, on_delete=models.CASCADE, related_name="followers"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="followers"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(author__isnull=False, organization__isnull=True, user__isnull=True)
                    | models.Q(author__isnull=True, organization__isnull=False, user__isnull=True)
                    | models.Q(author__isnull=True, organization__isnull=True, user__isnull=False)
                ),
                name="follow_one_target",
            ),
            models.UniqueConstraint(
                fields=["follower", "author"], condition=models.Q(author__isnull=False), name="follow_author_once"
            ),
            models.UniqueConstraint(
                fields=["follower", "organization"],
                condition=models.Q(organization__isnull=False),
                name="follow_organization_once",
            ),
            models.UniqueConstraint(
                fields=["follower", "user"], condition=models.Q(user__isnull=False), name="follow_user_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.follower} follows {self.target}"

    @property
    def target(self):
        return self.author or self.organization or self.user


@receiver(post_save, sender=Profile, dispatch_uid="paperwire.people.profile_saved")
def _profile_saved(sender, **kwargs) -> None:
    """A profile edited: its page (cached for anonymous readers) changes."""
    transaction.on_commit(content_changed, robust=True)


@receiver(users_banned, dispatch_uid="paperwire.people.users_banned")
def _users_banned(sender, user_ids, **kwargs) -> None:
    """Banned accounts' claims waiting for staff are rejected (their approved authors stay linked,
    shown nowhere while the account is disabled: ``Author.account``)."""
    AuthorClaim.objects.filter(user_id__in=list(user_ids), state=AuthorClaim.PENDING).update(
        state=AuthorClaim.REJECTED, decided_at=timezone.now(), note="The account was disabled."
    )
