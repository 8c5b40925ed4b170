"""Day, week and month feeds, the home page and trending."""

import datetime as dt
import re
from html import unescape

import pytest
import time_machine
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from paperwire.ingest.importer import import_files
from paperwire.papers.models import Paper, Vote, set_vote
from paperwire.papers.periods import Period
from paperwire.papers.ranking import (
    FRONT_PAGE_PAPERS,
    THIN_DAY,
    TRENDING_HALF_LIFE,
    IdsFirst,
    papers_in,
    trending_scores,
)
from tests.conftest import DEMO, paper, query_plan, write_jsonl

pytestmark = pytest.mark.django_db


@pytest.fixture
def papers(tmp_path):
    records = [
        paper("2507.00001", "Monday low", published="2025-07-21", upvotes=2),
        paper(
            "2507.00002",
            "Monday high",
            published="2025-07-21",
            upvotes=9,
            organization="Acme Labs",
            code_urls=["https://github.com/acme/x"],
        ),
        paper("2507.00003", "Tuesday only", published="2025-07-22", upvotes=4),
        paper("2507.00004", "Next week", published="2025-07-30", upvotes=1),
        paper("2506.00001", "June paper", published="2025-06-10", upvotes=50),
        paper("2507.00005", "<script>alert('x')</script> & friends", published="2025-07-22", upvotes=0),
    ]
    import_files([write_jsonl(tmp_path / "p.jsonl", records)], progress=False)


def titles(response):
    return [p.title for p in response.context["papers"]]


def test_home_shows_the_latest_day(client, papers):
    response = client.get("/")
    assert response.status_code == 200
    assert titles(response) == ["Next week"]
    assert response.context["previous"].slug == "2025-07-22"


def card_titles(html: str) -> list[str]:
    """The titles of the paper cards of a page, in the order a reader sees them."""
    return [unescape(t) for t in re.findall(r'<h3 class="paper-title"><a [^>]*><bdi>(.*?)</bdi></a>', html)]


def day_headings(html: str) -> list[str]:
    return re.findall(r'<h2 class="day-heading"[^>]*><a href="/papers/date/([0-9-]+)"', html)


def test_a_thin_latest_day_is_followed_by_the_days_before(client, papers):
    """The latest day has one paper: the home page goes on with earlier days, newest first, each
    under its date; a day's own page still shows that day only."""
    html = client.get("/").content.decode()
    assert card_titles(html) == [
        "Next week",
        "Tuesday only",
        "<script>alert('x')</script> & friends",
        "Monday high",
        "Monday low",
        "June paper",
    ]
    assert day_headings(html) == ["2025-07-22", "2025-07-21", "2025-06-10"]
    assert "Earlier:" not in html  # nothing older to read on to
    assert card_titles(client.get("/papers/date/2025-07-30").content.decode()) == ["Next week"]


def test_earlier_days_fill_the_front_page_and_link_to_the_rest(client, tmp_path):
    records = [paper("2507.90000", "Latest", published="2025-07-22")]
    records += [paper(f"2507.{n:05d}", f"Monday {n}", published="2025-07-21", upvotes=n) for n in range(1, 41)]
    records += [paper("2507.80000", "Sunday", published="2025-07-20", upvotes=99)]
    import_files([write_jsonl(tmp_path / "days.jsonl", records)], progress=False)
    html = client.get("/").content.decode()
    shown = card_titles(html)
    assert len(shown) == FRONT_PAGE_PAPERS
    assert shown == ["Latest"] + [f"Monday {n}" for n in range(40, 40 - FRONT_PAGE_PAPERS + 1, -1)]
    assert day_headings(html) == ["2025-07-21"]
    assert 'href="/papers/date/2025-07-21">All 40 papers of July 21, 2025' in html
    assert "Sunday" not in shown
    assert 'href="/papers/date/2025-07-20" rel="prev">← Earlier: July 20, 2025' in html


def test_a_busy_latest_day_stands_alone(client, tmp_path):
    records = [paper(f"2507.{n:05d}", f"Tuesday {n}", published="2025-07-22", upvotes=n) for n in range(THIN_DAY)]
    records += [paper("2507.80000", "Monday", published="2025-07-21", upvotes=99)]
    import_files([write_jsonl(tmp_path / "days.jsonl", records)], progress=False)
    html = client.get("/").content.decode()
    assert len(card_titles(html)) == THIN_DAY and "Monday" not in card_titles(html)
    assert day_headings(html) == []


