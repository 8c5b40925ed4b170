"""Which papers a feed shows, and in which order.

Feeds (a day, an ISO week, a month) rank by upvotes. Trending ranks by a score in which
every vote counts less as it ages: a vote counts 1 when cast and half as much every
TRENDING_HALF_LIFE after, so a burst of votes fades within a couple of days instead of
pinning a paper to the top.

Trending keeps two clocks (docs/feeds.md, "Trending"):
- votes cast here age from now;
- upvotes imported from elsewhere carry no times: they count as cast when the paper entered
  the daily feed, and age on the feed's own clock, which stops at the end of the latest day
  that has papers. An instance fed from an archive (latest day months ago) therefore still
  ranks the archive's latest week by its upvotes, and a vote cast today adds to that list
  instead of moving the whole window to a day with no papers.
Trending lists the papers of the feed's latest week (the seven days ending on its latest
day) and the papers voted on here in the last seven days; when that makes fewer than
TRENDING_MINIMUM papers, the newest papers fill the list up. Every query is bounded by the
window (or by TRENDING_MINIMUM rows), never by the size of the corpus.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Count, Max, Min, QuerySet
from django.utils import timezone

from paperwire.papers.models import Paper, Vote
from paperwire.papers.periods import Period, period_containing

# The home page shows the latest day; a day with fewer than THIN_DAY papers is followed by the
# days before it until the page shows FRONT_PAGE_PAPERS (docs/feeds.md).
THIN_DAY = 10
FRONT_PAGE_PAPERS = 30
TRENDING_HALF_LIFE = dt.timedelta(hours=12)
TRENDING_WINDOW = dt.timedelta(days=7)
TRENDING_MINIMUM = 50  # a trending page's worth: the newest papers fill a sparse window up to it


def ranked(queryset: QuerySet) -> QuerySet:
    return queryset.order_by("-upvotes", "-submitted_on_daily_at", "-published_at", "id")


def papers_in(period: Period) -> QuerySet:
    return ranked(
        Paper.visible.filter(daily_date__gte=period.start, daily_date__lt=period.end).select_related("organization")
    )


class IdsFirst:
    """A ranked queryset read a page at a time in two steps: the ids of the page, which the
    feed's covering index (``paper_feed_order``: day, then the ranking's columns, of the visible
    papers) gives without reading a paper's row, then those rows alone. Reading whole rows to
    sort them costs every row of the period (a month at a million papers: 9,000 rows, 40 ms
    in SQLite, against 4 ms this way); counting reads the index alone. A sequence for
    Django's Paginator: ``count()``, ``len()`` and slices."""

    def __init__(self, queryset: QuerySet):
        self.queryset = queryset

    def count(self) -> int:
        return self.queryset.count()

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, item):
        if not isinstance(item, slice):
            return self[item : item + 1][0]
        ids = list(self.queryset.values_list("pk", flat=True)[item])
        rows = {paper.pk: paper for paper in self.queryset.order_by().filter(pk__in=ids)}
        return [rows[pk] for pk in ids if pk in rows]


def latest_day(until: dt.date | None = None) -> dt.date | None:
    """The latest day that has papers (not after ``until``, when given)."""
    papers = Paper.visible.filter(daily_date__lte=until) if until else Paper.visible
    return papers.aggregate(day=Max("daily_date"))["day"]


@dataclass
class DaySection:
    """Papers of one day shown on the home page: the best ``papers`` of its ``total``."""

    period: Period
    papers: list[Paper]
    total: int

    @property
    def more(self) -> bool:
        return len(self.papers) < self.total


def days_before(day: dt.date, wanted: int) -> list[DaySection]:
    """The days with papers before ``day``, newest first, until they hold ``wanted`` papers; the
    last one gives only its best papers that make up the number."""
    counts = (
        Paper.visible.filter(daily_date__lt=day, daily_date__isnull=False)
        .values_list("daily_date")
        .annotate(n=Count("id"))
        .order_by("-daily_date")
    )
    chosen: list[tuple[dt.date, int, int]] = []  # (day, papers shown, papers that day)
    for other, total in counts.iterator():
        chosen.append((other, min(total, wanted), total))
        wanted -= total
        if wanted <= 0:
            break
    if not chosen:
        return []
    whole = [other for other, shown, total in chosen if shown == total]
    by_day: dict[dt.date, list[Paper]] = defaultdict(list)
    if whole:  # the days shown whole, in one query
        for paper in papers_in(Period("date", min(whole), max(whole) + dt.timedelta(days=1))):
            by_day[paper.daily_date].append(paper)
    last, shown, total = chosen[-1]
    if shown < total:
        by_day[last] = list(papers_in(period_containing("date", last))[:shown])
    return [DaySection(period_containing("date", other), by_day[other], total) for other, _, total in chosen]


