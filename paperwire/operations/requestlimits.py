"""Django's limits on what a request holds, enforced on every path before any view runs.

Django counts the parameters of a query string or form (``DATA_UPLOAD_MAX_NUMBER_FIELDS``,
1000) and the size of a form (``DATA_UPLOAD_MAX_MEMORY_SIZE``) only when something reads them:
a view that reads none (a paper page, ``/api/papers/<id>``, ``/healthz``) accepted any number,
while others refused the same request. Reading them here, first, makes every path answer
alike: 400 "too many parameters" (413 for a form too large), as JSON on API paths and as the
error page elsewhere (``paperwire.urls.handler400``, through Django's handling of the
``SuspiciousOperation`` raised here).
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import TooManyFieldsSent
from django.http import HttpRequest, HttpResponse, QueryDict


class RequestLimitsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            request.GET  # noqa: B018 (parsing it checks the number of parameters)
        except TooManyFieldsSent:
            request.GET = QueryDict()  # the error page reads it (the search box's q)
            raise
        if request.method == "POST":
            request.POST  # noqa: B018 (a form, parsed once and kept for the view, is checked alike)
        return self.get_response(request)
