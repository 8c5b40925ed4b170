from __future__ import annotations

import datetime as dt
import secrets

from django.conf import settings
from django.db import models
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone

from paperwire.accounts.addresses import canonical_email
from paperwire.accounts.models import address_released
from paperwire.discussions.models import Comment
from paperwire.papers.models import Paper

FREQUENCIES = [("daily", "Daily"), ("weekly", "Weekly")]


def new_link_secret() -> str:
    return secrets.token_urlsafe(24)


class Subscriber(models.Model):
    """An address that asked for digests. Nothing but the confirmation is sent before it is confirmed."""

    PENDING, CONFIRMED, UNSUBSCRIBED = "pending", "confirmed", "unsubscribed"
    STATES = [(PENDING, "Waiting for confirmation"), (CONFIRMED, "Confirmed"), (UNSUBSCRIBED, "Unsubscribed")]

    email = models.EmailField(unique=True, help_text="Stored canonical (paperwire.accounts.addresses).")
    frequency = models.CharField(max_length=10, choices=FREQUENCIES, default="daily")
    topics = models.TextField(blank=True, help_text="Saved searches, one a line.")
    state = models.CharField(max_length=20, choices=STATES, default=PENDING, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)
    bounces = models.IntegerField(default=0, help_text="Permanent delivery failures in a row.")
    bouncing = models.BooleanField(default=False, help_text="No more mail after too many permanent failures.")
    link_secret = models.CharField(
        max_length=64,
        blank=True,
        default=new_link_secret,
        editable=False,
        help_text="Signed into the manage, unsubscribe and web-version links; replaced to retire them. "
        "Empty for subscribers from before links carried it (their links are signed as they were).",
    )

    def __str__(self) -> str:
        return f"{self.email} ({self.frequency}, {self.state})"

    def save(self, *args, **kwargs) -> None:
        self.email = canonical_email(self.email)
        super().save(*args, **kwargs)

    def clean(self) -> None:  # before the uniqueness check of a form (the admin's)
        self.email = canonical_email(self.email)

    def replace_links(self, detach: bool = False) -> None:
        """Retire every manage, unsubscribe and web-version link given out so far. ``detach``:
        the account it was attached to no longer has its address."""
        self.link_secret = new_link_secret()
        changes = {"link_secret": self.link_secret}
        if detach:
            self.user = None
            changes["user"] = None
        Subscriber.objects.filter(pk=self.pk).update(**changes)

    @property
    def topic_list(self) -> list[str]:
        return topic_lines(self.topics)

    @property
    def receives_mail(self) -> bool:
        return self.state == self.CONFIRMED and not self.bouncing


def topic_lines(text: str) -> list[str]:
    seen, topics = set(), []
    for line in text.splitlines():
        topic = " ".join(line.split())[:200]
        if topic and topic.lower() not in seen:
            seen.add(topic.lower())
            topics.append(topic)
    return topics[: settings.DIGEST_MAX_TOPICS]


class Delivery(models.Model):
    """One digest for one subscriber and one period: the unit of exactly-once sending.

    States: ``pending`` (to send), ``sending`` (claimed by a sender; the SMTP transaction is
    under way), ``sent``, ``retry`` (a temporary failure, or a refusal of the server rather than
    of the address: sent again after ``next_attempt_at``), ``failed`` (a permanent failure or
    too many temporary ones), ``uncertain`` (the whole message went out and no answer came, or
    a sender died during the SMTP transaction: the message may have reached the server, so it
    is not sent again unless an operator says so), ``skipped`` (nothing new for this subscriber).
    """

    PENDING, SENDING, SENT, RETRY, FAILED, UNCERTAIN, SKIPPED = (
        "pending",
        "sending",
        "sent",
        "retry",
        "failed",
        "uncertain",
        "skipped",
    )
    STATES = [(s, s) for s in (PENDING, SENDING, SENT, RETRY, FAILED, UNCERTAIN, SKIPPED)]

    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="deliveries")
    period = models.CharField(max_length=20, help_text="daily:YYYY-MM-DD or weekly:YYYY-Www")
    state = models.CharField(max_length=20, choices=STATES, default=PENDING, db_index=True)
    attempts = models.IntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=100, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    message_started_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the claiming sender began sending the message itself (after DATA): before, "
        "the server cannot have it, and a sender that stops leaves the digest to retry, not uncertain.",
    )
    message_id = models.CharField(max_length=200, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["subscriber", "period"], name="one_digest_per_period")]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"{self.period} to {self.subscriber.email}: {self.state}"


class ShownPaper(models.Model):
    """A paper that was in a digest sent to a subscriber: never shown to them again."""

    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="shown")
    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="+")
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="shown")
    topic = models.CharField(max_length=200, blank=True, help_text="The topic it matched; blank for top papers.")
    followed = models.BooleanField(
        default=False, help_text="Shown under “From what you follow” (the account of the address follows it)."
    )
    position = models.IntegerField(default=0)
    shown_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["subscriber", "paper"], name="paper_shown_once")]

    def __str__(self) -> str:
        return f"{self.paper_id} shown to {self.subscriber_id}"


