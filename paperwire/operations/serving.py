"""The gunicorn settings of `paperwire serve` that make the front server answer like the application."""

from __future__ import annotations

from gunicorn import util
from gunicorn.http.errors import LimitRequestHeaders, LimitRequestLine
from gunicorn.workers.gthread import ThreadWorker

from paperwire.operations.errors import error_body

# gunicorn's largest limit_request_line (its default is 4094; 0, unlimited, would let a client
# make a worker buffer a request line of any size). It leaves room for any parameter the API
# accepts, so that one too long is refused by the application with a 400 naming it; a longer
# line is refused by gunicorn with a 414 (below: JSON too), listed in /api/openapi.json.
MAX_REQUEST_LINE = 8190


class JsonErrorWorker(ThreadWorker):
    """gunicorn's threaded worker, whose refusals of a request line or headers over its limits,
    made before Django sees the request, come in the API's JSON error shape, not as HTML."""

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
