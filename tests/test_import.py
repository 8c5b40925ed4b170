import datetime as dt
import gzip
import json
import os
import re

import pytest
from django.core.management import CommandError, call_command

from paperwire.ingest.importer import import_files
from paperwire.papers.models import Organization, Paper, Vote
from tests.conftest import DEMO, ROOT, paper, paperwire_env, run_paperwire, write_jsonl

pytestmark = pytest.mark.django_db


def run_import(*paths, fmt="auto", capsys=None):
    call_command("import", *[str(p) for p in paths], format=fmt, no_index=True)
    return capsys.readouterr() if capsys else None


def test_it_imports_the_demo_corpus(capsys):
    out = run_import(DEMO, capsys=capsys)
    assert out.out.strip() == "imported 41 new, 0 updated, 0 rejected"
    assert out.err == ""
    assert Paper.objects.count() == 41
    kenet = Paper.objects.get(pk="2403.01767")
    assert kenet.title.startswith("KeNet:Knowledge-enhanced")
    assert kenet.authors == ["Bo Li", "Yuyan Chen", "Liang Zeng"]
    assert kenet.published == dt.date(2024, 3, 4)
    assert kenet.daily_date == dt.date(2024, 3, 4)
    assert Organization.objects.get(name="alibaba-inc").papers.get().pk == "2510.13554"


def test_it_is_idempotent(capsys):
    run_import(DEMO, capsys=capsys)
    out = run_import(DEMO, capsys=capsys)
    assert out.out.strip() == "imported 0 new, 0 updated, 0 rejected"
    assert out.err.strip() == "41 records unchanged: imported before as they are"
    assert Paper.objects.count() == 41


def test_it_folds_arxiv_versions_into_one_paper(tmp_path, capsys):
    path = write_jsonl(
        tmp_path / "v.jsonl",
        [paper("2410.10819v1", "First title", upvotes=3), paper("2410.10819v2", "Second title", upvotes=1)],
    )
    out = run_import(path, capsys=capsys)
    assert out.out.strip() == "imported 1 new, 0 updated, 0 rejected"
    only = Paper.objects.get()
    assert only.pk == "2410.10819"
    assert only.title == "Second title"
    assert only.upvotes == 3  # the highest count seen wins


def test_it_reports_updates_and_keeps_the_highest_upvotes(tmp_path, capsys):
    run_import(write_jsonl(tmp_path / "a.jsonl", [paper("2401.00001", upvotes=5)]), capsys=capsys)
    out = run_import(write_jsonl(tmp_path / "b.jsonl", [paper("2401.00001", "New title", upvotes=2)]), capsys=capsys)
    assert out.out.strip() == "imported 0 new, 1 updated, 0 rejected"
    stored = Paper.objects.get()
    assert (stored.title, stored.upvotes, stored.base_upvotes) == ("New title", 5, 5)


def test_imported_upvotes_add_to_local_votes(tmp_path, alice, capsys):
    run_import(write_jsonl(tmp_path / "a.jsonl", [paper("2401.00001", upvotes=5)]), capsys=capsys)
    Vote.objects.create(user=alice, paper_id="2401.00001")
    run_import(write_jsonl(tmp_path / "b.jsonl", [paper("2401.00001", upvotes=9)]), capsys=capsys)
    assert Paper.objects.get().upvotes == 10


def test_it_names_bad_lines_and_keeps_good_ones(tmp_path, capsys):
    path = write_jsonl(
        tmp_path / "mixed.jsonl",
        [
            paper("2401.00001"),
            "{not json",
            paper("2401.00002", published="2024-02-30"),
            {"id": "2401.00003", "title": "No abstract"},
            paper("bad id with spaces"),
            paper("2401.00004", upvotes="many"),
            "[1, 2]",
            paper("2401.00005", authors="Solo Author"),
        ],
    )
    out = run_import(path, capsys=capsys)
    assert out.out.strip() == "imported 2 new, 0 updated, 6 rejected"
    assert set(Paper.objects.values_list("pk", flat=True)) == {"2401.00001", "2401.00005"}
    assert f"rejected {path}:2: invalid JSON" in out.err
    assert f"rejected {path}:3: invalid published '2024-02-30'" in out.err
    assert f"rejected {path}:4: missing abstract" in out.err
    assert f"rejected {path}:5: invalid id" in out.err
    assert f"rejected {path}:6: upvotes must be an integer" in out.err
    assert f"rejected {path}:7: expected a JSON object" in out.err


