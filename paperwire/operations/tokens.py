"""Requests authenticated by a personal API token (docs/security.md, "API tokens").

``BearerTokenMiddleware`` reads ``Authorization: Bearer <token>`` on the JSON API (paths under
``/api/``) and nowhere else: pages and their forms are never authenticated by a token (a page
has a session, and its forms a CSRF token). On the API:

- no ``Authorization`` header: the request is what the session makes it (anonymous, or the
  signed-in user, whose writes keep the CSRF check);
- a valid token: the request is its owner's (``request.user``, ``request.api_token``), and it
  needs no CSRF token: a browser never adds this header by itself to a request another site
  makes, so the header is proof of intent, as the CSRF token is for a cookie; the session
  cookie, if any, is not read;
- a Paperwire token (``Bearer pw_…``) that is unknown, revoked, malformed or a disabled
  account's: a 401 with ``{"error": ...}`` saying which, before any view: never answered as
  anonymous;
- another header (a huggingface.co ``hf_`` token that ``huggingface_hub`` sends from
  ``HF_TOKEN``, another scheme): not meant for this site. A read goes on as if it were not
  there (as before tokens existed: the HF-compatible API serves that client as it is set up);
  a write is refused with a 401 saying that it is not a Paperwire token.

A token in the query string (``?token=pw_…``) is refused with a 401 too: URLs end up in logs,
histories and Referer headers.

``require_user`` is the one line an endpoint adds to need an account (a token, or a session).
"""

from __future__ import annotations

import functools

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control, patch_vary_headers

from paperwire.accounts.tokens import PREFIX, TOKEN, TokenError, user_of
from paperwire.core.limits import ip_key, retry_after
from paperwire.operations.errors import json_error
from paperwire.operations.ratelimit import too_many

API_PATHS = ("/api/",)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
SCHEME = "bearer"
MAX_HEADER_CHARS = 200  # a token is 46 characters; longer values are not looked at


def unauthorized(message: str, error: str = "invalid_token") -> HttpResponse:
    """401 with the error shape, and the challenge RFC 6750 asks for."""
    response = json_error(message, 401)
    challenge = 'Bearer realm="Paperwire"'
    if error:
        challenge += f', error="{error}"'
    response["WWW-Authenticate"] = challenge
    return response


def bearer_secret(header: str) -> str:
    """The token of an ``Authorization`` header's value, or TokenError."""
    if len(header) > MAX_HEADER_CHARS:
        raise TokenError("The Authorization header is too long to hold a Paperwire API token.")
    scheme, _, secret = header.strip(" \t").partition(" ")
    if scheme.lower() != SCHEME:
        raise TokenError('The Authorization header must be "Bearer <your API token>".')
    secret = secret.strip(" \t")
    if not secret:
        raise TokenError('The Authorization header names no token: send "Bearer <your API token>".')
    return secret


def names_paperwire_token(header: str) -> bool:
    """Whether an ``Authorization`` value is meant for this site: ``Bearer pw_…``."""
    scheme, _, secret = header.strip(" \t").partition(" ")
    return scheme.lower() == SCHEME and secret.strip(" \t").startswith(PREFIX)


def token_in_query(request: HttpRequest) -> bool:
    return any(TOKEN.fullmatch(value) for _, values in request.GET.lists() for value in values)


class BearerTokenMiddleware:
    """After AuthenticationMiddleware (whose user a token replaces), before RateLimitMiddleware
    (which then counts the API's limit per account) and before any view (CSRF is checked in
    ``process_view``, after this)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.api_token = None
        if not request.path.startswith(API_PATHS):
            return self.get_response(request)
        if token_in_query(request):
            return self.refuse(
                request,
                "An API token in the URL is refused: URLs are kept in logs and histories. Send it in the "
                'Authorization header ("Bearer <token>"), and revoke this one on your settings page.',
            )
        header = request.META.get("HTTP_AUTHORIZATION")
        if header is None or (request.method in SAFE_METHODS and not names_paperwire_token(header)):
            return vary(self.get_response(request))
        try:
            user, token = user_of(bearer_secret(header))
        except TokenError as error:
            return vary(self.refuse(request, str(error)))
        request.user, request.api_token = user, token
        request._dont_enforce_csrf_checks = True  # read by Django's CsrfViewMiddleware
        response = vary(self.get_response(request))
        patch_cache_control(response, private=True)  # an account's answer (whoami: its address)
        return response

    @staticmethod
    def refuse(request: HttpRequest, message: str) -> HttpResponse:
        # Refusals count against the client address's API limit, so that guessing costs as much
        # as asking (a guess cannot succeed: 256 random bits).
        seconds = retry_after("api", ip_key(request))
        if seconds:
            return too_many(request, seconds)
        return unauthorized(message)


def vary(response: HttpResponse) -> HttpResponse:
    """The API's answers depend on the Authorization header: shared caches must know it."""
    patch_vary_headers(response, ["Authorization"])
    return response


def require_user(view):
    """The endpoint needs an account: a Bearer token, or a session (whose writes keep the CSRF
    check). Anonymous: 401 saying how to authenticate."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return unauthorized(
                'Authentication required: send "Authorization: Bearer <token>" with a personal API token '
                "(made on your account's settings page).",
                error="",
            )
        return view(request, *args, **kwargs)

    return wrapper
