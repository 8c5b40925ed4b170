"""Submitting a paper to the daily feed by its arXiv id or URL."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from paperwire.ingest import http
from paperwire.ingest.arxiv import MalformedFeed
from paperwire.ingest.sources import fetch_arxiv_paper
from paperwire.ingest.upsert import upsert_records
from paperwire.papers.ids import arxiv_id
from paperwire.papers.models import Paper, Submission, content_changed


class SubmissionError(Exception):
    def __init__(self, message: str, existing: Paper | None = None) -> None:
        super().__init__(message)
        self.existing = existing


def submit_paper(user, text: str) -> Paper:
    """Put the paper named by ``text`` on today's feed, fetching its metadata from arXiv.

    A paper that is already on a daily feed is not submitted again. Each user may submit
    SUBMISSIONS_PER_DAY papers in any 24 hours.
    """
    found = arxiv_id(text or "")
    if not found:
        raise SubmissionError("That is not an arXiv id or URL (e.g. 2410.10819 or https://arxiv.org/abs/2410.10819).")
    existing = Paper.objects.filter(pk=found).first()
    if existing and (existing.submitted_on_daily_at or existing.hidden):
        raise SubmissionError(f"{found} has already been submitted.", existing=None if existing.hidden else existing)
    since = timezone.now() - dt.timedelta(days=1)
    if Submission.objects.filter(user=user, created_at__gte=since).count() >= settings.SUBMISSIONS_PER_DAY:
        raise SubmissionError(f"You can submit {settings.SUBMISSIONS_PER_DAY} papers a day; please come back tomorrow.")
    if existing is None:
        try:
            record = fetch_arxiv_paper(found)
        except http.FetchError as error:
            if error.status and 400 <= error.status < 500 and error.status != 429:
                raise SubmissionError(f"arXiv has no paper {found}.") from None
            raise SubmissionError("arXiv could not be reached; nothing was saved. Please try again later.") from None
        except MalformedFeed:
            raise SubmissionError(
                "arXiv sent an unreadable answer; nothing was saved. Please try again later."
            ) from None
        if record is None:
            raise SubmissionError(f"arXiv has no paper {found}.")
        upsert_records([record])
    now = timezone.now()
    with transaction.atomic():
        updated = Paper.objects.filter(pk=found, submitted_on_daily_at__isnull=True).update(
            submitted_on_daily_at=now,
            daily_date=now.date(),
            submitter=user,
            submitter_name=user.get_username(),
            updated_at=now,
        )
        if not updated:  # someone else submitted it a moment ago
            raise SubmissionError(f"{found} has already been submitted.", existing=Paper.objects.get(pk=found))
        Submission.objects.create(user=user, paper_id=found)
        content_changed()
    return Paper.objects.get(pk=found)
