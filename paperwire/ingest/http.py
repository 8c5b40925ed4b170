"""A small, polite HTTP GET for the live sources: timeouts, retries with backoff, Retry-After."""

from __future__ import annotations

import email.utils
import logging
import socket
import time
import urllib.error
import urllib.parse
import urllib.request

from django.conf import settings

import paperwire

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
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return min(max(when.timestamp() - time.time(), 0.0), MAX_RETRY_AFTER)


def read_before(response, deadline: float, url: str) -> bytes:
    """The body, read in pieces, given up once ``deadline`` has passed: the socket's timeout bounds
    each wait, not the whole, so a server that sends a byte every few seconds would otherwise
    hold the caller (a web request) for as long as it likes."""
    chunks: list[bytes] = []
    size = 0
    while chunk := response.read1(65536):
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise FetchError(f"{url}: the answer is larger than {MAX_BODY_BYTES >> 20} MiB")
        chunks.append(chunk)
        if time.monotonic() > deadline:
            raise TimeoutError("the answer came too slowly")
    return b"".join(chunks)


def get(url: str, params: dict | None = None, *, retries: int | None = None, timeout: float | None = None) -> bytes:
    """GET ``url`` and return the body; retry timeouts, resets, 429 and 5xx, then give up.

    ``timeout`` bounds each wait on the socket and, roughly, the reading of the whole answer
    (up to one more wait): a slow trickle is a timeout too."""
    if params:
        url = f"{url}{'&' if '?' in url else '?'}{urllib.parse.urlencode(params, doseq=True)}"
    retries = settings.HTTP_RETRIES if retries is None else retries
    timeout = settings.HTTP_TIMEOUT if timeout is None else timeout
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"})
    backoff = settings.HTTP_BACKOFF
    for attempt in range(retries + 1):
        last = attempt == retries
        try:
            deadline = time.monotonic() + timeout
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return read_before(response, deadline, url)
        except urllib.error.HTTPError as error:
            if error.code not in RETRIED_STATUSES or last:
                raise FetchError(f"{url}: HTTP {error.code} {error.reason}", status=error.code) from None
            wait = retry_after_seconds(error.headers.get("Retry-After"), backoff)
            log.warning("%s: HTTP %s, retrying in %.1fs", url, error.code, wait)
        except TimeoutError as error:
            if last:
                raise FetchError(f"{url}: timed out after {timeout:g}s", timed_out=True) from error
            wait = backoff
        except (urllib.error.URLError, ConnectionError, OSError) as error:
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
