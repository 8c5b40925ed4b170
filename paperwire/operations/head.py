"""HEAD answers like GET without a body, whatever server runs the site.

Views answer HEAD as they answer GET (``require_safe``); Django's own development server and
test client drop the body, but a WSGI server such as gunicorn is handed it and has to throw
it away (logging that it did). The body is removed here, after Content-Length was set for it,
so that HEAD keeps the headers of GET.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class HeadWithoutBodyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.method == "HEAD" and not response.streaming:
            length = response.headers.get("Content-Length", str(len(response.content)))
            response.content = b""
            response.headers["Content-Length"] = length
        return response
