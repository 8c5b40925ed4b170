"""What pages and the API read about authors: the names of papers with their authors' pages and
accounts, an author's papers, co-authors and organizations. Every function answers a page's
worth in a fixed number of queries, however many papers or names it holds."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, QuerySet
from django.db.models.functions import Coalesce

from paperwire.papers.models import Organization, Paper
from paperwire.people.linking import names_of, select_in
from paperwire.people.models import Author, PaperAuthor

COAUTHORS = 20  # shown on an author's page, most shared papers first
ORGANIZATIONS = 10


@dataclass(frozen=True)
class NameOnPaper:
    """One name of a paper as pages show it."""

    position: int
    name: str
    author: Author | None  # the author whose page the name is on (None: a name with no letters or digits)

    @property
    def url(self) -> str:
        return self.author.get_absolute_url() if self.author else ""

    @property
    def user(self):
        """The account linked to the author, if a claim was approved."""
        return self.author.account if self.author else None

    @property
    def claimed_at(self) -> dt.datetime | None:
        return self.author.claimed_at if self.user else None


def attach_names(papers, first: int | None = None) -> None:
    """Give each paper ``names``: its NameOnPaper list (the ``first`` names only, when given: a
    card shows no more), in one query for all of them."""
    papers = list(papers)
    if not papers:
        return
    links = PaperAuthor.objects.filter(paper_id__in=[p.pk for p in papers]).select_related(
        "author__user", "author__same_as__user"
    )
    if first is not None:
        links = links.filter(position__lt=first)
    by_place = {(link.paper_id, link.position): link.author.shown for link in links}
    for paper in papers:
        names = names_of(paper.authors)
        if first is not None:
            names = names[:first]
        paper.names = [NameOnPaper(n, name, by_place.get((paper.pk, n))) for n, name in enumerate(names)]


def group_of(author: Author) -> list[int]:
    """The ids of the author and of the abbreviated names on its page."""
    return [author.pk, *Author.objects.filter(same_as=author).values_list("pk", flat=True)]


def papers_of(group: list[int]) -> QuerySet:
    """The visible papers of these authors (one row each, whatever number of places)."""
    places = PaperAuthor.objects.filter(author_id__in=group).values("paper_id")
    return Paper.visible.filter(pk__in=places)


def coauthors(group: list[int], limit: int = COAUTHORS) -> list[tuple[Author, int]]:
    """The authors who share the most visible papers with this one: (author, papers)."""
    rows = (
        PaperAuthor.objects.filter(paper__in=papers_of(group))
        .exclude(author_id__in=group)
        .annotate(shown_id=Coalesce("author__same_as_id", "author_id"))
        .exclude(shown_id__in=group)
        .values("shown_id")
        .annotate(papers=Count("paper_id", distinct=True))
        .order_by("-papers", "shown_id")[:limit]
    )
    counts = [(row["shown_id"], row["papers"]) for row in rows]
    found = Author.objects.select_related("user").in_bulk([pk for pk, _ in counts])
    return [(found[pk], n) for pk, n in counts if pk in found]


def organizations_of(group: list[int], limit: int = ORGANIZATIONS) -> list[tuple[Organization, int]]:
    rows = (
        papers_of(group)
        .filter(organization__isnull=False)
        .values("organization")
        .annotate(papers=Count("pk"))
        .order_by("-papers", "organization")[:limit]
    )
    counts = [(row["organization"], row["papers"]) for row in rows]
    found = Organization.objects.in_bulk([pk for pk, _ in counts])
    return [(found[pk], n) for pk, n in counts if pk in found]


def spellings_of(group: list[int], limit: int = 10) -> list[str]:
    """Other names the author's papers write (abbreviations on its page), most used first."""
    rows = (
        Author.objects.filter(pk__in=group[1:])
        .annotate(papers=Count("paper_links"))
        .order_by("-papers", "name")
        .values_list("name", flat=True)[:limit]
    )
    return list(rows)


def claimed_names(papers) -> dict[str, dict[int, NameOnPaper]]:
    """For the API: the names of these papers whose author is linked to an active account, by
    paper id and position. Lookups by key, whatever the number of papers and authors (a single
    query with an OR over the outer joins to the accounts took minutes on PostgreSQL after a
    large import): the places of these papers' names, their authors' accounts and full names,
    the accounts of those full names. Objects are built for the authors with an account only
    (building an author and its account for every name of a search's 10 papers was 40 % of
    the search's time)."""
    ids = [p.pk for p in papers]
    if not ids:
        return {}
    places = list(PaperAuthor.objects.filter(paper_id__in=ids).values_list("paper_id", "position", "author_id"))
    shown: dict[int, int] = {}  # author -> the author whose page its name is on (Author.shown)
    with_user: set[int] = set()
    # Plain SQL: the ORM prepares each value of the IN list, and 10 papers can have 600 names.
    for pk, user_id, same_as_id in select_in(Author, ["pk", "user", "same_as"], "pk", {a for _, _, a in places}):
        shown[pk] = same_as_id or pk
        if user_id:
            with_user.add(pk)
    if full := {target for pk, target in shown.items() if target != pk}:
        with_user |= set(Author.objects.filter(pk__in=full, user__isnull=False).values_list("pk", flat=True))
    wanted = set(shown.values()) & with_user
    if not wanted:
        return {}
    authors = Author.objects.select_related("user").in_bulk(wanted)
    found: dict[str, dict[int, NameOnPaper]] = {}
    for paper_id, position, author_id in places:
        author = authors.get(shown.get(author_id, 0))
        if author is not None and author.account:
            found.setdefault(paper_id, {})[position] = NameOnPaper(position, "", author)
    return found
