"""Fixed-window rate limits, counted in the database so that every process shares them.

``settings.RATE_LIMITS`` maps a kind of request to "<count>/<seconds>". A kind is counted per
key: the client (the logged-in user, else the remote address), or something the request names
(the account a login is for, the address a mail would go to), so that changing addresses does
not escape it. This module counts; paperwire/operations/ratelimit.py answers: writes are
limited by ``limit_writes``, searches and the JSON API by ``RateLimitMiddleware``; code deeper
down (a password check) raises ``RateLimited``, which the middleware answers. Over the limit:
HTTP 429 with Retry-After.

Every key, whatever it is built from (a client address, an account, a name or an email address
typed into a form), reaches the counters table only through ``bucket``: as a keyed hash, never
in clear.
"""

from __future__ import annotations

import datetime as dt
import random
import time
import unicodedata
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import salted_hmac

from paperwire.core.models import RateCounter

BUCKET_SALT = "paperwire.ratelimit"  # the counters' names since the first release


def parse_rate(rate: str) -> tuple[int, int]:
    count, seconds = rate.split("/")
    return int(count), int(seconds)


def client_key(request: HttpRequest) -> str:
    if request.user.is_authenticated:
        return f"user:{request.user.pk}"
    return ip_key(request)


def ip_key(request: HttpRequest) -> str:
    return f"ip:{request.META.get('REMOTE_ADDR', '')}"


def named_key(value: str) -> str:
    """The key of something a client typed (an account name, an email address): compared the
    way Django compares them (NFKC, case-folded), so that "Alice", "ALICE" and "ａｌｉｃｅ" count
    as one. Empty for nothing typed. (Email addresses go through
    ``paperwire.accounts.addresses.mailbox_key`` first, which canonicalises them.)"""
    value = unicodedata.normalize("NFKC", " ".join(str(value).split())).casefold()
    return f"name:{value}" if value else ""


def bucket(kind: str, key: str) -> str:
    """The name a counter is stored under: the kind, and a keyed hash (HMAC with the secret key)
    of the key, so that the counters table holds no address, name or client address, and a
    guessed address cannot be checked against it without the secret key."""
    # The salt is a name counters are stored under, not a module path: it must never change
    # (counters of processes of an earlier version, still counting, would no longer be read).
    return f"{kind}:{salted_hmac(BUCKET_SALT, key, algorithm='sha256').hexdigest()[:40]}"


def link_key(request: HttpRequest) -> str:
    """For ``limit_writes``: the key of the link a request came by (its ``token`` in the URL)."""
    token = (request.resolver_match.kwargs if request.resolver_match else {}).get("token", "")
    return f"link:{token}" if token else ""


def new_account(request: HttpRequest) -> str:
    """For ``limit_writes``: the client's key when its account is new (younger than
    PAPERWIRE_NEW_ACCOUNT_HOURS), so that a stricter kind counts it too; "" (not counted) otherwise."""
    user = request.user
    if not user.is_authenticated or not settings.NEW_ACCOUNT_HOURS:
        return ""
    young = timezone.now() - user.date_joined < dt.timedelta(hours=settings.NEW_ACCOUNT_HOURS)
    return client_key(request) if young else ""


def posted(field: str) -> Callable[[HttpRequest], str]:
    """For ``limit_writes``: the key of a field of the POSTed form."""
    return lambda request: named_key(request.POST.get(field, ""))


# An upsert (SQLite ≥ 3.35 and PostgreSQL): the write is one short statement, not a
# transaction of three, which matters when every API request of every process counts.
COUNT_HIT = f"""
    INSERT INTO {RateCounter._meta.db_table} (bucket, window_start, hits) VALUES (%s, %s, 1)
    ON CONFLICT (bucket, window_start) DO UPDATE SET hits = {RateCounter._meta.db_table}.hits + 1
    RETURNING hits
"""


def retry_after(kind: str, key: str) -> int | None:
    """Count one hit; None when allowed, else the seconds until the window ends."""
    limit, window = parse_rate(settings.RATE_LIMITS[kind])
    now = int(time.time())
    window_start = now - now % window
    with connection.cursor() as cursor:  # one statement: concurrent processes never lose a hit
        cursor.execute(COUNT_HIT, [bucket(kind, key), window_start])
        (hits,) = cursor.fetchone()
    if random.random() < 0.01:
        RateCounter.objects.filter(window_start__lt=now - 86400).delete()
    if hits > limit:
        return max(window_start + window - now, 1)
    return None


def longest_wait(*hits: tuple[str, str]) -> int | None:
    """Count one hit on each (kind, key) with a key; None when every limit allows it, else the
    longest wait. Every limit counts every attempt, so none can be spent to reset another."""
    waits = [retry_after(kind, key) for kind, key in hits if key]
    return max((w for w in waits if w), default=None)


class RateLimited(Exception):
    """Raised where no response can be returned (inside a form's password check)."""

    def __init__(self, seconds: int, what: str = "requests") -> None:
        super().__init__(f"Too many {what}")
        self.seconds, self.what = seconds, what
