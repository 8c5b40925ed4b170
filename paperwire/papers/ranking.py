"""Which papers a feed shows, and in which order.

Feeds (a day, an ISO week, a month) rank by upvotes. Trending ranks by a score in which
every vote counts less as it ages: a vote counts 1 when cast and half as much every
TRENDING_HALF_LIFE after, so a burst of votes fades within a couple of days instead of
pinning a paper to the top. Upvotes imported from elsewhere have no times; they count
as cast when the paper entered the daily feed.

Trending is computed as of the latest activity (vote or paper) when that is earlier than
now, so that an instance fed from an archive still has a meaningful trending page.
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


def ranked(queryset: QuerySet) -> QuerySet:
    return queryset.order_by("-upvotes", "-submitted_on_daily_at", "-published_at", "id")


def papers_in(period: Period) -> QuerySet:
    return ranked(
        Paper.visible.filter(daily_date__gte=period.start, daily_date__lt=period.end).select_related("organization")
    )


def latest_day() -> dt.date | None:
    return Paper.visible.aggregate(day=Max("daily_date"))["day"]


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


def trending_reference_time() -> dt.datetime:
    now = timezone.now()
    last_vote = Vote.objects.aggregate(t=Max("created_at"))["t"]
    last_day = latest_day()
    candidates = [t for t in (last_vote,) if t]
    if last_day:
        candidates.append(dt.datetime.combine(last_day, dt.time.max, dt.UTC))
    return min(now, max(candidates)) if candidates else now


def decay(age: dt.timedelta) -> float:
    return math.pow(0.5, max(age.total_seconds(), 0) / TRENDING_HALF_LIFE.total_seconds())


def trending_scores(at: dt.datetime | None = None) -> list[tuple[str, float]]:
    """(paper id, score) for the papers with recent votes or recent feed entries, best first."""
    at = at or trending_reference_time()
    since = at - TRENDING_WINDOW
    scores: dict[str, float] = defaultdict(float)
    votes = Vote.objects.filter(created_at__gt=since, created_at__lte=at, paper__hidden=False)
    for paper_id, cast_at in votes.values_list("paper_id", "created_at").iterator():
        scores[paper_id] += decay(at - cast_at)
    recent = Paper.visible.filter(daily_date__gte=since.date(), daily_date__lte=at.date())
    for paper_id, base, submitted, published, day in recent.values_list(
        "id", "base_upvotes", "submitted_on_daily_at", "published_at", "daily_date"
    ).iterator():
        entered = submitted or published or dt.datetime.combine(day, dt.time(), dt.UTC)
        scores[paper_id] += base * decay(at - entered)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def trending_papers(limit: int, offset: int = 0) -> list[Paper]:
    page = trending_scores()[offset : offset + limit]
    papers = Paper.visible.select_related("organization").in_bulk([pid for pid, _ in page])
    result = []
    for pid, score in page:
        if pid in papers:
            papers[pid].trending_score = score
            result.append(papers[pid])
    return result
