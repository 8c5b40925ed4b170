"""JSON that comes from outside the code (request bodies, files at rest): one parser whose every
failure is a ValueError. ``json.loads`` raises RecursionError, not a ValueError, on arrays or
objects nested a few thousand deep: a 20 kB body or a damaged file would otherwise escape every
``except ValueError`` around it (a 500, or a reader that stops)."""

from __future__ import annotations

import json


def parse(data: str | bytes) -> object:
    """The value of ``data``; ValueError (json.JSONDecodeError, UnicodeDecodeError included) when
    it is not JSON or nests too deeply to be read."""
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
