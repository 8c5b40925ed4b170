"""A property of `paperwire import`: arbitrary JSON values thrown into any field of any format,
among good records, never make the import raise; the good records are all stored with their
values; every record that is certainly bad is named by file:line with a reason; any other
record is either stored or named, never both and never neither; the count line adds up.

The run is bounded (fixed examples, derandomized) so that CI time stays predictable; it runs
on SQLite and, with DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, find, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from paperwire.ingest.importer import import_files
from paperwire.papers.models import Organization, Paper

pytestmark = pytest.mark.django_db


class Raw(str):
    """JSON text written as it is: json.dumps cannot write 1e400 or a 5,000-digit number."""


# What each raw token is in Python, for items written as Python reprs.
RAW_AS_PYTHON = {
    "1e400": math.inf,
    "-1e400": -math.inf,
    "1E+999": math.inf,
    "NaN": math.nan,
    "-Infinity": -math.inf,
    "-0.0": -0.0,
    "2147483648": 2**31,
    "1" + "0" * 30: 10**30,
    "1" + "0" * 5000: math.inf,
}


def has_surrogate(text: str) -> bool:
    return any(0xD800 <= ord(c) <= 0xDFFF for c in text)


def to_json(value: Any, pretty: bool = False, level: int = 0) -> str:
    """JSON text of ``value``, Raw tokens as they are; UTF-8 unless a lone surrogate needs an escape."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict | list) and value:
        pad = "\n" + "  " * (level + 1) if pretty else ""
        end = "\n" + "  " * level if pretty else ""
        if isinstance(value, dict):
            parts = [f"{pad}{to_json(k)}: {to_json(v, pretty, level + 1)}" for k, v in value.items()]
            return "{" + ",".join(parts) + end + "}"
        return "[" + ",".join(pad + to_json(v, pretty, level + 1) for v in value) + end + "]"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=has_surrogate(value))
    return json.dumps(value)


def as_python(value: Any) -> Any:
    if isinstance(value, Raw):
        return RAW_AS_PYTHON[str(value)]
    if isinstance(value, dict):
        return {k: as_python(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_python(v) for v in value]
    return value


# --- arbitrary JSON values -------------------------------------------------------------------

CHARACTERS = st.one_of(st.characters(), st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF))
NASTY_STRINGS = [
    "\ud800",
    "x\udfffy",
    "a\x00b",
    "\u202eevil",
    "😀",
    "",
    " ",
    "\n\t",
    "2410.10819V2",
    "arXiv:2410.10819V2",
    "９９０１.０００１",
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00+23:59",
    "2999-01-01",
    "1850-01-01",
    "Mon, 2 Apr 2999 19:18:42 GMT",
    "Mon, 2 Apr 2007 19:18:42 -0000",
    "1e400",
    "-5",
    "٣٤",
    "1" + "0" * 30,
    "trending",
    "lab.ai",
    "javascript:alert(1)",
    "{'paper': {}}",
]
LONG_STRINGS = st.builds(
    lambda ch, n: ch * n,
    st.sampled_from(["a", "é", "😀", " ", "\u202e"]),
    st.sampled_from([101, 201, 501, 1001, 10_001]),
)
STRINGS = st.one_of(st.text(CHARACTERS, max_size=20), st.sampled_from(NASTY_STRINGS), LONG_STRINGS)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**31 - 2, max_value=2**70),
    st.floats(),
    st.sampled_from([Raw(token) for token in RAW_AS_PYTHON]),
    STRINGS,
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(CHARACTERS, max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)

# Values certainly wrong for a kind of field (all truthy: a falsy value may mean "absent").
CERTAINLY_BAD = {
    "id": [5, ["2401.00001"], "bad id", "x\ud800", "trending", Raw("1e400"), True],
    "text": [5, ["x"], {"a": "b"}, "x\ud800", True, Raw("1e400")],
    "int": [Raw("1e400"), Raw("-1e400"), Raw("1" + "0" * 5000), 10**30, 2**31, -1, "many", 2.5, [1], {"a": 1}, True],
    "date": [
        "9999-12-31T23:59:59-23:59",
        "2999-01-01",
        "not a date",
        20240101,
        ["2024-01-01"],
        "1850-01-01",
        "x\udc00",
    ],
    "strlist": [5, [1, 2], [["a"]], {"a": 1}, ["\ud800"], True, ["ok", None]],
    "org": [
        5,
        ["x"],
        {"name": 5},
        {"name": " \x00 "},
        {"fullname": "The Lab"},
        True,
    ],
    "authors_parsed": [[[1, 2]], [5], [{"a": 1}], 5, "x", [["a", ["b"]]]],
    "hf_authors": [5, [5], [{"name": 5}], {"a": 1}, "x", [{"name": "\ud800"}]],
    "submitter": [5, ["x"], {"user": 5}, {"user": "u" * 101}, {"user": "ok", "isPro": [1]}, {"fullname": "x"}],
    "created": ["not a date", 5, "Mon, 2 Apr 2999 19:18:42 GMT", ["x"]],
}
SAFETY_NETS = ("the database refused it", "unexpected error")
TOO_LONG = {"title": 1_001, "abstract": 10_001, "comment": 2_001, "doi": 201, "ai_summary": 5_001, "url": 501}


