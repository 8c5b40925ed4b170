"""Submitting a paper to the daily feed by its arXiv id or URL: the records and their states.

Fetching a paper's metadata from arXiv is the ingest layer's (paperwire.ingest.submissions);
this module only decides what a submission may do and records it:

- ``start_submission`` checks the id and the daily limit and records the submission, at
  once ``done`` for a paper already in the database that no day lists, else ``pending`` and
  claimed by the caller, who fetches it;
- a paper a day already lists (``refusal_for``) is refused as a duplicate, with a link to it:
  submitting never moves a paper from its day (docs/feeds.md, "Submissions");
- whoever holds a claim ends it with ``put_on_feed`` (the paper's row now exists),
  ``withdraw`` (nothing is kept), ``release`` (try again later) or ``give_up``;
- ``claim`` lets a worker take a pending submission nobody holds, compare-and-set, so that
  several workers and the web request never complete one twice.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from paperwire.papers.ids import arxiv_id
from paperwire.papers.models import Paper, Submission, content_changed

# How long a fetch owns a pending submission: longer than the worker's politest fetch
# (retries, backoff and Retry-After). A claim left by a process that died expires after it.
CLAIM_LEASE = dt.timedelta(minutes=15)
SHOWN_FOR = dt.timedelta(days=7)  # pending and failed submissions a user sees on the submit page


class SubmissionError(Exception):
    def __init__(self, message: str, existing: Paper | None = None) -> None:
        super().__init__(message)
        self.existing = existing


def listed_on(paper: Paper) -> SubmissionError:
    day = paper.daily_date
    return SubmissionError(
        f"Already on Paperwire: {paper.title}, listed on {day:%B} {day.day}, {day.year}.", existing=paper
    )


def refusal_for(paper_id: str) -> SubmissionError | None:
    """Why ``paper_id`` cannot be submitted as it stands, or None: a day's feed lists it
    already (a duplicate: the error names the paper and its day), or it is hidden."""
    paper = Paper.objects.filter(pk=paper_id).only("title", "daily_date", "hidden").first()
    if paper is None:
        return None
    if paper.hidden:
        return SubmissionError(f"{paper_id} has already been submitted.")
    if paper.daily_date:
        return listed_on(paper)
    return None


def already_submitted(paper_id: str) -> SubmissionError:
    return refusal_for(paper_id) or SubmissionError(f"{paper_id} has already been submitted.")


def waiting_already(paper_id: str) -> SubmissionError:
    return SubmissionError(f"{paper_id} has already been submitted; it will appear once arXiv has sent it.")


def start_submission(user, text: str) -> Submission:
    """Record ``user``'s submission of the paper named by ``text``, or raise SubmissionError.

    Each user may submit SUBMISSIONS_PER_DAY papers in any 24 hours, pending ones included.
    The count and the new row are one transaction holding a per-user lock, so racing requests
    cannot pass the limit: SQLite's transactions start with BEGIN IMMEDIATE (one writer at a
    time), and on PostgreSQL the user's row is locked with SELECT ... FOR NO KEY UPDATE (not FOR
    UPDATE, which a vote or comment of the user's committing at that moment would wait for in a
    cycle: tests/test_lock_order.py).
    """
    found = arxiv_id(text or "")
    if not found:
        raise SubmissionError("That is not an arXiv id or URL (e.g. 2410.10819 or https://arxiv.org/abs/2410.10819).")
    now = timezone.now()
    with transaction.atomic():
        list(get_user_model().objects.select_for_update(no_key=True).filter(pk=user.pk).values_list("pk", flat=True))
        refusal = refusal_for(found)
        if refusal:
            raise refusal
        existing = Paper.objects.filter(pk=found).exists()
        if Submission.objects.filter(arxiv_id=found, state=Submission.PENDING).exists():
            raise waiting_already(found)
        if counted_today(user, now) >= settings.SUBMISSIONS_PER_DAY:
            raise SubmissionError(
                f"You can submit {settings.SUBMISSIONS_PER_DAY} papers a day; please come back tomorrow."
            )
        if existing:  # in the database, on no day: no need to ask arXiv
            if not feature(found, user, now, Q(daily_date__isnull=True)):
                raise already_submitted(found)  # listed a moment ago
            submission = Submission.objects.create(user=user, arxiv_id=found, paper_id=found, state=Submission.DONE)
            content_changed()
            return submission
        try:
            with transaction.atomic():
                return Submission.objects.create(
                    user=user,
                    arxiv_id=found,
                    state=Submission.PENDING,
                    attempts=1,
                    claimed_until=now + CLAIM_LEASE,
                )
        except IntegrityError:  # another user's pending submission of it, a moment ago
            raise waiting_already(found) from None


def counted_today(user, now: dt.datetime) -> int:
    """Submissions that count toward the daily limit: done and pending ones of the last 24 hours."""
    since = now - dt.timedelta(days=1)
    return Submission.objects.filter(user=user, created_at__gte=since).exclude(state=Submission.FAILED).count()


def feature(paper_id: str, user, now: dt.datetime, unless_listed: Q) -> bool:
    """Put the paper on today's feed as ``user``'s submission, if ``unless_listed`` says no
    day lists it yet (compare-and-set: False when it does)."""
    return bool(
        Paper.objects.filter(unless_listed, pk=paper_id, hidden=False).update(
            submitted_on_daily_at=now,
            daily_date=now.date(),
            submitter=user,
            submitter_name=user.get_username(),
            updated_at=now,
        )
    )


def held(submission: Submission) -> QuerySet:
    """The submission, if the claim its caller holds (its ``attempts``) is still the latest."""
    return Submission.objects.filter(pk=submission.pk, state=Submission.PENDING, attempts=submission.attempts)


def put_on_feed(submission: Submission) -> bool:
    """The paper's row exists now, written from arXiv's answer (which gives it its publication
    day): put it on today's feed. The caller checked with ``refusal_for`` that no day listed it
    before that write; only an explicit submission (here, or imported from Hugging Face) made
    meanwhile makes it a duplicate now. False when the claim was lost."""
    now = timezone.now()
    paper_id = submission.arxiv_id
    with transaction.atomic():
        if not held(submission).update(state=Submission.DONE, paper_id=paper_id, claimed_until=None):
            return False
        if feature(paper_id, submission.user, now, Q(submitted_on_daily_at__isnull=True)):
            submission.state, submission.paper_id = Submission.DONE, paper_id
            content_changed()
        else:  # submitted by someone else (or hidden) while arXiv was being asked
            error = already_submitted(paper_id)
            submission.state, submission.last_error = Submission.FAILED, str(error)
            submission.paper_id = error.existing.pk if error.existing else None
            Submission.objects.filter(pk=submission.pk).update(
                state=submission.state, paper_id=submission.paper_id, last_error=submission.last_error
            )
    return True


def refuse(submission: Submission, error: SubmissionError) -> None:
    """Give up the submission held by the caller: the paper is listed already (``error`` says
    where, and the submit page links it)."""
    paper_id = error.existing.pk if error.existing else None
    if held(submission).update(state=Submission.FAILED, claimed_until=None, last_error=str(error), paper_id=paper_id):
        submission.state, submission.last_error, submission.paper_id = Submission.FAILED, str(error), paper_id


def withdraw(submission: Submission) -> None:
    """The web request's own fetch settled it (no such paper, or submitted by someone else
    meanwhile): keep nothing, as if it had never been asked."""
    mine = Q(state=Submission.PENDING, attempts=submission.attempts) | Q(state=Submission.FAILED)
    Submission.objects.filter(mine, pk=submission.pk).delete()


def release(submission: Submission, reason: str) -> None:
    """This fetch failed but a later one may not: leave it pending for the worker, or give it
    up once SUBMISSION_MAX_ATTEMPTS fetches have failed."""
    if submission.attempts >= settings.SUBMISSION_MAX_ATTEMPTS:
        tries = f"{submission.attempts} tries" if submission.attempts > 1 else "one try"
        give_up(submission, f"{reason} (gave up after {tries}; you may submit it again later).")
    else:
        held(submission).update(claimed_until=None, last_error=reason)
        submission.last_error = reason


def give_up(submission: Submission, reason: str) -> None:
    if held(submission).update(state=Submission.FAILED, claimed_until=None, last_error=reason):
        submission.state, submission.last_error = Submission.FAILED, reason


def due_submissions(now: dt.datetime | None = None) -> QuerySet:
    """Pending submissions nobody holds (or whose holder's lease ran out), oldest first."""
    now = now or timezone.now()
    unclaimed = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    return Submission.objects.filter(unclaimed, state=Submission.PENDING).select_related("user").order_by("pk")


def claim(submission: Submission) -> bool:
    """Take ``submission`` for one fetch (compare-and-set); False when another process has it."""
    now = timezone.now()
    unclaimed = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    taken = Submission.objects.filter(
        unclaimed, pk=submission.pk, state=Submission.PENDING, attempts=submission.attempts
    )
    if not taken.update(attempts=F("attempts") + 1, claimed_until=now + CLAIM_LEASE):
        return False
    submission.attempts += 1
    return True


def waiting_or_failed(user) -> QuerySet:
    """What the user should know about: submissions still waiting for arXiv, and recent failures."""
    since = timezone.now() - SHOWN_FOR
    states = [Submission.PENDING, Submission.FAILED]
    return Submission.objects.filter(user=user, state__in=states, created_at__gte=since).order_by("-created_at")
