"""A small, polite HTTP GET for the live sources: timeouts, retries with backoff, Retry-After."""

from __future__ import annotations

import email.utils
import http.client
import logging
import socket
import time
import urllib.error
import urllib.parse
import urllib.request

from django.conf import settings

import paperwire
from paperwire.core import outside

log = logging.getLogger(__name__)
USER_AGENT = f"Paperwire/{paperwire.__version__} (self-hosted Daily Papers)"
MAX_RETRY_AFTER = 300.0
RETRIED_STATUSES = {429, 500, 502, 503, 504}
MAX_BODY_BYTES = 64 << 20  # the largest answer read from a source (an arXiv page is a few MB)


class FetchError(Exception):
    """The source could not be read; the message is meant for the user."""

    def __init__(self, message: str, status: int | None = None, timed_out: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.timed_out = timed_out


def retry_after_seconds(value: str | None, default: float) -> float:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return default
    value = value.strip()
    if value.isascii() and value.isdigit():  # "²" is a digit to isdigit(), and not a number to float()
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return min(max(when.timestamp() - time.time(), 0.0), MAX_RETRY_AFTER)


class WatchedHTTPConnection(http.client.HTTPConnection):
    """Its socket is opened under the current deadline (paperwire.core.outside)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = outside.connect


class WatchedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = outside.connect


class WatchedHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(WatchedHTTPConnection, req)


class WatchedHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(WatchedHTTPSConnection, req, context=self._context)


OPENER = urllib.request.build_opener(WatchedHTTPHandler, WatchedHTTPSHandler)


def read_body(response, url: str) -> bytes:
    """The body, read in pieces, refused beyond MAX_BODY_BYTES."""
    chunks: list[bytes] = []
    size = 0
    while chunk := response.read1(65536):
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise FetchError(f"{url}: the answer is larger than {MAX_BODY_BYTES >> 20} MiB")
        chunks.append(chunk)
    return b"".join(chunks)


def fetch_once(request: urllib.request.Request, timeout: float) -> bytes:
    """One attempt, ``timeout`` seconds in all: connection, status line, headers and body (a
    server sending a byte a second is cut off like a silent one, paperwire.core.outside)."""
    with outside.deadline(timeout) as limit:
        try:
            with OPENER.open(request, timeout=limit.timeout(timeout)) as response:
                body = read_body(response, request.full_url)
        except urllib.error.HTTPError:
            raise
        except (OSError, http.client.HTTPException) as error:
            if limit.fired:
                raise limit.error() from error
            raise
        limit.check()  # the deadline may have cut the body short
        return body


def get(url: str, params: dict | None = None, *, retries: int | None = None, timeout: float | None = None) -> bytes:
    """GET ``url`` and return the body; retry timeouts, resets, 429 and 5xx, then give up.

    ``timeout`` bounds each attempt in whole (connection, headers, body): a slow trickle is a
    timeout too."""
    if params:
        url = f"{url}{'&' if '?' in url else '?'}{urllib.parse.urlencode(params, doseq=True)}"
    retries = settings.HTTP_RETRIES if retries is None else retries
    timeout = settings.HTTP_TIMEOUT if timeout is None else timeout
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"})
    backoff = settings.HTTP_BACKOFF
    for attempt in range(retries + 1):
        last = attempt == retries
        try:
            return fetch_once(request, timeout)
        except urllib.error.HTTPError as error:
            if error.code not in RETRIED_STATUSES or last:
                raise FetchError(f"{url}: HTTP {error.code} {error.reason}", status=error.code) from None
            wait = retry_after_seconds(error.headers.get("Retry-After"), backoff)
            log.warning("%s: HTTP %s, retrying in %.1fs", url, error.code, wait)
        except TimeoutError as error:
            if last:
                raise FetchError(f"{url}: timed out after {timeout:g}s", timed_out=True) from error
            wait = backoff
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            reason = getattr(error, "reason", error)
            timed_out = isinstance(reason, TimeoutError | socket.timeout)
            if timed_out:
                reason = f"timed out after {timeout:g}s"
            if last:
                raise FetchError(f"{url}: {reason}", timed_out=timed_out) from None
            wait = backoff
        time.sleep(wait)
        backoff = min(backoff * 2, 60.0)
    raise AssertionError("unreachable")
