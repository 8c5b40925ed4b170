"""One bad value costs one record: it is rejected by file:line with a reason, and the records
around it are kept. Every field is bounded by what the database and the pages can hold."""

import datetime as dt
import json
import sqlite3
import subprocess
import sys

import pytest
import time_machine
from django.db import connection

from paperwire.ingest.importer import import_files
from paperwire.ingest.records import OrganizationRecord, PaperRecord
from paperwire.ingest.upsert import Upserter
from paperwire.papers.models import Organization, Paper
from tests.conftest import PINNED_NOW, ROOT, paper, paperwire_env, run_paperwire, write_jsonl

KAGGLE = {
    "id": "0704.0001",
    "title": "Calculation of prompt diphoton production cross sections",
    "abstract": "A fully differential calculation in perturbative quantum chromodynamics.",
    "authors": "C. Balazs, E. L. Berger",
    "authors_parsed": [["Balazs", "C.", ""], ["Berger", "E. L.", ""]],
    "categories": "hep-ph",
    "versions": [{"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"}],
    "update_date": "2008-11-13",
}


def jsonl_line(n: int) -> str:
    return json.dumps(paper(f"2401.{n:05d}", f"Paper number {n}", published="2024-01-15", upvotes=n))


def kaggle_line(n: int) -> str:
    return json.dumps(dict(KAGGLE, id=f"0704.{n:04d}", title=f"Paper number {n}"))


# The values of the issue, as raw JSON text (json.dumps cannot write 1e400) on line 1,501.
BAD_LINES = {
    "upvotes-1e400": (
        jsonl_line,
        '{"id": "2401.01501", "title": "T", "abstract": "A", "upvotes": 1e400}',
        "upvotes is out of range",
    ),
    "upvotes-10**30": (
        jsonl_line,
        json.dumps(paper("2401.01501", upvotes=10**30)),
        "upvotes is larger than 2,147,483,647",
    ),
    "lone-surrogate-title": (
        jsonl_line,
        '{"id": "2401.01501", "title": "\\ud800", "abstract": "A"}',
        "title is not valid Unicode (a lone surrogate)",
    ),
    "published-overflows": (
        jsonl_line,
        json.dumps(paper("2401.01501", published="9999-12-31T23:59:59-23:59")),
        "published '9999-12-31T23:59:59-23:59' is out of range",
    ),
    "kaggle-authors_parsed": (
        kaggle_line,
        json.dumps(dict(KAGGLE, id="0704.1501", authors_parsed=[[1, 2]])),
        "authors_parsed must be a list of [last, first, suffix] strings",
    ),
}


def count_papers(home, database: dict) -> int:
    if "DATABASE_URL" in database:
        import psycopg

        with psycopg.connect(database["DATABASE_URL"]) as db:
            return db.execute("select count(*) from papers_paper").fetchone()[0]
    return sqlite3.connect(home / "paperwire.sqlite3").execute("select count(*) from papers_paper").fetchone()[0]


@pytest.mark.parametrize("case", BAD_LINES)
def test_one_bad_value_on_line_1501_costs_that_record_only(tmp_path, database, case):
    good_line, bad_line, reason = BAD_LINES[case]
    lines = [bad_line if n == 1501 else good_line(n) for n in range(1, 3001)]
    path = tmp_path / "papers.jsonl"
    path.write_text("\n".join(lines) + "\n")
    home = tmp_path / "home"
    result = run_paperwire("import", "--no-index", str(path), env=paperwire_env(home, **database))
    assert "Traceback" not in result.stderr
    assert result.stdout.strip() == "imported 2999 new, 0 updated, 1 rejected"
    assert result.stderr.strip() == f"rejected {path}:1501: {reason}"
    # Some records rejected, every file read: the command succeeded (docs/cli.md).
    assert result.returncode == 0
    assert count_papers(home, database) == 2999


# In-process tests run on the suite's database (SQLite, or PostgreSQL with DATABASE_URL).


def import_lines(tmp_path, lines: list, name: str = "papers.jsonl"):
    path = write_jsonl(tmp_path / name, lines)
    return path, import_files([path], progress=False)


