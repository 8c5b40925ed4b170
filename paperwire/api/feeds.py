"""RSS 2.0 and Atom 1.0 feeds of the latest papers and of a saved search (Django's syndication)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from html import escape

from django.contrib.syndication.views import Feed
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed, Rss201rev2Feed

from paperwire.api.params import SEARCH_FEED, BadRequest
from paperwire.core.siteurl import absolute
from paperwire.papers.models import Paper
from paperwire.search import search

FEED_SIZE = 50
RELEVANT_SHARE = 0.5  # a saved search's feed keeps the hits scoring at least half the best one


# Characters XML 1.0 cannot hold: C0 controls but tab, newline and return; U+FFFE and U+FFFF;
# lone surrogates. Data may hold them (an import, an admin edit); a feed leaves them out
# instead of failing (Django refuses the controls) or being ill-formed (U+FFFF passed through).
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(value):
    if isinstance(value, str):
        return NOT_XML.sub("", value)
    if isinstance(value, list | tuple):
        return [xml_safe(v) for v in value]
    return value


class XmlSafe:
    """A feed generator whose every text, feed or item, is made fit for XML first."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*[xml_safe(a) for a in args], **{k: xml_safe(v) for k, v in kwargs.items()})

    def add_item(self, *args, **kwargs) -> None:
        super().add_item(*[xml_safe(a) for a in args], **{k: xml_safe(v) for k, v in kwargs.items()})


class SafeRss(XmlSafe, Rss201rev2Feed):
    pass


class SafeAtom(XmlSafe, Atom1Feed):
    pass


def text_html(*paragraphs: str) -> str:
    """Plain text as the HTML of a feed's description: a paragraph each, escaped."""
    return "".join(f"<p>{escape(text)}</p>" for text in paragraphs if text)


class PaperFeed(Feed):
    feed_type = SafeRss

    def item_title(self, paper: Paper) -> str:
        return paper.title

    def item_description(self, paper: Paper) -> str:
        """HTML, as readers take an RSS description and an Atom summary (type="html"): the
        abstract is text, escaped ("<b>" in it is shown as written)."""
        return text_html(paper.abstract)

    def item_link(self, paper: Paper) -> str:
        return absolute(paper.get_absolute_url())

    def item_guid(self, paper: Paper) -> str:
        return absolute(paper.get_absolute_url())

    item_guid_is_permalink = True

    def item_author_name(self, paper: Paper) -> str:
        return ", ".join(paper.authors[:10]) + (" et al." if len(paper.authors) > 10 else "")

    def item_pubdate(self, paper: Paper) -> dt.datetime | None:
        when = paper.feed_time
        return when or (dt.datetime.combine(paper.daily_date, dt.time(), dt.UTC) if paper.daily_date else None)

    def item_updateddate(self, paper: Paper) -> dt.datetime:
        return paper.updated_at

    def item_categories(self, paper: Paper) -> list[str]:
        return paper.categories


class LatestPapersRss(PaperFeed):
    title = "Paperwire: latest daily papers"
    description = "The newest papers of the daily feed."

    def link(self) -> str:
        return absolute(reverse("home"))

    def feed_url(self) -> str:
        return absolute(reverse("feed_rss"))

    def items(self) -> list[Paper]:
        papers = Paper.visible.filter(daily_date__isnull=False).order_by("-daily_date", "-upvotes", "id")
        return list(papers[:FEED_SIZE])


class LatestPapersAtom(LatestPapersRss):
    feed_type = SafeAtom
    subtitle = LatestPapersRss.description

    def feed_url(self) -> str:
        return absolute(reverse("feed_atom"))


@dataclass
class SavedSearch:
    """What a search feed asks for (params.SEARCH_FEED: the words, mode, sort and filters)."""

    values: dict

    @property
    def query(self) -> str:
        return self.values["q"] or ""  # cleaned as the search page cleans it

    @property
    def query_string(self) -> str:
        return SEARCH_FEED.query_string(self.values)

    def describe(self) -> str:
        """The filters in words, for the feed's title: "published from 2025-07-01 to 2025-07-31, cs.CL"."""
        day_from, day_to, category = self.values["from"], self.values["to"], (self.values["category"] or "").strip()
        parts = []
        if day_from and day_to:
            parts.append(f"published from {day_from} to {day_to}")
        elif day_from or day_to:
            parts.append(f"published {'from' if day_from else 'up to'} {day_from or day_to}")
        if category:
            parts.append(category)
        return ", ".join(parts)


class SearchAtom(PaperFeed):
    """A saved search as an Atom feed, with the search page's mode, sort and filters: by relevance
    (the default) the best matches, newest first; sorted by date or upvotes, the first FEED_SIZE of
    every match in that order."""

    feed_type = SafeAtom

    def __call__(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return super().__call__(request, *args, **kwargs)
        except BadRequest as error:
            return HttpResponseBadRequest(f"{error}\n", content_type="text/plain; charset=utf-8")

    def get_object(self, request: HttpRequest) -> SavedSearch:
        return SavedSearch(SEARCH_FEED.parse(request))

    def title(self, saved: SavedSearch) -> str:
        if not saved.query:
            return "Paperwire: search"
        described = saved.describe()
        return f"Paperwire: papers matching “{saved.query}”" + (f" ({described})" if described else "")

    def subtitle(self, saved: SavedSearch) -> str:
        sort = saved.values["sort"]
        if sort == "relevance":
            return "The best matches by relevance, newest first (sort=date: the newest of every match)."
        order = "newest" if sort == "date" else "most upvoted"
        return f"The {FEED_SIZE} {order} of all the matches."

    def link(self, saved: SavedSearch) -> str:
        return absolute(f"{reverse('search')}?{saved.query_string}")

    def feed_url(self, saved: SavedSearch) -> str:
        return absolute(f"{reverse('search_feed')}?{saved.query_string}")

    def items(self, saved: SavedSearch) -> list[Paper]:
        if not saved.query:
            return []
        values = saved.values
        options = {
            "mode": values["mode"],
            "date_from": values["from"],
            "date_to": values["to"],
            "category": (values["category"] or "").strip() or None,
            "snippets": False,
        }
        if values["sort"] != "relevance":
            return [h.paper for h in search(saved.query, sort=values["sort"], limit=FEED_SIZE, **options).hits]
        # The best matches (at least half the best score), newest first.
        hits = search(saved.query, limit=30, **options).hits
        best = max((h.score for h in hits if not h.pinned), default=0.0)
        papers = [h.paper for h in hits if h.pinned or h.score >= RELEVANT_SHARE * best]
        return sorted(papers, key=lambda p: (p.daily_date or dt.date.min, p.id), reverse=True)
