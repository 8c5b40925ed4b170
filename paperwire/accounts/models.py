from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


def canonical_email(address: str) -> str:
    """How addresses are compared everywhere (subscribers are stored this way): trimmed, lower-case."""
    return (address or "").strip().lower()


class VerifiedEmail(models.Model):
    """An address an account proved it receives mail at, by pressing Confirm on the link sent there.

    It counts only while it is still the account's address (``verified_email``): an account whose
    address changes is unverified until it confirms the new one. One account at most owns an
    address, so when two accounts claim one, only the one that confirmed sees what belongs to it.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="verified_email")
    email = models.EmailField(unique=True, help_text="Stored lower-cased.")
    verified_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.email} (verified by {self.user})"

    def save(self, *args, **kwargs) -> None:
        self.email = canonical_email(self.email)
        super().save(*args, **kwargs)

    def clean(self) -> None:  # before the uniqueness check of a form (the admin's)
        self.email = canonical_email(self.email)

    @property
    def current(self) -> bool:
        """Still the address of its account."""
        return canonical_email(self.user.email) == self.email


def verified_email(user) -> str:
    """The account's address if it has verified it, else ""."""
    if not user.is_authenticated or not user.email:
        return ""
    address = canonical_email(user.email)
    return address if VerifiedEmail.objects.filter(user=user, email=address).exists() else ""


def verified_owner(address: str):
    """The account that has verified ``address`` and still has it, or None."""
    record = VerifiedEmail.objects.filter(email=canonical_email(address)).select_related("user").first()
    return record.user if record and record.current else None