def test_the_demo_corpus_makes_a_full_front_page(client):
    import_files([DEMO], progress=False)
    html = client.get("/").content.decode()
    assert len(card_titles(html)) == FRONT_PAGE_PAPERS
    assert len(day_headings(html)) >= 10


def test_home_without_papers_says_how_to_add_some(client, db):
    response = client.get("/")
    assert response.status_code == 200
    assert "paperwire import" in response.content.decode()


def test_a_day_ranks_by_upvotes_and_links_its_neighbours(client, papers):
    response = client.get("/papers/date/2025-07-21")
    assert titles(response) == ["Monday high", "Monday low"]
    html = response.content.decode()
    assert 'href="/papers/date/2025-07-22"' in html  # next day with papers
    assert 'href="/papers/date/2025-06-10"' in html  # previous day with papers, across the gap
    assert "Acme Labs" in html and "https://github.com/acme/x" in html
    assert "Ada Lovelace" in html


def test_a_week_and_a_month(client, papers):
    week = client.get("/papers/week/2025-W30")
    assert titles(week) == ["Monday high", "Tuesday only", "Monday low", "<script>alert('x')</script> & friends"]
    assert week.context["next"].slug == "2025-W31"
    assert week.context["previous"].slug == "2025-W24"
    month = client.get("/papers/month/2025-07")
    assert titles(month)[0] == "Monday high" and len(titles(month)) == 5
    assert month.context["previous"].slug == "2025-06"
    assert month.context["next"] is None


def test_an_empty_day_says_so(client, papers):
    response = client.get("/papers/date/2025-07-25")
    assert response.status_code == 200
    assert "No papers on July 25, 2025." in response.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "/papers/date/2025-02-30",
        "/papers/date/2025-7-1",
        "/papers/date/99999-01-01",
        "/papers/week/2025-W54",
        "/papers/week/2025-30",
        "/papers/month/2025-13",
        "/papers/month/0000-01",
        "/papers/date/today",
        "/papers/date/2025-07-21?page=9",
        "/papers/date/2025-07-21?page=x",
    ],
)
def test_invalid_periods_and_pages_are_404_pages(client, papers, url):
    response = client.get(url)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_titles_are_escaped(client, papers):
    html = client.get("/papers/date/2025-07-22").content.decode()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; friends" in html


def test_hidden_papers_leave_every_feed(client, papers):
    Paper.objects.filter(pk="2507.00002").update(hidden=True)
    assert titles(client.get("/papers/date/2025-07-21")) == ["Monday low"]
    assert client.get("/papers/2507.00002").status_code == 404


def test_long_days_are_paginated(client, tmp_path):
    records = [paper(f"2507.{n:05d}", f"Paper {n}", published="2025-07-21", upvotes=n) for n in range(1, 61)]
    import_files([write_jsonl(tmp_path / "many.jsonl", records)], progress=False)
    first = client.get("/papers/date/2025-07-21")
    assert titles(first)[0] == "Paper 60" and len(titles(first)) == 50
    second = client.get("/papers/date/2025-07-21?page=2")
    assert titles(second) == [f"Paper {n}" for n in range(10, 0, -1)]


def test_organization_pages(client, papers):
    response = client.get("/orgs/acme-labs")
    assert response.status_code == 200
    assert titles(response) == ["Monday high"]
    listing = client.get("/orgs").content.decode()
    assert 'href="/orgs/acme-labs"' in listing
    # The URL it had before organizations got slugs leads there.
    assert client.get("/orgs/Acme-Labs")["Location"] == "/orgs/acme-labs"
    assert client.get("/orgs/nobody").status_code == 404


# --- trending -----------------------------------------------------------------------------


def test_trending_prefers_fresh_votes(client, papers, alice, bob, charlie):
    with time_machine.travel(dt.datetime(2025, 7, 30, 12, tzinfo=dt.UTC), tick=False):
        for user in (alice, bob, charlie):
            set_vote(user, Paper.objects.get(pk="2507.00001"), True)
        response = client.get("/papers/trending")
    assert titles(response)[0] == "Monday low"
    assert "Monday low" in response.content.decode()


