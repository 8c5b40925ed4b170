"""The gunicorn settings of `paperwire serve` that make the front server answer like the application."""

from __future__ import annotations

import os
import signal
import threading

from gunicorn import util
from gunicorn.http.errors import LimitRequestHeaders, LimitRequestLine
from gunicorn.workers.gthread import ThreadWorker

from paperwire.operations.errors import error_body

# gunicorn's largest limit_request_line (its default is 4094; 0, unlimited, would let a client
# make a worker buffer a request line of any size). It leaves room for any parameter the API
# accepts, so that one too long is refused by the application with a 400 naming it; a longer
# line is refused by gunicorn with a 414 (below: JSON too), listed in /api/openapi.json.
MAX_REQUEST_LINE = 8190
# A worker told to quit exits at the latest this many seconds later: Python's exit waits for the
# worker's threads, and one reading a client that sends nothing held it until gunicorn's worker
# timeout (60 s, the site unanswered with one worker, then a SIGABRT traceback); on Ctrl-C the
# arbiter killed it after graceful_timeout ("Worker was sent SIGKILL! Perhaps out of memory?").
QUIT_DEADLINE = 5.0


class JsonErrorWorker(ThreadWorker):
    """gunicorn's threaded worker, whose refusals of a request line or headers over its limits,
    made before Django sees the request, come in the API's JSON error shape, not as HTML; and
    which quits once, quietly, on a terminal's Ctrl-C."""

    _quitting = False

    def init_signals(self):
        super().init_signals()
        # A Ctrl-C reaches every process of the terminal's group: the arbiter, which then quits
        # its workers with SIGQUIT, and each worker itself. Handling both, a worker exited inside
        # its own first exit and printed a traceback ("Exception ignored in sys.unraisablehook",
        # SystemExit) on the terminal. The arbiter's SIGQUIT is the one that counts.
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    def handle_quit(self, sig, frame):
        if self._quitting:  # a second SIGQUIT while the first one's exit is under way: now
            os._exit(0)
        self._quitting = True
        deadline = threading.Timer(QUIT_DEADLINE, os._exit, args=(0,))
        deadline.daemon = True
        deadline.start()
        super().handle_quit(sig, frame)

    def handle_error(self, req, client, addr, exc):
        if isinstance(exc, LimitRequestLine):
            status, message = "414 URI Too Long", f"request line too long: at most {self.cfg.limit_request_line} bytes"
        elif isinstance(exc, LimitRequestHeaders):
            status, message = "431 Request Header Fields Too Large", "request header fields too large"
        else:
            return super().handle_error(req, client, addr, exc)
        self.log.warning("Invalid request from ip=%s: %s", (addr or ("",))[0], exc)
        body = error_body(message)
        head = f"HTTP/1.1 {status}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        head += f"Content-Length: {len(body)}\r\n\r\n"
        try:
            util.write_nonblock(client, head.encode("latin-1") + body)
        except OSError:
            self.log.debug("Failed to send error message.")
