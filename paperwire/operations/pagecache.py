"""Whole-response caching of the pages and API responses everyone sees alike.

A cached response is keyed by the request's path and query, by the site's address its links
use (``site_url()``: PAPERWIRE_BASE_URL when it is set, whatever Host a request names; else the
request's own address) and by the database's content version (``ContentVersion``): every
change a page can show (a vote, an import, a submission, moderation, an admin edit) bumps
that version in its own transaction. Each request reads
the version (one primary-key lookup), so a change made by any process, web or worker, is
seen by every process at its next request; nothing has to be told to forget anything.

Searches and paper pages (their related papers) also depend on the node's own index files:
their key also holds ``index_version()``, the time of the node's last index update. Entries
expire after PAPERWIRE_PAGE_CACHE_SECONDS, which bounds what moves with the clock alone
(the trending decay).

Only anonymous GETs (and HEADs, answered alike without the body) with no session, no
pending messages and no CSRF token in the page are served from or stored in the cache: what
a signed-in user sees (their own votes) is always computed. The store is per process
(Django's local-memory cache, at most PAPERWIRE_PAGE_CACHE_ENTRIES responses), which needs
no extra service.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse

from paperwire.core.siteurl import site_url
from paperwire.papers.models import current_content_version

MESSAGES_COOKIE = "messages"


def cacheable(request: HttpRequest) -> bool:
    return (
        settings.PAGE_CACHE_SECONDS > 0
        and request.method in ("GET", "HEAD")
        and settings.SESSION_COOKIE_NAME not in request.COOKIES
        and MESSAGES_COOKIE not in request.COOKIES
        and not request.user.is_authenticated
    )


def cache_key(request: HttpRequest, depends_on: Callable[[], str] | None = None) -> str:
    # Absolute links (feeds, citations, the API schema) are built from site_url(): with
    # PAPERWIRE_BASE_URL set it never changes and one entry serves every allowed host name;
    # without it, links follow the request's address, and so does the entry.
    url = (site_url() + request.get_full_path()).encode("utf-8", "surrogateescape")
    version = current_content_version() + (f"/{depends_on()}" if depends_on else "")
    return f"page:{version}:{hashlib.blake2b(url, digest_size=16).hexdigest()}"


def cache_for_anonymous(view=None, *, depends_on: Callable[[], str] | None = None):
    """Serve ``view``'s response from the page cache when the request is anonymous.

    ``depends_on``: a further version the response depends on, such as the node's search index.
    """
    if view is None:
        return functools.partial(cache_for_anonymous, depends_on=depends_on)

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not cacheable(request):
            return view(request, *args, **kwargs)
        pages = caches["pages"]
        key = cache_key(request, depends_on)
        stored = pages.get(key)
        if stored is not None:
            headers, content = stored
            response = HttpResponse(content, headers=headers)
            response["X-Cache"] = "hit"
            return response
        response = view(request, *args, **kwargs)
        if storable(request, response):
            pages.set(key, (dict(response.items()), response.content), settings.PAGE_CACHE_SECONDS)
            response["X-Cache"] = "miss"
        return response

    return wrapper


def storable(request: HttpRequest, response: HttpResponse) -> bool:
    session = getattr(request, "session", None)
    return (
        response.status_code == 200
        and not response.streaming
        and not response.cookies
        and not request.META.get("CSRF_COOKIE_NEEDS_UPDATE")
        and not (session is not None and session.modified)
    )
