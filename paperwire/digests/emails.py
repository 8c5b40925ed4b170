"""Every message the digests send: one function per kind, each a subject, a text and an HTML template."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.urls import reverse

from paperwire.core.mail import message
from paperwire.core.siteurl import absolute
from paperwire.digests.content import Digest
from paperwire.digests.models import Delivery, Subscriber
from paperwire.digests.tokens import confirmation_token, subscriber_token


def subscriber_links(subscriber: Subscriber) -> dict[str, str]:
    token = subscriber_token(subscriber)
    return {
        "unsubscribe_url": absolute(reverse("unsubscribe", args=[token])),
        "manage_url": absolute(reverse("manage_subscription", args=[token])),
    }


def confirmation_message(subscriber: Subscriber, frequency: str, topics: str) -> EmailMultiAlternatives:
    token = confirmation_token(subscriber.pk, subscriber.email, frequency, topics)
    context = {
        "confirm_url": absolute(reverse("confirm_subscription", args=[token])),
        "frequency": frequency,
        "topics": [t for t in topics.splitlines() if t.strip()],
        "already_confirmed": subscriber.state == Subscriber.CONFIRMED,
        "days": settings.DIGEST_CONFIRM_DAYS,
    }
    return message("confirm", context, subscriber.email)


def new_links_message(subscriber: Subscriber) -> EmailMultiAlternatives:
    """The subscriber's new manage and unsubscribe links, asked for on the manage page."""
    return message("new_links", {"subscriber": subscriber, **subscriber_links(subscriber)}, subscriber.email)


def digest_message(digest: Digest, delivery: Delivery) -> EmailMultiAlternatives:
    links = subscriber_links(digest.subscriber)
    token = subscriber_token(digest.subscriber)
    context = {
        "digest": digest,
        "web_url": absolute(reverse("digest_web", args=[token, digest.period.key])),
        **links,
    }
    headers = {
        "List-Unsubscribe": f"<{links['unsubscribe_url']}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "Message-ID": delivery.message_id,
        "List-Id": f"Paperwire {digest.period.frequency} digest <{digest.period.frequency}.digest.paperwire>",
        "Auto-Submitted": "auto-generated",
    }
    return message("digest", context, digest.subscriber.email, headers)
