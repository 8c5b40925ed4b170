"""The site's own address, for every absolute link Paperwire writes: in mail (confirmations,
verifications, password resets, digests), in the RSS and Atom feeds, in the API schema's
``servers``, in citations, on the account page.

- PAPERWIRE_BASE_URL set (any site others reach): it is the address of every link, whatever
  ``Host`` a request names. Links in mail never come from a request's headers then.
- Unset (``make run``, ``paperwire serve --port 8123`` on one's own machine): a link built while
  answering a request uses the address the browser used, the request's scheme and ``Host``
  (one of ALLOWED_HOSTS, else the request was refused with 400 before any view ran), so the
  confirmation mail of a sign-up on port 8123 links to port 8123. A link built outside a request
  uses the address ``serve`` listens on: in its own processes, and in other commands sharing its
  PAPERWIRE_HOME (`paperwire digest send`, `paperwire worker`) through the file ``served_url``
  that ``serve`` writes there when it starts. Without one, DEFAULT_BASE_URL, with a warning in
  the log once per process.

Cached pages and feeds hold such links, so the page cache keys them on ``site_url()`` too
(paperwire/operations/pagecache.py): constant when PAPERWIRE_BASE_URL is set.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from contextvars import ContextVar
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
SERVED_URL_FILE = "served_url"  # in PAPERWIRE_HOME: the address `serve` last listened on
SERVED_URL = re.compile(r"http://(?:[a-z0-9.-]+|\[[0-9a-f:.]+\]):[0-9]{1,5}")  # as url_of_address writes it
WILDCARD_HOSTS = ("", "0.0.0.0", "::", "[::]")

log = logging.getLogger(__name__)
_request: ContextVar[HttpRequest | None] = ContextVar("paperwire_request", default=None)
_served_url: str | None = None
_last_read: tuple[tuple | None, str | None] = (None, None)  # (file stamp, URL) of the last read
_warned = threading.Event()


def site_url() -> str:
    """The site's address, without a trailing slash (see the module's docstring)."""
    if settings.BASE_URL:
        return settings.BASE_URL
    request = _request.get()
    if request is not None:
        return f"{request.scheme}://{request.get_host()}"
    if _served_url:
        return _served_url
    served = last_served_url()
    if served:
        return served
    if not _warned.is_set():
        _warned.set()
        log.warning(
            "PAPERWIRE_BASE_URL is not set: links in messages sent outside a web request (digests) "
            "point at %s; set it to the site's public URL",
            DEFAULT_BASE_URL,
        )
    return DEFAULT_BASE_URL


def last_served_url() -> str | None:
    """The address `paperwire serve` last listened on with this PAPERWIRE_HOME, if it wrote one
    that reads as such (a damaged or hand-edited file is ignored, never followed)."""
    global _last_read
    path = settings.PAPERWIRE_HOME / SERVED_URL_FILE
    try:
        stamp = (str(path), *_stamp(os.stat(path)))
        if _last_read[0] == stamp:  # a digest writes many links: the file is read once while unchanged
            return _last_read[1]
        with open(path, encoding="ascii") as file:
            text = file.read(101)
    except (OSError, UnicodeDecodeError):
        return None
    text = text.removesuffix("\n")
    url = text if len(text) <= 100 and SERVED_URL.fullmatch(text) else None
    _last_read = (stamp, url)
    return url


def _stamp(status: os.stat_result) -> tuple[int, int, int]:
    return status.st_ino, status.st_size, status.st_mtime_ns


def remember_served_url(url: str) -> None:
    """Write ``url`` to PAPERWIRE_HOME/served_url for the other commands (replaced whole, never
    half-written); a home that cannot be written keeps its old file and is only logged."""
    path = settings.PAPERWIRE_HOME / SERVED_URL_FILE
    temporary = path.with_name(f".{SERVED_URL_FILE}.{os.getpid()}")
    try:
        temporary.write_text(url + "\n", encoding="ascii")
        os.replace(temporary, path)
    except OSError as error:
        log.warning("could not write %s: %s", path, error.strerror)
        temporary.unlink(missing_ok=True)


def absolute(path: str) -> str:
    """The absolute URL of a path of the site (``reverse()``'s, ``get_absolute_url()``'s)."""
    return site_url() + path


def url_of_address(host: str, port: int) -> str:
    """The URL of the address ``serve`` listens on; loopback for an address on every interface."""
    if host in WILDCARD_HOSTS:
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host.lower()}:{port}"


def serve_on(host: str, port: int) -> str:
    """Called by `paperwire serve` before its workers start (they inherit it): the address it listens
    on is the site's outside requests when PAPERWIRE_BASE_URL is unset, and its host name is one the
    site answers (loopback always is; an address on every interface names none). Returns the URL."""
    global _served_url
    _served_url = url_of_address(host, port)
    remember_served_url(_served_url)
    name = host.strip("[]").lower()
    if name not in WILDCARD_HOSTS and not _allowed(name):
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, f"[{name}]" if ":" in name else name]
    public = urlsplit(settings.BASE_URL) if settings.BASE_URL else None
    if (
        public
        and public.scheme == "http"
        and public.port
        and public.port != port
        and _same_machine(public.hostname, name)
    ):
        # A PAPERWIRE_BASE_URL left from another run (a proxy's would be https://, or name no port):
        # every link would lead to the wrong port.
        log.warning(
            "PAPERWIRE_BASE_URL is %s but the site is served on %s: links in mail and feeds lead to the "
            "former; unset it, or set it to the site's public URL",
            settings.BASE_URL,
            _served_url,
        )
    return _served_url


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _same_machine(public: str | None, bound: str) -> bool:
    """Whether the public URL's host is the one served on (any loopback name for another)."""
    bound = "127.0.0.1" if bound in WILDCARD_HOSTS else bound
    return public == bound or (public in LOOPBACK and bound in LOOPBACK)


def _allowed(name: str) -> bool:
    from django.http.request import validate_host

    return validate_host(f"[{name}]" if ":" in name else name, settings.ALLOWED_HOSTS)


class RequestSiteMiddleware:
    """Makes the request being answered the one ``site_url()`` reads, for as long as it is."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)
