"""Sending a period's digests exactly once per subscriber, whoever runs it and however often.

1. A Delivery row is created for every confirmed subscriber of the frequency (the unique
   key subscriber + period makes this idempotent).
2. A sender claims a row with a compare-and-set update (``pending`` or a due ``retry`` to
   ``sending``); a row claimed by another sender is left alone.
3. After the SMTP server accepted the message the row becomes ``sent``, in the same
   transaction as the papers it showed; a temporary failure (4xx, refused or dropped
   connection, timeout) becomes ``retry`` with backoff; a permanent one (5xx) ``failed``,
   and the address counts a bounce (DIGEST_BOUNCE_LIMIT in a row and it gets no more mail).
4. A row still ``sending`` after DIGEST_LEASE_MINUTES belonged to a sender that died during
   the SMTP transaction: the message may or may not have reached the server. It becomes
   ``uncertain`` and is not sent again (never twice is the promise) unless an operator runs
   ``paperwire digest send --resend-uncertain``; the resend carries the same Message-ID, so
   receivers that deduplicate by Message-ID still show one.
"""

from __future__ import annotations

import datetime as dt
import os
import smtplib
import socket
from dataclasses import dataclass, field

from django.conf import settings
from django.core.mail import get_connection
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from paperwire.digests.content import Digest, DigestPeriod, PeriodPapers, build_digest
from paperwire.digests.emails import digest_message
from paperwire.digests.models import Delivery, ShownPaper, Subscriber, retry_delay
from paperwire.progress import progress


@dataclass
class SendReport:
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    retrying: int = 0
    uncertain: int = 0
    planned: list[str] = field(default_factory=list)

    def summary(self) -> str:
        line = f"sent {self.sent}, skipped {self.skipped}, failed {self.failed}"
        extras = [
            f"{self.retrying} to retry" if self.retrying else "",
            f"{self.uncertain} uncertain" if self.uncertain else "",
        ]
        return line + "".join(f", {e}" for e in extras if e)


def is_permanent(error: Exception) -> bool:
    """5xx answers are permanent; 4xx answers, refused or dropped connections and timeouts are not."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in error.recipients.values())
    if isinstance(error, smtplib.SMTPResponseException):
        return error.smtp_code >= 500
    return False


def is_temporary(error: Exception) -> bool:
    return isinstance(error, smtplib.SMTPException | OSError | socket.timeout)


def message_id(delivery: Delivery) -> str:
    domain = settings.BASE_URL.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "paperwire"
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
    stale = timezone.now() - dt.timedelta(minutes=settings.DIGEST_LEASE_MINUTES)
    return Delivery.objects.filter(period=period.key, state=Delivery.SENDING, claimed_at__lt=stale).update(
        state=Delivery.UNCERTAIN, last_error="the sender stopped during the SMTP transaction"
    )


def claim(delivery: Delivery) -> bool:
    """Compare-and-set: only one sender moves a row from the state it was read in to ``sending``."""
    now = timezone.now()
    updated = Delivery.objects.filter(pk=delivery.pk, state=delivery.state, attempts=delivery.attempts).update(
        state=Delivery.SENDING, claimed_at=now, claimed_by=sender_name(), message_id=message_id(delivery)
    )
    delivery.message_id = message_id(delivery)
    return updated == 1


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
        ShownPaper.objects.bulk_create(rows, ignore_conflicts=True)
        Subscriber.objects.filter(pk=digest.subscriber.pk, bounces__gt=0).update(bounces=0)


def record_failure(delivery: Delivery, error: Exception, report: SendReport) -> None:
    attempts = delivery.attempts + 1
    text = f"{type(error).__name__}: {error}"[:2000]
    if is_permanent(error) or attempts >= settings.DIGEST_MAX_ATTEMPTS:
        Delivery.objects.filter(pk=delivery.pk).update(state=Delivery.FAILED, attempts=attempts, last_error=text)
        if is_permanent(error):
            subscriber = delivery.subscriber
            subscriber.bounces += 1
            subscriber.bouncing = subscriber.bounces >= settings.DIGEST_BOUNCE_LIMIT
            subscriber.save(update_fields=["bounces", "bouncing"])
        report.failed += 1
    else:
        Delivery.objects.filter(pk=delivery.pk).update(
            state=Delivery.RETRY,
            attempts=attempts,
            last_error=text,
            next_attempt_at=timezone.now() + retry_delay(attempts),
        )
        report.retrying += 1


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
            report.planned.append(
                f"{subscriber.email}: {len(digest.top)} top papers; {topics}"
                if not digest.empty
                else f"{subscriber.email}: nothing new (skipped)"
            )
        return report
    plan_deliveries(period)
    expire_leases(period)
    if resend_uncertain:
        Delivery.objects.filter(period=period.key, state=Delivery.UNCERTAIN).update(state=Delivery.PENDING)
    report.uncertain = Delivery.objects.filter(period=period.key, state=Delivery.UNCERTAIN).count()
    due = Q(state=Delivery.PENDING) | Q(state=Delivery.RETRY, next_attempt_at__lte=timezone.now())
    todo = Delivery.objects.filter(due, period=period.key).order_by("pk")  # subscribers are read fresh below
    connection = get_connection(timeout=settings.BACKGROUND_EMAIL_TIMEOUT)
    try:
        with progress(total=todo.count(), desc=f"digest {period.key}", unit="mail", show=show_progress) as bar:
            for delivery in todo.iterator(chunk_size=500):
                bar.update(1)
                if not claim(delivery):
                    continue  # another sender has it
                subscriber = Subscriber.objects.get(pk=delivery.subscriber_id)  # fresh: may have left meanwhile
                delivery.subscriber = subscriber
                digest = build_digest(subscriber, papers)
                if not subscriber.receives_mail or digest.empty:
                    Delivery.objects.filter(pk=delivery.pk).update(state=Delivery.SKIPPED)
                    report.skipped += 1
                    continue
                try:
                    connection.send_messages([digest_message(digest, delivery)])
                except Exception as error:
                    if not (is_permanent(error) or is_temporary(error)):
                        Delivery.objects.filter(pk=delivery.pk).update(state=Delivery.PENDING)
                        raise
                    record_failure(delivery, error, report)
                    connection.close()  # the next message starts on a fresh connection
                    continue
                record_sent(delivery, digest)
                report.sent += 1
    finally:
        connection.close()
    return report