# --- good records, format by format ----------------------------------------------------------

WORD = st.one_of(
    st.sampled_from(["attention", "is", "all", "you", "need", "LLM", "3D", "naïve", "модель", "注意力", "😀", "שלום"]),
    st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=8),
)
PHRASE = st.lists(WORD, min_size=1, max_size=6).map(" ".join)
NAME = st.lists(WORD, min_size=1, max_size=3).map(" ".join)
DAY = st.dates(min_value=dt.date(1995, 1, 1), max_value=dt.date(2025, 12, 31))
MOMENT = st.datetimes(min_value=dt.datetime(1995, 1, 1), max_value=dt.datetime(2025, 12, 31)).map(
    lambda d: d.replace(microsecond=0, tzinfo=dt.UTC)
)
ORG = st.sampled_from(["lab-a", "lab_b", "Lab3"])
URL = st.sampled_from(["https://github.com/a/b", "https://example.org/p?x=1", "http://lab.example/é"])


@dataclass
class Entry:
    """One record of a file: what is written, and what must come of it."""

    value: Any
    kind: str  # "good", "bad" (certainly rejected), "any" (stored or rejected), "broken" (not JSON)
    id: str = ""  # the stored id when it is known
    expected: dict = field(default_factory=dict)
    line: int = 0
    damage: str = ""  # how a "broken" item's text is damaged (DAMAGES)


def good_jsonl(draw, pid: str) -> Entry:
    title, abstract, authors = draw(PHRASE), draw(PHRASE), draw(st.lists(NAME, max_size=4))
    categories, day, upvotes = (
        draw(st.lists(st.sampled_from(["cs.CL", "cs.LG", "math.GT"]), max_size=2)),
        draw(DAY),
        draw(st.integers(0, 2**31 - 1)),
    )
    org, comment, doi, urls = (
        draw(st.none() | ORG),
        draw(PHRASE),
        draw(st.sampled_from(["", "10.1000/x.1"])),
        draw(st.lists(URL, max_size=2)),
    )
    value = {"id": pid, "title": title, "abstract": abstract, "authors": authors, "categories": categories}
    value.update(published=day.isoformat(), upvotes=upvotes, organization=org, comment=comment, doi=doi, code_urls=urls)
    expected = {"title": title, "abstract": abstract, "authors": authors, "categories": categories, "published": day}
    expected.update(base_upvotes=upvotes, organization=org, comment=comment, doi=doi, code_urls=urls)
    return Entry(value, "good", pid, expected)


def good_kaggle(draw, pid: str) -> Entry:
    title, abstract = draw(PHRASE), draw(PHRASE)
    people = draw(st.lists(st.tuples(WORD, WORD), min_size=1, max_size=4))
    created, categories, doi = (
        draw(MOMENT),
        draw(st.sampled_from(["hep-ph", "cs.CL cs.LG"])),
        draw(st.sampled_from([None, "10.1103/x"])),
    )
    value = {
        "id": pid,
        "submitter": draw(NAME),
        "authors": ", ".join(f"{first} {last}" for last, first in people),
        "title": title,
        "comments": None,
        "doi": doi,
        "categories": categories,
        "abstract": abstract,
        "versions": [{"version": "v1", "created": email.utils.format_datetime(created, usegmt=True)}],
        "update_date": "2008-11-13",
        "authors_parsed": [[last, first, ""] for last, first in people],
    }
    expected = {"title": title, "abstract": abstract, "authors": [f"{first} {last}" for last, first in people]}
    expected.update(categories=categories.split(), published=created.date(), doi=doi or "")
    return Entry(value, "good", pid, expected)