@pytest.mark.django_db
def test_a_12_mb_abstract_is_rejected_and_its_neighbours_kept(tmp_path):
    huge = paper("2401.00002", abstract="word " * 2_400_000)
    path, report = import_lines(tmp_path, [paper("2401.00001"), huge, paper("2401.00003")])
    assert report.summary() == "imported 2 new, 0 updated, 1 rejected"
    # Longer than a line may be: skipped unread.
    assert report.rejected == [(f"{path}:2", "line longer than 1 MiB (1,048,576 bytes)")]
    assert set(Paper.objects.values_list("pk", flat=True)) == {"2401.00001", "2401.00003"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"abstract": "a" * 10_001}, "abstract is 10,001 characters long, more than 10,000"),
        ({"title": "t" * 1_001}, "title is 1,001 characters long, more than 1,000"),
        ({"comment": "c" * 2_001}, "comment is 2,001 characters long, more than 2,000"),
        ({"doi": "10.1/" + "d" * 300}, "doi is 305 characters long, more than 200"),
        ({"authors": ["Ada"] * 10_001}, "authors has 10,001 entries, more than 10,000"),
        ({"authors": ["A" * 1_001]}, "authors[0] is 1,001 characters long, more than 1,000"),
        ({"categories": ["cs.CL"] * 51}, "categories has 51 entries, more than 50"),
        ({"code_urls": ["https://github.com/" + "x" * 500]}, "code_urls[0] is 519 characters long, more than 500"),
        ({"upvotes": 2**31}, "upvotes is larger than 2,147,483,647"),
        ({"upvotes": -1}, "upvotes must not be negative"),
        ({"upvotes": 2.5}, "upvotes must be an integer"),
        ({"upvotes": "1" + "0" * 5000}, "upvotes is larger than 2,147,483,647"),
        ({"upvotes": "many"}, "upvotes must be an integer"),
        ({"authors": ["Ada", 7]}, "authors must be a list of strings"),
        ({"title": "\ud83d"}, "title is not valid Unicode (a lone surrogate)"),
        ({"authors": ["ok", "\udfff"]}, "authors[1] is not valid Unicode (a lone surrogate)"),
    ],
)
def test_every_field_is_bounded(tmp_path, fields, reason):
    path, report = import_lines(tmp_path, [paper("2401.00001"), paper("2401.00002", **fields), paper("2401.00003")])
    assert report.rejected == [(f"{path}:2", reason)]
    assert report.summary() == "imported 2 new, 0 updated, 1 rejected"


@pytest.mark.django_db
def test_a_giant_integer_is_a_rejection_not_a_crash(tmp_path):
    # More digits than Python converts by default (4,300): json.loads raises ValueError.
    path = tmp_path / "p.jsonl"
    path.write_text(
        "\n".join(
            [
                jsonl_line(1),
                '{"id": "2401.00002", "title": "T", "abstract": "A", "upvotes": 1' + "0" * 5000 + "}",
                jsonl_line(3),
            ]
        )
    )
    report = import_files([path], progress=False)
    assert report.rejected == [(f"{path}:2", "upvotes is out of range")]
    assert Paper.objects.count() == 2


@pytest.mark.django_db
def test_nul_characters_are_removed_everywhere(tmp_path):
    record = paper(
        "2401.00001",
        "Ti\x00tle",
        authors=["Ada\x00 Lovelace"],
        categories=["cs\x00.CL"],
        comment="c\x00",
        organization={"name": "lab", "fullname": "The\x00 Lab"},
    )
    _, report = import_lines(tmp_path, [record])
    assert report.summary() == "imported 1 new, 0 updated, 0 rejected"
    stored = Paper.objects.get()
    assert (stored.title, stored.authors, stored.categories, stored.comment) == (
        "Title",
        ["Ada Lovelace"],
        ["cs.CL"],
        "c",
    )
    assert stored.organization.fullname == "The Lab"


@pytest.mark.django_db
@time_machine.travel(PINNED_NOW, tick=False)  # 2025-07-22 12:00 UTC
def test_a_date_in_the_future_is_rejected(tmp_path):
    path, report = import_lines(
        tmp_path,
        [
            paper("2401.00001", published="2025-07-24"),  # within the two days of slack
            paper("2401.00002", published="2025-07-25"),
            paper("2401.00003", submitted_at="2999-01-01T00:00:00Z"),
            paper("2401.00004", published="1899-12-31"),
        ],
    )
    assert report.rejected == [
        (f"{path}:2", "published '2025-07-25' is in the future (after 2025-07-24 12:00 UTC)"),
        (f"{path}:3", "submitted_at '2999-01-01T00:00:00Z' is in the future (after 2025-07-24 12:00 UTC)"),
        (f"{path}:4", "published '1899-12-31' is before 1900-01-01"),
    ]
    assert Paper.objects.get().published == dt.date(2025, 7, 24)


