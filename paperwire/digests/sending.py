"""Sending a period's digests exactly once per subscriber, whoever runs it and however often.

1. A Delivery row is created for every confirmed subscriber of the frequency (the unique
   key subscriber + period makes this idempotent).
2. A sender claims a row with a compare-and-set update (``pending`` or a due ``retry`` to
   ``sending``); a row claimed by another sender is left alone.
3. The SMTP transaction runs step by step (paperwire/digests/smtp.py), so its outcome says
   whether the server may have the message:
   - accepted (250 to the end of the message): ``sent``, in the same transaction as the
     papers it showed;
   - no answer after the whole message was sent (a timeout, a dropped connection):
     ``uncertain``, never sent again automatically;
   - a temporary failure before that (4xx, a timeout or a dropped connection before the end
     of the message): ``retry`` with backoff;
   - a permanent refusal of the message (5xx to RCPT TO, DATA or the end of the message):
     ``failed`` and a bounce for the address, unless the run shows the refusal is the
     server's rather than the address's (below);
   - the server cannot be reached, refuses the sender (MAIL FROM) or closes (421): the run
     stops; that digest is retried, the untried ones stay pending for the next run.
4. Refusals of the server, not of an address: while a run has had no message accepted, its
   permanent refusals are held as ``retry`` rows. If nothing at all is accepted and at least
   two messages were refused with the same code (a rejected sender, a relay that refuses to
   relay), they stay ``retry`` and no bounce is counted; the run stops after
   SERVER_REFUSAL_STREAK such refusals. Otherwise each becomes ``failed`` and counts a bounce
   for its address (DIGEST_BOUNCE_LIMIT in a row and it gets no more mail).
5. A row still ``sending`` after DIGEST_LEASE_MINUTES belonged to a sender that died during
   the SMTP transaction. If it had begun sending the message itself (``message_started_at``,
   recorded after the server's 354 to DATA and before the first byte of the message), it becomes
   ``uncertain``; before that the server cannot have it, and it becomes ``retry``. A sender
   whose row was taken from it meanwhile (compare-and-set on its claim) does not send the
   message. Each transaction lasts at most BACKGROUND_EMAIL_TIMEOUT (PAPERWIRE_EMAIL_TIMEOUT)
   seconds in all, connection included, so a live sender never holds a row that long. ``paperwire digest send
   --resend-uncertain`` sends uncertain rows again; the resend carries the same Message-ID,
   so receivers that deduplicate by Message-ID still show one.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import get_connection
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from paperwire.core.progress import progress
from paperwire.core.siteurl import DEFAULT_BASE_URL
from paperwire.digests.content import Digest, DigestPeriod, PeriodPapers, build_digest
from paperwire.digests.emails import digest_message
from paperwire.digests.models import Delivery, ShownPaper, Subscriber, retry_delay
from paperwire.digests.smtp import CONNECT, SENDER, SmtpFailure, Superseded, close, transmit

# Permanent refusals, with the same code and nothing accepted, after which a run stops.
SERVER_REFUSAL_STREAK = 5


@dataclass
class SendReport:
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    retrying: int = 0
    uncertain: int = 0
    planned: list[str] = field(default_factory=list)
    problem: str = ""  # why the run delivered nothing, or stopped; empty when it went well

    def summary(self) -> str:
        line = f"sent {self.sent}, skipped {self.skipped}, failed {self.failed}"
        extras = [
            f"{self.retrying} to retry" if self.retrying else "",
            f"{self.uncertain} uncertain" if self.uncertain else "",
        ]
        return line + "".join(f", {e}" for e in extras if e)


@dataclass
class Refusal:
    delivery: Delivery
    failure: SmtpFailure


@dataclass
class Run:
    """What one send_period call has seen of the SMTP server."""

    tried: int = 0
    accepted: int = 0
    refusals: list[Refusal] = field(default_factory=list)  # permanent, held as ``retry`` until settled
    outcomes: dict[int, str] = field(default_factory=dict)  # delivery pk: the state this run left it in

    def count(self, state: str) -> int:
        return sum(s == state for s in self.outcomes.values())

    def refused_by_server(self) -> bool:
        """Nothing accepted and every permanent refusal the same: the server's, not the addresses'."""
        codes = {r.failure.code for r in self.refusals}
        return self.accepted == 0 and len(self.refusals) >= 2 and len(codes) == 1

    def streak(self) -> bool:
        return self.refused_by_server() and len(self.refusals) >= SERVER_REFUSAL_STREAK


def message_id(delivery: Delivery) -> str:
    domain = urlsplit(settings.BASE_URL or DEFAULT_BASE_URL).hostname or "paperwire"
    domain = f"[{domain}]" if ":" in domain else domain  # an IPv6 address, as a domain literal
    return f"<digest.{delivery.period.replace(':', '.')}.{delivery.subscriber_id}@{domain}>"


def sender_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def recipients(period: DigestPeriod):
    """The subscribers a digest of ``period`` is for."""
    return Subscriber.objects.filter(state=Subscriber.CONFIRMED, bouncing=False, frequency=period.frequency)


def plan_deliveries(period: DigestPeriod) -> None:
    subscribers = recipients(period)
    for chunk_start in range(0, subscribers.count(), 5000):
        ids = subscribers.order_by("pk").values_list("pk", flat=True)[chunk_start : chunk_start + 5000]
        Delivery.objects.bulk_create(
            [Delivery(subscriber_id=pk, period=period.key) for pk in ids], ignore_conflicts=True
        )


def expire_leases(period: DigestPeriod) -> int:
    """Rows of senders that stopped: ``uncertain`` if the message had begun to go out, else ``retry``."""
    return expire_stale(Delivery.objects.filter(period=period.key))


def expire_stale(rows) -> int:
    """Of ``rows`` (a queryset of Delivery or NotificationMail), those still ``sending`` after
    DIGEST_LEASE_MINUTES: ``uncertain`` if the message had begun to go out, else ``retry``."""
    now = timezone.now()
    stale = rows.filter(
        state=Delivery.SENDING,
        claimed_at__lt=now - dt.timedelta(minutes=settings.DIGEST_LEASE_MINUTES),
    )
    uncertain = stale.filter(message_started_at__isnull=False).update(
        state=Delivery.UNCERTAIN, last_error="the sender stopped while sending the message: the server may have it"
    )
    retried = stale.filter(message_started_at__isnull=True).update(
        state=Delivery.RETRY,
        attempts=F("attempts") + 1,
        next_attempt_at=now,
        last_error="the sender stopped before sending the message (the server cannot have it)",
    )
    return uncertain + retried


def claim(delivery, ident: str | None = None) -> bool:
    """Compare-and-set: only one sender moves a row (a Delivery, a NotificationMail) from the state
    it was read in to ``sending``. ``ident``: its Message-ID (a digest's by default)."""
    now = timezone.now()
    ident = ident or message_id(delivery)
    updated = (
        type(delivery)
        .objects.filter(pk=delivery.pk, state=delivery.state, attempts=delivery.attempts)
        .update(
            state=Delivery.SENDING,
            claimed_at=now,
            claimed_by=sender_name(),
            message_id=ident,
            message_started_at=None,
        )
    )
    delivery.message_id = ident
    delivery.claimed_at = now
    return updated == 1


def start_message(delivery) -> bool:
    """Record that the message itself begins to go out, if the row is still this sender's claim
    (compare-and-set: a run that expired the lease may have handed it to another sender)."""
    rows = type(delivery).objects.filter(pk=delivery.pk, state=Delivery.SENDING, claimed_at=delivery.claimed_at)
    return rows.update(message_started_at=timezone.now()) == 1


def record_sent(delivery: Delivery, digest: Digest) -> None:
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk).update(
            state=Delivery.SENT, sent_at=timezone.now(), last_error="", attempts=delivery.attempts + 1
        )
        rows = [
            ShownPaper(subscriber=digest.subscriber, paper=p, delivery=delivery, position=n)
            for n, p in enumerate(digest.top)
        ]
        rows += [
            ShownPaper(subscriber=digest.subscriber, paper=p, delivery=delivery, topic=s.topic, position=n)
            for s in digest.topics
            for n, p in enumerate(s.papers)
        ]
        rows += [
            ShownPaper(subscriber=digest.subscriber, paper=p, delivery=delivery, followed=True, position=n)
            for n, p in enumerate(digest.following)
        ]
        ShownPaper.objects.bulk_create(rows, ignore_conflicts=True)
        Subscriber.objects.filter(pk=digest.subscriber.pk, bounces__gt=0).update(bounces=0)


