"""Signed links in digest emails: confirmation (expiring), and the subscriber's own links."""

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


def subscriber_token(subscriber_id: int) -> str:
    """For unsubscribe, manage and web-version links: valid as long as the subscription."""
    return signing.Signer(salt=SUBSCRIBER_SALT).sign(str(subscriber_id))


def read_subscriber_token(token: str) -> int:
    return int(signing.Signer(salt=SUBSCRIBER_SALT).unsign(token))
