"""Following authors, organizations and people: the follows themselves, the papers they bring
(``/following``, its private Atom feed, the digest's "From what you follow") and why each is
there (docs/community.md, "Following")."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils.crypto import constant_time_compare, salted_hmac

from paperwire.papers.models import Organization, Paper, site_path
from paperwire.people.models import Author, Follow, PaperAuthor, Profile

FEED_SALT = "paperwire.people.following.feed"


MAX_FOLLOWS = 1000  # authors, organizations and users one account follows at most


class TooManyFollows(Exception):
    """An account follows MAX_FOLLOWS already."""


class NotFollowable(LookupError):
    """No author, organization or active user by that name."""


def find_target(kind: str, key: str):
    """The author (by slug: an abbreviated name matched to a full one gives the full one), the
    organization (by slug) or the active user (by username) ``key`` names."""
    if not isinstance(key, str) or not key or len(key) > 300 or "\x00" in key:
        raise NotFollowable(key)
    if kind == Follow.AUTHOR:
        found = Author.objects.select_related("same_as").filter(slug=key).first()
        found = found.shown if found else None
    elif kind == Follow.ORGANIZATION:
        found = Organization.objects.filter(slug=key).first()
    elif kind == Follow.USER:
        found = get_user_model().objects.filter(username=key, is_active=True).first()
    else:
        found = None
    if found is None:
        raise NotFollowable(key)
    return found


def _field(target) -> str:
    if isinstance(target, Author):
        return "author"
    if isinstance(target, Organization):
        return "organization"
    return "user"


def is_following(user, target) -> bool:
    if not user.is_authenticated:
        return False
    return Follow.objects.filter(follower=user, **{_field(target): target}).exists()


def set_following(user, target, follow: bool) -> bool:
    """Follow or stop following ``target``; idempotent, and two requests racing make one row
    (the unique constraints decide). Returns whether ``user`` now follows it."""
    field = _field(target)
    if field == "user" and target.pk == user.pk:
        return False  # following oneself shows nothing new
    if not follow:
        Follow.objects.filter(follower=user, **{field: target}).delete()
        return False
    if Follow.objects.filter(follower=user).count() >= MAX_FOLLOWS and not is_following(user, target):
        raise TooManyFollows(
            f"You follow {MAX_FOLLOWS:,} authors, organizations and people already, the most one account can: "
            "stop following some first (on your Following page)."
        )
    try:
        with transaction.atomic():
            Follow.objects.get_or_create(follower=user, **{field: target})
    except IntegrityError:  # another request made the row between the read and the insert
        pass
    return True


def followed(user) -> dict[str, list]:
    """What ``user`` follows: authors, organizations and users, by name."""
    follows = Follow.objects.filter(follower=user).select_related("author", "organization", "user")
    found: dict[str, list] = {"author": [], "organization": [], "user": []}
    for follow in follows:
        if follow.author_id:
            found["author"].append(follow.author)
        elif follow.organization_id:
            found["organization"].append(follow.organization)
        elif follow.user.is_active:
            found["user"].append(follow.user)
    for items in found.values():
        items.sort(key=str)
    return found


def _sources(user) -> tuple[QuerySet, QuerySet, QuerySet]:
    follows = Follow.objects.filter(follower=user)
    authors = follows.filter(author__isnull=False).values("author_id")
    organizations = follows.filter(organization__isnull=False).values("organization_id")
    users = follows.filter(user__isnull=False, user__is_active=True).values("user_id")
    return authors, organizations, users


NEWEST = (Coalesce("submitted_on_daily_at", "published_at", "created_at").desc(), F("id").asc())


def followed_papers(user) -> QuerySet:
    """The visible papers by what ``user`` follows, newest first (when they came on the daily
    feed, else their publication, else their import): a followed author's (with the
    abbreviations on its page), a followed organization's, and a followed person's, submitted
    by them or written under an author name their account holds."""
    authors, organizations, users = _sources(user)
    places = PaperAuthor.objects.filter(
        Q(author_id__in=authors) | Q(author__same_as_id__in=authors) | Q(author__user_id__in=users)
    ).values("paper_id")
    return Paper.visible.filter(
        Q(pk__in=places) | Q(organization_id__in=organizations) | Q(submitter_id__in=users)
    ).order_by(*NEWEST)


@dataclass(frozen=True)
class Reason:
    """Why a paper is in someone's following feed, in words."""

    text: str
    url: str