def test_a_burst_of_votes_fades_within_days(papers, django_user_model):
    burst_at = dt.datetime(2025, 7, 23, 12, tzinfo=dt.UTC)
    voters = [django_user_model(username=f"fan{n}") for n in range(40)]
    django_user_model.objects.bulk_create(voters)
    for voter in django_user_model.objects.filter(username__startswith="fan"):
        Vote.objects.create(user=voter, paper_id="2507.00001")
    Vote.objects.filter(paper_id="2507.00001").update(created_at=burst_at)
    steady = django_user_model.objects.create(username="steady")
    Vote.objects.create(user=steady, paper_id="2507.00004")
    Vote.objects.filter(paper_id="2507.00004").update(created_at=burst_at + dt.timedelta(days=3))

    scores = dict(trending_scores(at=burst_at + dt.timedelta(hours=1)))
    assert max(scores, key=scores.get) == "2507.00001"
    three_days_later = dict(trending_scores(at=burst_at + dt.timedelta(days=3)))
    half_lives = dt.timedelta(days=3) / TRENDING_HALF_LIFE
    # Its 2 imported upvotes age on the feed's clock, which stops at the end of its latest day
    # (July 22: the next papers come on July 30), from the start of its day (July 21).
    feed_end = dt.datetime.combine(dt.date(2025, 7, 22), dt.time.max, dt.UTC)
    imported = 2 * 0.5 ** ((feed_end - dt.datetime(2025, 7, 21, tzinfo=dt.UTC)) / TRENDING_HALF_LIFE)
    assert three_days_later["2507.00001"] == pytest.approx(40 * 0.5**half_lives + imported)
    assert three_days_later["2507.00004"] > three_days_later["2507.00001"]  # one fresh vote beats the old burst


def test_the_api_sorts_by_trending(client, papers, alice):
    with time_machine.travel(dt.datetime(2025, 7, 30, 12, tzinfo=dt.UTC), tick=False):
        set_vote(alice, Paper.objects.get(pk="2507.00004"), True)
        items = client.get("/api/daily_papers", {"sort": "trending"}).json()
    assert [i["paper"]["id"] for i in items][0] == "2507.00004"


# --- trending on an instance fed from an archive ------------------------------------------

ARCHIVE_NOW = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)  # three months after the archive's last day
LATEST_DAY = dt.date(2026, 8, 21)
OLD_PAPER = "2507.01949"  # on the feed in July 2025


def archive_records() -> list[dict]:
    """Hugging Face-like papers: three a weekday from April to August 2026, each submitted on
    its day at 09:00, 10:00 and 11:00 with 1 to 23 upvotes, and a July 2025 paper."""
    records, day, n = [], dt.date(2026, 4, 1), 0
    while day <= LATEST_DAY:
        if day.weekday() < 5:
            for slot in range(3):
                n += 1
                records.append(
                    paper(
                        f"26{day.month:02d}.{n:05d}",
                        f"Archived {day.isoformat()} #{slot}",
                        published=f"{day.isoformat()}T06:00:00Z",
                        submitted_at=f"{day.isoformat()}T{9 + slot:02d}:00:00Z",
                        upvotes=1 + (n * 7) % 23,
                    )
                )
        day += dt.timedelta(days=1)
    records.append(
        paper(OLD_PAPER, "Kwai Keye-VL", published="2025-07-02", submitted_at="2025-07-03T08:00:00Z", upvotes=74)
    )
    return records


@pytest.fixture
def archive(tmp_path):
    with time_machine.travel(ARCHIVE_NOW, tick=False):
        import_files([write_jsonl(tmp_path / "archive.jsonl", archive_records())], progress=False)


def latest_week() -> dict[str, float]:
    """The score of each paper of the archive's latest week, as docs/feeds.md states it: its
    imported upvotes counted as cast when it was submitted, seen from the end of the latest day."""
    end = dt.datetime.combine(LATEST_DAY, dt.time.max, dt.UTC)
    week = Paper.objects.filter(daily_date__gt=LATEST_DAY - dt.timedelta(days=7))
    return {p.pk: p.base_upvotes * 0.5 ** ((end - p.submitted_on_daily_at) / TRENDING_HALF_LIFE) for p in week}


