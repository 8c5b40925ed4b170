"""The one check every link built from imported or submitted data goes through.

Data decides where some links point (a paper's code and project page, an organization's
avatar in the API). A browser runs ``javascript:`` URLs in the page's origin and reads
``data:``, ``vbscript:`` and others in ways just as bad; it also ignores tabs and newlines
inside a URL and spaces around it, so "java\\tscript:" is ``javascript:`` to it. Hence an
allow-list: an absolute ``http``/``https`` URL with a host, written plainly, or nothing.
Pages, the markdown twin, the JSON API and emails all show a link only through this.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

MAX_URL_LENGTH = 2048
# Whitespace and control characters, which browsers strip or skip (and which a plainly
# written URL never holds), and the invisible formatting characters: bidirectional marks and
# overrides (".../\u202egpj.exe" reads ".../exe.jpg"), zero-width ones, the byte order mark.
_INVISIBLE = r"\u00ad\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff"
UNPRINTABLE = re.compile(rf"[\x00-\x20\x7f-\x9f\s{_INVISIBLE}]")
# The invisible ones are refused percent-encoded too: Markdown encodes a comment's link before
# this check sees it, and shows an autolink's address decoded ("%E2%80%AE" is U+202E there too).
INVISIBLE = re.compile(f"[{_INVISIBLE}]")
PLAIN_PREFIX = re.compile(r"^https?://[^/\\]", re.IGNORECASE)


def web_url(value: object, *, allow_site_path: bool = False) -> str:
    """``value`` (stripped) if it is an absolute http(s) URL, else "".

    ``allow_site_path``: also keep a path on the same site ("/avatars/x.png", as Hugging Face
    gives some avatars), never a scheme-relative "//host" one.
    """
    if not isinstance(value, str):
        return ""
    url = value.strip()
    if not url or len(url) > MAX_URL_LENGTH or UNPRINTABLE.search(url):
        return ""
    if "%" in url and INVISIBLE.search(unquote(url)):
        return ""
    if allow_site_path and url.startswith("/") and not url.startswith(("//", "/\\")):
        return url
    if not PLAIN_PREFIX.match(url):
        return ""
    try:
        parts = urlsplit(url)
        host, _ = parts.hostname, parts.port
    except ValueError:  # a malformed IPv6 host or port
        return ""
    if parts.scheme.lower() not in ("http", "https") or not host:
        return ""
    return url