@pytest.mark.django_db
@time_machine.travel(PINNED_NOW, tick=False)
def test_kaggle_dates_are_bounded_and_never_naive(tmp_path):
    future = dict(KAGGLE, id="0704.0002", versions=[{"version": "v1", "created": "Mon, 2 Apr 2999 19:18:42 GMT"}])
    no_zone = dict(KAGGLE, id="0704.0003", versions=[{"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 -0000"}])
    not_text = dict(KAGGLE, id="0704.0004", versions=[{"version": "v1", "created": ["x"]}])
    path, report = import_lines(tmp_path, [KAGGLE, future, no_zone, not_text], "snapshot.json")
    assert report.rejected == [
        (
            f"{path}:2",
            "versions[0].created 'Mon, 2 Apr 2999 19:18:42 GMT' is in the future (after 2025-07-24 12:00 UTC)",
        ),
        (f"{path}:4", "versions[0].created must be a date string"),
    ]
    assert Paper.objects.get(pk="0704.0003").published_at == dt.datetime(2007, 4, 2, 19, 18, 42, tzinfo=dt.UTC)


@pytest.mark.django_db
def test_capital_v_versions_fold_into_one_paper(tmp_path):
    _, report = import_lines(
        tmp_path, [paper("2410.10819", upvotes=1), paper("2410.10819V2", upvotes=4), paper("arXiv:2410.10819V3")]
    )
    assert report.summary() == "imported 1 new, 0 updated, 0 rejected"
    assert Paper.objects.get().pk == "2410.10819" and Paper.objects.get().upvotes == 4


HF_ITEM = {
    "paper": {
        "id": "2507.00001",
        "title": "A paper",
        "summary": "An abstract.",
        "authors": [{"name": "Ada"}],
        "upvotes": 1,
        "submittedOnDailyBy": {"user": "ada", "fullname": "Ada"},
    },
    "publishedAt": "2025-07-01T00:00:00.000Z",
}


def hf_item(n: int, **paper_fields) -> dict:
    return dict(HF_ITEM, paper=dict(HF_ITEM["paper"], id=f"2507.{n:05d}", **paper_fields))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("item", "reason"),
    [
        (
            hf_item(2, projectPage="https://example.org/" + "p" * 500),
            "project_page is 520 characters long, more than 500",
        ),
        (
            hf_item(2, submittedOnDailyBy={"user": "u" * 101}),
            "submittedOnDailyBy.user is 101 characters long, more than 100",
        ),
        (
            hf_item(2, submittedOnDailyBy={"user": "ada", "fullname": {"nested": 1}}),
            "submittedOnDailyBy.fullname must be a string",
        ),
        (hf_item(2, githubStars=float("inf")), "githubStars is out of range"),
        (hf_item(2, authors=[{"name": 5}]), "paper.authors[0].name must be a string"),
        (
            repr({"paper": {"id": "2507.00002", "title": "T", "summary": "S", "authors": {1: 2}}}),
            "paper.authors must be a list of objects",
        ),
        (
            repr({"paper": {"id": "2507.00002", "title": "T", "summary": "S", "authors": [{"name": b"Ada"}]}}),
            "paper.authors[0].name must be a string",
        ),
        ("{[]: 1}", "item is a string that is not a Python literal"),
    ],
)
def test_hugging_face_items_are_bounded_too(tmp_path, item, reason):
    path = tmp_path / "day.json"
    path.write_text("[\n" + ",\n".join(json.dumps(i) for i in [hf_item(1), item, hf_item(3)]) + "\n]\n")
    report = import_files([path], progress=False)
    assert report.rejected == [(f"{path}:3", reason)]
    assert set(Paper.objects.values_list("pk", flat=True)) == {"2507.00001", "2507.00003"}


@pytest.mark.django_db
def test_a_record_the_database_refuses_is_rejected_alone_not_its_batch():
    """The safety net behind the validator: a record that slipped past it (built by hand here)."""
    rejected = []
    upserter = Upserter(on_reject=lambda where, reason: rejected.append((where, reason)))
    for n in range(1, 1001):
        record = PaperRecord(id=f"2401.{n:05d}", title=f"Paper {n}", abstract="A.", where=f"file.jsonl:{n}")
        if n == 500:
            record.upvotes = 2**63  # too large for SQLite's and PostgreSQL's integers alike
        if n == 600 and connection.vendor == "postgresql":
            record.doi = "d" * 201  # character varying(200)
        upserter.add(record)
    upserter.flush()
    bad = ["file.jsonl:500", "file.jsonl:600"] if connection.vendor == "postgresql" else ["file.jsonl:500"]
    assert [where for where, _ in rejected] == bad
    assert all(reason.startswith("the database refused it: ") for _, reason in rejected)
    assert upserter.stats.new == 1000 - len(bad)
    assert Paper.objects.count() == 1000 - len(bad)


