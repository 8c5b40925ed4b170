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
import logging
import math
import os
import re
import stat
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from paperwire.ingest.records import (
    MAX_RECORD_BYTES,
    BadRecord,
    OrganizationRecord,
    PaperRecord,
    check_record,
    clean_name,
    clean_text,
    in_utc,
    paper_id,
    string_list,
    submitter,
    to_datetime,
    to_int,
    unwrap_abstract,
)
from paperwire.papers.links import web_url
from paperwire.papers.models import Organization
from paperwire.papers.orgnames import clean_name as clean_organization_name

FORMATS = ("jsonl", "hf-daily", "kaggle")
# A Hugging Face response read as one JSON document (a list, or an object wrapping it) is held
# in memory whole: real ones are under 400 kB; larger lists can be written one item a line.
MAX_DOCUMENT_BYTES = 16 << 20
TOO_LONG_LINE = f"line longer than {MAX_RECORD_BYTES >> 20} MiB ({MAX_RECORD_BYTES:,} bytes)"
TOO_LONG_ITEM = f"item longer than {MAX_RECORD_BYTES >> 20} MiB ({MAX_RECORD_BYTES:,} characters)"

logger = logging.getLogger(__name__)


def _bounded_int(text: str) -> int | float:
    """JSON integers; one with more digits than any field can hold is read as infinite, which
    every field rejects, instead of Python refusing to convert it (over 4,300 digits)."""
    if len(text) <= 100:
        return int(text)
    return -math.inf if text.startswith("-") else math.inf


DECODER = json.JSONDecoder(parse_int=_bounded_int)


# The `data` list of a wrapped response, found without decoding the wrapper (it holds a broken item).
DATA_LIST = re.compile(r'"data"\s*:\s*\[')


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
        name = clean_organization_name(value)
        return OrganizationRecord(name=name, fullname=name) if name else None
    if isinstance(value, dict) and isinstance(value.get("name"), str) and clean_organization_name(value["name"]):
        fullname, avatar, hf_id = value.get("fullname"), value.get("avatar") or value.get("avatarUrl"), value.get("_id")
        avatar = web_url(avatar)
        return OrganizationRecord(
            name=clean_organization_name(value["name"]),
            fullname=clean_organization_name(fullname) if isinstance(fullname, str) else "",
            avatar_url=avatar if len(avatar) <= AVATAR_URL_LENGTH else "",
            hf_id=hf_id.strip() if isinstance(hf_id, str) and len(hf_id.strip()) <= HF_ID_LENGTH else "",
        )
    raise BadRecord("organization must be a name or an object with a name")


def from_jsonl(obj: Any) -> PaperRecord:
    """A line of Paperwire's import JSONL (docs/import.md, "Import JSONL")."""
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
        except Exception:  # SyntaxError, ValueError, TypeError ({[]: 1}), MemoryError, RecursionError
            raise BadRecord("item is a string that is not a Python literal") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("paper"), dict):
        raise BadRecord("expected an object with a 'paper' object")
    paper = obj["paper"]
    authors = paper.get("authors") or []
    if not isinstance(authors, list) or not all(isinstance(a, dict) for a in authors):
        raise BadRecord("paper.authors must be a list of objects")
    names = []
    for index, author in enumerate(authors):
        name = author.get("name")
        if name is not None and not isinstance(name, str):
            raise BadRecord(f"paper.authors[{index}].name must be a string")
        if name and (name := clean_name(name)):
            names.append(name)
    github = clean_text(paper.get("githubRepo"), "githubRepo")
    submitted_by = submitter(paper.get("submittedOnDailyBy") or obj.get("submittedBy"), "submittedOnDailyBy")
    user = (submitted_by or {}).get("user")
    return PaperRecord(
        id=paper_id(paper.get("id")),
        title=clean_text(paper.get("title") or obj.get("title"), "title", required=True),
        abstract=unwrap_abstract(clean_text(paper.get("summary") or obj.get("summary"), "abstract", required=True)),
        authors=names,
        published_at=to_datetime(paper.get("publishedAt"), "paper.publishedAt"),
        # The day an item belongs to is that of submittedOnDailyAt, else of the item's publishedAt.
        submitted_on_daily_at=to_datetime(
            paper.get("submittedOnDailyAt") or obj.get("publishedAt"), "submittedOnDailyAt"
        ),
        upvotes=to_int(paper.get("upvotes"), "upvotes"),
        organization=organization_record(paper.get("organization") or obj.get("organization")),
        code_urls=[github] if github else [],
        github_stars=to_int(paper.get("githubStars"), "githubStars") if paper.get("githubStars") is not None else None,
        project_page=clean_text(paper.get("projectPage"), "projectPage"),
        ai_summary=clean_text(paper.get("ai_summary"), "ai_summary"),
        ai_keywords=string_list(paper.get("ai_keywords"), "ai_keywords"),
        num_comments=to_int(obj.get("numComments"), "numComments"),
        submitter_name=clean_name(user or ""),
        hf_submitter=submitted_by,
    )


