"""Reading the arXiv API's Atom responses (https://info.arxiv.org/help/api/user-manual.html)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

import defusedxml.ElementTree as SafeET

from paperwire.ingest.records import (
    BadRecord,
    PaperRecord,
    check_record,
    clean_text,
    paper_id,
    to_datetime,
    unwrap_abstract,
)

NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "arxiv": "http://arxiv.org/schemas/atom",
    "opensearch": "http://a9.com/-/spec/opensearch/1.1/",
}


# ASCII digits only: str.isdigit() also accepts "²" and other scripts' digits, which int() refuses
# or reads; more digits than any count has is not a count either.
COUNT = re.compile(r"[0-9]{1,12}")


class MalformedFeed(ValueError):
    pass


@dataclass
class ArxivPage:
    total: int
    records: list[PaperRecord] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def entries(self) -> int:
        """The entries the page held, readable or not."""
        return len(self.records) + len(self.errors)


def _text(element: ET.Element, path: str) -> str:
    found = element.find(path, NS)
    return (found.text or "").strip() if found is not None and found.text else ""


def entry_record(entry: ET.Element) -> PaperRecord:
    abs_url = _text(entry, "atom:id")
    if "/api/errors" in abs_url:
        raise BadRecord(f"arXiv error: {_text(entry, 'atom:summary') or 'unknown'}")
    raw_id = abs_url.rsplit("/abs/", 1)[-1]
    categories = [c.get("term", "") for c in entry.findall("atom:category", NS) if c.get("term")]
    primary = entry.find("arxiv:primary_category", NS)
    if primary is not None and primary.get("term") in categories:
        categories.remove(primary.get("term"))
        categories.insert(0, primary.get("term"))
    return check_record(
        PaperRecord(
            id=paper_id(raw_id),
            title=clean_text(_text(entry, "atom:title"), "title", required=True),
            abstract=unwrap_abstract(clean_text(_text(entry, "atom:summary"), "abstract", required=True)),
            authors=[" ".join(_text(a, "atom:name").split()) for a in entry.findall("atom:author", NS)],
            categories=categories,
            published_at=to_datetime(_text(entry, "atom:published") or None, "published"),
            comment=clean_text(_text(entry, "arxiv:comment"), "comment"),
            doi=clean_text(_text(entry, "arxiv:doi"), "doi"),
        )
    )


def parse_feed(body: bytes) -> ArxivPage:
    try:
        root = SafeET.fromstring(body)
    except (ET.ParseError, ValueError) as error:
        raise MalformedFeed(f"not an Atom feed: {error}") from None
    if root.tag != f"{{{NS['atom']}}}feed":
        raise MalformedFeed(f"not an Atom feed: root element {root.tag!r}")
    total_text = _text(root, "opensearch:totalResults")
    if total_text and not COUNT.fullmatch(total_text):
        raise MalformedFeed(f"totalResults is not a count: {total_text[:40]!r}")
    page = ArxivPage(total=int(total_text) if total_text else 0)
    for entry in root.findall("atom:entry", NS):
        try:
            page.records.append(entry_record(entry))
        except BadRecord as error:
            page.errors.append(str(error))
    return page