def record_failure(delivery, failure: SmtpFailure, run: Run) -> None:
    """The row's state (a Delivery, a NotificationMail) after ``failure``; a permanent refusal is
    held until the run settles it."""
    attempts = delivery.attempts + 1
    rows = type(delivery).objects.filter(pk=delivery.pk)
    if failure.maybe_delivered:
        run.outcomes[delivery.pk] = Delivery.UNCERTAIN
        rows.update(
            state=Delivery.UNCERTAIN,
            attempts=attempts,
            last_error=f"no answer after the whole message was sent ({failure}): the server may have it, "
            "so it is not sent again unless `digest send --resend-uncertain` says so",
        )
        return
    held = failure.permanent and not failure.server_wide
    if held:
        run.refusals.append(Refusal(delivery, failure))
    elif attempts >= settings.DIGEST_MAX_ATTEMPTS:
        run.outcomes[delivery.pk] = Delivery.FAILED
        rows.update(state=Delivery.FAILED, attempts=attempts, last_error=describe(failure))
        return
    run.outcomes[delivery.pk] = Delivery.RETRY
    rows.update(
        state=Delivery.RETRY,
        attempts=attempts,
        last_error=describe(failure),
        next_attempt_at=timezone.now() + retry_delay(attempts),
    )


def describe(failure: SmtpFailure) -> str:
    return f"{failure.step}: {failure}"[:2000]