def test_random_bytes_import_nothing_and_say_so(tmp_path, capsys):
    path = tmp_path / "noise.jsonl"
    path.write_bytes(os.urandom(4096).replace(b"\x1f\x8b", b"xx"))
    with pytest.raises(CommandError, match="could not import 1 file"):
        run_import(path)
    out = capsys.readouterr()
    assert "imported 0 new, 0 updated, 1 rejected" in out.out
    assert f"rejected {path}:" in out.err
    assert Paper.objects.count() == 0


def test_a_missing_file_is_an_error_and_other_files_still_import(tmp_path, capsys):
    good = write_jsonl(tmp_path / "good.jsonl", [paper("2401.00001")])
    with pytest.raises(CommandError):
        run_import(tmp_path / "missing.jsonl", good)
    assert "imported 1 new, 0 updated, 1 rejected" in capsys.readouterr().out
    assert Paper.objects.filter(pk="2401.00001").exists()


def test_it_reads_gzip_by_its_content(tmp_path, capsys):
    path = write_jsonl(tmp_path / "papers.data", [paper("2401.00001"), paper("hep-th/9901001v3")], compress=True)
    out = run_import(path, capsys=capsys)
    assert out.out.strip() == "imported 2 new, 0 updated, 0 rejected"
    assert Paper.objects.filter(pk="hep-th/9901001").exists()