def reasons_for(user, papers) -> dict[str, list[Reason]]:
    """For each paper (a page's worth), the reasons it is there, in a fixed number of queries."""
    papers = list(papers)
    if not papers:
        return {}
    ids = [p.pk for p in papers]
    follows = list(Follow.objects.filter(follower=user))
    author_ids = {f.author_id for f in follows if f.author_id}
    organization_ids = {f.organization_id for f in follows if f.organization_id}
    user_ids = {f.user_id for f in follows if f.user_id}
    found: dict[str, list[Reason]] = {pk: [] for pk in ids}
    links = (
        PaperAuthor.objects.filter(paper_id__in=ids)
        .filter(Q(author_id__in=author_ids) | Q(author__same_as_id__in=author_ids) | Q(author__user_id__in=user_ids))
        .select_related("author__same_as", "author__user", "author__same_as__user")
        .order_by("paper_id", "position")
    )
    users = {u.pk: u for u in get_user_model().objects.filter(pk__in=user_ids, is_active=True)}
    for link in links:
        author = link.author.shown
        if author.pk in author_ids or link.author_id in author_ids:
            reason = Reason(f"by {author.name} (you follow)", author.get_absolute_url())
        elif link.author.user_id in users:
            name = users[link.author.user_id].get_username()
            reason = Reason(f"by {author.name} ({name}, whom you follow)", author.get_absolute_url())
        else:
            continue
        if reason not in found[link.paper_id]:
            found[link.paper_id].append(reason)
    for paper in papers:
        if paper.organization_id in organization_ids and paper.organization is not None:
            found[paper.pk].append(Reason(f"from {paper.organization}", paper.organization.get_absolute_url()))
        if paper.submitter_id in users:
            name = users[paper.submitter_id].get_username()
            found[paper.pk].append(Reason(f"submitted by {name}", profile_path(name)))
    return found


def profile_path(username: str) -> str:
    return site_path("profile", username, "/u/{}")


# --- the private Atom feed's secret address ------------------------------------------------


def _signature(user_pk: int, nonce: str) -> str:
    return salted_hmac(FEED_SALT, f"{user_pk}:{nonce}", algorithm="sha256").hexdigest()[:40]


def feed_token(user) -> str:
    """The secret part of ``user``'s private feed address (made at the first ask): the account's
    id and a keyed hash of a random nonce kept in its profile. Knowing one account's token tells
    nothing of another's."""
    profile, _ = Profile.objects.get_or_create(user=user)
    if not profile.feed_nonce:
        nonce = secrets.token_urlsafe(24)
        Profile.objects.filter(pk=profile.pk, feed_nonce="").update(feed_nonce=nonce)
        profile.refresh_from_db(fields=["feed_nonce"])
    return f"{user.pk}-{_signature(user.pk, profile.feed_nonce)}"


def rotate_feed_token(user) -> str:
    """A new secret address; the one given out before answers 404 from now on."""
    profile, _ = Profile.objects.get_or_create(user=user)
    Profile.objects.filter(pk=profile.pk).update(feed_nonce=secrets.token_urlsafe(24))
    return feed_token(user)


def feed_owner(token: str):
    """The active account whose private feed ``token`` opens, or None (compared in constant time)."""
    if not isinstance(token, str) or len(token) > 80:
        return None
    head, _, signature = token.partition("-")
    if not head.isascii() or not head.isdigit() or len(head) > 18 or not signature:
        return None
    profile = Profile.objects.select_related("user").filter(user_id=int(head)).exclude(feed_nonce="").first()
    if profile is None or not profile.user.is_active:
        return None
    if not constant_time_compare(signature, _signature(profile.user_id, profile.feed_nonce)):
        return None
    return profile.user
