"""Fixed-window rate limits, counted in the database so that every process shares them.

``settings.RATE_LIMITS`` maps a kind of request to "<count>/<seconds>". The client is the
logged-in user, else the remote address. Writes are limited by ``limit_writes``; searches
and the JSON API by ``RateLimitMiddleware``. Over the limit: HTTP 429 with Retry-After.
"""

from __future__ import annotations

import functools
import random
import time

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse

from paperwire.api.errors import error_response
from paperwire.api.models import RateCounter


def parse_rate(rate: str) -> tuple[int, int]:
    count, seconds = rate.split("/")
    return int(count), int(seconds)


def client_key(request: HttpRequest) -> str:
    if request.user.is_authenticated:
        return f"user:{request.user.pk}"
    return f"ip:{request.META.get('REMOTE_ADDR', '')}"


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
    bucket = f"{kind}:{key}"[:200]
    with connection.cursor() as cursor:  # one statement: concurrent processes never lose a hit
        cursor.execute(COUNT_HIT, [bucket, window_start])
        (hits,) = cursor.fetchone()
    if random.random() < 0.01:
        RateCounter.objects.filter(window_start__lt=now - 86400).delete()
    if hits > limit:
        return max(window_start + window - now, 1)
    return None


def too_many(request: HttpRequest, seconds: int) -> HttpResponse:
    response = error_response(request, 429, f"Too many requests: try again in {seconds} seconds.", title="Slow down")
    response["Retry-After"] = str(seconds)
    return response


def limit_writes(kind: str):
    """Decorator: rate-limit the POSTs of a view."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            if request.method == "POST":
                seconds = retry_after(kind, client_key(request))
                if seconds:
                    return too_many(request, seconds)
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


class RateLimitMiddleware:
    """Limits GET requests to the JSON API and to search (pages and feeds) per client."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path
        kind = "api" if path.startswith("/api/") else "search" if path.startswith("/search") else None
        if kind and request.method in ("GET", "HEAD"):
            seconds = retry_after(kind, client_key(request))
            if seconds:
                return too_many(request, seconds)
        return self.get_response(request)
