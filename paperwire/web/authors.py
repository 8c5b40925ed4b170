"""Author pages (``/authors/<slug>``) and claims ("I am this author", from a paper's page)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.shortcuts import render as render_page
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from paperwire.operations.pagecache import cache_for_anonymous
from paperwire.operations.ratelimit import limit_writes
from paperwire.papers import ranking
from paperwire.papers.models import site_path
from paperwire.people.authors import attach_names, coauthors, group_of, organizations_of, papers_of, spellings_of
from paperwire.people.claims import ClaimRefused, request_claim
from paperwire.people.models import Author
from paperwire.people.profiles import unlisted_users
from paperwire.web.papers import CARD_NAMES, find_paper, paginate, voted_ids


@require_safe
@cache_for_anonymous
def author(request: HttpRequest, slug: str) -> HttpResponse:
    found = Author.objects.select_related("user", "same_as").filter(slug=slug).first()
    if found is None:
        # Slugs are lower case: /authors/Yann-LeCun is a permanent redirect to its page.
        if slug != slug.lower() and (found := Author.objects.filter(slug=slug.lower()).first()):
            return redirect(found.get_absolute_url(), permanent=True)
        raise Http404("There is no author at this address.")
    if found.same_as_id:
        # An abbreviated name the rules put on a full name's page; the rules may take it back
        # (a new paper shows another person with those initials), so the redirect is temporary.
        return redirect(found.same_as)
    group = group_of(found)
    page = paginate(request, ranking.ranked(papers_of(group).select_related("organization")))
    if not page.paginator.count:
        raise Http404("No paper on this site lists this author.")
    papers = list(page.object_list)
    attach_names(papers, first=CARD_NAMES)
    context = {
        "author": found,
        "page": page,
        "papers": papers,
        "voted": voted_ids(request, papers),
        "coauthors": coauthors(group),
        "organizations": organizations_of(group),
        "spellings": spellings_of(group),
        # The account's profile page, when others may see it (else its name alone).
        "account_url": (
            site_path("profile", found.account.get_username(), "/u/{}")
            if found.account and found.account.pk not in unlisted_users([found.account.pk])
            else ""
        ),
    }
    return render_page(request, "papers/author.html", context)


@require_POST
@limit_writes("claim")
def claim(request: HttpRequest, paper_id: str) -> HttpResponse:
    """``POST /papers/<id>/claim`` with ``position``: the signed-in user claims the name at that
    place of the paper's authors; staff decide in the admin."""
    paper = find_paper(paper_id)
    back = paper.get_absolute_url() + "#authors"
    if not request.user.is_authenticated:
        return HttpResponseRedirect(f"{reverse('login')}?next={paper.get_absolute_url()}")
    try:
        position = int(request.POST.get("position", ""))
        if not 0 <= position < len(paper.authors):
            raise ValueError(position)
    except ValueError:
        messages.error(request, "Choose your name among the paper's authors.", extra_tags="claim")
        return HttpResponseRedirect(back)
    try:
        made = request_claim(request.user, paper, position)
    except ClaimRefused as refusal:
        messages.error(request, str(refusal), extra_tags="claim")
        return HttpResponseRedirect(back)
    messages.success(
        request,
        f"Thanks: your claim to be “{made.author.name}” is waiting for staff. "
        "Once they approve it, the author's page shows your account.",
    )
    return HttpResponseRedirect(back)