def previous_period(period: Period) -> Period | None:
    """The nearest earlier period that has papers (weekends and gaps are skipped)."""
    day = Paper.visible.filter(daily_date__lt=period.start).aggregate(day=Max("daily_date"))["day"]
    return period.containing(day) if day else None


def next_period(period: Period) -> Period | None:
    day = Paper.visible.filter(daily_date__gte=period.end).aggregate(day=Min("daily_date"))["day"]
    return period.containing(day) if day else None


def feed_clock(now: dt.datetime) -> dt.datetime:
    """The feed's present: ``now``, or the end of the latest day that has papers when that is
    earlier (an archive, a feed whose updates stopped, a weekend)."""
    day = latest_day(until=now.date())
    if day is None:
        return now
    return min(now, dt.datetime.combine(day, dt.time.max, dt.UTC))


def stale_feed_day(now: dt.datetime | None = None) -> dt.date | None:
    """The feed's latest day when it is before yesterday (an archive, a paused feed), else None."""
    now = now or timezone.now()
    day = latest_day(until=now.date())
    return day if day and day < now.date() - dt.timedelta(days=1) else None


def decay(age: dt.timedelta) -> float:
    return math.pow(0.5, max(age.total_seconds(), 0) / TRENDING_HALF_LIFE.total_seconds())


def entered_feed(submitted: dt.datetime | None, published: dt.datetime | None, day: dt.date) -> dt.datetime:
    return submitted or published or dt.datetime.combine(day, dt.time(), dt.UTC)


def trending_scores(at: dt.datetime | None = None) -> list[tuple[str, float]]:
    """(paper id, score) of the papers trending at ``at`` (default: now), best first.

    Ties (papers nobody upvoted) go to the newer day first, then by id.
    """
    now = at or timezone.now()
    feed_now = feed_clock(now)
    scores: dict[str, float] = defaultdict(float)
    days: dict[str, dt.date] = {}
    votes = Vote.objects.filter(created_at__gt=now - TRENDING_WINDOW, created_at__lte=now, paper__hidden=False)
    for paper_id, cast_at, day in votes.values_list("paper_id", "created_at", "paper__daily_date").iterator():
        scores[paper_id] += decay(now - cast_at)
        days[paper_id] = day or dt.date.min
    fields = ("id", "base_upvotes", "submitted_on_daily_at", "published_at", "daily_date")
    week = Paper.visible.filter(
        daily_date__gt=feed_now.date() - TRENDING_WINDOW, daily_date__lte=feed_now.date()
    ).values_list(*fields)
    rows = list(week.iterator())
    if len({row[0] for row in rows} | set(scores)) < TRENDING_MINIMUM:
        newest = Paper.visible.filter(daily_date__lte=feed_now.date()).order_by("-daily_date", "-upvotes", "id")
        rows += list(newest.values_list(*fields)[:TRENDING_MINIMUM])
    seen = set()
    for paper_id, base, submitted, published, day in rows:
        if paper_id in seen:
            continue
        seen.add(paper_id)
        scores[paper_id] += base * decay(feed_now - entered_feed(submitted, published, day))
        days[paper_id] = day
    return sorted(scores.items(), key=lambda item: (-item[1], -days[item[0]].toordinal(), item[0]))


def trending_papers(limit: int, offset: int = 0) -> list[Paper]:
    page = trending_scores()[offset : offset + limit]
    papers = Paper.visible.select_related("organization").in_bulk([pid for pid, _ in page])
    result = []
    for pid, score in page:
        if pid in papers:
            papers[pid].trending_score = score
            result.append(papers[pid])
    return result
