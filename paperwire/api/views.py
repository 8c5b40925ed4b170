"""The Hugging Face-compatible JSON API: the daily papers, search, one paper, its comments."""

from __future__ import annotations

import functools
from urllib.parse import urlencode

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from paperwire.api import params, users, writes
from paperwire.api.params import BadRequest
from paperwire.api.serializers import claims_of, daily_items_json, paper_json, thread_json
from paperwire.core.siteurl import absolute
from paperwire.discussions.threads import threads
from paperwire.operations.errors import json_error, method_not_allowed
from paperwire.operations.pagecache import cache_for_anonymous
from paperwire.operations.tokens import require_user
from paperwire.papers import ranking
from paperwire.papers.ids import arxiv_id
from paperwire.papers.models import Paper
from paperwire.people import following
from paperwire.search import CANDIDATES, RANKED, index_version, search

READ_METHODS = ["GET", "HEAD"]
TOTAL_HEADER = "X-Total-Count"  # how many papers the search matches (the page holds at most limit)


def api_view(view=None, *, writes: tuple[str, ...] = (), reads: bool = True):
    """GET and HEAD (unless ``reads`` is False) and the methods in ``writes``, else 405 with
    Allow; a BadRequest becomes a 400.

    Reads are exempt from the CSRF check, which would refuse a POST with a 403 page before the
    405: they only read, so there is nothing to forge. Writes need an account (401 without one:
    operations.tokens.require_user) and, when it comes from a session rather than an API token,
    the CSRF token of a page (403 without it).
    """
    if view is None:
        return functools.partial(api_view, writes=writes, reads=reads)
    allowed = [*(READ_METHODS if reads else []), *writes]

    @functools.wraps(view)
    def answer(request: HttpRequest, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except BadRequest as error:
            return json_error(str(error), 400)

    write = require_user(csrf_protect(answer))  # a Bearer token's request skips the CSRF check

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if request.method not in allowed:
            return method_not_allowed(request, allowed)
        if request.method in writes:
            return write(request, *args, **kwargs)
        return answer(request, *args, **kwargs)

    return csrf_exempt(wrapper)


@cache_for_anonymous
@api_view
def daily_papers(request: HttpRequest) -> JsonResponse:
    """``/api/daily_papers``: one day, ISO week or month ranked by upvotes; without a period,
    the newest days first; ``sort=trending`` puts the trending papers first (docs/feeds.md)."""
    query = params.DAILY_PAPERS.parse(request)
    limit = query["limit"]
    period = query["date"] or query["week"] or query["month"]
    papers = Paper.visible.select_related("organization", "submitter")
    if period:
        papers = papers.filter(daily_date__gte=period.start, daily_date__lt=period.end)
    else:
        papers = papers.filter(daily_date__isnull=False)
    if query["submitter"]:
        papers = papers.filter(submitter_name=query["submitter"])
    offset = query["p"] * limit
    if period:
        order = ranking.ranked(papers)
    else:
        order = papers.order_by("-daily_date", "-upvotes", "id")
    if query["sort"] == "trending":
        selected = trending_page(papers, order, offset, limit, whole=bool(period or query["submitter"]))
    else:
        selected = ranking.IdsFirst(order)[offset : offset + limit]
    return JsonResponse(daily_items_json(selected), safe=False)


def trending_page(papers, order, offset: int, limit: int, *, whole: bool) -> list[Paper]:
    """``papers`` by the trending score. Without a period or submitter, the trending list
    (docs/feeds.md); with one (``whole``), every paper it selects: the trending ones first,
    then the others in ``order`` (as without ``sort``), so that sorting never hides one."""
    trending = [pid for pid, _ in ranking.trending_scores()]
    chosen = papers.in_bulk(trending)
    leading = [chosen[pid] for pid in trending if pid in chosen]
    selected = leading[offset : offset + limit]
    if whole and len(selected) < limit:
        start = max(offset - len(leading), 0)
        rest = order.exclude(pk__in=list(chosen))
        selected += list(rest[start : start + limit - len(selected)])
    return selected


@cache_for_anonymous(depends_on=index_version)
@api_view
def papers_search(request: HttpRequest) -> JsonResponse:
    """``/api/papers/search?q=&limit=&p=&mode=&sort=&from=&to=&category=``: Hugging Face's shape,
    best match first (or by date or upvotes over every match); without words, the newest papers.
    ``X-Total-Count``: how many papers match, counted like the search page; ``Link: <…>;
    rel="next"`` while a next page has papers this order reaches (docs/api.md)."""
    query = params.SEARCH.parse(request)
    limit, offset = query["limit"], query["p"] * query["limit"]
    if not (query["q"] or "").strip():
        papers = Paper.visible.filter(daily_date__isnull=False).select_related("organization", "submitter")
        newest = papers.order_by("-daily_date", "-upvotes", "id")[offset : offset + limit]
        total = papers.count()
        response = JsonResponse(daily_items_json(newest), safe=False)
        response[TOTAL_HEADER] = total
        return with_next_link(response, request, query, offset + limit < total)
    if query["sort"] == "relevance" and offset >= RANKED:
        raise BadRequest(
            f"p: by relevance, search ranks the first {RANKED} results (p × limit must be below {RANKED}); "
            "sort=date or sort=upvotes pages through every match"
        )
    results = search(
        query["q"],
        mode=query["mode"],
        sort=query["sort"],
        limit=limit,
        offset=offset,
        date_from=query["from"],
        date_to=query["to"],
        category=(query["category"] or "").strip() or None,
        snippets=False,
    )
    response = JsonResponse(daily_items_json(h.paper for h in results.hits), safe=False)
    response[TOTAL_HEADER] = results.total
    notices = [results.notice] if results.notice else []
    if results.ranked < results.total:
        notices.append(
            f"By relevance, search ranks the {results.ranked} most relevant of the "
            f"{'' if results.exact else 'at least '}{results.total:,} matches; "
            "sort=date or sort=upvotes pages through all of them."
        )
    if results.capped:
        notices.append(
            f"Semantic search returns the {CANDIDATES} papers closest in meaning; other papers may be as close."
        )
    if notices:
        response["X-Paperwire-Notice"] = " ".join(notices)
    return with_next_link(response, request, query, offset + limit < results.ranked)


def with_next_link(response: JsonResponse, request: HttpRequest, query: dict, more: bool) -> JsonResponse:
    """``Link: <the next page>; rel="next"`` (RFC 8288) when there is one to serve."""
    if more:
        asked = {name: request.GET[name] for name in request.GET if name != "p"}
        asked["p"] = str(query["p"] + 1)
        response["Link"] = f'<{absolute(request.path)}?{urlencode(asked)}>; rel="next"'
    return response


@cache_for_anonymous
@api_view
def paper_detail(request: HttpRequest, paper_id: str) -> JsonResponse:
    key = arxiv_id(paper_id) or paper_id
    paper = Paper.visible.select_related("organization", "submitter").filter(pk=key).first()
    if paper is None:
        return json_error(f"paper {paper_id[:100]!r} not found", 404)
    return JsonResponse(paper_json(paper, claims_of([paper]).get(paper.pk)))


@cache_for_anonymous
@api_view(writes=("POST",))
def paper_comments(request: HttpRequest, paper_id: str) -> JsonResponse:
    """``/api/papers/<id>/comments?p=&limit=``: the paper's discussion as its page shows it, thread
    by thread, oldest first; ``X-Total-Count``: how many threads; ``Link: <…>; rel="next"`` while
    there are more (docs/api.md). ``POST``: a new comment or reply (``writes.comment``)."""
    if request.method == "POST":
        return writes.comment(request, paper_id)
    query = params.COMMENTS.parse(request)
    key = arxiv_id(paper_id) or paper_id
    paper = Paper.visible.filter(pk=key).first()
    if paper is None:
        return json_error(f"paper {paper_id[:100]!r} not found", 404)
    every = threads(paper, with_text=True)
    offset = query["p"] * query["limit"]
    response = JsonResponse([thread_json(t) for t in every[offset : offset + query["limit"]]], safe=False)
    response[TOTAL_HEADER] = len(every)
    return with_next_link(response, request, query, offset + query["limit"] < len(every))


def following_papers(request: HttpRequest) -> JsonResponse:
    """``/api/following?p=&limit=``: the caller's Following feed (docs/community.md, "Following"),
    newest first, as daily items with ``reasons``: why each is there."""
    query = params.FOLLOWING.parse(request)
    offset = query["p"] * query["limit"]
    chosen = following.followed_papers(request.user).select_related("organization", "submitter")
    page = list(chosen[offset : offset + query["limit"] + 1])
    more, page = len(page) > query["limit"], page[: query["limit"]]
    reasons = following.reasons_for(request.user, page)
    items = daily_items_json(page)
    for item, paper in zip(items, page, strict=True):
        item["reasons"] = [reason.text for reason in reasons.get(paper.pk, [])]
    return with_next_link(JsonResponse(items, safe=False), request, query, more)


paper_vote = api_view(writes.vote, writes=("POST", "DELETE"), reads=False)
following_feed = api_view(require_user(following_papers))
whoami = api_view(require_user(users.whoami))
# Not cached: an account disabled in the admin, or an organization edited there, must be seen at
# once, and neither changes the content version by itself.
user_overview = api_view(users.user_overview)
organization_overview = api_view(users.organization_overview)