def test_one_vote_on_an_archived_paper_never_empties_trending(client, archive, alice):
    with time_machine.travel(ARCHIVE_NOW, tick=False):
        set_vote(alice, Paper.objects.get(pk=OLD_PAPER), True)
        page = client.get("/papers/trending")
        api = client.get("/api/daily_papers", {"sort": "trending", "limit": 100}).json()
    expected = latest_week()
    assert len(expected) == 15  # five weekdays, three papers each
    expected[OLD_PAPER] = 1.0  # one vote, cast just now
    order = sorted(expected, key=lambda pid: (-expected[pid], pid))
    shown = [p.pk for p in page.context["papers"]]
    assert shown[: len(order)] == order
    assert 0 < order.index(OLD_PAPER) < len(order) - 1  # placed by its score, among the others
    assert [item["paper"]["id"] for item in api][: len(order)] == order
    html = page.content.decode()
    assert "Kwai Keye-VL" in html and "Archived 2026-08-21 #0" in html
    assert "The newest papers are from August 21, 2026: here is their week, with the papers voted on since." in html


def test_trending_on_an_archive_without_votes_shows_its_latest_week(client, archive):
    with time_machine.travel(ARCHIVE_NOW, tick=False):
        shown = [p.pk for p in client.get("/papers/trending").context["papers"]]
    expected = latest_week()
    assert shown[:15] == sorted(expected, key=lambda pid: (-expected[pid], pid))


def test_old_votes_fade_from_trending_but_the_latest_week_stays(client, archive, alice):
    with time_machine.travel(ARCHIVE_NOW, tick=False):
        set_vote(alice, Paper.objects.get(pk=OLD_PAPER), True)
    with time_machine.travel(ARCHIVE_NOW + dt.timedelta(days=8), tick=False):
        shown = [p.pk for p in client.get("/papers/trending").context["papers"]]
    assert OLD_PAPER not in shown
    assert set(latest_week()) <= set(shown)


def test_a_sparse_instance_still_fills_its_trending_page(client, papers, alice):
    """Six papers over two months: the latest week holds one, the newest others fill the page."""
    with time_machine.travel(dt.datetime(2025, 9, 1, 12, tzinfo=dt.UTC), tick=False):
        set_vote(alice, Paper.objects.get(pk="2506.00001"), True)
        shown = titles(client.get("/papers/trending"))
    assert shown[0] == "June paper"  # the only vote of the week
    assert shown[1] == "Next week"  # the latest week, then the newest papers by their decayed upvotes
    assert sorted(shown) == sorted(p.title for p in Paper.objects.all())


def test_the_api_ranks_a_period_by_trending_without_dropping_any_of_its_papers(client, archive, alice):
    with time_machine.travel(ARCHIVE_NOW, tick=False):
        set_vote(alice, Paper.objects.get(pk="2604.00002"), True)
        items = client.get("/api/daily_papers", {"sort": "trending", "month": "2026-04", "limit": 100}).json()
    april = Paper.objects.filter(daily_date__year=2026, daily_date__month=4)
    assert len(items) == april.count() == 66
    ids = [item["paper"]["id"] for item in items]
    assert ids[0] == "2604.00002"  # voted on just now
    rest = list(april.exclude(pk="2604.00002").order_by("-upvotes", "-submitted_on_daily_at", "id"))
    assert ids[1:] == [p.pk for p in rest]


