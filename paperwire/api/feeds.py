"""RSS 2.0 and Atom 1.0 feeds of the latest papers and of a saved search (Django's syndication)."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlencode

from django.contrib.syndication.views import Feed
from django.http import HttpRequest
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed, Rss201rev2Feed

from paperwire.papers.models import Paper
from paperwire.search.engine import search
from paperwire.search.text import clean
from paperwire.siteurl import absolute

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


class PaperFeed(Feed):
    feed_type = SafeRss

    def item_title(self, paper: Paper) -> str:
        return paper.title

    def item_description(self, paper: Paper) -> str:
        return paper.abstract

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


class SearchAtom(PaperFeed):
    """A saved search as an Atom feed: the best matches, newest first."""

    feed_type = SafeAtom

    def get_object(self, request: HttpRequest) -> str:
        return clean(request.GET.get("q", ""))

    def title(self, query: str) -> str:
        return f"Paperwire: papers matching “{query}”" if query else "Paperwire: search"

    def link(self, query: str) -> str:
        return absolute(f"{reverse('search')}?{urlencode({'q': query})}")

    def feed_url(self, query: str) -> str:
        return absolute(f"{reverse('search_feed')}?{urlencode({'q': query})}")

    def items(self, query: str) -> list[Paper]:
        """The best matches (at least half the best score), newest first."""
        if not query:
            return []
        hits = search(query, limit=30, snippets=False).hits
        best = max((h.score for h in hits if not h.pinned), default=0.0)
        papers = [h.paper for h in hits if h.pinned or h.score >= RELEVANT_SHARE * best]
        return sorted(papers, key=lambda p: (p.daily_date or dt.date.min, p.id), reverse=True)
