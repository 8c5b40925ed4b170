from __future__ import annotations

import datetime as dt

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from paperwire.api.serializers import daily_item_json
from paperwire.api.views import BadRequest, api_view, int_param
from paperwire.pagecache import cache_for_anonymous
from paperwire.papers.models import Paper
from paperwire.papers.views import voted_ids
from paperwire.search.engine import MODES, SORTS, search
from paperwire.search.indexes import index_version

PAGE_SIZE = 20
MAX_RESULTS = 200


def parse_day(value: str, name: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"{name} must be a date, YYYY-MM-DD") from None


@require_safe
@cache_for_anonymous(depends_on=index_version)
def search_page(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")
    form = {key: request.GET.get(key, "") for key in ("q", "mode", "sort", "from", "to", "category")}
    context: dict = {"form": form, "modes": MODES, "sorts": SORTS}
    status = 200
    if query.strip():
        try:
            mode = form["mode"] or "hybrid"
            sort = form["sort"] or "relevance"
            if mode not in MODES or sort not in SORTS:
                raise BadRequest("unknown mode or sort")
            page_number = int_param(request, "page", 1, 1, MAX_RESULTS // PAGE_SIZE)
            results = search(
                query,
                mode=mode,
                sort=sort,
                limit=PAGE_SIZE,
                offset=(page_number - 1) * PAGE_SIZE,
                date_from=parse_day(form["from"], "from"),
                date_to=parse_day(form["to"], "to"),
                category=form["category"].strip() or None,
            )
            total = min(results.total, MAX_RESULTS)
            page = Paginator(range(total), PAGE_SIZE).get_page(page_number)
            context.update(
                results=results,
                page=page,
                total=results.total,
                voted=voted_ids(request, [h.paper for h in results.hits]),
            )
        except BadRequest as error:
            context["error"] = str(error)
            status = 400
    return render(request, "search/results.html", context, status=status)


@cache_for_anonymous(depends_on=index_version)
@api_view
def api_search(request: HttpRequest) -> JsonResponse:
    """``/api/papers/search?q=&limit=``: Hugging Face's shape, best match first."""
    limit = int_param(request, "limit", 50, 1, 120)
    query = request.GET.get("q", "")
    if not query.strip():
        papers = Paper.visible.filter(daily_date__isnull=False).select_related("organization", "submitter")
        return JsonResponse(
            [daily_item_json(p) for p in papers.order_by("-daily_date", "-upvotes")[:limit]], safe=False
        )
    mode = request.GET.get("mode", "hybrid")
    if mode not in MODES:
        raise BadRequest(f"mode must be one of {', '.join(MODES)}")
    results = search(query, mode=mode, limit=limit, snippets=False)
    response = JsonResponse([daily_item_json(h.paper) for h in results.hits], safe=False)
    if results.notice:
        response["X-Paperwire-Notice"] = results.notice
    return response