def settle_refusals(run: Run, bounce=None) -> None:
    """Each held refusal becomes a failed mail and a bounce (``bounce(row)``: a digest's counts
    for its subscriber), unless the server refused everything."""
    by_server = run.refused_by_server()
    for refusal in run.refusals:
        delivery = refusal.delivery
        if by_server and delivery.attempts + 1 < settings.DIGEST_MAX_ATTEMPTS:
            continue  # it stays ``retry``: the address is not at fault
        type(delivery).objects.filter(pk=delivery.pk, state=Delivery.RETRY).update(state=Delivery.FAILED)
        run.outcomes[delivery.pk] = Delivery.FAILED
        if not by_server:
            (bounce or subscriber_bounced)(delivery)


def subscriber_bounced(delivery: Delivery) -> None:
    Subscriber.objects.filter(pk=delivery.subscriber_id).update(bounces=F("bounces") + 1)
    Subscriber.objects.filter(pk=delivery.subscriber_id, bounces__gte=settings.DIGEST_BOUNCE_LIMIT).update(
        bouncing=True
    )


def server_problem(failure: SmtpFailure) -> str:
    """The one line an operator reads when a run stopped because of the server."""
    if failure.step == CONNECT:
        what = f"could not reach the SMTP server {settings.EMAIL_HOST}:{settings.EMAIL_PORT} ({failure})"
    elif failure.step == SENDER:
        what = f"the SMTP server refused the sender {settings.DEFAULT_FROM_EMAIL} ({failure})"
    else:
        what = f"the SMTP server closed the connection ({failure})"
    return f"{what}; the run stopped and no bounce was counted: the digests will be retried"


def run_problem(run: Run) -> str:
    if run.refused_by_server():
        failure = run.refusals[0].failure
        return (
            f"the SMTP server refused every digest it was given ({len(run.refusals)}, with {failure}): "
            "a refusal of the sender or relay, not of the addresses, so no bounce was counted; "
            "they will be retried"
        )
    if run.tried and not run.accepted:
        counts = ", ".join(
            f"{run.count(state)} {label}"
            for state, label in [
                (Delivery.FAILED, "failed"),
                (Delivery.RETRY, "to retry"),
                (Delivery.UNCERTAIN, "uncertain"),
            ]
            if run.count(state)
        )
        return f"no digest was accepted by the SMTP server ({counts}); each delivery's last error is in /admin/"
    return ""


