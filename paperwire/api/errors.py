"""The one shape of an error answered to an API client, ``{"error": "<message>"}``, and the one
test of who is an API client.

Views, the error handlers (paperwire/urls.py), the rate limiter and the vote button's JSON all
answer through ``error_response``; ``JsonErrorMiddleware`` catches what Django answers by itself
(the 405 of ``require_POST``, the CSRF check's 403), so that an API client never gets an HTML
page. gunicorn's own refusals use ``error_body`` (paperwire/serving.py).
"""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

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
    return render(request, template, {"title": title, "message": page_message or message}, status=status)


def method_not_allowed(request: HttpRequest, allowed: list[str]) -> JsonResponse:
    response = json_error(f"method {request.method} not allowed", 405)
    response["Allow"] = ", ".join(allowed)
    return response


class JsonErrorMiddleware:
    """An API request's error answered by Django itself, not by our views, becomes the JSON shape.

    Headers (Allow, Retry-After, Vary...) and cookies are kept; the status too.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code < 400
            or response.streaming
            or response.get("Content-Type", "").startswith("application/json")
            or not wants_json(request)
        ):
            return response
        if response.status_code == 405:
            message = f"method {request.method} not allowed"
        else:
            message = response.reason_phrase.lower()
        replacement = json_error(message, response.status_code)
        for header, value in response.items():
            if header.lower() not in ("content-type", "content-length"):
                replacement[header] = value
        replacement.cookies = response.cookies
        return replacement