def retry_delay(attempts: int) -> dt.timedelta:
    """5 minutes after the first temporary failure, doubling, at most 6 hours."""
    return min(dt.timedelta(minutes=5) * 2 ** max(attempts - 1, 0), dt.timedelta(hours=6))


@receiver(address_released, dispatch_uid="paperwire.digests.address_released")
def _detach_subscription(sender, address: str, **kwargs) -> None:
    """The account that verified ``address`` no longer has it: the manage link its settings page
    showed (and any copy of it) stops working, and the subscription is no longer the account's."""
    for subscriber in Subscriber.objects.filter(email=address):
        subscriber.replace_links(detach=True)


# --- Notifications: mail about comments (docs/community.md, "Notifications") -----------------


class NotificationSettings(models.Model):
    """What a user wants mailed about comments. A user without a row gets the defaults (both kinds
    on). ``link_secret`` signs the user's unsubscribe link (paperwire.digests.tokens): a link
    works for its user only, and replacing the secret retires every link given out before."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_settings"
    )
    replies = models.BooleanField(default=True, help_text="Mail me replies to my comments.")
    paper_comments = models.BooleanField(
        default=True, help_text="Mail me new comments on papers I submitted or authored (an approved claim)."
    )
    link_secret = models.CharField(max_length=64, default=new_link_secret, editable=False)
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "notification settings"

    def __str__(self) -> str:
        return f"notifications of {self.user}: replies {self.replies}, paper comments {self.paper_comments}"

    @classmethod
    def of(cls, user) -> NotificationSettings:
        """The user's row, made (with the defaults) the first time it is needed."""
        row, _ = cls.objects.get_or_create(user=user)
        return row

    def wants(self, event: NotificationEvent) -> bool:
        return (event.as_reply and self.replies) or ((event.as_submitter or event.as_author) and self.paper_comments)


class NotificationMail(models.Model):
    """One notification mail to one user: the unit of exactly-once sending, in the states of a
    digest's ``Delivery`` (the same claim, lease and uncertain rules: paperwire/digests/notify.py).
    ``number`` counts a user's mails: two workers planning the user's next mail at once both
    write the same number, and the unique key keeps one."""

    PENDING, SENDING, SENT, RETRY, FAILED, UNCERTAIN, SKIPPED = (
        Delivery.PENDING,
        Delivery.SENDING,
        Delivery.SENT,
        Delivery.RETRY,
        Delivery.FAILED,
        Delivery.UNCERTAIN,
        Delivery.SKIPPED,
    )
    STATES = Delivery.STATES
    OPEN = (PENDING, SENDING, RETRY)

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_mails")
    number = models.PositiveIntegerField(help_text="The user's first mail is 1, the next 2...")
    state = models.CharField(max_length=20, choices=STATES, default=PENDING, db_index=True)
    attempts = models.IntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=100, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    message_started_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True, help_text="The verified address it was sent to.")
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "number"], name="one_notification_mail_per_number")]

    def __str__(self) -> str:
        return f"notification mail {self.number} to {self.user}: {self.state}"


class NotificationEvent(models.Model):
    """A comment someone is to be told about: one row per person and comment, whatever the number
    of reasons (a reply to their comment on a paper they submitted is one entry). Recorded in the
    comment's own transaction; ``mail`` is the mail that carries it, once planned; ``dropped``:
    it will never be mailed (the comment was hidden or deleted first, or the kind switched off)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_events")
    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="+")
    as_reply = models.BooleanField(default=False, help_text="A reply in the thread of their comment.")
    as_submitter = models.BooleanField(default=False, help_text="On a paper they submitted.")
    as_author = models.BooleanField(default=False, help_text="On a paper they authored (an approved claim).")
    created_at = models.DateTimeField(default=timezone.now)
    mail = models.ForeignKey(NotificationMail, null=True, blank=True, on_delete=models.SET_NULL, related_name="events")
    dropped = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "comment"], name="one_notification_per_comment")]
        indexes = [
            models.Index(fields=["user"], condition=models.Q(mail__isnull=True, dropped=False), name="notify_waiting")
        ]

    def __str__(self) -> str:
        return f"comment {self.comment_id} for {self.user}"


@receiver(post_save, sender=Comment, dispatch_uid="paperwire.digests.comment_posted")
def _comment_posted(sender, instance: Comment, created: bool, raw: bool = False, **kwargs) -> None:
    """A new comment: the people it concerns are to be told (in the comment's own transaction)."""
    if created and not raw:
        from paperwire.digests.notify import record_events

        record_events(instance)
