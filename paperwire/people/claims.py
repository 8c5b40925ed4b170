"""Claims: a signed-in user with a verified address says "I am this author" on a paper; staff
approve or reject it in the admin (docs/community.md, "Claiming").

An approved claim links the author to the account (``Author.user``): the author's page shows
the account, paper pages mark the name, the API gives the name its ``user``. One account per
author: a claim on an author another account holds is refused, and approving one makes the
other claims waiting on that author rejected. Every decision bumps the content version in its
own transaction, so that cached pages show it at once.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from paperwire.accounts.models import verified_email
from paperwire.papers.models import Paper, content_changed
from paperwire.people.linking import names_of
from paperwire.people.models import Author, AuthorClaim, PaperAuthor


class ClaimRefused(Exception):
    """Why a claim cannot be made or approved, in words for the person asking."""


def request_claim(user, paper: Paper, position: int) -> AuthorClaim:
    """A claim by ``user`` to be the author at ``position`` of ``paper``, waiting for staff."""
    if not verified_email(user):
        raise ClaimRefused(
            "Verify your email address first (the link of the mail sent at sign-up; your settings page sends it "
            "again): staff need it to check who you are."
        )
    link = PaperAuthor.objects.filter(paper=paper, position=position).select_related("author__same_as__user").first()
    if link is None:
        raise ClaimRefused("This paper has no author at that place.")
    author = link.author.shown
    if author.user_id == user.pk:
        raise ClaimRefused(f"“{author.name}” is already linked to your account.")
    if author.user_id:
        raise ClaimRefused(
            f"“{author.name}” is already linked to another account on Paperwire ({author.user.get_username()}): "
            "an author has one account. If that is wrong, write to the site's staff."
        )
    waiting = f"Your claim to be “{author.name}” is already waiting for staff."
    if AuthorClaim.objects.filter(user=user, author=author, state=AuthorClaim.PENDING).exists():
        raise ClaimRefused(waiting)
    names = names_of(paper.authors)
    name = (names[position] if position < len(names) else "") or author.name
    try:
        with transaction.atomic():
            return AuthorClaim.objects.create(user=user, author=author, paper=paper, name=name[:200])
    except IntegrityError:  # the same claim, sent twice at once
        raise ClaimRefused(waiting) from None


def approve(claim: AuthorClaim, staff) -> AuthorClaim:
    """Link the claim's author to its user. Refused when another account holds the author or the
    claim was decided already; the other claims waiting on the author are rejected."""
    with transaction.atomic():
        author = Author.objects.select_for_update(of=("self",)).select_related("user").get(pk=claim.author_id)
        claim = AuthorClaim.objects.select_for_update(of=("self",)).select_related("user").get(pk=claim.pk)
        if claim.state != AuthorClaim.PENDING:
            raise ClaimRefused(f"This claim was {claim.get_state_display()} already.")
        if not claim.user.is_active:
            raise ClaimRefused(f"The account {claim.user.get_username()} is disabled (banned): reject this claim.")
        if author.user_id and author.user_id != claim.user_id:
            raise ClaimRefused(
                f"“{author.name}” is linked to {author.user.get_username()} already: one account per author. "
                "Unlink it on the author's page in the admin first, or reject this claim."
            )
        now = timezone.now()
        # A claimed author keeps its own page: it is nobody's abbreviation any more.
        Author.objects.filter(pk=author.pk).update(user=claim.user, claimed_at=now, same_as=None)
        AuthorClaim.objects.filter(pk=claim.pk).update(state=AuthorClaim.APPROVED, decided_at=now, decided_by=staff)
        AuthorClaim.objects.filter(author=author, state=AuthorClaim.PENDING).exclude(pk=claim.pk).update(
            state=AuthorClaim.REJECTED,
            decided_at=now,
            decided_by=staff,
            note="Another account was linked to this author.",
        )
        content_changed()
    claim.refresh_from_db()
    return claim


def reject(claim: AuthorClaim, staff, note: str | None = None) -> AuthorClaim:
    """Reject a waiting claim (``note``: why, for its user; by default the note staff wrote on it)."""
    fields = {} if note is None else {"note": note[:500]}
    with transaction.atomic():
        changed = AuthorClaim.objects.filter(pk=claim.pk, state=AuthorClaim.PENDING).update(
            state=AuthorClaim.REJECTED, decided_at=timezone.now(), decided_by=staff, **fields
        )
    if not changed:
        claim.refresh_from_db()
        raise ClaimRefused(f"This claim was {claim.get_state_display()} already.")
    claim.refresh_from_db()
    return claim


def unlink(author: Author) -> None:
    """Take the account off an author (staff, in the admin)."""
    with transaction.atomic():
        Author.objects.filter(pk=author.pk).update(user=None, claimed_at=None)
        content_changed()


def waiting_for(user, authors) -> set[int]:
    """The ids of these authors that ``user`` has a claim waiting on."""
    if not user.is_authenticated:
        return set()
    ids = [a.pk for a in authors if a is not None]
    claims = AuthorClaim.objects.filter(user=user, state=AuthorClaim.PENDING, author_id__in=ids)
    return set(claims.values_list("author_id", flat=True))