def test_a_truncated_gzip_keeps_what_was_read(tmp_path, capsys):
    records = [paper(f"2401.{n:05d}") for n in range(1, 3001)]
    blob = gzip.compress("".join(json.dumps(r) + "\n" for r in records).encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(CommandError):
        run_import(path)
    kept = Paper.objects.count()
    assert 0 < kept < 3000
    assert f"rejected {path}: cannot read past byte" in capsys.readouterr().err


def test_it_accepts_local_ids_and_submission_times(tmp_path, capsys):
    path = write_jsonl(
        tmp_path / "local.jsonl",
        [paper("lab:note-7", published="2024-05-01", submitted_at="2024-05-03T23:30:00-02:00")],
    )
    run_import(path, capsys=capsys)
    note = Paper.objects.get(pk="lab:note-7")
    assert note.daily_date == dt.date(2024, 5, 4)  # the UTC day of submitted_at
    assert note.published == dt.date(2024, 5, 1)


def test_it_refuses_ids_that_shadow_pages(tmp_path, capsys):
    out = run_import(write_jsonl(tmp_path / "r.jsonl", [paper("trending")]), capsys=capsys)
    assert "reserved" in out.err
    assert Paper.objects.count() == 0


HF_ITEM = {
    "paper": {
        "id": "2507.14683",
        "authors": [{"_id": "a1", "name": "Xingxuan Li", "hidden": False}, {"_id": "a2", "name": "Lidong Bing"}],
        "publishedAt": "2025-07-19T16:21:23.000Z",
        "submittedOnDailyAt": "2025-07-22T01:41:01.897Z",
        "title": "MiroMind-M1: An Open-Source Advancement\n  in Mathematical Reasoning",
        "submittedOnDailyBy": {"_id": "u1", "user": "veggiebird", "fullname": "Xingxuan Li", "avatarUrl": ""},
        "summary": "Large language models have\nrecently evolved.",
        "upvotes": 63,
        "githubRepo": "https://github.com/MiroMindAsia/MiroMind-M1",
        "githubStars": 42,
        "ai_summary": "Open reasoning models.",
        "ai_keywords": ["RLVR"],
        "organization": {"_id": "o1", "name": "miromind-ai", "fullname": "MiroMind AI", "avatar": ""},
    },
    "publishedAt": "2025-07-19T12:21:23.000Z",
    "title": "MiroMind-M1",
    "numComments": 3,
}


def test_it_reads_hugging_face_responses_in_all_their_shapes(tmp_path, capsys):
    plain = tmp_path / "2025-07-22.json"
    plain.write_text(json.dumps([HF_ITEM], indent=2))
    as_repr = dict(HF_ITEM, paper=dict(HF_ITEM["paper"], id="2412.15115", upvotes=7))
    reprs = tmp_path / "2024-12-20.json"
    reprs.write_text(json.dumps([repr(as_repr)], indent=4))
    wrapped = tmp_path / "2025-01-10.json"
    no_daily = dict(HF_ITEM, publishedAt="2025-01-09T23:10:00.000Z")
    no_daily["paper"] = {k: v for k, v in HF_ITEM["paper"].items() if k not in ("submittedOnDailyAt", "organization")}
    no_daily["paper"]["id"] = "2501.05441"
    wrapped.write_text(
        json.dumps({"status": "success", "date": "2025-01-10", "count": 1, "data": [no_daily]}, indent=4)
    )
    out = run_import(plain, reprs, wrapped, capsys=capsys)
    assert out.out.strip() == "imported 3 new, 0 updated, 0 rejected"
    miro = Paper.objects.get(pk="2507.14683")
    assert miro.title == "MiroMind-M1: An Open-Source Advancement in Mathematical Reasoning"
    assert miro.abstract == "Large language models have recently evolved."
    assert miro.authors == ["Xingxuan Li", "Lidong Bing"]
    assert miro.daily_date == dt.date(2025, 7, 22)
    assert miro.upvotes == 63
    assert miro.code_urls == ["https://github.com/MiroMindAsia/MiroMind-M1"]
    assert (miro.github_stars, miro.num_comments, miro.submitter_name) == (42, 3, "veggiebird")
    assert miro.organization.fullname == "MiroMind AI"
    assert Paper.objects.get(pk="2412.15115").upvotes == 7
    # Without submittedOnDailyAt the item's own publishedAt decides the day.
    assert Paper.objects.get(pk="2501.05441").daily_date == dt.date(2025, 1, 9)


def test_a_paper_submitted_again_moves_to_its_latest_day(tmp_path, capsys):
    first = tmp_path / "d1.json"
    first.write_text(json.dumps([HF_ITEM]))
    later = dict(HF_ITEM, paper=dict(HF_ITEM["paper"], submittedOnDailyAt="2025-07-28T00:00:00.000Z", upvotes=70))
    second = tmp_path / "d2.json"
    second.write_text(json.dumps([later]))
    run_import(second, first, capsys=capsys)
    stored = Paper.objects.get()
    assert (stored.daily_date, stored.upvotes) == (dt.date(2025, 7, 28), 70)


def test_a_bad_hugging_face_item_is_named_by_line(tmp_path, capsys):
    bad = {"paper": {"id": "2507.00001", "title": "No summary", "authors": []}}
    path = tmp_path / "day.json"
    path.write_text(json.dumps([HF_ITEM, bad], indent=2))
    out = run_import(path, capsys=capsys)
    assert out.out.strip() == "imported 1 new, 0 updated, 1 rejected"
    item_lines = [n for n, text in enumerate(path.read_text().splitlines(), start=1) if text == "  {"]
    line = item_lines[1]
    assert f"rejected {path}:{line}: missing abstract" in out.err


def test_it_reads_the_kaggle_snapshot(tmp_path, capsys):
    record = {
        "id": "0704.0001",
        "submitter": "Pavel Nadolsky",
        "authors": "C. Bal\\'azs, E. L. Berger, P. M. Nadolsky, C.-P. Yuan",
        "title": "Calculation of prompt diphoton production cross sections at Tevatron and\n  LHC energies",
        "comments": "37 pages, 15 figures",
        "journal-ref": "Phys.Rev.D76:013009,2007",
        "doi": "10.1103/PhysRevD.76.013009",
        "categories": "hep-ph",
        "abstract": "  A fully differential calculation in perturbative quantum chromodynamics is\npresented.\n",
        "versions": [{"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"}],
        "update_date": "2008-11-13",
        "authors_parsed": [
            ["Balázs", "C.", ""],
            ["Berger", "E. L.", ""],
            ["Nadolsky", "P. M.", ""],
            ["Yuan", "C. -P.", ""],
        ],
    }
    out = run_import(write_jsonl(tmp_path / "arxiv-metadata-oai-snapshot.json", [record]), capsys=capsys)
    assert out.out.strip() == "imported 1 new, 0 updated, 0 rejected"
    stored = Paper.objects.get(pk="0704.0001")
    assert stored.authors == ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C. -P. Yuan"]
    assert stored.categories == ["hep-ph"]
    assert stored.published == dt.date(2007, 4, 2)
    assert stored.doi == "10.1103/PhysRevD.76.013009"
    assert stored.abstract == "A fully differential calculation in perturbative quantum chromodynamics is presented."


def test_a_forced_format_is_used(tmp_path, capsys):
    path = write_jsonl(tmp_path / "a.jsonl", [paper("2401.00001")])
    with pytest.raises(CommandError):
        run_import(path, fmt="hf-daily")
    assert "imported 0 new, 0 updated, 1 rejected" in capsys.readouterr().out


def test_an_import_in_batches_counts_every_record(tmp_path):
    records = [paper(f"2402.{n:05d}", upvotes=n % 7) for n in range(1, 2501)]
    report = import_files([write_jsonl(tmp_path / "many.jsonl", records)], progress=False)
    assert report.summary() == "imported 2500 new, 0 updated, 0 rejected"
    assert Paper.objects.get(pk="2402.00013").upvotes == 6


def test_an_import_off_a_terminal_says_how_far_it_is(tmp_path):
    """`paperwire import` with stderr in a pipe or a log (no bar there): progress lines, for the
    reading and for the indexing, then the summary. (A line every PAPERWIRE_PROGRESS_SECONDS:
    0 here, a line at every step, so that a short import shows them.)"""
    records = [paper(f"2402.{n:05d}", f"Paper {n}") for n in range(1, 301)]
    first = write_jsonl(tmp_path / "first.jsonl", records[:150])
    second = write_jsonl(tmp_path / "second.jsonl", records[150:] + [{"id": "bad"}])
    env = paperwire_env(tmp_path / "home", PAPERWIRE_PROGRESS_SECONDS="0", PAPERWIRE_INDEX_BATCH="50")
    result = run_paperwire("import", str(first), str(second), env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "imported 300 new, 0 updated, 1 rejected"
    lines = result.stderr.splitlines()
    reading = [line for line in lines if line.startswith("import: ")]
    assert reading and "file 2 of 2" in reading[-1] and "(1 rejected)" in reading[-1]
    assert any(re.match(r"import: [0-9.]+ kB of [0-9.]+ kB \([0-9]+%\), file 1 of 2, ", line) for line in reading)
    embedding = [line for line in lines if line.startswith("embed: ")]
    indexing = [line for line in lines if line.startswith("index: ")]
    # The count is said before the index update starts, for whoever stops a long one; then the
    # embeddings are computed (claimed batch by batch, docs/search.md), then the index pass.
    said = "imported 300 new, 0 updated, 1 rejected; updating the search index (Ctrl-C leaves them imported)"
    assert lines.index(said) < lines.index(embedding[0]) < lines.index(embedding[-1]) < lines.index(indexing[0])
    assert embedding[0].startswith("embed: 50 of 300 papers (17%), 50 embeddings computed, ")
    assert embedding[-1].startswith("embed: 300 of 300 papers (100%), 300 embeddings computed, ")
    assert "left" in embedding[0]
    assert indexing[0].startswith("index: 50 of 300 papers (17%), 300 embeddings computed, ")
    assert indexing[-1].startswith("index: 300 of 300 papers (100%), 300 embeddings computed, ")
    assert all("papers/s" in line for line in embedding + indexing) and "left" in indexing[0]


def test_an_import_on_a_terminal_shows_a_bar_and_no_lines(tmp_path):
    """The same import with stderr on a terminal (a pseudo-terminal here): tqdm's bar, not lines."""
    import fcntl
    import pty
    import struct
    import subprocess
    import sys
    import termios

    path = write_jsonl(tmp_path / "p.jsonl", [paper(f"2402.{n:05d}") for n in range(1, 51)])
    env = paperwire_env(tmp_path / "home", PAPERWIRE_PROGRESS_SECONDS="0")
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a 100-column terminal
    process = subprocess.run(
        [sys.executable, "-m", "paperwire", "import", "--no-index", str(path)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=follower,
        timeout=300,
    )
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    assert process.returncode == 0
    assert b"import: 100%" in shown and b"import: 0 B" not in shown and b" of " not in shown