def good_hf(draw, pid: str) -> Entry:
    title, abstract, authors = draw(PHRASE), draw(PHRASE), draw(st.lists(NAME, max_size=4))
    published, submitted = draw(MOMENT), draw(MOMENT)
    upvotes, stars, comments = (
        draw(st.integers(0, 10**6)),
        draw(st.none() | st.integers(0, 10**6)),
        draw(st.integers(0, 999)),
    )
    org, repo, page, summary = (
        draw(st.none() | ORG),
        draw(st.none() | URL),
        draw(st.sampled_from(["", "https://p.example"])),
        draw(PHRASE),
    )
    keywords, user = draw(st.lists(WORD, max_size=3)), draw(st.sampled_from(["ada", "bob-2", "Ünïcode"]))
    paper = {
        "id": pid,
        "authors": [{"_id": f"a{n}", "name": name, "hidden": False} for n, name in enumerate(authors)],
        "publishedAt": published.isoformat().replace("+00:00", ".000Z"),
        "submittedOnDailyAt": submitted.isoformat(),
        "title": title,
        "summary": abstract,
        "upvotes": upvotes,
        "githubRepo": repo,
        "githubStars": stars,
        "projectPage": page,
        "ai_summary": summary,
        "ai_keywords": keywords,
        "submittedOnDailyBy": {"_id": "u1", "user": user, "fullname": user.title(), "isPro": False},
        "organization": {"_id": f"id-{org}", "name": org, "fullname": org.upper(), "avatar": ""} if org else None,
    }
    value = {"paper": paper, "publishedAt": published.isoformat(), "title": title, "numComments": comments}
    expected = {
        "title": title,
        "abstract": abstract,
        "authors": authors,
        "base_upvotes": upvotes,
        "github_stars": stars,
    }
    expected.update(project_page=page, code_urls=[repo] if repo else [], ai_summary=summary, ai_keywords=keywords)
    expected.update(num_comments=comments, submitter_name=user, daily_date=submitted.date(), organization=org)
    return Entry(value, "good", pid, expected)


# Where a value may be thrown, and the kind of field it is (None: no oracle, stored or rejected).
JSONL_FIELDS = {
    ("id",): "id",
    ("title",): "text",
    ("abstract",): "text",
    ("comment",): "text",
    ("doi",): "text",
    ("authors",): "strlist",
    ("categories",): "strlist",
    ("code_urls",): "strlist",
    ("published",): "date",
    ("submitted_at",): "date",
    ("upvotes",): "int",
    ("organization",): "org",
    ("extra",): None,
}
KAGGLE_FIELDS = {
    ("id",): "id",
    ("title",): "text",
    ("abstract",): "text",
    ("comments",): "text",
    ("doi",): "text",
    ("categories",): None,
    ("authors_parsed",): "authors_parsed",
    ("authors",): None,
    ("versions",): None,
    ("versions", 0, "created"): "created",
    ("update_date",): None,
    ("submitter",): None,
}
HF_FIELDS = {
    ("paper", "id"): "id",
    ("paper", "title"): "text",
    ("paper", "summary"): "text",
    ("paper", "authors"): "hf_authors",
    ("paper", "authors", 0, "name"): None,
    ("paper", "publishedAt"): "date",
    ("paper", "submittedOnDailyAt"): "date",
    ("paper", "upvotes"): "int",
    ("paper", "githubRepo"): "text",
    ("paper", "githubStars"): "int",
    ("paper", "projectPage"): "text",
    ("paper", "ai_summary"): "text",
    ("paper", "ai_keywords"): "strlist",
    ("paper", "submittedOnDailyBy"): "submitter",
    ("paper", "organization"): "org",
    ("paper",): None,
    ("numComments",): "int",
    ("title",): None,
    ("publishedAt",): None,
    ("organization",): None,
}
TOO_LONG_FIELDS = {
    ("title",): "title",
    ("abstract",): "abstract",
    ("comment",): "comment",
    ("comments",): "comment",
    ("doi",): "doi",
    ("paper", "title"): "title",
    ("paper", "summary"): "abstract",
    ("paper", "ai_summary"): "ai_summary",
    ("paper", "projectPage"): "url",
    ("paper", "githubRepo"): "url",
}
FORMATS = {
    "jsonl": (good_jsonl, JSONL_FIELDS, "2301"),
    "kaggle": (good_kaggle, KAGGLE_FIELDS, "2302"),
    "hf-lines": (good_hf, HF_FIELDS, "2303"),
    "hf-list": (good_hf, HF_FIELDS, "2304"),
}


def put(value: Any, path: tuple, new: Any) -> Any:
    """``value`` with ``new`` at ``path`` (a copy); a path that is not there is created."""
    value = json.loads(json.dumps(value))
    target = value
    for step in path[:-1]:
        if isinstance(target, list) and len(target) <= step:
            target.append({})
        target = target[step]
    if new is DELETE:
        target.pop(path[-1], None)
    else:
        target[path[-1]] = new
    return value


