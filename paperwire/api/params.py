"""The query parameters of the JSON API, each declared once.

The views parse requests with these declarations, /api/openapi.json describes them, and
docs/api.md carries the tables ``markdown()`` makes of them (tests/test_openapi.py checks it):
a name, type, pattern, enum, range, length or default cannot differ between the code, the
schema and the docs.

Patterns are anchored and written in what ECMA-262 (OpenAPI's dialect) and Python's ``re`` read
alike: ``[0-9]``, never ``\\d``, which in Python also matches other scripts' digits. The code
applies them with ``re.fullmatch``, which refuses a trailing newline as ECMA-262 does.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest

from paperwire.papers.models import Paper
from paperwire.papers.periods import parse_period
from paperwire.search import MAX_QUERY_CHARS, MODES, SORTS, clean


class BadRequest(Exception):
    """A request the API refuses with a 400; the message names the parameter at fault."""


INTEGER = re.compile(r"-?[0-9]+")
WITHOUT_NUL = "^[^\\u0000]*$"  # PostgreSQL text cannot hold NUL
# Years 1000 to 2999: every day, week and month of them has a next one that Python can represent.
YEAR = "[12][0-9]{3}"
MONTH = "(0[1-9]|1[0-2])"
MAX_PAGE = 1_000_000
MAX_CATEGORY_CHARS = 100


@dataclass(frozen=True)
class Param:
    name: str
    description: str
    type: str = "string"  # the JSON Schema type of the value: "string" or "integer"
    default: Any = None
    minimum: int | None = None
    maximum: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    enum: tuple[str, ...] = ()
    format: str | None = None
    values: str = ""  # the valid values in words, where the constraints alone do not say them well
    convert: Callable[[Any], Any] | None = None  # after the checks; a ValueError means "no such one"

    @property
    def rule(self) -> str:
        """What a valid value is, in the words of the 400 and of the docs."""
        if self.values:
            return self.values
        if self.enum:
            return "one of " + ", ".join(self.enum)
        if self.type == "integer":
            return f"an integer from {self.minimum} to {self.maximum}"
        assert self.pattern == WITHOUT_NUL and self.max_length, self.name
        return f"text of at most {self.max_length} characters, without NUL"

    def schema(self) -> dict:
        schema: dict[str, Any] = {"type": self.type}
        if self.enum:
            schema["enum"] = list(self.enum)
        for key, value in [
            ("format", self.format),
            ("pattern", self.pattern),
            ("minimum", self.minimum),
            ("maximum", self.maximum),
            ("maxLength", self.max_length),
            ("default", self.default),
        ]:
            if value is not None:
                schema[key] = value
        return schema

    def accepts(self, raw: str) -> bool:
        if self.type == "integer":
            try:
                return bool(INTEGER.fullmatch(raw)) and self.minimum <= int(raw) <= self.maximum
            except ValueError:  # more digits than int() reads
                return False
        return (
            (not self.enum or raw in self.enum)
            and (self.max_length is None or len(raw) <= self.max_length)
            and (self.pattern is None or re.fullmatch(self.pattern, raw) is not None)
        )

    def parse(self, raw: str) -> Any:
        if self.accepts(raw):
            value = int(raw) if self.type == "integer" else raw
            try:
                return self.convert(value) if self.convert else value
            except ValueError:
                pass
        raise BadRequest(f"{self.name} must be {self.rule}")


@dataclass(frozen=True)
class Parameters:
    """The query parameters of one endpoint. Others are ignored, as OpenAPI lets a server do."""

    params: tuple[Param, ...]
    at_most_one_of: tuple[str, ...] = ()
    check: Callable[[dict[str, Any]], None] | None = None  # of the parsed values together; BadRequest

    def but(self, *names: str) -> Parameters:
        """These parameters without ``names``."""
        return Parameters(tuple(p for p in self.params if p.name not in names))

    def query_string(self, values: dict[str, Any]) -> str:
        """The query string asking for ``values`` again: these parameters in their declared order,
        without those absent, blank or at their default (a link carries everything that matters)."""
        pairs = []
        for p in self.params:
            value = values.get(p.name)
            text = "" if value is None else str(value).strip()
            if text and text != str(p.default):
                pairs.append((p.name, text))
        return urlencode(pairs)

    def parse(self, request: HttpRequest) -> dict[str, Any]:
        """Every declared parameter's value (its default when absent); BadRequest on the first refused."""
        values = {}
        for param in self.params:
            given = request.GET.getlist(param.name)
            if len(given) > 1:
                raise BadRequest(f"give {param.name} once")
            values[param.name] = param.parse(given[0]) if given else param.default
        if sum(name in request.GET for name in self.at_most_one_of) > 1:
            raise BadRequest(f"give {self.exclusive_words}")
        if self.check:
            self.check(values)
        return values

    @property
    def exclusive_words(self) -> str:
        *first, last = self.at_most_one_of
        return f"at most one of {', '.join(first)} and {last}"

    def description(self, param: Param) -> str:
        if param.name in self.at_most_one_of:
            return f"{param.description}. Give {self.exclusive_words}."
        return f"{param.description}."

    def openapi(self) -> list[dict]:
        return [
            {"name": p.name, "in": "query", "required": False, "description": self.description(p), "schema": p.schema()}
            for p in self.params
        ]

    def markdown(self) -> str:
        """The parameter table of docs/api.md."""
        rows = ["| parameter | values | default | meaning |", "|---|---|---|---|"]
        for p in self.params:
            default = "" if p.default is None else f"`{p.default}`"
            rows.append(f"| `{p.name}` | {p.rule} | {default} | {self.description(p)} |")
        return "\n".join(rows)


