import json
import logging

from django.test import RequestFactory

from paperwire.core.logs import JsonFormatter


def test_json_log_lines_carry_the_request_and_the_error():
    request = RequestFactory().get("/papers/nope")
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord(
            "django.request", logging.ERROR, __file__, 1, "Not Found: %s", ("/papers/nope",), sys.exc_info()
        )
    record.request, record.status_code = request, 404
    entry = json.loads(JsonFormatter().format(record))
    assert entry["level"] == "ERROR" and entry["message"] == "Not Found: /papers/nope"
    assert (entry["path"], entry["method"], entry["status"]) == ("/papers/nope", "GET", 404)
    assert "ValueError: boom" in entry["exception"]
