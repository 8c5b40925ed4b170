"""The answers of the rate limits (paperwire/core/limits.py counts): HTTP 429 with Retry-After,
the decorator that limits a view's writes, and the middleware that limits searches and the JSON
API and answers ``RateLimited`` raised deeper down."""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from paperwire.core.limits import RateLimited, client_key, retry_after
from paperwire.operations.errors import error_response


def too_many(request: HttpRequest, seconds: int, what: str = "requests") -> HttpResponse:
    response = error_response(request, 429, f"Too many {what}: try again in {seconds} seconds.", title="Slow down")
    response["Retry-After"] = str(seconds)
    return response


SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")
NEW_ACCOUNT_KINDS = "_new"  # the suffix of the stricter limits of young accounts (docs/community.md)


def why(what: str, kind: str) -> str:
    """What was too many, saying so when the limit that stopped it is a young account's."""
    if kind.endswith(NEW_ACCOUNT_KINDS):
        hours = settings.NEW_ACCOUNT_HOURS
        return f"{what} for a new account (a stricter limit for its first {hours} hour{'s' if hours != 1 else ''})"
    return what


def limit_writes(kind: str, per: dict[str, Callable[[HttpRequest], str]] | None = None, what: str = "requests"):
    """Decorator: rate-limit the writes (POST, and the API's DELETE) of a view per client
    (``kind``) and, for each other kind in ``per``, per the key its function reads from the
    request, e.g.
    ``per={"password_reset_address": posted("email")}``."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            if request.method not in SAFE_METHODS:
                hits = [(kind, client_key(request))] + [(other, key(request)) for other, key in (per or {}).items()]
                # Every limit counts every attempt, so none can be spent to reset another.
                waits = {name: retry_after(name, key) or 0 for name, key in hits if key}
                seconds = max(waits.values(), default=0)
                if seconds:
                    return too_many(request, seconds, why(what, max(waits, key=waits.get)))
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


class RateLimitMiddleware:
    """Limits requests to the JSON API (every method: reads, and the writes of API tokens) and
    GET requests to search (pages and feeds) per client, and answers ``RateLimited`` raised by
    any view. The client of a request with an API token is its account (BearerTokenMiddleware
    runs before)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path
        api = path.startswith("/api/")
        kind = "api" if api else "search" if path.startswith("/search") else None
        if kind and (api or request.method in ("GET", "HEAD")):
            seconds = retry_after(kind, client_key(request))
            if seconds:
                return too_many(request, seconds)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, RateLimited):
            return too_many(request, exception.seconds, exception.what)
        return None
