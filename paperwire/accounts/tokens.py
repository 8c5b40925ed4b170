"""Personal API tokens: made, found and revoked here (the model is ``models.ApiToken``).

A token is ``pw_`` and 43 URL-safe characters (32 random bytes): the prefix says whose it is
(a scanner of leaked secrets, a person reading a log, huggingface_hub's own ``hf_`` tokens), the
length that it cannot be guessed. Only its SHA-256 is stored; a request's token is found by the
hash of what it sends, one lookup on a unique index, so that no comparison of secrets happens
character by character (nothing to time), and a copy of the database lets no one use the tokens.

The request side (the ``Authorization`` header, 401s, CSRF) is paperwire/operations/tokens.py.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from paperwire.accounts.models import ApiToken

PREFIX = "pw_"
SECRET_BYTES = 32
TOKEN = re.compile(r"pw_[A-Za-z0-9_-]{43}")  # PREFIX + token_urlsafe(32)
SHOWN_CHARS = 8  # of the secret, on the settings page: "pw_AbCd…"
MAX_NAME_CHARS = ApiToken._meta.get_field("name").max_length
MAX_TOKENS = 20  # live tokens an account may hold
LAST_USED_EVERY = dt.timedelta(minutes=1)  # last_used_at is written at most this often


class TokenError(Exception):
    """A token that cannot be made or used, in words for a person."""


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()


def clean_name(name: object) -> str:
    if not isinstance(name, str):
        raise TokenError("Give the token a name.")
    name = " ".join(name.split())
    if not name:
        raise TokenError("Give the token a name, so that you know later what uses it.")
    if "\x00" in name or not name.isprintable():
        raise TokenError("A token's name can hold only printable characters.")
    if len(name) > MAX_NAME_CHARS:
        raise TokenError(f"A token's name can be at most {MAX_NAME_CHARS} characters long.")
    return name


def create_token(user, name: object) -> tuple[ApiToken, str]:
    """A new token of ``user``: its row and its secret, which is never available again."""
    name = clean_name(name)
    with transaction.atomic():
        # The account's row is locked so that two creations at once cannot both pass the count.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        if live_tokens(user).count() >= MAX_TOKENS:
            raise TokenError(f"An account can hold at most {MAX_TOKENS} tokens: revoke one you no longer use.")
        secret = PREFIX + secrets.token_urlsafe(SECRET_BYTES)
        token = ApiToken.objects.create(
            user=user, name=name, prefix=secret[: len(PREFIX) + SHOWN_CHARS], digest=digest(secret)
        )
    return token, secret


def live_tokens(user):
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).order_by("-created_at", "-pk")


def revoke_token(user, token_id: int) -> ApiToken | None:
    """Revoke one of ``user``'s tokens; None when it has none by that id. Revoking twice is once."""
    token = ApiToken.objects.filter(user=user, pk=token_id).first()
    if token is None:
        return None
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    token.refresh_from_db()
    return token


def user_of(secret: str):
    """The active account whose live token ``secret`` is; TokenError saying why not otherwise."""
    if not TOKEN.fullmatch(secret):
        if secret.startswith(PREFIX):
            raise TokenError(
                f"This API token is cut or changed: a Paperwire token is {PREFIX} and 43 letters, digits, - or _."
            )
        raise TokenError(
            "This is not a Paperwire API token (they start with pw_; a huggingface.co token is not valid here)."
        )
    token = ApiToken.objects.select_related("user").filter(digest=digest(secret)).first()
    if token is None:
        raise TokenError("Unknown API token.")
    if token.revoked_at is not None:
        raise TokenError("This API token was revoked.")
    if not token.user.is_active:
        raise TokenError("The account of this API token is disabled.")
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_EVERY:
        # One conditional update: concurrent requests write it once a minute at most.
        stale = ApiToken.objects.filter(pk=token.pk).exclude(last_used_at__gt=now - LAST_USED_EVERY)
        stale.update(last_used_at=now)
        token.last_used_at = now
    return token.user, token