def test_trending_reads_only_the_window(archive, alice, django_user_model):
    """The cost stays bounded by the window: no query reads every vote or every paper."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    voters = [django_user_model(username=f"old{n}") for n in range(20)]
    django_user_model.objects.bulk_create(voters)
    for voter in django_user_model.objects.filter(username__startswith="old"):
        Vote.objects.create(user=voter, paper_id="2604.00001")
    Vote.objects.update(created_at=dt.datetime(2026, 4, 2, tzinfo=dt.UTC))
    with time_machine.travel(ARCHIVE_NOW, tick=False), CaptureQueriesContext(connection) as queries:
        scores = trending_scores()
    assert "2604.00001" not in dict(scores)
    for query in queries.captured_queries:
        sql = query["sql"].lower()
        if '"papers_vote"' in sql:
            assert '"papers_vote"."created_at" >' in sql, sql
        elif '"papers_paper"' in sql:
            assert '"papers_paper"."daily_date" >' in sql or "limit" in sql or "max(" in sql, sql


# --- a feed's page: ids first, from the covering index ---------------------------------------


@pytest.fixture
def crowded_days():
    """Papers of three days with ties on every ranking column, so that the last key (the id)
    decides; some hidden, some without a day."""
    day = dt.date(2025, 7, 21)
    moments = [dt.datetime(2025, 7, 21, h, tzinfo=dt.UTC) for h in (8, 9)]
    rows = []
    for n in range(90):
        rows.append(
            Paper(
                id=f"2507.{n:05d}",
                title=f"Crowded {n}",
                daily_date=None if n % 17 == 0 else day + dt.timedelta(days=n % 3),
                upvotes=n % 4,
                submitted_on_daily_at=moments[n % 2] if n % 5 else None,
                published_at=moments[(n // 2) % 2],
                hidden=n % 11 == 0,
            )
        )
    Paper.objects.bulk_create(rows)
    return Period("month", dt.date(2025, 7, 1), dt.date(2025, 8, 1))


@hypothesis_settings(
    max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(start=st.integers(0, 95), length=st.integers(0, 60))
def test_a_page_read_ids_first_is_the_page_of_the_ranking(crowded_days, start, length):
    """Whatever the slice, the two-step read gives the papers, in the order, of the ranked query."""
    ranked = papers_in(crowded_days)
    paged = IdsFirst(ranked)
    assert [p.pk for p in paged[start : start + length]] == [p.pk for p in ranked[start : start + length]]
    assert (
        paged.count() == len(paged) == ranked.count() == 90 - len([n for n in range(90) if n % 17 == 0 or n % 11 == 0])
    )
    if start < paged.count():
        assert paged[start].pk == ranked[start].pk


def test_a_month_page_sorts_ids_from_the_feed_index_never_whole_rows(client, crowded_days):
    """The month page's order is read as ids alone, from paper_feed_order (the plan of that very
    query, on either database), then 50 rows by id: no query sorts whole rows of the month."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/papers/month/2025-07")
    shown = [p.pk for p in response.context["papers"]]
    assert shown == [p.pk for p in papers_in(crowded_days)[:50]]
    for query in queries.captured_queries:
        sql = query["sql"]
        if '"papers_paper"."upvotes" DESC' in sql:
            selected = sql.split(" FROM ")[0]
            assert selected.count('"papers_paper".') == 1 and '"papers_paper"."id"' in selected, sql
    if connection.vendor == "sqlite":
        plan = query_plan(papers_in(crowded_days).values_list("pk", flat=True)[:50])
        assert "paper_feed_order" in plan, plan


def test_on_postgresql_a_month_page_reads_its_ids_from_the_feed_index_alone(transactional_db):
    """As on a site (a month among others, statistics and visibility map kept by autovacuum), the
    month's ids come from paper_feed_order without touching the table. In a test transaction,
    with ANALYZE alone and no visibility map, the plan was a coin toss between this index and a
    bitmap scan of the day index (CI, 2026-11-28): VACUUM ANALYZE needs autocommit."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the plan of PostgreSQL; SQLite's is checked by the test above")
    day = dt.date(2025, 7, 21)
    Paper.objects.bulk_create(
        Paper(
            id=f"2507.{n:05d}",
            title=f"Crowded {n}",
            daily_date=day + dt.timedelta(days=n % 3),
            upvotes=n % 4,
            hidden=n % 11 == 0,
        )
        for n in range(90)
    )
    other = dt.date(2024, 1, 1)
    Paper.objects.bulk_create(
        Paper(id=f"2401.{n:05d}", title=f"Other {n}", daily_date=other + dt.timedelta(days=n % 300))
        for n in range(3000)
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE papers_paper")
    month = Period("month", dt.date(2025, 7, 1), dt.date(2025, 8, 1))
    plan = query_plan(papers_in(month).values_list("pk", flat=True)[:50])
    assert "Index Only Scan using paper_feed_order" in plan, plan


def test_an_anonymous_feed_sets_no_cookie_and_is_cached_a_signed_in_one_carries_the_token(client, papers, alice):
    """Cards read the CSRF token for a signed-in reader's vote form only: reading it sets the
    CSRF cookie, and a page that sets a cookie is not kept by the page cache."""
    from django.conf import settings

    first = client.get("/papers/date/2025-07-21")
    assert settings.CSRF_COOKIE_NAME not in first.cookies
    assert client.get("/papers/date/2025-07-21")["X-Cache"] == "hit"
    client.force_login(alice)
    signed_in = client.get("/papers/date/2025-07-21").content.decode()
    token = r'<input type="hidden" name="csrfmiddlewaretoken" value="\w+">'
    forms = re.findall(r'<form class="vote[^>]*>\s*' + token, signed_in)
    assert len(forms) == signed_in.count('<form class="vote') == 2
