"""The Hugging Face-compatible JSON API and the health check."""

from __future__ import annotations

import functools

from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse

from paperwire.api.serializers import daily_item_json, paper_json
from paperwire.pagecache import cache_for_anonymous
from paperwire.papers import ranking
from paperwire.papers.ids import arxiv_id
from paperwire.papers.models import Paper
from paperwire.papers.periods import InvalidPeriod, parse_period
from paperwire.search.health import DEGRADED, index_health

DEFAULT_LIMIT = 50
MAX_LIMIT = 100


class BadRequest(Exception):
    pass


def json_error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def api_view(view):
    """GET only; BadRequest becomes a 400 with the contract's error shape."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if request.method not in ("GET", "HEAD"):
            response = json_error(f"method {request.method} not allowed", 405)
            response["Allow"] = "GET, HEAD"
            return response
        if any("\x00" in v for _, values in request.GET.lists() for v in values):
            return json_error("parameters must not contain NUL characters", 400)
        try:
            return view(request, *args, **kwargs)
        except BadRequest as error:
            return json_error(str(error), 400)

    return wrapper


def int_param(request: HttpRequest, name: str, default: int, low: int, high: int) -> int:
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}")
    return value


@cache_for_anonymous
@api_view
def daily_papers(request: HttpRequest) -> JsonResponse:
    """``/api/daily_papers``: one day, ISO week or month ranked by upvotes; without a period,
    the newest days first; ``sort=trending`` orders by the trending score instead."""
    limit = int_param(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    page = int_param(request, "p", 0, 0, 1_000_000)
    sort = request.GET.get("sort") or "publishedAt"
    if sort not in ("publishedAt", "trending"):
        raise BadRequest("sort must be publishedAt or trending")
    periods = [(kind, request.GET[kind]) for kind in ("date", "week", "month") if request.GET.get(kind)]
    if len(periods) > 1:
        raise BadRequest("give at most one of date, week and month")
    papers = Paper.visible.select_related("organization", "submitter")
    if periods:
        try:
            period = parse_period(*periods[0])
        except InvalidPeriod as error:
            raise BadRequest(str(error)) from None
        papers = papers.filter(daily_date__gte=period.start, daily_date__lt=period.end)
    else:
        papers = papers.filter(daily_date__isnull=False)
    if submitter := request.GET.get("submitter"):
        papers = papers.filter(submitter_name=submitter)
    offset = page * limit
    if sort == "trending":
        order = [pid for pid, _ in ranking.trending_scores()]
        chosen = papers.in_bulk(order)
        selected = [chosen[pid] for pid in order if pid in chosen][offset : offset + limit]
    elif periods:
        selected = list(ranking.ranked(papers)[offset : offset + limit])
    else:
        selected = list(papers.order_by("-daily_date", "-upvotes", "id")[offset : offset + limit])
    return JsonResponse([daily_item_json(p) for p in selected], safe=False)


@cache_for_anonymous
@api_view
def paper_detail(request: HttpRequest, paper_id: str) -> JsonResponse:
    key = arxiv_id(paper_id) or paper_id
    paper = Paper.visible.select_related("organization", "submitter").filter(pk=key).first()
    if paper is None:
        return json_error(f"paper {paper_id[:100]!r} not found", 404)
    return JsonResponse(paper_json(paper))


def healthz(request: HttpRequest) -> JsonResponse:
    """200 ``ok`` while the database answers and the search index is whole; 200 ``degraded``,
    with the reason, while the index is missing, damaged or being rebuilt (search then answers
    from a fallback); 503 when the database does not answer."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        index = index_health()
    except DatabaseError as error:
        return JsonResponse({"status": "error", "database": str(error)}, status=503)
    if index["status"] in DEGRADED:
        return JsonResponse(
            {"status": "degraded", "reason": f"search index: {index['reason']}", "database": "ok", "index": index}
        )
    return JsonResponse({"status": "ok", "database": "ok", "index": index})
