"""One overall deadline for a call to an outside server (an HTTP source, an SMTP server).

A socket's timeout bounds each wait, not the whole: a server that sends a byte every second
(a header, an SMTP greeting ``220-please wait`` line after line) never lets a single wait time
out and holds the caller for as long as it likes. ``deadline(seconds)`` bounds the whole:
every socket opened inside it through ``connect`` (and every socket passed to ``watch``) is
shut down when the time is up, which ends any read or write blocked on it at once, TLS
included. The code that was waiting then fails (an EOF, a dropped connection), and
``Deadline.fired`` tells it that the cause was the deadline.

Deadlines nest: an inner one never ends later than the one around it. The HTTP client
(paperwire.ingest.http) and the SMTP classes (paperwire.digests.smtp) are the two users.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

_local = threading.local()


class Deadline:
    def __init__(self, seconds: float, outer: Deadline | None = None) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds
        if outer is not None and outer.end < self.end:
            self.end, self.seconds = outer.end, outer.seconds
        self.fired = False
        self._done = False
        self._watched: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(self.end - time.monotonic(), 0.0), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def remaining(self) -> float:
        return self.end - time.monotonic()

    def timeout(self, wait: float | None = None) -> float:
        """The socket timeout for one wait: ``wait``, cut to what is left (TimeoutError when nothing is)."""
        left = self.remaining()
        if left <= 0 or self.fired:
            raise self.error()
        return left if wait is None else min(wait, left)

    def error(self) -> TimeoutError:
        return TimeoutError(f"no complete answer within {self.seconds:g}s")

    def check(self) -> None:
        """TimeoutError when the deadline cut the exchange short (what was read is not whole)."""
        if self.fired:
            raise self.error()

    def watch(self, sock: socket.socket) -> None:
        """Shut ``sock`` down when the time is up. A duplicate of its descriptor is kept, so a
        socket later wrapped in TLS (which detaches the original) is still reached, and a closed
        descriptor number reused by another socket never is."""
        try:
            copy = socket.fromfd(sock.fileno(), sock.family, sock.type)
        except OSError:
            return  # already closed
        with self._lock:
            if self._done:
                copy.close()
                return
            self._watched.append(copy)
            fire = self.fired
        if fire:
            self._shut(copy)

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            for sock in self._watched:
                self._shut(sock)

    def close(self) -> None:
        self._timer.cancel()
        with self._lock:
            self._done = True
            watched, self._watched = self._watched, []
        for sock in watched:
            sock.close()


def current() -> Deadline | None:
    return getattr(_local, "deadline", None)


@contextmanager
def deadline(seconds: float) -> Iterator[Deadline]:
    """Everything inside, on sockets opened with ``connect`` or passed to ``watch``, ends within
    ``seconds`` (or the deadline around it, if sooner)."""
    outer = current()
    limit = Deadline(seconds, outer)
    _local.deadline = limit
    try:
        yield limit
    finally:
        _local.deadline = outer
        limit.close()


def wait_timeout(wait):
    """A socket timeout for one wait under the current deadline (``wait`` when there is none)."""
    limit = current()
    if limit is None:
        return wait
    return limit.timeout(wait if isinstance(wait, int | float) else None)


def watch(sock: socket.socket) -> None:
    """Put ``sock`` under the current deadline, if any."""
    limit = current()
    if limit is not None:
        limit.watch(sock)


def connect(address: tuple[str, int], timeout: float | None = None, source_address=None) -> socket.socket:
    """``socket.create_connection`` under the current deadline: the connection waits at most what
    is left of it, and the socket is shut down when it ends."""
    sock = socket.create_connection(address, wait_timeout(timeout), source_address)
    watch(sock)
    return sock