def from_kaggle(obj: Any) -> PaperRecord:
    """A line of the Kaggle arXiv metadata snapshot (``arxiv-metadata-oai-snapshot.json``)."""
    if not isinstance(obj, dict):
        raise BadRecord("expected a JSON object")
    parsed = obj.get("authors_parsed")
    if parsed:
        if not isinstance(parsed, list) or not all(
            isinstance(p, list) and all(isinstance(part, str) for part in p) for p in parsed
        ):
            raise BadRecord("authors_parsed must be a list of [last, first, suffix] strings")
        authors = [clean_name(" ".join(part for part in (p[1:2] + p[0:1] + p[2:3]) if part)) for p in parsed]
    else:
        text = clean_text(obj.get("authors"), "authors")
        authors = [clean_name(a) for a in text.replace(" and ", ", ").split(",")]
    published_at = None
    versions = obj.get("versions")
    if isinstance(versions, list) and versions and isinstance(versions[0], dict) and versions[0].get("created"):
        created = versions[0]["created"]
        if not isinstance(created, str):
            raise BadRecord("versions[0].created must be a date string")
        try:
            moment = email.utils.parsedate_to_datetime(created)
        except (TypeError, ValueError, IndexError, OverflowError):
            raise BadRecord(f"invalid versions[0].created {created[:40]!r}") from None
        published_at = in_utc(moment, "versions[0].created", created)
    if published_at is None:
        published_at = to_datetime(obj.get("update_date"), "update_date")
    categories = obj.get("categories")
    return PaperRecord(
        id=paper_id(obj.get("id")),
        title=clean_text(obj.get("title"), "title", required=True),
        abstract=unwrap_abstract(clean_text(obj.get("abstract"), "abstract", required=True)),
        authors=[a for a in authors if a],
        categories=(
            clean_name(categories).split() if isinstance(categories, str) else string_list(categories, "categories")
        ),
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
    unread: bool = False  # not even read as JSON: the record it held is unknown


def to_item(where: str, mapper: Callable[[Any], PaperRecord], obj: Any) -> Item:
    """The record ``mapper`` makes of ``obj``, checked; whatever goes wrong costs this record only."""
    try:
        record = check_record(mapper(obj))
    except BadRecord as error:
        return Item(where, error=str(error))
    except RecursionError:
        return Item(where, error="nested too deeply")
    except Exception as error:
        # A case no check foresaw (a bug): name it, keep going; the traceback is logged at DEBUG.
        logger.debug("%s: unexpected error reading the record", where, exc_info=True)
        return Item(where, error=f"unexpected error reading the record: {type(error).__name__}: {error}"[:300])
    record.where = where
    return Item(where, record=record)


def open_binary(path: Path) -> tuple[BinaryIO, BinaryIO]:
    """(raw file, decompressed stream); gzip is recognised by its magic bytes. Opened without
    waiting: a named pipe no process writes to would block a plain open() for ever."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as error:
        raise UnreadableFile(f"{path}: {error.strerror or error}") from None
    mode = os.fstat(descriptor).st_mode
    if stat.S_ISDIR(mode):
        os.close(descriptor)
        raise UnreadableFile(f"{path}: Is a directory")
    if not stat.S_ISREG(mode):  # a pipe, a socket, a terminal: its format is told by reading it
        os.close(descriptor)
        raise UnreadableFile(f"{path}: not a regular file (a pipe or a device): save it to a file first")
    os.set_blocking(descriptor, True)
    raw = os.fdopen(descriptor, "rb")  # closed by the caller
    try:
        if raw.read(2) == b"\x1f\x8b":
            raw.seek(0)
            return raw, gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
        raw.seek(0)
    except OSError as error:
        raw.close()
        raise UnreadableFile(f"{path}: {error.strerror or error}") from None
    except UnreadableFile:
        raw.close()
        raise
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
        obj = DECODER.decode(first_line)
    except (ValueError, RecursionError):
        return "hf-daily"  # a pretty-printed object, like {"status", "data": [...]}
    if not isinstance(obj, dict):
        raise UnreadableFile("not an import file")
    if "paper" in obj or isinstance(obj.get("data"), list):
        return "hf-daily"
    if "authors_parsed" in obj or "versions" in obj or "update_date" in obj:
        return "kaggle"
    return "jsonl"


def bounded_lines(stream: BinaryIO, first_number: int = 1) -> Iterator[tuple[int, bytes | None]]:
    """(number, line) for every line of ``stream``; the line is None when it is longer than
    MAX_RECORD_BYTES: it is skipped in pieces, never held whole."""
    number = first_number - 1
    while line := stream.readline(MAX_RECORD_BYTES + 1):
        number += 1
        if len(line) > MAX_RECORD_BYTES and not line.endswith(b"\n"):
            skip_line(stream)
            yield number, None
        else:
            yield number, line


def skip_line(stream: BinaryIO) -> None:
    while (piece := stream.readline(1 << 16)) and not piece.endswith(b"\n"):
        pass


def read_lines(
    lines: Iterable[tuple[int, bytes | None]], label: str, mapper: Callable[[Any], PaperRecord]
) -> Iterator[Item]:
    for number, raw_line in lines:
        where = f"{label}:{number}"
        if raw_line is None:
            yield Item(where, error=TOO_LONG_LINE)
            continue
        if not raw_line.strip():
            continue
        try:
            obj = DECODER.decode(raw_line.decode("utf-8-sig" if number == 1 else "utf-8"))
        except UnicodeDecodeError:
            yield Item(where, error="not UTF-8")
        except json.JSONDecodeError as error:
            yield Item(where, error=f"invalid JSON: {error.msg}")
        except RecursionError:
            yield Item(where, error="JSON nested too deeply")
        else:
            yield to_item(where, mapper, obj)


def read_hf_document(stream: BinaryIO, label: str) -> Iterator[Item]:
    """A whole ``/api/daily_papers`` response: a list, or an object wrapping it in ``data``.

    Items are decoded one at a time so that a bad item is named by its line and the
    others are kept.
    """
    try:
        data = stream.read(MAX_DOCUMENT_BYTES + 1)
        if len(data) > MAX_DOCUMENT_BYTES:
            raise UnreadableFile(
                f"a JSON document larger than {MAX_DOCUMENT_BYTES >> 20} MiB: split it, or write one item a line"
            )
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnreadableFile("not UTF-8 text") from None
    except (OSError, EOFError) as error:
        raise UnreadableFile(f"cannot read: {error}") from None
    del data
    decoder = DECODER
    start = len(text) - len(text.lstrip())
    if text[start : start + 1] == "{":
        try:
            wrapper, _ = decoder.raw_decode(text, start)
        except (json.JSONDecodeError, RecursionError) as error:
            # A broken item inside the `data` list: read the list item by item, as a bare one.
            data = DATA_LIST.search(text, start)
            if data is None:
                if isinstance(error, RecursionError):
                    raise UnreadableFile("JSON nested too deeply") from None
                raise UnreadableFile(f"invalid JSON at line {error.lineno}: {error.msg}") from None
            start = data.end() - 1
        else:
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
            after = _skip_space(text, end)
            if after < len(text) and text[after] not in ",]":
                # A value then more before the separator (`{...}}`, `"{"'paper'...`): one broken item.
                raise json.JSONDecodeError("Expecting ',' delimiter", text, after)
        except (json.JSONDecodeError, RecursionError) as error:
            reason = error.msg if isinstance(error, json.JSONDecodeError) else "nested too deeply"
            if isinstance(error, json.JSONDecodeError) and error.lineno != line:
                reason += f" (line {error.lineno})"
            broken = f"invalid JSON: {reason}"
        else:
            broken = ""
        if broken:
            # Only this item is lost: the list goes on after it, if that place can be told.
            yield Item(where, error=broken, unread=True)
            end = next_item(text, position)
            if end is None:
                raise UnreadableFile(
                    f"the rest of the list could not be read: no item could be told apart after the"
                    f" broken one on line {line}"
                )
            line += text.count("\n", position, end)
            position = end
            continue
        if end - position > MAX_RECORD_BYTES:
            yield Item(where, error=TOO_LONG_ITEM)
        else:
            yield to_item(where, from_hf_item, obj)
        line += text.count("\n", position, end)
        position = end


# Where an item of a Hugging Face list starts: after a separator, Hugging Face writes each item's
# `paper` first, as an object or, in some archived responses, inside a Python-repr string.
ITEM_START = re.compile(r"""[\[,]\s*(?P<item>\{\s*"paper"\s*:|"\{'paper'\s*:)""")


def next_item(text: str, start: int) -> int | None:
    """Where the list goes on after the broken item starting at ``start``: the separator or
    closing bracket after it, or the start of the next item; None when that cannot be told.

    The broken item is walked bracket by bracket (strings skipped; a line break ends a runaway
    string, as JSON strings hold none) to the first `,` or `]` outside it. The next place Hugging
    Face starts an item (ITEM_START) wins when it comes first (a runaway string in a list on one
    line walks past it), when the walk finds no end (an item not closed), or when what follows
    that end is not a JSON value then a separator, unless it is another broken item that can be
    told apart (``_broken_item_follows``): that one is then named on its own, not skipped with
    this one. Else the walk goes on to the first end that is (junk between items, or items that
    do not start as Hugging Face's do).
    """
    end = _walk_item(text, start)
    found = ITEM_START.search(text, start)
    if found and (end is None or found.start("item") < end):
        return found.start("item")
    if end is not None and _broken_item_follows(text, end, found.start() if found else len(text)):
        return end  # the next item is broken too: it is named on its own, not skipped with this one
    if found and not _list_goes_on(text, end):
        return found.start("item")
    # No item starts as Hugging Face's do: walk on to a separator the list goes on after.
    while end is not None and not _list_goes_on(text, end):
        end = _walk_item(text, end + 1)
    return end


def _string_end(text: str, position: int) -> int:
    """Where the JSON string opening at ``position`` ends: its closing quote, a line break (a
    runaway string: JSON strings hold none) or the end of the text."""
    position += 1
    while position < len(text) and text[position] not in '"\n':
        position += 2 if text[position] == "\\" else 1
    return position


def _walk_item(text: str, start: int) -> int | None:
    depth, position, size = 0, start, len(text)
    while position < size:
        char = text[position]
        if char == '"':
            position = _string_end(text, position)
        elif char in "{[":
            depth += 1
        elif char in "}]":
            if depth == 0 and char == "]":
                return position
            depth = max(depth - 1, 0)
        elif char == "," and depth == 0:
            return position
        position += 1
    return None


def _broken_item_follows(text: str, end: int, limit: int) -> bool:
    """After the separator at ``end``, an item that is not JSON but is told apart all the same,
    ending at a separator before ``limit`` (where the next Hugging Face item starts): an object
    whose brackets close just before that separator, or one string (an item written as a repr)."""
    position = end
    while position < len(text) and text[position] in " \t\r\n,":
        position += 1
    if position >= limit or text[position] not in '{"':
        return False
    if text[position] == "{":
        after = _walk_item(text, position)
        if after is None or after > limit:
            return False
        before = after - 1
        while before > position and text[before] in " \t\r\n":
            before -= 1
        return text[before] == "}"
    position = _string_end(text, position)
    if position >= len(text) or text[position] != '"':
        return False
    after = _skip_space(text, position + 1)
    return after <= limit and after < len(text) and text[after] in ",]"


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def _list_goes_on(text: str, end: int) -> bool:
    """After the separator at ``end``: the list's end, or a JSON value followed by a separator."""
    position = end
    while position < len(text) and text[position] in " \t\r\n,":
        position += 1
    if position >= len(text):
        return False
    if text[position] == "]":
        return True
    try:
        _, after = DECODER.raw_decode(text, position)
    except (json.JSONDecodeError, RecursionError):
        return False
    after = _skip_space(text, after)
    return after < len(text) and text[after] in ",]"


class SourceFile:
    """An import file opened for streaming, with its format and a byte position for progress.

    The format is told from the first line. A first line longer than a record may be is a
    Hugging Face list if it starts with ``[``; otherwise it is rejected like any line too long,
    and the format is told from the next line.
    """

    def __init__(self, path: Path, fmt: str = "auto") -> None:
        self.path = path
        self.label = str(path)
        self.raw, self.stream = open_binary(path)
        try:
            self.size = path.stat().st_size
            # Lines read to tell the format are replayed by items().
            self.head: list[tuple[int, bytes | None]] = []
            self.document = b""  # the start of a whole JSON document, when the file is one
            self.format = self._read_head(fmt)
        except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as error:
            self.close()
            raise UnreadableFile(f"cannot read: {error}") from None
        except UnreadableFile:
            self.close()
            raise

    def _read_head(self, fmt: str) -> str:
        first = self.stream.readline(MAX_RECORD_BYTES + 1)
        if fmt == "auto" and not first.strip():
            raise UnreadableFile("empty file or blank first line")
        if fmt in ("auto", "hf-daily") and first.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"["):
            self.document = first
            return "hf-daily"
        if len(first) <= MAX_RECORD_BYTES or first.endswith(b"\n"):
            fmt = detect_format(first) if fmt == "auto" else fmt
            if fmt == "hf-daily" and _is_document(first):
                self.document = first
            else:
                self.head.append((1, first))
            return fmt
        if fmt == "hf-daily":  # an object on one long line: a wrapped response
            self.document = first
            return fmt
        skip_line(self.stream)
        self.head.append((1, None))
        if fmt != "auto":
            return fmt
        for number, line in bounded_lines(self.stream, first_number=2):
            self.head.append((number, line))
            if line is not None and line.strip():
                return detect_format(line)
        return "jsonl"  # nothing but the line too long: any line format reports it

    def position(self) -> int:
        try:
            return self.raw.tell()
        except (OSError, ValueError):
            return self.size

    def items(self) -> Iterator[Item]:
        try:
            if self.document:
                rest = self.stream.read(MAX_DOCUMENT_BYTES + 1 - len(self.document))
                yield from read_hf_document(io.BytesIO(self.document + rest), self.label)
            else:
                lines = itertools.chain(self.head, bounded_lines(self.stream, first_number=len(self.head) + 1))
                yield from read_lines(lines, self.label, LINE_MAPPERS[self.format])
        except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as error:
            raise UnreadableFile(f"cannot read past byte {self.position()}: {error}") from None

    def close(self) -> None:
        for stream in (self.stream, self.raw):
            try:
                stream.close()
            except OSError:
                pass


def _is_document(first_line: bytes) -> bool:
    """A whole JSON response rather than one Hugging Face item a line."""
    stripped = first_line.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"["):
        return True
    try:
        first = DECODER.decode(stripped.decode("utf-8"))
    except (ValueError, RecursionError):  # not JSON alone (a pretty-printed object), not UTF-8
        return True
    return not (isinstance(first, dict) and "paper" in first)


def items_from_bytes(body: bytes, label: str, fmt: str) -> Iterator[Item]:
    """Parse an in-memory response body (used by the live ingesters)."""
    stream = io.BytesIO(body)
    if fmt == "hf-daily":
        yield from read_hf_document(stream, label)
    else:
        yield from read_lines(bounded_lines(stream), label, LINE_MAPPERS[fmt])
