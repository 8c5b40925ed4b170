"""Readers for the import formats: Paperwire JSONL, Hugging Face daily-papers responses, the
Kaggle arXiv snapshot. Each turns raw objects into PaperRecords; ``read_file`` streams a
file (gzipped or not), tells its format from the content and names every bad record by
``file:line``.
"""

from __future__ import annotations

import ast
import email.utils
import gzip
import io
import itertools
import json
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from paperwire.ingest.records import (
    BadRecord,
    OrganizationRecord,
    PaperRecord,
    clean_text,
    paper_id,
    string_list,
    to_datetime,
    to_int,
    unwrap_abstract,
)
from paperwire.papers.links import web_url
from paperwire.papers.models import Organization
from paperwire.papers.orgnames import clean_name

FORMATS = ("jsonl", "hf-daily", "kaggle")


class UnreadableFile(Exception):
    """The file as a whole cannot be imported (missing, not text, not a known format)."""


AVATAR_URL_LENGTH = Organization._meta.get_field("avatar_url").max_length
HF_ID_LENGTH = Organization._meta.get_field("hf_id").max_length


def organization_record(value: Any) -> OrganizationRecord | None:
    """A plain name, or Hugging Face's organization object. Any name is accepted (see
    papers.orgnames); an avatar that is not an http(s) URL, or an id too long to be
    Hugging Face's, is left out."""
    if value in (None, "", {}):
        return None
    if isinstance(value, str):
        name = clean_name(value)
        return OrganizationRecord(name=name, fullname=name) if name else None
    if isinstance(value, dict) and isinstance(value.get("name"), str) and clean_name(value["name"]):
        fullname, avatar, hf_id = value.get("fullname"), value.get("avatar") or value.get("avatarUrl"), value.get("_id")
        avatar = web_url(avatar)
        return OrganizationRecord(
            name=clean_name(value["name"]),
            fullname=clean_name(fullname) if isinstance(fullname, str) else "",
            avatar_url=avatar if len(avatar) <= AVATAR_URL_LENGTH else "",
            hf_id=hf_id.strip() if isinstance(hf_id, str) and len(hf_id.strip()) <= HF_ID_LENGTH else "",
        )
    raise BadRecord("organization must be a name or an object with a name")


def from_jsonl(obj: Any) -> PaperRecord:
    """A line of Paperwire's import JSONL (see DESIGN.md, "Import JSONL")."""
    if not isinstance(obj, dict):
        raise BadRecord("expected a JSON object")
    published_at = to_datetime(obj.get("published"), "published")
    return PaperRecord(
        id=paper_id(obj.get("id")),
        title=clean_text(obj.get("title"), "title", required=True),
        abstract=unwrap_abstract(clean_text(obj.get("abstract"), "abstract", required=True)),
        authors=string_list(obj.get("authors"), "authors"),
        categories=string_list(obj.get("categories"), "categories"),
        published_at=published_at,
        submitted_on_daily_at=to_datetime(obj.get("submitted_at"), "submitted_at"),
        upvotes=to_int(obj.get("upvotes"), "upvotes"),
        organization=organization_record(obj.get("organization")),
        code_urls=string_list(obj.get("code_urls"), "code_urls"),
        comment=clean_text(obj.get("comment"), "comment"),
        doi=clean_text(obj.get("doi"), "doi"),
    )


def from_hf_item(obj: Any) -> PaperRecord:
    """One item of ``/api/daily_papers``: ``{paper: {...}, publishedAt, title, ...}``.

    Some archived responses hold each item as a Python repr string; those are read
    with ``ast.literal_eval`` (literals only, nothing is executed).
    """
    if isinstance(obj, str):
        try:
            obj = ast.literal_eval(obj)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise BadRecord("item is a string that is not a Python literal") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("paper"), dict):
        raise BadRecord("expected an object with a 'paper' object")
    paper = obj["paper"]
    authors = paper.get("authors") or []
    if not isinstance(authors, list) or not all(isinstance(a, dict) for a in authors):
        raise BadRecord("paper.authors must be a list of objects")
    github = paper.get("githubRepo")
    submitter = paper.get("submittedOnDailyBy") or obj.get("submittedBy")
    if submitter is not None and not isinstance(submitter, dict):
        raise BadRecord("submittedOnDailyBy must be an object")
    return PaperRecord(
        id=paper_id(paper.get("id")),
        title=clean_text(paper.get("title") or obj.get("title"), "title", required=True),
        abstract=unwrap_abstract(clean_text(paper.get("summary") or obj.get("summary"), "abstract", required=True)),
        authors=[" ".join(str(a.get("name", "")).split()) for a in authors if str(a.get("name", "")).strip()],
        published_at=to_datetime(paper.get("publishedAt"), "paper.publishedAt"),
        # The day an item belongs to is that of submittedOnDailyAt, else of the item's publishedAt.
        submitted_on_daily_at=to_datetime(
            paper.get("submittedOnDailyAt") or obj.get("publishedAt"), "submittedOnDailyAt"
        ),
        upvotes=to_int(paper.get("upvotes"), "upvotes"),
        organization=organization_record(paper.get("organization") or obj.get("organization")),
        code_urls=[github] if isinstance(github, str) and github else [],
        github_stars=to_int(paper.get("githubStars"), "githubStars") if paper.get("githubStars") is not None else None,
        project_page=clean_text(paper.get("projectPage"), "projectPage"),
        ai_summary=clean_text(paper.get("ai_summary"), "ai_summary"),
        ai_keywords=string_list(paper.get("ai_keywords"), "ai_keywords"),
        num_comments=to_int(obj.get("numComments"), "numComments"),
        submitter_name=str((submitter or {}).get("user") or "")[:100],
        hf_submitter=submitter,
    )


