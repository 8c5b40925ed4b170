"""Proving an account receives mail at its address: a signed, expiring link mailed there, and a
Confirm button behind it (mail scanners open links; they do not press buttons)."""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.utils import timezone

from paperwire.accounts.addresses import mailbox_key
from paperwire.accounts.emails import address_taken_message, verification_message
from paperwire.accounts.models import VerifiedEmail, canonical_email, release_address, verified_owner
from paperwire.core.limits import retry_after

SALT = "paperwire.accounts.verify"


def verification_token(user) -> str:
    """Names the account and the address it had: the link proves nothing once the address changes."""
    return signing.dumps({"user": user.pk, "email": canonical_email(user.email)}, salt=SALT)


def read_verification_token(token: str) -> dict:
    """The account and address, or signing.BadSignature (SignatureExpired after ACCOUNT_VERIFY_DAYS)."""
    return signing.loads(token, salt=SALT, max_age=settings.ACCOUNT_VERIFY_DAYS * 86400)


def request_verification(user) -> int | None:
    """Mail the account's address the link that verifies it, or, when another account has verified
    that address already, a note to its owner instead: the person asking sees the same either way.

    None once the mail is handed to the mail server (OSError when it cannot be); else the seconds
    until the address may get another mail: however many accounts claim an address (in however
    many spellings of its mailbox), it gets at most the ``verify_address`` rate of these mails.
    """
    address = canonical_email(user.email)
    seconds = retry_after("verify_address", mailbox_key(address))
    if seconds:
        return seconds
    owner = verified_owner(address)
    if owner is not None and owner.pk != user.pk:
        address_taken_message(user, owner).send()
    else:
        verification_message(user, verification_token(user)).send()
    return None


def confirm_address(user, address: str) -> bool:
    """Make ``user`` the verified owner of ``address``. False when another account has verified it
    and still has it (an account whose address changed since loses its claim).

    Whichever account verified an address before (another account that lost it, or this account
    for the address it had before) may have kept the manage link its settings page showed: the
    links of those subscriptions are replaced."""
    address = canonical_email(address)
    try:
        with transaction.atomic():
            other = (
                VerifiedEmail.objects.select_for_update()
                .filter(email=address)
                .exclude(user=user)
                .select_related("user")
                .first()
            )
            if other is not None:
                if other.current:
                    return False
                other.delete()
                release_address(address)
            before = VerifiedEmail.objects.filter(user=user).exclude(email=address).first()
            if before is not None:
                release_address(before.email)
            claim = {"email": address, "verified_at": timezone.now()}
            VerifiedEmail.objects.update_or_create(user=user, defaults=claim)
    except IntegrityError:  # another account confirmed the same address at the same moment
        return False
    return True
