"""The one shape of an error answered to an API client, ``{"error": "<message>"}``, the one
error page of everyone else, and the one test of who is an API client.

Views, the error handlers (paperwire/urls.py), the rate limiter and the vote button's JSON all
answer through ``error_response``; ``JsonErrorMiddleware`` catches what Django answers by itself
(the 405 of ``require_POST``, the CSRF check's 403), so that an API client never gets an HTML
page, and a person never gets an empty one. gunicorn's own refusals use ``error_body``
(paperwire/operations/serving.py).
"""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)

JSON_PATHS = ("/api/", "/healthz")


def wants_json(request: HttpRequest) -> bool:
    """A request of the JSON API (its paths), or of a script asking for JSON first (``Accept``)."""
    return request.path.startswith(JSON_PATHS) or request.headers.get("Accept", "").startswith("application/json")


def error_body(message: str) -> bytes:
    return json.dumps({"error": message}).encode()


def json_error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def error_response(
    request: HttpRequest, status: int, message: str, *, title: str, page_message: str = "", template: str = "error.html"
) -> HttpResponse:
    """JSON for API requests, else the site's error page (``page_message`` there, if given)."""
    if wants_json(request):
        return json_error(message, status)
    return error_page(request, status, template, {"title": title, "message": page_message or message})


def error_page(request: HttpRequest, status: int, template: str, context: dict) -> HttpResponse:
    """An error page in the site's layout, even when what the layout reads fails as well (the
    database behind the signed-in user, a query string Django refuses to parse): then drawn
    without them, as for an anonymous visitor."""
    try:
        return render(request, template, context, status=status)
    except Exception as error:  # noqa: BLE001 (the error page must not fail in turn)
        logger.warning("error page %s drawn without the session: %s: %s", status, type(error).__name__, error)
        plain = SimpleNamespace(path=request.path, GET={})
        html = render_to_string(template, {**context, "request": plain, "user": AnonymousUser(), "messages": ()})
        return HttpResponse(html, status=status)


def method_not_allowed(request: HttpRequest, allowed: list[str]) -> JsonResponse:
    response = json_error(f"method {request.method} not allowed", 405)
    response["Allow"] = ", ".join(allowed)
    return response


class JsonErrorMiddleware:
    """An error answered by Django itself, not by our views, becomes the JSON shape for an API
    request, and the site's error page for anyone else when it has no body (the 405 of
    ``require_POST`` or of a class-based view, WhiteNoise's).

    Headers (Allow, Retry-After, Vary...) and cookies are kept; the status too.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code < 400 or response.streaming:
            return response
        if not wants_json(request):
            return self.page_for_empty(request, response)
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        if response.status_code == 405:
            message = f"method {request.method} not allowed"
        else:
            message = response.reason_phrase.lower()
        return self.replace(response, json_error(message, response.status_code))

    def page_for_empty(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if response.content:
            return response
        title = response.reason_phrase.capitalize()
        message = "The request could not be answered."
        if response.status_code == 405 and "GET" in response.get("Allow", "").split(", "):
            message = f"This address does not answer {request.method} requests."
        elif response.status_code == 405:
            message = "This address only takes forms sent from the pages of this site: there is no page to visit here."
        page = error_page(request, response.status_code, "error.html", {"title": title, "message": message})
        return self.replace(response, page)

    @staticmethod
    def replace(response: HttpResponse, replacement: HttpResponse) -> HttpResponse:
        for header, value in response.items():
            if header.lower() not in ("content-type", "content-length"):
                replacement[header] = value
        replacement.cookies = response.cookies
        return replacement
