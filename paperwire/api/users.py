"""Accounts and organizations as huggingface.co's API gives them, for what huggingface_hub reads:
``whoami`` (``/api/whoami-v2``), ``get_user_overview`` (``/api/users/<name>/overview``) and
``get_organization_overview`` (``/api/organizations/<name>/overview``). Numbers Paperwire does
not have (models, datasets, Spaces, likes) are left out; the client reads them as None
(docs/api.md, "Accounts and organizations")."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse

from paperwire.accounts.models import verified_email
from paperwire.api.serializers import hf_time, organization_json, user_json
from paperwire.operations.errors import json_error
from paperwire.papers.links import web_url
from paperwire.papers.models import Organization, Paper
from paperwire.people import following, profiles
from paperwire.people.authors import papers_of
from paperwire.people.models import Author, Follow


def whoami(request: HttpRequest) -> JsonResponse:
    """``GET /api/whoami-v2``: the account a token (or the session) belongs to. huggingface_hub
    reads ``name``, ``type``, ``orgs[].name``, and the token's ``auth.accessToken.displayName`` and
    ``role``."""
    user = request.user
    data = {
        "type": "user",
        "id": f"pw-user-{user.pk}",
        "name": user.get_username(),
        "fullname": user.get_username(),
        "email": user.email or None,
        "emailVerified": bool(verified_email(user)),
        "avatarUrl": "",
        "isPro": False,
        "orgs": [],
        "createdAt": hf_time(user.date_joined),
    }
    token = getattr(request, "api_token", None)
    if token is not None:
        data["auth"] = {
            "type": "access_token",
            "accessToken": {"displayName": token.name, "role": "write", "createdAt": hf_time(token.created_at)},
        }
    else:
        data["auth"] = {"type": "session"}
    return JsonResponse(data)


def claimed_papers(user) -> int:
    """How many visible papers name an author linked to ``user`` (approved claims), or one of the
    abbreviated names on such an author's page."""
    authors = list(Author.objects.filter(user=user).values_list("pk", flat=True))
    if not authors:
        return 0
    group = authors + list(Author.objects.filter(same_as_id__in=authors).values_list("pk", flat=True))
    return papers_of(group).count()


def user_overview(request: HttpRequest, name: str) -> JsonResponse:
    """``GET /api/users/<name>/overview``: an account of this site, by its user name, as its
    profile page shows it (``/u/<name>``: none for a hidden profile but to its owner, nor for an
    inactive account); ``fullname`` is its display name, ``details`` its bio."""
    user, profile = profiles.shown_user(name, request.user)  # the name in any case
    if user is None:
        return json_error(f"user {name[:100]!r} not found", 404)
    data = user_json(user) | {
        "fullname": profile.display_name or user.get_username(),
        "details": profile.bio,
        "orgs": [],
        "createdAt": hf_time(user.date_joined),
        "numPapers": claimed_papers(user),
        "numFollowers": Follow.objects.filter(user=user, follower__is_active=True).count(),
        "numFollowing": Follow.objects.filter(follower=user).count(),
    }
    if request.user.is_authenticated:
        data["isFollowing"] = following.is_following(request.user, user)
    return JsonResponse(data)


def find_organization(name: str) -> Organization | None:
    """By its name (its Hugging Face handle, or the name it was imported with), else its slug,
    else a name or slug it had (merged organizations)."""
    return (
        Organization.objects.filter(name=name).order_by("pk").first()
        or Organization.objects.filter(slug=name).first()
        or Organization.objects.for_url(name)
    )


def organization_overview(request: HttpRequest, name: str) -> JsonResponse:
    """``GET /api/organizations/<name>/overview``."""
    org = find_organization(name)
    if org is None:
        return json_error(f"organization {name[:100]!r} not found", 404)
    short = organization_json(org)
    data = {
        "_id": short["_id"],
        "name": org.name,
        "fullname": short["fullname"],
        "avatarUrl": web_url(org.avatar_url),
        "type": "org",
        "numPapers": Paper.visible.filter(organization=org).count(),
    }
    return JsonResponse(data)
