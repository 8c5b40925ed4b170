"""The live sources: Hugging Face's daily papers API and the arXiv API.

Both go through ``paperwire.ingest.http.get`` (retries, Retry-After) and the one upsert
path, and record a cursor after every completed step so that an interrupted run resumes.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings

from paperwire.core.progress import progress
from paperwire.ingest import http
from paperwire.ingest.arxiv import MalformedFeed, parse_feed
from paperwire.ingest.formats import UnreadableFile, items_from_bytes
from paperwire.ingest.importer import ImportReport
from paperwire.ingest.models import SourceCursor
from paperwire.ingest.records import PaperRecord
from paperwire.ingest.upsert import Upserter

ARXIV_PAGE_SIZE = 100


@dataclass
class IngestReport(ImportReport):
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        failed = f", {len(self.failures)} failed requests" if self.failures else ""
        return super().summary() + failed


def hf_daily(days: list[dt.date]) -> IngestReport:
    """Fetch ``/api/daily_papers?date=D`` for each day; a failing day is reported, the rest go on.

    The cursor (where the next run resumes) moves only over days read whole: from the first day
    that failed (an HTTP error, a malformed answer, an item that could not be read) it stays put,
    so that the next run fetches that day again. The good items of a day read in part are kept.
    """
    report = IngestReport()
    upserter = Upserter(on_reject=report.reject)
    report.stats = upserter.stats
    url = f"{settings.HF_ENDPOINT}/api/daily_papers"
    held = False  # a day failed: the cursor stays before it
    for day in progress(days, desc="hf-daily", unit="day"):
        try:
            body = http.get(url, {"date": day.isoformat(), "limit": 100})
        except http.FetchError as error:
            report.failures.append(str(error))
            held = True
            continue
        failure, unread = "", 0
        try:
            for item in items_from_bytes(body, f"hf-daily {day}", "hf-daily"):
                if item.record is not None:
                    upserter.add(item.record)
                else:
                    report.reject(item.where, item.error)
                    unread += item.unread
        except UnreadableFile as error:
            failure = f"{url}?date={day}: malformed response: {error}"
        upserter.flush()
        if unread and not failure:
            items = "1 item" if unread == 1 else f"{unread} items"
            failure = f"{url}?date={day}: {items} could not be read; the day will be fetched again"
        if failure:
            report.failures.append(failure)
            held = True
        elif not held:
            SourceCursor.put("hf-daily", day.isoformat())
    return report


def hf_daily_resume_days(today: dt.date) -> list[dt.date]:
    """Without --date/--since: from the last day read (fetched again, its votes grow) to today."""
    last = SourceCursor.get("hf-daily")
    start = dt.date.fromisoformat(last) if last else today - dt.timedelta(days=6)
    return days_between(start, today)


def days_between(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]


def arxiv_query(categories: list[str]) -> str:
    return " OR ".join(f"cat:{c}" for c in categories)


def arxiv_listing(categories: list[str], since: dt.date, pause: Callable[[float], None] = time.sleep) -> IngestReport:
    """Page through the newest submissions in ``categories`` back to ``since``.

    arXiv asks for one request every ARXIV_REQUEST_INTERVAL seconds; the pages are
    sorted by submission date, newest first, so the walk stops at the first older paper.
    """
    report = IngestReport()
    upserter = Upserter(on_reject=report.reject)
    report.stats = upserter.stats
    cursor_name = f"arxiv:{','.join(sorted(categories))}"
    newest: dt.datetime | None = None
    start = 0
    empty_pages = 0
    bar = progress(None, desc="arxiv", unit="paper")
    while True:
        if start or empty_pages:
            pause(settings.ARXIV_REQUEST_INTERVAL * (2**empty_pages))
        params = {
            "search_query": arxiv_query(categories),
            "sortBy": "submittedDate",
            "sortOrder": "descending",
            "start": start,
            "max_results": ARXIV_PAGE_SIZE,
        }
        try:
            page = parse_feed(http.get(settings.ARXIV_API_URL, params))
        except http.FetchError as error:
            report.failures.append(str(error))
            break
        except MalformedFeed as error:
            report.failures.append(f"{settings.ARXIV_API_URL} (start={start}): {error}")
            break
        if not page.entries and start < page.total:
            # arXiv sometimes answers a page with no entries although more results remain: ask
            # again (politely, waiting longer each time), then give up without moving the cursor.
            empty_pages += 1
            if empty_pages > settings.HTTP_RETRIES:
                report.failures.append(
                    f"{settings.ARXIV_API_URL} (start={start}): arXiv answered {empty_pages} empty pages "
                    f"although it counts {page.total} results; the papers from there on were not read"
                )
                break
            continue
        empty_pages = 0
        for error in page.errors:
            report.reject(f"arxiv start={start}", error)
        fresh = [r for r in page.records if r.published_at and r.published_at.date() >= since]
        for record in fresh:
            upserter.add(record)
            newest = max(newest, record.published_at) if newest else record.published_at
        upserter.flush()
        start += page.entries
        bar.total = page.total
        bar.update(page.entries)
        if len(fresh) < len(page.records) or not page.entries or start >= page.total:
            break
    bar.close()
    if newest and not report.failures:
        SourceCursor.put(cursor_name, newest.date().isoformat())
    return report


def arxiv_resume_since(categories: list[str], today: dt.date) -> dt.date:
    last = SourceCursor.get(f"arxiv:{','.join(sorted(categories))}")
    return dt.date.fromisoformat(last) if last else today - dt.timedelta(days=3)


def fetch_arxiv_paper(arxiv_id: str, *, timeout: float | None = None, retries: int | None = None) -> PaperRecord | None:
    """One paper's metadata by id from the arXiv API; None when arXiv does not know it.

    ``timeout`` and ``retries`` default to the polite client's (HTTP_TIMEOUT, HTTP_RETRIES)."""
    params = {"id_list": arxiv_id, "max_results": 1}
    page = parse_feed(http.get(settings.ARXIV_API_URL, params, timeout=timeout, retries=retries))
    return next((r for r in page.records if r.id == arxiv_id), None)