def period(kind: str) -> Callable[[str], Any]:
    return functools.partial(parse_period, kind)


DAY = f"^{YEAR}-{MONTH}-(0[1-9]|[12][0-9]|3[01])$"


def first_day(value: str):
    return parse_period("date", value).start


DAILY_PAPERS = Parameters(
    (
        Param(
            "date",
            "The papers of one day of the daily feed, ranked by upvotes",
            pattern=DAY,
            format="date",
            values="a day, YYYY-MM-DD",
            convert=period("date"),
        ),
        Param(
            "week",
            "The papers of one ISO week (Monday to Sunday), ranked by upvotes",
            pattern=f"^{YEAR}-W(0[1-9]|[1-4][0-9]|5[0-3])$",
            values="an ISO week, YYYY-Www (W53 only in years that have one)",
            convert=period("week"),
        ),
        Param(
            "month",
            "The papers of one month, ranked by upvotes",
            pattern=f"^{YEAR}-{MONTH}$",
            values="a month, YYYY-MM",
            convert=period("month"),
        ),
        Param(
            "submitter",
            "Only the papers submitted by this user (a Paperwire user, or the Hugging Face user of an imported item)",
            max_length=Paper._meta.get_field("submitter_name").max_length,
            pattern=WITHOUT_NUL,
        ),
        Param(
            "sort",
            "publishedAt: with a period, ranked by upvotes; without one, the newest days first, each by upvotes. "
            "trending: by the trending score (the latest week and recent votes); with a period or submitter, "
            "every paper it selects, the trending ones first",
            enum=("publishedAt", "trending"),
            default="publishedAt",
        ),
        Param("p", "The page, from 0", type="integer", minimum=0, maximum=MAX_PAGE, default=0),
        Param("limit", "Papers a page", type="integer", minimum=1, maximum=100, default=50),
    ),
    at_most_one_of=("date", "week", "month"),
)


def dates_in_order(values: dict[str, Any]) -> None:
    """A reversed range is refused, never answered with nothing (the search page swaps it instead)."""
    if values.get("from") and values.get("to") and values["from"] > values["to"]:
        raise BadRequest(f"from ({values['from']}) must not be after to ({values['to']})")


SEARCH = Parameters(
    (
        Param(
            "q",
            'Words, "quoted phrases", a title or an arXiv id; an exact id or title comes first. '
            "Absent or blank: the newest papers",
            max_length=MAX_QUERY_CHARS,
            pattern=WITHOUT_NUL,
        ),
        Param("limit", "Results a page", type="integer", minimum=1, maximum=120, default=50),
        Param(
            "p",
            "The page, from 0. Sorted by date or upvotes, every match can be reached; by relevance, the "
            "200 most relevant (with q, p × limit must be below 200)",
            type="integer",
            minimum=0,
            maximum=MAX_PAGE,
            default=0,
        ),
        Param(
            "mode",
            "The engine: hybrid (lexical and semantic fused), lexical (BM25) or semantic (embeddings)",
            enum=MODES,
            default="hybrid",
        ),
        Param(
            "sort",
            "The order: relevance (best match first), date (newest first publication first, then most "
            "upvoted) or upvotes (most upvoted first, then newest); date and upvotes rank every match",
            enum=SORTS,
            default="relevance",
        ),
        Param(
            "from",
            "Only papers first published on or after this day (the paper's date, not its day in the daily "
            "feed); not after to",
            pattern=DAY,
            format="date",
            values="a day, YYYY-MM-DD",
            convert=first_day,
        ),
        Param(
            "to",
            "Only papers first published on or before this day",
            pattern=DAY,
            format="date",
            values="a day, YYYY-MM-DD",
            convert=first_day,
        ),
        Param(
            "category",
            "Only papers of this arXiv category (cs.CL, ...)",
            max_length=MAX_CATEGORY_CHARS,
            pattern=WITHOUT_NUL,
        ),
    ),
    check=dates_in_order,
)

# What a saved search's Atom feed (/search/feed.atom) and the search page's links carry. A feed
# takes any words, as the search page does (cleaned: NUL and control characters dropped, cut at
# MAX_QUERY_CHARS): a feed reader has no one to show a 400 to.
SEARCH_FEED = Parameters(
    (
        Param(
            "q",
            "The search's words",
            values=f"any text (control characters dropped, cut at {MAX_QUERY_CHARS} characters)",
            convert=clean,
        ),
        *SEARCH.but("q", "limit", "p").params,
    ),
    check=dates_in_order,
)


FOLLOWING = Parameters(
    (
        Param("p", "The page, from 0", type="integer", minimum=0, maximum=MAX_PAGE, default=0),
        Param("limit", "Papers a page", type="integer", minimum=1, maximum=100, default=50),
    )
)
COMMENTS = Parameters(
    (
        Param("p", "The page of threads, from 0", type="integer", minimum=0, maximum=MAX_PAGE, default=0),
        Param(
            "limit",
            "Threads a page (a top comment with all its replies)",
            type="integer",
            minimum=1,
            maximum=100,
            default=50,
        ),
    )
)
