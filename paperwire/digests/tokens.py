"""Signed links in digest emails: confirmation (expiring), and the subscriber's own links (until replaced)."""

from __future__ import annotations

from django.conf import settings
from django.core import signing

CONFIRM_SALT = "paperwire.digests.confirm"
SUBSCRIBER_SALT = "paperwire.digests.subscriber"


def confirmation_token(subscriber_id: int, email: str, frequency: str, topics: str) -> str:
    """Carries the requested settings: they apply only when the owner of the address confirms."""
    return signing.dumps(
        {"id": subscriber_id, "email": email, "frequency": frequency, "topics": topics},
        salt=CONFIRM_SALT,
        compress=True,
    )


def read_confirmation(token: str) -> dict:
    """The request, or signing.BadSignature (SignatureExpired after DIGEST_CONFIRM_DAYS)."""
    return signing.loads(token, salt=CONFIRM_SALT, max_age=settings.DIGEST_CONFIRM_DAYS * 86400)


def subscriber_signer(link_secret: str) -> signing.Signer:
    """Signs a subscriber's id with the subscriber's own secret in the salt: replacing the secret
    (``Subscriber.replace_links``) retires every link signed before. An empty secret (subscribers
    from before links carried one) signs exactly as links were signed then, so that the links in
    digests already sent keep working until the secret is first replaced."""
    return signing.Signer(salt=f"{SUBSCRIBER_SALT}:{link_secret}" if link_secret else SUBSCRIBER_SALT)


def subscriber_token(subscriber) -> str:
    """For unsubscribe, manage and web-version links: valid until the subscriber's links are
    replaced (a new link asked for, a new confirmation, the address leaving an account)."""
    return subscriber_signer(subscriber.link_secret).sign(str(subscriber.pk))


def read_subscriber_token(token: str):
    """The subscriber a link is for, or signing.BadSignature (forged, or retired)."""
    from paperwire.digests.models import Subscriber

    value, sep, _ = token.rpartition(signing.Signer().sep)
    if not sep or not value.isascii() or not value.isdigit() or len(value) > 18:
        raise signing.BadSignature("Not a subscriber link")
    subscriber = Subscriber.objects.filter(pk=int(value)).first()
    if subscriber is None or subscriber_signer(subscriber.link_secret).unsign(token) != value:
        raise signing.BadSignature("Not a current subscriber link")
    return subscriber


NOTIFICATIONS_SALT = "paperwire.digests.notifications"


def notification_signer(link_secret: str) -> signing.Signer:
    """Signs a user's notification settings row with the row's own secret in the salt: a link
    is its user's only, and unguessable without the site's key."""
    return signing.Signer(salt=f"{NOTIFICATIONS_SALT}:{link_secret}")


def notification_token(row) -> str:
    """For the unsubscribe link of a notification mail (``NotificationSettings``)."""
    return notification_signer(row.link_secret).sign(str(row.pk))


def read_notification_token(token: str):
    """The NotificationSettings a link is for, or signing.BadSignature."""
    from paperwire.digests.models import NotificationSettings

    value, sep, _ = token.rpartition(signing.Signer().sep)
    if not sep or not value.isascii() or not value.isdigit() or len(value) > 18:
        raise signing.BadSignature("Not a notification link")
    row = NotificationSettings.objects.filter(pk=int(value)).select_related("user").first()
    if row is None or notification_signer(row.link_secret).unsign(token) != value:
        raise signing.BadSignature("Not a current notification link")
    return row
