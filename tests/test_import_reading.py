"""A large import reads in a second process (``paperwire.ingest.reading``): what it yields, and so
what the import stores and reports, is the same as reading in the importer's process, for any
files (the property test's arbitrary values in every field of every format, damaged lists,
unreadable and truncated files); a failing or killed reader is an error that says so, and an
importer that stops leaves no reader behind."""

from __future__ import annotations

import gzip
import json
import multiprocessing
import os
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paperwire.ingest import reading
from paperwire.ingest.importer import import_files
from paperwire.papers.models import Organization, Paper
from paperwire.people import linking
from paperwire.people.linking import parse, parsed
from paperwire.people.models import Author, PaperAuthor
from tests.conftest import paper, paperwire_env, run_paperwire, write_jsonl
from tests.test_import_property import FORMATS, bounded, entries_of, write_files

SEED = Path(__file__).resolve().parent.parent / "paperwire" / "demo" / "attention_papers.jsonl"


def without_names(events: list) -> list:
    """The events as the importer uses them (the parsed names only spare it work)."""
    return [(type(e).__name__, e.items, e.position) if isinstance(e, reading.Chunk) else e for e in events]


def damaged_files(folder: Path) -> list[Path]:
    """A truncated gzip (records, then an unreadable rest), a missing file, an empty one."""
    records = [json.dumps(paper(f"2402.{n:05d}", f"Paper {n}", authors=[f"Ana Pérez {n % 7}"])) for n in range(600)]
    whole = gzip.compress("".join(line + "\n" for line in records).encode())
    cut = folder / "cut.jsonl.gz"
    cut.write_bytes(whole[: len(whole) * 2 // 3])
    empty = folder / "empty.jsonl"
    empty.write_bytes(b"")
    return [cut, folder / "missing.jsonl", empty]


@bounded(25)
@given(
    files=st.fixed_dictionaries({fmt: entries_of(fmt) for fmt in FORMATS}),
    wrapped=st.booleans(),
    reprs=st.booleans(),
    damaged=st.booleans(),
    chunk=st.sampled_from([1, 3, 256]),
)
def test_a_second_process_reads_what_this_one_reads(files, wrapped, reprs, damaged, chunk, monkeypatch):
    monkeypatch.setattr(reading, "CHUNK", chunk)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        paths = list(write_files(folder, files, wrapped, reprs).values())
        if damaged:
            paths[1:1] = damaged_files(folder)
        here = list(reading.read_here(paths, "auto"))
        elsewhere = list(reading.read_elsewhere(paths, "auto"))
    assert without_names(elsewhere) == without_names(here)
    assert len(here) >= len(paths) + 1
    # The names sent are those of the records read, parsed as the importer parses them.
    names = {name: value for e in elsewhere if isinstance(e, reading.Chunk) for name, value in e.names.items()}
    assert all(parse(name) == value for name, value in names.items())
    if damaged:
        unreadable = [e for e in elsewhere if isinstance(e, reading.Unreadable)]
        assert [Path(e.path).name for e in unreadable] == ["cut.jsonl.gz", "missing.jsonl", "empty.jsonl"]
        assert "cannot read past byte" in unreadable[0].error


def stored() -> dict:
    """Everything an import writes that a person sees, keyed so that two imports compare."""
    papers = {
        p.id: (
            p.title,
            p.abstract,
            p.authors,
            p.published_at,
            p.upvotes,
            p.organization.name if p.organization else None,
        )
        for p in Paper.objects.select_related("organization")
    }
    authors = sorted(Author.objects.values_list("key", "name", "slug"))
    links = sorted(PaperAuthor.objects.values_list("paper_id", "author__key", "position"))
    return {"papers": papers, "authors": authors, "links": links}


@pytest.mark.django_db
def test_an_import_read_elsewhere_stores_and_reports_what_one_read_here_does(tmp_path, monkeypatch):
    # The reference page's 41 papers, each 20 times under new ids (names shared among many
    # papers, as in the real corpus), then a truncated file and a line of each kind of damage.
    seed = [json.loads(line) for line in SEED.read_text().splitlines() if line.strip()]
    records = [{**r, "id": f"23{n:02d}.{i:05d}"} for n in range(1, 21) for i, r in enumerate(seed)]
    records[5]["title"] = ""  # rejected
    good = write_jsonl(tmp_path / "many.jsonl", records, compress=True)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "2501.00001", "title": "Fine", "abstract": "x", "authors": ["Zoë Ø"]}\n{oops\n1e400\n')
    paths = [good, *damaged_files(tmp_path), bad]

    monkeypatch.setattr(reading, "PIPELINE_BYTES", 1 << 62)
    report_here = import_files(paths, progress=False)
    rows_here = stored()
    Paper.objects.all().delete()
    Author.objects.all().delete()
    Organization.objects.all().delete()
    monkeypatch.setattr(reading, "PIPELINE_BYTES", 0)
    called = []
    monkeypatch.setattr(reading, "read_elsewhere", lambda *a: called.append(1) or REAL_ELSEWHERE(*a))
    report_elsewhere = import_files(paths, progress=False)

    assert called == [1]
    assert stored() == rows_here
    from_cut = [pid for pid in rows_here["papers"] if pid.startswith("2402.")]
    assert 100 < len(from_cut) < 600  # what the truncated file held before the cut
    assert len(rows_here["papers"]) == 820 - 1 + len(from_cut) + 1
    assert rows_here["links"] and rows_here["authors"]
    assert report_elsewhere.rejected == report_here.rejected
    assert report_elsewhere.unreadable == report_here.unreadable == [str(p) for p in paths[1:4]]
    assert report_elsewhere.summary() == report_here.summary()


REAL_ELSEWHERE = reading.read_elsewhere


def fail_on_second_chunk(how: str):
    real = reading._with_names
    seen = []

    def patched(chunk, sent):
        seen.append(1)
        if len(seen) == 2:
            if how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise ValueError("a reader bug")
        return real(chunk, sent)

    return patched


@pytest.mark.parametrize("how", ["raise", "kill"])
def test_a_failing_reader_is_an_error_after_what_it_sent(tmp_path, monkeypatch, how):
    path = write_jsonl(tmp_path / "p.jsonl", [paper(f"2403.{n:05d}", authors=["Li Wei"]) for n in range(40)])
    monkeypatch.setattr(reading, "CHUNK", 10)
    monkeypatch.setattr(reading, "_with_names", fail_on_second_chunk(how))
    received = []
    with pytest.raises(reading.ReadingFailed) as failure:
        for event in reading.read_elsewhere([path], "auto"):
            received.append(event)
    chunks = [e for e in received if isinstance(e, reading.Chunk)]
    if how == "raise":
        assert [i.record.id for i in chunks[0].items] == [f"2403.{n:05d}" for n in range(10)]
        assert len(chunks) == 1
        assert "ValueError: a reader bug" in str(failure.value)
    else:  # killed, perhaps before its sending thread sent the first chunk
        assert len(chunks) <= 1
        assert "ended without a word (exit code -9)" in str(failure.value)


class Stopped(Exception):
    pass


def stop(signum, frame):
    raise Stopped  # as `paperwire index --every` and test runners do with SIGTERM


@pytest.mark.parametrize("handler", [signal.SIG_DFL, stop])
def test_an_importer_that_stops_leaves_no_reader(tmp_path, handler, monkeypatch):
    started = []
    fork = multiprocessing.get_context("fork")

    class Watched(fork.Process):
        def start(self):
            started.append(self)
            super().start()

    monkeypatch.setattr(reading.multiprocessing, "get_context", lambda method: SimpleNamespace(Process=Watched))
    records = [paper(f"2404.{n:05d}", authors=[f"Name {n}"]) for n in range(3000)]
    path = write_jsonl(tmp_path / "p.jsonl", records)
    before = signal.signal(signal.SIGTERM, handler)  # inherited by the forked reader
    try:
        events = reading.read_elsewhere([path], "auto")
        next(events)
    finally:
        signal.signal(signal.SIGTERM, before)
    children = {int(c) for c in Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split()}
    assert children, "the reader runs in a child process"
    events.close()  # the importer raised, or was interrupted
    left = {int(c) for c in Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split()}
    assert not children & left
    # Ended by the importer's SIGTERM, whatever handler the importer's process had (not killed
    # after a wait: a reader blocked on a pipe it held open itself never saw the importer go).
    assert started[0].exitcode == -signal.SIGTERM


def test_the_importer_takes_the_names_the_reader_parsed(monkeypatch):
    monkeypatch.setattr(linking, "_parsed", {})
    name = "Zoë van der Berg-Ó Briain"
    told = parse("Somebody Else")
    reading.remember_parsed({name: told})
    assert parsed(name) is told  # not parsed again
    assert parsed("Ana Pérez") == parse("Ana Pérez")


@pytest.mark.django_db
def test_an_import_whose_reader_fails_keeps_what_was_read_and_says_so(tmp_path, monkeypatch):
    path = write_jsonl(tmp_path / "p.jsonl", [paper(f"2405.{n:05d}", authors=["Li Wei"]) for n in range(40)])
    monkeypatch.setattr(reading, "PIPELINE_BYTES", 0)
    monkeypatch.setattr(reading, "CHUNK", 10)
    monkeypatch.setattr(reading, "_with_names", fail_on_second_chunk("raise"))
    with pytest.raises(reading.ReadingFailed, match="a reader bug"):
        import_files([path], progress=False)
    assert sorted(Paper.objects.values_list("id", flat=True)) == [f"2405.{n:05d}" for n in range(10)]
    assert PaperAuthor.objects.filter(paper_id="2405.00009", author__name="Li Wei").exists()


def test_a_reader_that_dies_inside_a_message_is_a_reading_failure(tmp_path, monkeypatch):
    """A chunk is larger than a pipe's buffer: a reader killed while sending one leaves half a
    message, which multiprocessing reports as an OSError, not an EOFError."""
    path = write_jsonl(tmp_path / "p.jsonl", [paper("2406.00001")])

    def half_a_message(connection, other_end, paths, fmt):
        other_end.close()
        connection._send(struct.pack("!i", 100_000) + b"x" * 10)  # the header promises more
        os._exit(9)

    monkeypatch.setattr(reading, "_child", half_a_message)
    with pytest.raises(reading.ReadingFailed, match="ended without a word"):
        list(reading.read_elsewhere([path], "auto"))


def blank_lines_after_one_record(tmp_path) -> Path:
    """One record, then 400 million blank lines (a 400 KB gzip member a hundred times): minutes of
    reading that yield no record, so nothing is sent and no broken pipe is met."""
    path = tmp_path / "blank.jsonl.gz"
    member = gzip.compress(b"\n" * 4_000_000, compresslevel=9)
    with path.open("wb") as out:
        out.write(gzip.compress(json.dumps(paper("2407.00001")).encode() + b"\n"))
        for _ in range(100):
            out.write(member)
    return path


@pytest.mark.parametrize("input", ["records", "blank lines"])
def test_a_reader_whose_importer_was_killed_ends(tmp_path, input):
    """SIGKILL of the importer (the OOM killer, `kill -9`): its reader ends, instead of waiting for
    ever and holding the importer's files and terminal: at its next send (a broken pipe), or, while
    its input yields no record to send, at once (it asked the kernel to end it with its parent)."""
    if input == "records":
        path = write_jsonl(tmp_path / "p.jsonl", [paper(f"2407.{n:05d}", abstract="x " * 2000) for n in range(6000)])
    else:
        path = blank_lines_after_one_record(tmp_path)
    code = (
        "import os, signal, sys\n"
        "import django\n"
        "django.setup()\n"
        "from pathlib import Path\n"
        "from paperwire.ingest import reading\n"
        f"events = reading.read_elsewhere([Path({str(path)!r})], 'auto')\n"
        "next(events)\n"
        "me = os.getpid()\n"
        "print(Path(f'/proc/{me}/task/{me}/children').read_text().split()[0], flush=True)\n"
        "os.kill(me, signal.SIGKILL)\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "paperwire.settings", "PAPERWIRE_HOME": str(tmp_path / "home")}
    env.setdefault("PAPERWIRE_SECRET_KEY", "x" * 50)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr
    reader = int(done.stdout.split()[0])
    for _ in range(600):
        try:
            state = Path(f"/proc/{reader}/stat").read_text().split(") ")[1].split()[0]
        except FileNotFoundError:
            break
        if state == "Z":  # ended; reaped by init in a moment
            break
        time.sleep(0.1)
    else:
        os.kill(reader, signal.SIGKILL)
        pytest.fail("the reader outlived its importer by a minute")


def test_chunks_are_bounded_by_what_they_hold(tmp_path):
    many_names = [paper(f"2408.{n:05d}", authors=[f"Author {n}-{k}" for k in range(800)]) for n in range(60)]
    long_text = [paper(f"2409.{n:05d}", abstract="word " * 150_000) for n in range(20)]
    path = write_jsonl(tmp_path / "p.jsonl", many_names + long_text + [paper(f"2410.{n:05d}") for n in range(600)])
    chunks = [e for e in reading.read_here([path], "auto") if isinstance(e, reading.Chunk)]
    assert sum(len(c.items) for c in chunks) == 680
    for chunk in chunks:
        assert len(chunk.items) <= reading.CHUNK
        # Over the bound by its last record at most.
        assert sum(reading._size(i) for i in chunk.items[:-1]) < reading.CHUNK_CHARACTERS
    assert max(len(c.items) for c in chunks) == reading.CHUNK  # small records still go 256 at a time


def test_a_pipe_is_named_unreadable_at_once_even_with_no_writer(tmp_path):
    """A named pipe no process writes to blocked a plain open() for ever (the import hung)."""
    fifo = tmp_path / "papers.fifo"
    os.mkfifo(fifo)
    events: list = []
    reader = threading.Thread(target=lambda: events.extend(reading.read_here([fifo], "auto")), daemon=True)
    reader.start()
    reader.join(10)
    assert not reader.is_alive(), "the reader waits for a writer"
    assert [type(e).__name__ for e in events] == ["Opened", "Unreadable"]
    assert "not a regular file (a pipe or a device)" in events[1].error


def test_an_import_read_in_a_second_process_names_a_pipe_and_imports_the_rest(tmp_path):
    """The attack's case: files of 8 MiB in all (read by the forked reader) and a pipe among them."""
    home = tmp_path / "home"
    env = paperwire_env(home)
    assert run_paperwire("migrate", "--noinput", env=env).returncode == 0
    many = [paper(f"2412.{n:05d}", abstract="words of an abstract " * 50) for n in range(9_000)]
    big = write_jsonl(tmp_path / "big.jsonl", many)
    assert big.stat().st_size >= reading.PIPELINE_BYTES
    fifo = tmp_path / "papers.fifo"
    os.mkfifo(fifo)
    done = run_paperwire("import", "--no-index", str(big), str(fifo), env=env)
    assert done.returncode == 1
    assert f"{fifo}: not a regular file (a pipe or a device)" in done.stderr
    assert done.stdout.strip() == "imported 9000 new, 0 updated, 1 rejected"  # the pipe counted rejected
