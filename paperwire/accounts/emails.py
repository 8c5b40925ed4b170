"""Every message about accounts: one function per kind, each a subject, a text and an HTML template
(in templates/accounts/email/), built like the digests' messages."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.urls import reverse

from paperwire.core.mail import message
from paperwire.core.siteurl import absolute

FOLDER = "accounts/email"


def verification_message(user, token: str) -> EmailMultiAlternatives:
    """The link that proves the account receives mail at its address."""
    context = {
        "username": user.get_username(),
        "verify_url": absolute(reverse("verify_email", args=[token])),
        "days": settings.ACCOUNT_VERIFY_DAYS,
    }
    return message("verify", context, user.email, folder=FOLDER)


def address_taken_message(user, owner) -> EmailMultiAlternatives:
    """To the owner of an address another account was made with: no link, only the news."""
    context = {
        "username": user.get_username(),
        "owner": owner.get_username(),
        "login_url": absolute(reverse("login")),
        "reset_url": absolute(reverse("password_reset")),
    }
    return message("address_taken", context, owner.email, folder=FOLDER)
