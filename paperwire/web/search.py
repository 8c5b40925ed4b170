"""The search page (its feed is the API's: paperwire/api/feeds.py)."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_safe

from paperwire.api.params import MAX_PAGE, SEARCH_FEED, BadRequest, Param, Parameters
from paperwire.operations.pagecache import cache_for_anonymous
from paperwire.papers.periods import InvalidPeriod, parse_period
from paperwire.people.authors import attach_names
from paperwire.search import CANDIDATES, MODES, RANKED, SORTS, categories, clean, index_version, search
from paperwire.web.papers import CARD_NAMES, voted_ids

PAGE_SIZE = 20
PAGE = Param("page", "Results page", type="integer", minimum=1, maximum=MAX_PAGE, default=1)
FILTERS = ("from", "to", "category")
# The links of the page (to the feed, the other sorts, the other pages) carry what the feed does.
LINK = Parameters((*SEARCH_FEED.params, PAGE))


def parse_day(value: str, name: str) -> dt.date | None:
    if not value:
        return None
    try:
        return parse_period("date", value).start
    except InvalidPeriod:
        raise BadRequest(f"{name} must be a date, YYYY-MM-DD") from None


@lru_cache(maxsize=8)
def category_options(categories: tuple[str, ...]) -> tuple[SafeString, ...]:
    """The escaped <option> of each category, made once per list of categories: a corpus has
    hundreds (760 in a million remixed arXiv papers), and the template's loop over them was a
    third of a search page's time."""
    return tuple(format_html('<option value="{}">{}</option>', c, c) for c in categories)


def category_select(categories: list[str], chosen: str) -> SafeString:
    """The options of the category box, ``chosen`` selected."""
    options = category_options(tuple(categories))
    return mark_safe(
        "".join(
            format_html('<option value="{}" selected>{}</option>', c, c) if c == chosen else option
            for c, option in zip(categories, options, strict=True)
        )
    )


def link(form: dict, **changes) -> str:
    """The query string of this search with ``changes`` (a value None: left out)."""
    return LINK.query_string({**form, "q": clean(form["q"]), **changes})


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
        "categories": category_select(known + [chosen] if chosen and chosen not in known else known, chosen),
        "filtered": any(form[key] for key in FILTERS),
    }
    status = 200
    if query.strip():
        try:
            mode = form["mode"] or "hybrid"
            sort = form["sort"] or "relevance"
            if mode not in MODES or sort not in SORTS:
                raise BadRequest("unknown mode or sort")
            page_number = PAGE.parse(request.GET["page"]) if request.GET.get("page") else PAGE.default
            date_from, date_to = parse_day(form["from"], "from"), parse_day(form["to"], "to")
            if date_from and date_to and date_from > date_to:  # what was meant is plain: say so and swap
                date_from, date_to = date_to, date_from
                form["from"], form["to"] = date_from.isoformat(), date_to.isoformat()
                context["swapped"] = (date_from, date_to)
            results = search(
                query,
                mode=mode,
                sort=sort,
                limit=PAGE_SIZE,
                offset=(page_number - 1) * PAGE_SIZE,
                date_from=date_from,
                date_to=date_to,
                category=chosen or None,
            )
            pages = Paginator(range(results.ranked), PAGE_SIZE)
            attach_names([h.paper for h in results.hits], first=CARD_NAMES)
            context.update(
                results=results,
                total=results.total,
                cap=CANDIDATES,
                voted=voted_ids(request, [h.paper for h in results.hits]),
            )
            if results.total and page_number > pages.num_pages:
                # A page this order cannot serve: 404, saying how far it goes and what reaches further.
                context.update(past=True, last_page=pages.num_pages, ranked_cap=RANKED)
                status = 404
            else:
                page = pages.get_page(page_number)
                context["page"] = page
                if page.has_previous():
                    context["previous_query"] = link(form, page=page.previous_page_number())
                if page.has_next():
                    context["next_query"] = link(form, page=page.next_page_number())
        except BadRequest as error:
            context["error"] = str(error)
            status = 400
    context.update(
        search_query=link(form),
        unfiltered_query=link({**form, "from": "", "to": "", "category": ""}),
        feed_query=SEARCH_FEED.query_string({**form, "q": clean(form["q"])}),
        by_date_query=link(form, sort="date"),
        by_upvotes_query=link(form, sort="upvotes"),
        last_page_query=link(form, page=context.get("last_page")),
    )
    return render(request, "search/results.html", context, status=status)
