"""Fixed-window rate limits on writes, counted in Django's cache.

``settings.RATE_LIMITS`` maps a kind of write to "<count>/<seconds>". The client is the
logged-in user, else the remote address.
"""

from __future__ import annotations

import functools
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render


def parse_rate(rate: str) -> tuple[int, int]:
    count, seconds = rate.split("/")
    return int(count), int(seconds)


def client_key(request: HttpRequest) -> str:
    if request.user.is_authenticated:
        return f"user:{request.user.pk}"
    return f"ip:{request.META.get('REMOTE_ADDR', '')}"


def retry_after(kind: str, key: str) -> int | None:
    """Count one hit; None when allowed, else the seconds until the window ends."""
    limit, window = parse_rate(settings.RATE_LIMITS[kind])
    now = int(time.time())
    window_start = now - now % window
    cache_key = f"ratelimit:{kind}:{key}:{window_start}"
    cache.add(cache_key, 0, timeout=window + 1)
    try:
        hits = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.set(cache_key, 1, timeout=window + 1)
        hits = 1
    if hits > limit:
        return max(window_start + window - now, 1)
    return None


def too_many(request: HttpRequest, seconds: int) -> HttpResponse:
    message = f"Too many requests: try again in {seconds} seconds."
    if request.path.startswith("/api/") or request.headers.get("Accept", "").startswith("application/json"):
        response = JsonResponse({"error": message}, status=429)
    else:
        response = render(request, "error.html", {"title": "Slow down", "message": message}, status=429)
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