def from_kaggle(obj: Any) -> PaperRecord:
    """A line of the Kaggle arXiv metadata snapshot (``arxiv-metadata-oai-snapshot.json``)."""
    if not isinstance(obj, dict):
        raise BadRecord("expected a JSON object")
    parsed = obj.get("authors_parsed")
    if isinstance(parsed, list) and parsed:
        authors = [" ".join(part for part in (p[1:2] + p[0:1] + p[2:3]) if part).strip() for p in parsed]
    else:
        text = clean_text(obj.get("authors"), "authors")
        authors = [a.strip() for a in text.replace(" and ", ", ").split(",") if a.strip()]
    published_at = None
    versions = obj.get("versions")
    if isinstance(versions, list) and versions and isinstance(versions[0], dict) and versions[0].get("created"):
        try:
            published_at = email.utils.parsedate_to_datetime(versions[0]["created"])
        except (TypeError, ValueError):
            raise BadRecord(f"invalid versions[0].created {versions[0]['created']!r}") from None
    if published_at is None:
        published_at = to_datetime(obj.get("update_date"), "update_date")
    categories = obj.get("categories")
    return PaperRecord(
        id=paper_id(obj.get("id")),
        title=clean_text(obj.get("title"), "title", required=True),
        abstract=unwrap_abstract(clean_text(obj.get("abstract"), "abstract", required=True)),
        authors=[a for a in authors if a],
        categories=categories.split() if isinstance(categories, str) else string_list(categories, "categories"),
        published_at=published_at,
        comment=clean_text(obj.get("comments"), "comments"),
        doi=clean_text(obj.get("doi"), "doi"),
    )


LINE_MAPPERS: dict[str, Callable[[Any], PaperRecord]] = {
    "jsonl": from_jsonl,
    "kaggle": from_kaggle,
    "hf-daily": from_hf_item,
}


@dataclass
class Item:
    """What reading a file yields: a record, or the reason a line was rejected."""

    where: str
    record: PaperRecord | None = None
    error: str = ""


def open_binary(path: Path) -> tuple[BinaryIO, BinaryIO]:
    """(raw file, decompressed stream); gzip is recognised by its magic bytes."""
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed by the caller
    except OSError as error:
        raise UnreadableFile(f"{path}: {error.strerror or error}") from None
    if raw.read(2) == b"\x1f\x8b":
        raw.seek(0)
        return raw, gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    raw.seek(0)
    return raw, raw


def detect_format(head: bytes) -> str:
    """Tell the format from the first bytes of the (decompressed) content."""
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        # The head may end inside a multi-byte character; only an error before that counts.
        if error.start < len(head) - 4:
            raise UnreadableFile("not UTF-8 text") from None
        text = head[: error.start].decode("utf-8-sig")
    stripped = text.lstrip()
    if stripped.startswith("["):
        return "hf-daily"
    if not stripped.startswith("{"):
        raise UnreadableFile("not JSON: expected JSON lines or a Hugging Face daily-papers response")
    first_line = stripped.split("\n", 1)[0]
    try:
        obj = json.loads(first_line)
    except json.JSONDecodeError:
        return "hf-daily"  # a pretty-printed object, like {"status", "data": [...]}
    if not isinstance(obj, dict):
        raise UnreadableFile("not an import file")
    if "paper" in obj or isinstance(obj.get("data"), list):
        return "hf-daily"
    if "authors_parsed" in obj or "versions" in obj or "update_date" in obj:
        return "kaggle"
    return "jsonl"