DELETE = object()


@st.composite
def entries_of(draw, fmt: str) -> list[Entry]:
    make_good, fields, prefix = FORMATS[fmt]
    count = draw(st.integers(2, 7))
    entries = []
    for n in range(1, count + 1):
        pid = f"{prefix}.{n:05d}"
        good = make_good(draw, pid)
        # The first line tells the format: it is always good.
        kinds = ["good", "bad", "any", "any"] + (["broken"] if fmt == "hf-list" else [])
        kind = "good" if n == 1 or entries[-1].damage == "cut" else draw(st.sampled_from(kinds))
        if kind == "broken":
            # An item whose text is not JSON; a cut one runs into the next item, which is good
            # (what follows a cut item is found where Hugging Face starts an item), and is not last.
            damage = draw(st.sampled_from(sorted(DAMAGES)))
            if damage == "cut" and n == count:
                damage = "junk"
            entries.append(Entry(good.value, "broken", good.id, damage=damage))
            continue
        if kind == "good":
            entries.append(good)
            continue
        whole = draw(st.integers(0, 9)) == 0
        if whole:
            bad = draw(st.sampled_from([5, [1], None, "x", {}]))
            entries.append(Entry(bad, "bad") if kind == "bad" else Entry(draw(JSON_VALUES), "any"))
            continue
        if kind == "bad":
            path = draw(st.sampled_from(sorted((p for p, k in fields.items() if k), key=str)))
            candidates = list(CERTAINLY_BAD[fields[path]])
            if path in TOO_LONG_FIELDS:
                candidates.append("x" * TOO_LONG[TOO_LONG_FIELDS[path]])
            value = put(good.value, path, draw(st.sampled_from(candidates)))
            keeps_id = fields[path] != "id"
            entries.append(Entry(value, "bad", pid if keeps_id else ""))
            continue
        path = draw(st.sampled_from(sorted(fields, key=str)))
        new = draw(st.one_of(JSON_VALUES, st.just(DELETE)))
        keeps_id = fields[path] != "id" and path != ("paper",)
        if not keeps_id and isinstance(new, str):
            assume(not any(f"{p}." in new for p in ("2301", "2302", "2303", "2304")))
        entries.append(Entry(put(good.value, path, new), "any", pid if keeps_id else ""))
    return entries


def write_lines(path: Path, entries: list[Entry]) -> None:
    for number, entry in enumerate(entries, start=1):
        entry.line = number
    path.write_text("".join(to_json(e.value) + "\n" for e in entries))


def damage_junk(text: str) -> str:
    """`undefined` inside the item (an escape JSON has not, for an item written as a string)."""
    return text[0] + ("\\u{undefined}" if text.startswith('"') else "undefined, ") + text[1:]


def damage_cut(text: str) -> str:
    """The item's last `}` (or closing quote) lost."""
    return text[:-1]


def damage_quote(text: str) -> str:
    """A quote not escaped, inside the item's first string value (or its repr)."""
    middle = text.index("'", 2) if text.startswith('"') else text.index(': "') + 3
    return text[:middle] + '"' + text[middle:]


DAMAGES = {"junk": damage_junk, "cut": damage_cut, "quote": damage_quote}


def write_list(path: Path, entries: list[Entry], wrapped: bool, reprs: bool) -> None:
    head = '{"status": "success", "date": "2025-07-22", "data": [\n' if wrapped else "[\n"
    texts = [json.dumps(repr(as_python(e.value))) if reprs else to_json(e.value, pretty=True, level=1) for e in entries]
    texts = [DAMAGES[e.damage](text) if e.damage else text for e, text in zip(entries, texts, strict=True)]
    line = 2
    for entry, text in zip(entries, texts, strict=True):
        entry.line = line
        line += text.count("\n") + 1
    path.write_text(head + ",\n".join("  " + t for t in texts) + "\n]" + ("}" if wrapped else "") + "\n")


def write_files(folder: Path, files: dict[str, list[Entry]], wrapped: bool, reprs: bool) -> dict[str, Path]:
    """Each format's entries in a file of its own, in ``folder``; the paths by format."""
    paths = {fmt: folder / f"{fmt}.json" for fmt in files}
    for fmt, entries in files.items():
        if fmt == "hf-list":
            write_list(paths[fmt], entries, wrapped, reprs)
        else:
            write_lines(paths[fmt], entries)
    return paths