def send_period(
    period: DigestPeriod, *, dry_run: bool = False, resend_uncertain: bool = False, show_progress: bool | None = None
) -> SendReport:
    report = SendReport()
    papers = PeriodPapers(period)
    if not papers.ranked:
        return report  # a period with no papers sends nothing
    if dry_run:
        done = set(
            Delivery.objects.filter(period=period.key)
            .exclude(state__in=[Delivery.PENDING, Delivery.RETRY])
            .values_list("subscriber_id", flat=True)
        )
        for subscriber in recipients(period).order_by("email").iterator():
            if subscriber.pk in done:
                continue
            digest = build_digest(subscriber, papers)
            topics = ", ".join(f"{s.topic!r}: {len(s.papers)}" for s in digest.topics) or "no topic matches"
            followed = f"{len(digest.following)} from what they follow; " if digest.following else ""
            report.planned.append(
                f"{subscriber.email}: {followed}{len(digest.top)} top papers; {topics}"
                if not digest.empty
                else f"{subscriber.email}: nothing new (skipped)"
            )
        return report
    plan_deliveries(period)
    expire_leases(period)
    if resend_uncertain:
        Delivery.objects.filter(period=period.key, state=Delivery.UNCERTAIN).update(state=Delivery.PENDING)
    due = Q(state=Delivery.PENDING) | Q(state=Delivery.RETRY, next_attempt_at__lte=timezone.now())
    todo = Delivery.objects.filter(due, period=period.key).order_by("pk")  # subscribers are read fresh below
    run = Run()

    def prepare(delivery: Delivery):
        subscriber = Subscriber.objects.get(pk=delivery.subscriber_id)  # fresh: may have left meanwhile
        delivery.subscriber = subscriber
        digest = build_digest(subscriber, papers)
        if not subscriber.receives_mail or digest.empty:
            return None
        return digest_message(digest, delivery), lambda: record_sent(delivery, digest)

    with progress(total=todo.count(), desc=f"digest {period.key}", unit="mail", show=show_progress) as bar:
        deliver(todo, prepare, report, run, step=lambda: bar.update(1))
    report.uncertain = Delivery.objects.filter(period=period.key, state=Delivery.UNCERTAIN).count()
    return report


def deliver(rows, prepare, report: SendReport, run: Run, *, ident=None, bounce=None, step=None) -> None:
    """Send each row of ``rows`` (a queryset of due Delivery or NotificationMail rows) exactly once: claim it,
    ``prepare(row)`` its message (None: nothing to send, the row is ``skipped``; else the message
    and what records it sent, called after the server's 250), transmit it step by step, record
    the outcome. ``ident(row)``: its Message-ID; ``bounce(row)``: what a refusal of its address
    counts. Stops on a server-wide failure or a streak of the server's refusals (the rest stay
    due for the next run); fills ``report``."""
    connection = get_connection(timeout=settings.BACKGROUND_EMAIL_TIMEOUT)
    each = rows.iterator(chunk_size=500)
    try:
        for row in each:
            if step:
                step()
            if not (claim(row, ident(row)) if ident else claim(row)):
                continue  # another sender has it
            prepared = prepare(row)
            if prepared is None:
                type(row).objects.filter(pk=row.pk).update(state=Delivery.SKIPPED)
                report.skipped += 1
                continue
            email, record = prepared
            run.tried += 1
            try:
                transmit(connection, email, lambda r=row: start_message(r))
            except Superseded:
                continue  # the lease ran out and another run took the row: nothing was sent
            except SmtpFailure as failure:
                record_failure(row, failure, run)
                if failure.server_wide:
                    report.problem = server_problem(failure)
                    break
                if run.streak():
                    break
                continue
            except Exception:  # not the server's answer: a bug; the mail was not sent
                type(row).objects.filter(pk=row.pk).update(state=Delivery.PENDING)
                raise
            record()
            run.accepted += 1
            report.sent += 1
    finally:
        each.close()  # its cursor, now: a failure's traceback would keep it open until the interpreter exits
        close(connection)
        settle_refusals(run, bounce)
    report.failed, report.retrying = run.count(Delivery.FAILED), run.count(Delivery.RETRY)
    report.problem = report.problem or run_problem(run)