def read_lines(stream: Iterable[bytes], label: str, mapper: Callable[[Any], PaperRecord]) -> Iterator[Item]:
    for number, raw_line in enumerate(stream, start=1):
        where = f"{label}:{number}"
        if not raw_line.strip():
            continue
        try:
            obj = json.loads(raw_line.decode("utf-8-sig" if number == 1 else "utf-8"))
            yield Item(where, record=mapper(obj))
        except UnicodeDecodeError:
            yield Item(where, error="not UTF-8")
        except json.JSONDecodeError as error:
            yield Item(where, error=f"invalid JSON: {error.msg}")
        except BadRecord as error:
            yield Item(where, error=str(error))
        except RecursionError:
            yield Item(where, error="JSON nested too deeply")


def read_hf_document(stream: BinaryIO, label: str) -> Iterator[Item]:
    """A whole ``/api/daily_papers`` response: a list, or an object wrapping it in ``data``.

    Items are decoded one at a time so that a bad item is named by its line and the
    others are kept.
    """
    try:
        text = stream.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnreadableFile("not UTF-8 text") from None
    except (OSError, EOFError) as error:
        raise UnreadableFile(f"cannot read: {error}") from None
    decoder = json.JSONDecoder()
    start = len(text) - len(text.lstrip())
    if text[start : start + 1] == "{":
        try:
            wrapper, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError as error:
            raise UnreadableFile(f"invalid JSON at line {error.lineno}: {error.msg}") from None
        if not isinstance(wrapper, dict) or not isinstance(wrapper.get("data"), list):
            raise UnreadableFile("a JSON object without a 'data' list of daily papers")
        # Find where the data list starts, to keep line numbers right.
        start = text.index("[", text.index('"data"'))
    if text[start : start + 1] != "[":
        raise UnreadableFile("expected a JSON list of daily papers")
    position = start + 1
    line = text.count("\n", 0, position) + 1
    while True:
        while position < len(text) and text[position] in " \t\r\n,":
            if text[position] == "\n":
                line += 1
            position += 1
        if position >= len(text):
            raise UnreadableFile(f"truncated JSON: the list is not closed (line {line})")
        if text[position] == "]":
            return
        where = f"{label}:{line}"
        try:
            obj, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            yield Item(where, error=f"invalid JSON: {error.msg}")
            return  # the rest of the list cannot be located reliably
        try:
            yield Item(where, record=from_hf_item(obj))
        except BadRecord as error:
            yield Item(where, error=str(error))
        line += text.count("\n", position, end)
        position = end


class SourceFile:
    """An import file opened for streaming, with its format and a byte position for progress."""

    def __init__(self, path: Path, fmt: str = "auto") -> None:
        self.path = path
        self.label = str(path)
        self.raw, self.stream = open_binary(path)
        try:
            self.size = path.stat().st_size
            # The first line tells the format; it is read here and replayed by items().
            self.first_line = self.stream.readline(64 << 20)
            if fmt == "auto":
                if not self.first_line.strip():
                    raise UnreadableFile("empty file or blank first line")
                fmt = detect_format(self.first_line)
        except (OSError, EOFError, gzip.BadGzipFile) as error:
            self.close()
            raise UnreadableFile(f"cannot read: {error}") from None
        except UnreadableFile:
            self.close()
            raise
        self.format = fmt

    def position(self) -> int:
        try:
            return self.raw.tell()
        except (OSError, ValueError):
            return self.size

    def items(self) -> Iterator[Item]:
        try:
            if self.format == "hf-daily" and self._is_document():
                body = io.BufferedReader(io.BytesIO(self.first_line + self.stream.read()))
                yield from read_hf_document(body, self.label)
            else:
                lines = itertools.chain([self.first_line], self.stream)
                yield from read_lines(lines, self.label, LINE_MAPPERS[self.format])
        except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as error:
            raise UnreadableFile(f"cannot read past byte {self.position()}: {error}") from None

    def _is_document(self) -> bool:
        """A whole JSON response rather than one Hugging Face item a line."""
        stripped = self.first_line.lstrip(b"\xef\xbb\xbf \t\r\n")
        if stripped.startswith(b"["):
            return True
        try:
            first = json.loads(stripped)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return True
        return not (isinstance(first, dict) and "paper" in first)

    def close(self) -> None:
        for stream in (self.stream, self.raw):
            try:
                stream.close()
            except OSError:
                pass


def items_from_bytes(body: bytes, label: str, fmt: str) -> Iterator[Item]:
    """Parse an in-memory response body (used by the live ingesters)."""
    stream = io.BufferedReader(io.BytesIO(body))
    if fmt == "hf-daily":
        yield from read_hf_document(stream, label)
    else:
        yield from read_lines(stream, label, LINE_MAPPERS[fmt])
