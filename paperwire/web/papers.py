"""The pages of papers: the daily, weekly and monthly feeds, trending, organizations, a paper's
page, votes and submissions."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe

from paperwire.accounts.models import verified_email
from paperwire.ingest import submit_paper
from paperwire.operations.errors import json_error, wants_json
from paperwire.operations.pagecache import cache_for_anonymous
from paperwire.operations.ratelimit import limit_writes
from paperwire.papers import citations, ranking
from paperwire.papers.ids import arxiv_id
from paperwire.papers.models import Organization, Paper, Vote, set_vote
from paperwire.papers.periods import InvalidPeriod, Period, parse_period, period_containing
from paperwire.papers.submit import SubmissionError, waiting_or_failed
from paperwire.people.authors import attach_names
from paperwire.people.claims import waiting_for
from paperwire.search import index_version, related
from paperwire.web.discussions import discussion_context

PAGE_SIZE = 50
CARD_NAMES = 3  # a card names up to three authors, else says how many


def paginate(request: HttpRequest, items, size: int = PAGE_SIZE):
    try:
        return Paginator(items, size).page(request.GET.get("page", 1))
    except (EmptyPage, PageNotAnInteger):
        raise Http404("No such page") from None


def voted_ids(request: HttpRequest, papers) -> set[str]:
    if not request.user.is_authenticated:
        return set()
    ids = [p.pk for p in papers]
    return set(Vote.objects.filter(user=request.user, paper_id__in=ids).values_list("paper_id", flat=True))


def render_feed(request: HttpRequest, period: Period | None, *, is_home: bool = False) -> HttpResponse:
    if period is None:
        page = None
    else:
        page = paginate(request, ranking.IdsFirst(ranking.papers_in(period)))
    papers = list(page.object_list) if page else []
    earlier = []
    if is_home and page and page.paginator.count < ranking.THIN_DAY:
        # A quiet latest day: the home page goes on with the days before (docs/feeds.md).
        earlier = ranking.days_before(period.start, ranking.FRONT_PAGE_PAPERS - len(papers))
    attach_names(papers + [p for day in earlier for p in day.papers], first=CARD_NAMES)
    context = {
        "period": period,
        "page": page,
        "papers": papers,
        "earlier": earlier,
        # Below the earlier days: the day before the last of them, to read on.
        "older": ranking.previous_period(earlier[-1].period) if earlier else None,
        "voted": voted_ids(request, papers + [p for day in earlier for p in day.papers]),
        "previous": ranking.previous_period(period) if period else None,
        "next": ranking.next_period(period) if period else None,
        "is_home": is_home,
    }
    if period:
        day = period.start
        context["views"] = {
            "date": period_containing("date", day),
            "week": period_containing("week", day),
            "month": period_containing("month", day),
        }
    return render(request, "papers/feed.html", context)


@require_safe
@cache_for_anonymous
def home(request: HttpRequest) -> HttpResponse:
    day = ranking.latest_day()
    return render_feed(request, period_containing("date", day) if day else None, is_home=True)


@require_safe
@cache_for_anonymous
def feed(request: HttpRequest, kind: str, value: str) -> HttpResponse:
    try:
        period = parse_period(kind, value)
    except InvalidPeriod as error:
        raise Http404(str(error)) from None
    return render_feed(request, period)


@require_safe
@cache_for_anonymous
def trending(request: HttpRequest) -> HttpResponse:
    papers = ranking.trending_papers(limit=PAGE_SIZE)
    attach_names(papers, first=CARD_NAMES)
    context = {"papers": papers, "voted": voted_ids(request, papers), "feed_day": ranking.stale_feed_day()}
    return render(request, "papers/trending.html", context)


def find_paper(paper_id: str) -> Paper:
    return get_object_or_404(Paper.visible.select_related("organization", "submitter"), pk=paper_id)


def canonical_redirect(paper_id: str, suffix: str = ""):
    """``2410.10819v2`` or ``arXiv:2410.10819`` point at the one page of the paper."""
    found = arxiv_id(paper_id)
    if found and found != paper_id:
        return redirect(reverse("paper", args=[found]) + suffix, permanent=True)
    return None


@require_safe
@cache_for_anonymous(depends_on=index_version)  # related papers come from the node's index
def paper_detail(request: HttpRequest, paper_id: str) -> HttpResponse:
    if response := canonical_redirect(paper_id):
        return response
    paper = find_paper(paper_id)
    context = paper_context(request, paper) | discussion_context(request, paper)
    return render(request, "papers/paper.html", context)


def paper_context(request: HttpRequest, paper: Paper) -> dict:
    """What the paper's page shows above its discussion."""
    attach_names([paper])
    return {
        "paper": paper,
        "voted": voted_ids(request, [paper]),
        # Claims ("I am this author") are offered to signed-in users with a verified address.
        "can_claim": bool(verified_email(request.user)),
        "claims_waiting": waiting_for(request.user, [n.author for n in paper.names]),
        "own_names": [n for n in paper.names if n.user and n.user.pk == request.user.pk],
        # The list of names opens again after a refused claim only (not after any other message).
        "claim_open": any("claim" in m.extra_tags.split() for m in messages.get_messages(request)),
        "bibtex": citations.bibtex(paper),
        "day": period_containing("date", paper.daily_date) if paper.daily_date else None,
        "related": related(paper),
    }


