from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from paperwire.api.params import BadRequest, Param
from paperwire.pagecache import cache_for_anonymous
from paperwire.papers.periods import InvalidPeriod, parse_period
from paperwire.papers.views import voted_ids
from paperwire.search.engine import MODES, SORTS, categories, search
from paperwire.search.indexes import index_version

PAGE_SIZE = 20
MAX_RESULTS = 200
PAGE = Param("page", "Results page", type="integer", minimum=1, maximum=MAX_RESULTS // PAGE_SIZE, default=1)
FILTERS = ("from", "to", "category")


def parse_day(value: str, name: str) -> dt.date | None:
    if not value:
        return None
    try:
        return parse_period("date", value).start
    except InvalidPeriod:
        raise BadRequest(f"{name} must be a date, YYYY-MM-DD") from None


@require_safe
@cache_for_anonymous(depends_on=index_version)
def search_page(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")
    form = {key: request.GET.get(key, "") for key in ("q", "mode", "sort", "from", "to", "category")}
    known = sorted(categories())
    chosen = form["category"].strip()
    context: dict = {
        "form": form,
        "modes": MODES,
        "sorts": SORTS,
        # The categories the papers have; one asked for in the address stays selectable.
        "categories": known + [chosen] if chosen and chosen not in known else known,
        "filtered": any(form[key] for key in FILTERS),
        "search_query": urlencode({k: v for k, v in form.items() if v}),
        "unfiltered_query": urlencode({k: v for k, v in form.items() if v and k not in FILTERS}),
        "feed_query": urlencode({"q": query.strip()}),
    }
    status = 200
    if query.strip():
        try:
            mode = form["mode"] or "hybrid"
            sort = form["sort"] or "relevance"
            if mode not in MODES or sort not in SORTS:
                raise BadRequest("unknown mode or sort")
            page_number = PAGE.parse(request.GET["page"]) if request.GET.get("page") else PAGE.default
            results = search(
                query,
                mode=mode,
                sort=sort,
                limit=PAGE_SIZE,
                offset=(page_number - 1) * PAGE_SIZE,
                date_from=parse_day(form["from"], "from"),
                date_to=parse_day(form["to"], "to"),
                category=chosen or None,
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
