"""Fetching the papers users submit: briefly in the web request, patiently in the worker.

A web request asks arXiv once, waiting at most WEB_OUTSIDE_TIMEOUT seconds. When arXiv does
not answer in time (or answers an error), the submission stays *pending* and the request
returns at once; ``complete_pending_submissions``, run by `paperwire worker` each cycle (and
by `paperwire ingest submissions`), fetches it later with the polite client (HTTP_TIMEOUT,
HTTP_RETRIES, backoff) and puts it on the feed, or gives it up after SUBMISSION_MAX_ATTEMPTS
fetches with a reason the user sees on the submit page. The records and their claims are
paperwire.papers.submit's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings

from paperwire.ingest import http
from paperwire.ingest.arxiv import MalformedFeed
from paperwire.ingest.records import PaperRecord
from paperwire.ingest.sources import fetch_arxiv_paper
from paperwire.ingest.upsert import upsert_records
from paperwire.papers.models import Submission
from paperwire.papers.submit import (
    SubmissionError,
    already_submitted,
    claim,
    due_submissions,
    give_up,
    put_on_feed,
    refusal_for,
    refuse,
    release,
    start_submission,
    withdraw,
)


class NoSuchPaper(Exception):
    """arXiv answered that it has no such paper: asking again will not help."""


class ArxivUnavailable(Exception):
    """arXiv did not answer, or not usefully: a later fetch may succeed. The message is for the user."""


def fetch_submitted(paper_id: str, *, quick: bool) -> PaperRecord:
    """The paper's record from arXiv: one short attempt (``quick``, for a web request) or the
    polite client's retries."""
    timeout, retries = (settings.WEB_OUTSIDE_TIMEOUT, 0) if quick else (None, None)
    try:
        record = fetch_arxiv_paper(paper_id, timeout=timeout, retries=retries)
    except http.FetchError as error:
        if error.status and 400 <= error.status < 500 and error.status != 429:
            raise NoSuchPaper(f"arXiv has no paper {paper_id}.") from None
        if error.timed_out:
            raise ArxivUnavailable("arXiv did not answer in time") from None
        if error.status:
            raise ArxivUnavailable(f"arXiv answered with an error (HTTP {error.status})") from None
        raise ArxivUnavailable("arXiv could not be reached") from None
    except MalformedFeed:
        raise ArxivUnavailable("arXiv sent an unreadable answer") from None
    if record is None:
        raise NoSuchPaper(f"arXiv has no paper {paper_id}.")
    return record


def submit_paper(user, text: str) -> Submission:
    """``user`` submits the paper named by ``text``: ``done`` when it is on today's feed,
    ``pending`` when arXiv did not answer in time. Raises SubmissionError otherwise (nothing
    is kept then)."""
    submission = start_submission(user, text)
    if submission.state == Submission.DONE:
        return submission
    try:
        record = fetch_submitted(submission.arxiv_id, quick=True)
    except NoSuchPaper as error:
        withdraw(submission)
        raise SubmissionError(str(error)) from None
    except ArxivUnavailable as error:
        release(submission, str(error))
        if submission.state == Submission.FAILED:  # SUBMISSION_MAX_ATTEMPTS leaves no try for the worker
            withdraw(submission)
            raise SubmissionError(submission.last_error) from None
        return submission
    refusal = refusal_for(submission.arxiv_id)
    if refusal:  # listed while arXiv answered
        withdraw(submission)
        raise refusal
    upsert_records([record])
    put_on_feed(submission)
    if submission.state == Submission.FAILED:  # someone else submitted it while arXiv answered
        withdraw(submission)
        raise already_submitted(submission.arxiv_id)
    return submission


def refuse_if_listed(submission: Submission) -> bool:
    """Give up a held submission whose paper a day lists already: submitting never moves a
    paper from its day. True when it was given up."""
    refusal = refusal_for(submission.arxiv_id)
    if refusal is None:
        return False
    refuse(submission, refusal)
    return True


@dataclass
class SubmissionsReport:
    featured: int = 0
    waiting: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if not (self.featured or self.waiting or self.failed):
            return "no submissions waiting for arXiv"
        return f"{self.featured} submissions on the feed, {self.waiting} waiting for arXiv, {self.failed} given up"


def complete_pending_submissions(pause: Callable[[float], None] = time.sleep) -> SubmissionsReport:
    """Fetch the papers of pending submissions nobody is fetching, one request every
    ARXIV_REQUEST_INTERVAL seconds. Safe with any number of workers: each submission is claimed
    (compare-and-set) before its fetch. When arXiv keeps failing, the run stops at the first
    failure and leaves the rest for the next one instead of waiting out every fetch."""
    report = SubmissionsReport()
    asked = False
    for submission in due_submissions():
        if report.failures:
            report.waiting += 1
            continue
        if not claim(submission):
            continue  # another worker has it
        if refuse_if_listed(submission):  # a day lists it since it was submitted: no need to ask arXiv
            report.failed += 1
            continue
        if asked:
            pause(settings.ARXIV_REQUEST_INTERVAL)
        asked = True
        try:
            record = fetch_submitted(submission.arxiv_id, quick=False)
        except NoSuchPaper as error:
            give_up(submission, str(error))
            report.failed += 1
            continue
        except ArxivUnavailable as error:
            release(submission, str(error))
            report.failures.append(f"{submission.arxiv_id}: {error}")
            if submission.state == Submission.FAILED:
                report.failed += 1
            else:
                report.waiting += 1
            continue
        if refuse_if_listed(submission):  # listed while arXiv answered
            report.failed += 1
            continue
        upsert_records([record])
        if not put_on_feed(submission):
            continue  # our claim ran out and another worker took it over
        if submission.state == Submission.DONE:
            report.featured += 1
        else:
            report.failed += 1
    return report
