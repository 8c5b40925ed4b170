"""People's pages: public profiles (``/u/<username>``) and their settings, following authors,
organizations and people, the Following page (``/following``) and its private Atom feed."""

from __future__ import annotations

from html import unescape

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import strip_tags
from django.views.decorators.http import require_POST, require_safe

from paperwire.api.feeds import PaperFeed, SafeAtom, text_html
from paperwire.core.siteurl import absolute
from paperwire.discussions.models import Comment
from paperwire.operations.errors import json_error, wants_json
from paperwire.operations.pagecache import cache_for_anonymous
from paperwire.operations.ratelimit import limit_writes
from paperwire.papers.models import Paper, Vote
from paperwire.people import following, profiles
from paperwire.people.authors import attach_names, papers_of
from paperwire.people.models import Author, Follow
from paperwire.web.accounts import profile_form, settings_page
from paperwire.web.papers import CARD_NAMES, paginate, redirect_next, voted_ids

PROFILE_ITEMS = 20  # papers submitted, authored, upvoted and comments shown on a profile


@login_required
@require_POST
@limit_writes("profile", what="profile changes")
def edit_profile(request: HttpRequest) -> HttpResponse:
    form = profile_form(request.user, request.POST)
    if not form.is_valid():
        return settings_page(request, form, status=400)
    profiles.save_profile(request.user, form.values)
    messages.success(request, "Your profile is saved.")
    return HttpResponseRedirect(reverse("account_settings") + "#profile")


@login_required
@require_POST
@limit_writes("profile", what="profile changes")
def rotate_feed(request: HttpRequest) -> HttpResponse:
    following.rotate_feed_token(request.user)
    messages.success(request, "Your Following feed has a new address; the old one no longer works.")
    return HttpResponseRedirect(reverse("account_settings"))  # the page's top, where the message is


@require_safe
@cache_for_anonymous
def profile(request: HttpRequest, username: str) -> HttpResponse:
    user, shown = profiles.shown_user(username, request.user)
    if user is None:
        raise Http404("There is no profile at this address.")
    if user.get_username() != username:  # /u/ALICE leads to /u/alice (a hidden one stays unknown)
        return HttpResponseRedirect(reverse("profile", args=[user.get_username()]))
    submitted = list(Paper.visible.filter(submitter=user).select_related("organization").order_by(*following.NEWEST))
    submitted = submitted[:PROFILE_ITEMS]
    authors = list(Author.objects.filter(user=user).order_by("name"))
    group = [a.pk for a in authors] + list(Author.objects.filter(same_as__user=user).values_list("pk", flat=True))
    authored = list(papers_of(group).select_related("organization").order_by(*following.NEWEST)[:PROFILE_ITEMS])
    upvoted = []
    if shown.upvotes_public:
        votes = Vote.objects.filter(user=user, paper__hidden=False).select_related("paper__organization")
        upvoted = [v.paper for v in votes.order_by("-created_at", "-pk")[:PROFILE_ITEMS]]
    comments = list(
        Comment.objects.filter(author=user, deleted_at__isnull=True, hidden=False, paper__hidden=False)
        .select_related("paper")
        .order_by("-created_at", "-pk")[:PROFILE_ITEMS]
    )
    for comment in comments:  # its text as the page shows it, plain (formulas rendered like abstracts')
        comment.excerpt = unescape(strip_tags(comment.html))
    cards = submitted + authored + upvoted
    attach_names(cards, first=CARD_NAMES)
    context = {
        "person": user,
        "shown": shown,
        "authors": authors,
        "submitted": submitted,
        "authored": authored,
        "upvoted": upvoted,
        "comments": comments,
        "voted": voted_ids(request, cards),
        "own": request.user.is_authenticated and request.user.pk == user.pk,
    }
    return render(request, "people/profile.html", context)


@require_POST
@limit_writes("follow", what="follows")
def follow(request: HttpRequest) -> HttpResponse:
    """``POST /follow`` with ``kind`` (author, organization, user), ``key`` (its slug or username)
    and ``action`` (follow or unfollow): answered with JSON for the script, else a redirect back
    (``next``, a path of this site, else the followed page)."""
    kind, key = request.POST.get("kind", ""), request.POST.get("key", "")
    follow = request.POST.get("action", "follow") != "unfollow"
    try:
        target = following.find_target(kind, key)
        if follow and kind == Follow.USER and target.pk in profiles.unlisted_users([target.pk]):
            raise following.NotFollowable(key)  # a hidden profile: no page to follow (unfollowing stays possible)
    except following.NotFollowable:
        if wants_json(request):
            return json_error("nothing to follow at this name", 404)
        raise Http404("There is nothing by that name to follow.") from None
    page = following.profile_path(key) if kind == Follow.USER else target.get_absolute_url()
    if not request.user.is_authenticated:
        if wants_json(request):
            return json_error("log in to follow", 401)
        return HttpResponseRedirect(f"{reverse('login')}?next={page}")
    try:
        now = following.set_following(request.user, target, follow)
    except following.TooManyFollows as refusal:
        if wants_json(request):
            return json_error(str(refusal), 409)
        messages.error(request, str(refusal))
        return redirect_next(request, page)
    if wants_json(request):
        return JsonResponse({"kind": kind, "key": key, "following": now})
    name = target.get_username() if kind == Follow.USER else str(target)
    if now:
        messages.success(request, f"You follow {name}: their new papers appear on your Following page.")
    else:
        messages.info(request, f"You no longer follow {name}.")
    return redirect_next(request, page)


@require_safe
@login_required
def following_page(request: HttpRequest) -> HttpResponse:
    page = paginate(request, following.followed_papers(request.user).select_related("organization"))
    papers = list(page.object_list)
    attach_names(papers, first=CARD_NAMES)
    reasons = following.reasons_for(request.user, papers)
    for paper in papers:
        paper.reasons = reasons.get(paper.pk, [])
    followed = following.followed(request.user)
    context = {
        "page": page,
        "papers": papers,
        "voted": voted_ids(request, papers),
        "followed": followed,
        "followed_count": sum(len(items) for items in followed.values()),
        "feed_url": reverse("following_feed", args=[following.feed_token(request.user)]),
    }
    return render(request, "people/following.html", context)


class FollowingAtom(PaperFeed):
    """A person's Following page as Atom, at a secret address (``following.feed_token``)."""

    feed_type = SafeAtom

    def get_object(self, request: HttpRequest, token: str):
        user = following.feed_owner(token)
        if user is None:
            raise Http404("No feed at this address.")
        return user

    def title(self, user) -> str:
        return f"Paperwire: what {user.get_username()} follows"

    subtitle = "New papers by the authors, organizations and people you follow, newest first."

    def link(self, user) -> str:
        return absolute(reverse("following"))

    def feed_url(self, user) -> str:
        return absolute(reverse("following_feed", args=[following.feed_token(user)]))

    def items(self, user) -> list[Paper]:
        papers = list(following.followed_papers(user).select_related("organization")[:50])
        reasons = following.reasons_for(user, papers)
        for paper in papers:
            paper.reasons = reasons.get(paper.pk, [])
        return papers

    def item_description(self, paper: Paper) -> str:
        why = "; ".join(r.text for r in paper.reasons)
        return text_html(f"Why: {why}." if why else "", paper.abstract)


_atom = FollowingAtom()


@require_safe
def following_feed(request: HttpRequest, token: str) -> HttpResponse:
    """Never in the page cache (the address is the only key to it), never indexed."""
    response = _atom(request, token=token)
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response
