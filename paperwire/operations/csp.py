"""The Content-Security-Policy header, on every response.

Pages load only the site's own files: one stylesheet, one script (paperwire.js), images from
the site or inline ``data:``. No inline script, no inline style, no ``on*`` attribute, no
third-party resource anywhere (tests/test_page_security.py and tests/test_browser.py hold
the templates and Django's admin to this). Should some data ever slip past escaping, the
browser still refuses to run it.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy = settings.CONTENT_SECURITY_POLICY

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.policy:
            response.headers.setdefault("Content-Security-Policy", self.policy)
        return response