def bounded(examples: int):
    """Hypothesis settings of a bounded, reproducible run (CI time stays predictable)."""
    return hypothesis_settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@bounded(40)
@given(
    files=st.fixed_dictionaries({fmt: entries_of(fmt) for fmt in FORMATS}),
    wrapped=st.booleans(),
    reprs=st.booleans(),
)
def test_arbitrary_values_in_every_field_of_every_format(files, wrapped, reprs):
    Paper.objects.all().delete()
    Organization.objects.all().delete()
    with tempfile.TemporaryDirectory() as folder:
        paths = write_files(Path(folder), files, wrapped, reprs)
        report = import_files(list(paths.values()), progress=False)  # must not raise

    named = {where: reason for where, reason in report.rejected}
    assert len(named) == report.rejected_count == len(report.rejected), report.rejected
    assert not report.unreadable, report.rejected
    stored = Paper.objects.select_related("organization").in_bulk()
    for fmt, entries in files.items():
        for entry in entries:
            where = f"{paths[fmt]}:{entry.line}"
            if entry.kind == "good":
                assert where not in named, (fmt, entry.value, named.get(where))
                paper = stored[entry.id]
                for name, value in entry.expected.items():
                    got = (
                        paper.organization.name
                        if name == "organization" and paper.organization
                        else getattr(paper, name)
                    )
                    assert got == value, (fmt, name, entry.value)
            elif entry.kind == "bad":
                assert named.get(where), (fmt, "not rejected", entry.value)
                assert entry.id not in stored
            elif entry.kind == "broken":
                assert named.get(where, "").startswith("invalid JSON"), (fmt, entry.damage, named.get(where))
                assert entry.id not in stored
            elif entry.id:
                assert (where in named) != (entry.id in stored), (fmt, entry.value, named.get(where))
    # Each name is the line a record starts on: a broken item costs one rejection, not more.
    lines = {f"{paths[fmt]}:{entry.line}" for fmt, entries in files.items() for entry in entries}
    assert set(named) <= lines, sorted(set(named) - lines)
    for where, reason in named.items():
        # The checks know every case: the database's refusal and the catch-all are safety nets.
        assert reason.strip() and not reason.startswith(SAFETY_NETS), (where, reason)
    assert report.summary() == f"imported {len(stored)} new, 0 updated, {report.rejected_count} rejected"


_MINIMAL: dict[str, Any] = {}


def minimal(strategy: st.SearchStrategy) -> Any:
    """The simplest value of ``strategy``: deterministic good records."""
    key = repr(strategy)
    if key not in _MINIMAL:
        _MINIMAL[key] = find(strategy, lambda _: True, settings=hypothesis_settings(database=None))
    return _MINIMAL[key]


def every_certainly_bad_entry(fmt: str) -> list[Entry]:
    """A good record, then each certainly-bad value in each field, each followed by a good record."""
    make_good, fields, prefix = FORMATS[fmt]
    ids = (f"{prefix}.{n:05d}" for n in range(1, 100_000))
    entries = [make_good(minimal, next(ids))]
    for path, kind in sorted(fields.items(), key=str):
        if kind is None:
            continue
        values = list(CERTAINLY_BAD[kind])
        if path in TOO_LONG_FIELDS:
            values.append("x" * TOO_LONG[TOO_LONG_FIELDS[path]])
        for value in values:
            good = make_good(minimal, next(ids))
            entries.append(Entry(put(good.value, path, value), "bad", good.id if kind != "id" else ""))
            entries.append(make_good(minimal, next(ids)))
    return entries


def test_every_certainly_bad_value_in_every_field_of_every_format(tmp_path):
    """The finite part of the property, exhaustively: each certainly-bad value in each field."""
    all_entries = {fmt: every_certainly_bad_entry(fmt) for fmt in FORMATS}
    paths = write_files(tmp_path, all_entries, wrapped=False, reprs=False)
    report = import_files(list(paths.values()), progress=False)
    named = dict(report.rejected)
    stored = Paper.objects.in_bulk()
    for fmt, entries in all_entries.items():
        for entry in entries:
            where = f"{paths[fmt]}:{entry.line}"
            if entry.kind == "good":
                assert where not in named and entry.id in stored, (fmt, named.get(where))
            else:
                assert named.get(where, "").strip(), (fmt, "not rejected", entry.value)
                assert not named[where].startswith(SAFETY_NETS), (fmt, named[where], entry.value)
                assert entry.id not in stored
    assert report.summary() == f"imported {len(stored)} new, 0 updated, {len(named)} rejected"
