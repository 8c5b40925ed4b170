from __future__ import annotations

from django.conf import settings
from django.db import models, transaction
from django.db.models.signals import pre_delete, pre_save
from django.dispatch import Signal, receiver
from django.utils import timezone

from paperwire.accounts.addresses import canonical_email
from paperwire.papers.models import content_changed

__all__ = ["VerifiedEmail", "canonical_email", "verified_email", "verified_owner"]


class VerifiedEmail(models.Model):
    """An address an account proved it receives mail at, by pressing Confirm on the link sent there.

    It counts only while it is still the account's address (``verified_email``): an account whose
    address changes is unverified until it confirms the new one. One account at most owns an
    address, so when two accounts claim one, only the one that confirmed sees what belongs to it.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="verified_email")
    email = models.EmailField(unique=True, help_text="Stored canonical (paperwire.accounts.addresses).")
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


# Sent when the account that verified an address no longer has it (changed or deleted): what
# was tied to the address stops being the account's. The digests connect to it (their manage
# link shown on the settings page stops working); accounts know nothing of digests.
address_released = Signal()


def release_address(address: str) -> None:
    address_released.send(sender=VerifiedEmail, address=canonical_email(address))


@receiver(pre_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="paperwire.accounts.address_changed")
def _address_changed(sender, instance, raw=False, **kwargs) -> None:
    """An account's address is changed (by an admin, or any code that saves it) away from the
    address it verified."""
    update_fields = kwargs.get("update_fields")
    if raw or instance.pk is None or (update_fields is not None and "email" not in update_fields):
        return  # a login saves last_login only
    before = sender._default_manager.filter(pk=instance.pk).values_list("email", flat=True).first()
    if before is None or canonical_email(before) == canonical_email(instance.email or ""):
        return
    if VerifiedEmail.objects.filter(user_id=instance.pk, email=canonical_email(before)).exists():
        release_address(before)


@receiver(pre_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="paperwire.accounts.shown_change")
def _shown_change(sender, instance, raw=False, **kwargs) -> None:
    """An account renamed, deactivated or activated again (the admin's form): pages show its name
    (comments, claimed authors, profiles), so those cached for anonymous readers are stale."""
    update_fields = kwargs.get("update_fields")
    if raw or instance.pk is None:
        return
    if update_fields is not None and not {"username", "is_active"} & set(update_fields):
        return  # a login saves last_login only
    before = sender._default_manager.filter(pk=instance.pk).values("username", "is_active").first()
    if before and (before["username"], before["is_active"]) != (instance.get_username(), instance.is_active):
        transaction.on_commit(content_changed, robust=True)


@receiver(pre_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="paperwire.accounts.account_deleted")
def _account_deleted(sender, instance, **kwargs) -> None:
    claim = VerifiedEmail.objects.filter(user_id=instance.pk).first()
    if claim is not None and claim.current:
        release_address(claim.email)


class ApiToken(models.Model):
    """A personal API token (docs/security.md, "API tokens"): a secret its owner's scripts send as
    ``Authorization: Bearer <secret>``. Only the SHA-256 of the secret is kept (``digest``): the
    secret is shown once, when it is made, and cannot be read back. ``prefix`` (the first
    characters) is what the settings page shows to tell tokens apart. A revoked token keeps its
    row, so that using it says "revoked" rather than "unknown"."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What its owner called it.")
    prefix = models.CharField(max_length=16, help_text="The first characters of the secret, shown to tell it apart.")
    digest = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the secret, in hexadecimal.")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "revoked_at"], name="api_token_owner")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…, {self.user})"