@pytest.mark.django_db
def test_an_organization_of_a_refused_record_is_not_left_behind():
    """The batch that failed is rolled back with the organizations it created; a later record of
    the same organization must not point at a row that no longer exists."""
    rejected = []
    upserter = Upserter(batch_size=2, on_reject=lambda where, reason: rejected.append(where))
    lab = OrganizationRecord(name="lab", fullname="The Lab")
    upserter.add(PaperRecord(id="2401.00001", title="T", abstract="A", organization=lab, where="f:1"))
    upserter.add(PaperRecord(id="2401.00002", title="T", abstract="A", upvotes=2**63, where="f:2"))
    upserter.add(PaperRecord(id="2401.00003", title="T", abstract="A", organization=lab, where="f:3"))
    upserter.flush()
    assert rejected == ["f:2"]
    assert Organization.objects.get().papers.count() == 2


# A line of 50 MB: refused without being read whole; memory stays flat.
MEASURE = (
    "import resource, subprocess, sys; result = subprocess.run(sys.argv[1:]); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(result.returncode)"
)


def test_a_50_mb_line_is_skipped_with_flat_memory(tmp_path):
    path = tmp_path / "big.jsonl"
    with path.open("w") as f:
        f.write(jsonl_line(1) + "\n")
        f.write(json.dumps(paper("2401.00002", abstract="lorem ipsum " * (50 * 2**20 // 12))) + "\n")
        f.write(jsonl_line(3) + "\n")
    env = paperwire_env(tmp_path / "home")
    assert run_paperwire("migrate", "-v0", env=env).returncode == 0
    command = [sys.executable, "-c", MEASURE, sys.executable, "-m", "paperwire", "import", "--no-index", str(path)]
    result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "imported 2 new, 0 updated, 1 rejected"
    assert f"rejected {path}:2: line longer than 1 MiB (1,048,576 bytes)" in result.stderr
    peak_mib = int(result.stderr.strip().splitlines()[-1]) / 1024
    assert peak_mib < 200, f"peak memory {peak_mib:.0f} MiB"  # ~970 MiB before lines were bounded


@pytest.mark.django_db
def test_an_over_long_first_line_is_rejected_and_the_format_told_from_the_next(tmp_path):
    path = tmp_path / "snapshot.json"
    lines = [json.dumps(dict(KAGGLE, abstract="x" * (2 * 2**20))), kaggle_line(2), kaggle_line(3)]
    path.write_text("\n".join(lines) + "\n")
    report = import_files([path], progress=False)
    assert report.rejected == [(f"{path}:1", "line longer than 1 MiB (1,048,576 bytes)")]
    assert Paper.objects.get(pk="0704.0002").authors == ["C. Balazs", "E. L. Berger"]  # read as Kaggle
    assert report.summary() == "imported 2 new, 0 updated, 1 rejected"


@pytest.mark.django_db
def test_a_hugging_face_list_on_one_long_line_is_read_and_a_huge_item_rejected(tmp_path):
    items = [hf_item(n, summary=f"Abstract {n}. " + "words " * 100) for n in range(1, 3001)]
    items[1500] = hf_item(1501, summary="x" * (2 * 2**20))
    path = tmp_path / "minified.json"
    path.write_text(json.dumps(items))  # one line of ~4 MB: a list, read as a document
    report = import_files([path], progress=False)
    assert report.rejected == [(f"{path}:1", "item longer than 1 MiB (1,048,576 characters)")]
    assert report.summary() == "imported 2999 new, 0 updated, 1 rejected"


@pytest.mark.django_db
def test_a_document_larger_than_16_mib_is_refused_as_a_whole(tmp_path):
    path = tmp_path / "huge.json"
    item = json.dumps(hf_item(1, summary="words " * 1000))
    with path.open("w") as f:
        f.write("[\n" + ",\n".join([item] * 3000) + "\n]\n")  # ~18 MB
    report = import_files([path], progress=False)
    assert report.unreadable == [str(path)]
    assert report.rejected == [(str(path), "a JSON document larger than 16 MiB: split it, or write one item a line")]


@pytest.mark.django_db
def test_any_organization_name_is_kept_and_a_bad_avatar_left_out(tmp_path):
    """Organization names are not refused (papers.orgnames): control characters go, a name is cut
    at 200 characters, and an avatar that is not an http(s) URL is left out, the record kept."""
    records = [
        paper("2401.00001", organization="o" * 300),
        paper("2401.00002", organization={"name": "lab.ai", "fullname": "f" * 300, "avatar": 5}),
    ]
    report = import_files([write_jsonl(tmp_path / "orgs.jsonl", records)], progress=False)
    assert (report.stats.new, report.rejected_count) == (2, 0)
    long_name = Paper.objects.get(pk="2401.00001").organization
    assert long_name.name == "o" * 200
    lab = Paper.objects.get(pk="2401.00002").organization
    assert (lab.name, lab.fullname, lab.avatar_url) == ("lab.ai", "f" * 200, "")