@require_safe
@cache_for_anonymous
def paper_markdown(request: HttpRequest, paper_id: str) -> HttpResponse:
    if response := canonical_redirect(paper_id, ".md"):
        return response
    paper = find_paper(paper_id)
    return HttpResponse(citations.markdown(paper), content_type="text/markdown; charset=utf-8")


def same_site(request: HttpRequest, target: str) -> bool:
    """Whether ``target`` (a path, or a URL) is a page of this site: the one test of every link
    or redirect that a request decides, so that none leads elsewhere."""
    host, secure = request.get_host(), request.is_secure()
    return url_has_allowed_host_and_scheme(target, allowed_hosts={host}, require_https=secure)


# A path as browsers send it in Referer (percent-encoded): one leading slash, then no second
# slash or backslash, and no whitespace or control character anywhere (browsers skip some of
# them, so that "/\t/evil.example" would lead to another site).
PLAIN_PATH = re.compile(r"/(?![/\\])[^\\\s\x00-\x1f\x7f]*")


def safe_next(request: HttpRequest, fallback: str) -> str:
    """Where a form sends the browser next: its ``next`` (POSTed, else in the query) when that is
    a path of this site (one leading slash, PLAIN_PATH), else ``fallback``. Nothing else is
    followed: not another site, not a URL of this one, not a relative path ("papers", "../x"),
    which redirect() would also read as a URL name and answer 500 after the write was done.
    Answer it with HttpResponseRedirect (or ``redirect_next``), never with redirect()."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    return target if PLAIN_PATH.fullmatch(target) and same_site(request, target) else fallback


def redirect_next(request: HttpRequest, fallback: str) -> HttpResponseRedirect:
    return HttpResponseRedirect(safe_next(request, fallback))


def same_site_path(request: HttpRequest, url: str) -> str | None:
    """The path and query of ``url`` (a Referer) when it is a page of this site, else None."""
    if not url or not same_site(request, url):
        return None
    parts = urlsplit(url)
    path = urlunsplit(("", "", parts.path, parts.query, ""))
    return path if PLAIN_PATH.fullmatch(path) and same_site(request, path) else None


@require_POST
@limit_writes("vote")
def vote(request: HttpRequest, paper_id: str) -> HttpResponse:
    paper = find_paper(paper_id)
    if not request.user.is_authenticated:
        if wants_json(request):
            return json_error("log in to upvote", 401)
        return redirect(f"{reverse('login')}?next={paper.get_absolute_url()}")
    up = request.POST.get("action", "up") != "down"
    upvotes = set_vote(request.user, paper, up)
    if wants_json(request):
        return JsonResponse({"id": paper.pk, "upvotes": upvotes, "voted": up})
    return redirect_next(request, paper.get_absolute_url())


@login_required
@limit_writes("submit")
def submit(request: HttpRequest) -> HttpResponse:
    context: dict = {"value": ""}
    if request.method == "POST":
        value = request.POST.get("paper", "")
        try:
            submission = submit_paper(request.user, value)
        except SubmissionError as error:
            context.update(value=value, error=str(error), existing=error.existing)
            context.update(own_submissions(request.user))
            # A duplicate is an answer (where the paper is), not a mistake in the form.
            return render(request, "papers/submit.html", context, status=200 if error.existing else 400)
        if submission.state == submission.PENDING:
            messages.info(request, "arXiv did not answer; your paper will appear once it is fetched.")
            return redirect("submit")
        messages.success(request, "Thanks! The paper is on today's feed.")
        return redirect(submission.paper)
    context.update(own_submissions(request.user))
    return render(request, "papers/submit.html", context)


def own_submissions(user) -> dict:
    """The user's submissions still waiting for arXiv, and the recent ones that failed."""
    submissions = list(waiting_or_failed(user))
    return {
        "waiting": [s for s in submissions if s.state == s.PENDING],
        "failed": [s for s in submissions if s.state == s.FAILED],
    }


@require_safe
@cache_for_anonymous
def organization(request: HttpRequest, slug: str) -> HttpResponse:
    org = Organization.objects.filter(slug=slug).first()
    if org is None:
        # An URL of the old scheme (/orgs/<name>), another spelling, or an organization merged
        # into another: one permanent redirect to the page.
        if (found := Organization.objects.for_url(slug)) is None:
            raise Http404("There is no such organization.")
        return redirect(found, permanent=True)
    page = paginate(request, ranking.ranked(org.papers.filter(hidden=False).select_related("organization")))
    attach_names(page.object_list, first=CARD_NAMES)
    return render(
        request,
        "papers/organization.html",
        {"organization": org, "page": page, "papers": page.object_list, "voted": voted_ids(request, page.object_list)},
    )


@require_safe
@cache_for_anonymous
def organizations(request: HttpRequest) -> HttpResponse:
    orgs = (
        Organization.objects.filter(papers__hidden=False)
        .annotate(paper_count=Count("papers"))
        .order_by("-paper_count", "name")
    )
    return render(request, "papers/organizations.html", {"page": paginate(request, orgs, 100)})
