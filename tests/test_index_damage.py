"""A damaged, truncated or deleted index file never takes the site down (issue 9, defects 4 and 5).

Each case damages a real index file of a real `paperwire serve`, once while it serves and once
while it is stopped: every search surface and paper page answers 200 with results, /healthz
says `degraded` and why, the background updater rebuilds the index from the database, then
/healthz says `ok` and search finds every paper again. While the test looks at the degraded
site it holds the index write lock, as a `paperwire index` running elsewhere would: the
rebuild waits for it, so the degraded state is seen however fast the rebuild is.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from paperwire.search.index_files import LEXICAL_FALLBACK_NOTICE
from tests.conftest import DEMO, index_writer_busy, paperwire_env, run_paperwire, start_site, stop_site

PAPERS = [json.loads(line) for line in DEMO.read_text().splitlines()]
SINKS = "2410.10781"
SINKS_TITLE = "When Attention Sink Emerges in Language Models: An Empirical View"
RECOVERY_DEADLINE = 180  # seconds: a bound for the test, not a measurement


@dataclass
class Damage:
    """What a kind of damage did: ``reason``, a word /healthz must name; ``aside``, what the
    updater must move aside (never delete) and keep, relative to PAPERWIRE_HOME; ``in_place``:
    the files a serving process has mapped changed under it, so no copy it holds can be kept
    and lexical answers must come from the fallback, saying so."""

    reason: str
    aside: str | None = None
    in_place: bool = False


def random_bytes_over_vectors(folder: Path) -> Damage:
    with open(folder / "vectors.usearch", "r+b") as file:
        file.write(os.urandom(100))
    return Damage("vectors.usearch")


def broken_lexical_meta(folder: Path) -> Damage:
    (folder / "lexical" / "meta.json").write_text('{"broken')
    return Damage("lexical")


def vectors_truncated_in_place(folder: Path) -> Damage:
    path = folder / "vectors.usearch"
    os.truncate(path, path.stat().st_size // 2)  # the same inode: what a serving process maps
    return Damage("vectors.usearch")


def vectors_deleted(folder: Path) -> Damage:
    (folder / "vectors.usearch").unlink()
    return Damage("vectors.usearch")


def lexical_deleted(folder: Path) -> Damage:
    shutil.rmtree(folder / "lexical")
    return Damage("lexical")


def lexical_is_a_file(folder: Path) -> Damage:
    shutil.rmtree(folder / "lexical")
    (folder / "lexical").write_text("x\n")
    return Damage("lexical/ is a file, not a folder", aside="index/lexical")


def index_is_a_file(folder: Path) -> Damage:
    # Moved away first: the embedding phase records its scan in the folder outside the writers'
    # lock, and a file written there while rmtree ran failed it ("Directory not empty").
    gone = folder.with_name("index.removed")
    folder.rename(gone)
    folder.write_text("x\n")
    shutil.rmtree(gone)
    return Damage("index/ is a file, not a folder", aside="index")


def vectors_is_a_folder(folder: Path) -> Damage:
    (folder / "vectors.usearch").unlink()
    (folder / "vectors.usearch").mkdir()
    (folder / "vectors.usearch" / "x").write_text("x\n")
    return Damage("vectors.usearch is a folder, not a file", aside="index/vectors.usearch")


def segment_file(folder: Path, extension: str) -> Path:
    return max((folder / "lexical").glob(f"*.{extension}"), key=lambda path: path.stat().st_size)


def random_bytes_over_a_segment(folder: Path) -> Damage:
    path = segment_file(folder, "pos")  # the same inode and size: only the checksum tells
    with open(path, "r+b") as file:
        file.write(os.urandom(path.stat().st_size))
    return Damage(path.name, in_place=True)


def segment_truncated_in_place(folder: Path) -> Damage:
    path = segment_file(folder, "store")
    os.truncate(path, path.stat().st_size // 2)  # a mapping past the end kills the reader (SIGBUS)
    return Damage(path.name, in_place=True)


DAMAGE = {
    "random-bytes-over-vectors": random_bytes_over_vectors,
    "broken-lexical-meta": broken_lexical_meta,
    "vectors-truncated-in-place": vectors_truncated_in_place,
    "vectors-deleted": vectors_deleted,
    "lexical-deleted": lexical_deleted,
    "lexical-is-a-file": lexical_is_a_file,
    "index-is-a-file": index_is_a_file,
    "vectors-is-a-folder": vectors_is_a_folder,
    "random-bytes-over-a-segment": random_bytes_over_a_segment,
    "segment-truncated-in-place": segment_truncated_in_place,
}


def health(site) -> dict:
    status, body = site.get("/healthz")
    assert status == 200, body
    return json.loads(body)


def wait_for_health(site, wanted: str) -> tuple[dict, float]:
    started = time.monotonic()
    while True:
        report = health(site)
        if report["status"] == wanted or time.monotonic() - started > RECOVERY_DEADLINE:
            return report, time.monotonic() - started
        time.sleep(0.25)


def api(site, **params) -> tuple[list, dict]:
    status, headers, body = site.fetch("/api/papers/search?" + urllib.parse.urlencode(params))
    assert status == 200, body[:500]
    return json.loads(body), headers


def open_the_indexes(site) -> None:
    """Searches enough for every web worker to have the index files open (and mapped)."""
    for round in range(12):
        api(site, q="attention sink emerges", round=f"open-{round}", limit=5)


def assert_the_site_answers(site, round: str, damage: Damage) -> None:
    """Every surface that reads an index answers 200 with what a reader expects.

    ``round`` makes each URL new, so that no answer comes from the page cache (a parameter of
    its own: in the words it would make the query another one, farther from every paper).
    """
    for attempt in range(6):  # each worker: none may answer from files changed under it
        lexical, headers = api(site, q=SINKS_TITLE, round=f"{round}-{attempt}", mode="lexical", limit=3)
        assert lexical and lexical[0]["paper"]["id"] == SINKS, lexical
        if damage.in_place:
            assert headers.get("X-Paperwire-Notice") == LEXICAL_FALLBACK_NOTICE, headers
    query = {"q": "attention sink emerges", "round": round}
    found, _ = api(site, **query, limit=5)
    assert SINKS in [item["paper"]["id"] for item in found]
    semantic, headers = api(site, **query, mode="semantic", limit=5)
    assert SINKS in [item["paper"]["id"] for item in semantic]
    status, page = site.get("/search?" + urllib.parse.urlencode(query))
    assert status == 200 and b"When Attention Sink Emerges in Language Models" in page
    status, feed = site.get("/search/feed.atom?" + urllib.parse.urlencode(query))
    assert status == 200 and f"/papers/{SINKS}".encode() in feed
    status, paper = site.get(f"/papers/{SINKS}?round={round}")
    assert status == 200 and b"When Attention Sink Emerges in Language Models" in paper


def assert_whole_again(site, label: str, damage: Damage) -> None:
    report, seconds = wait_for_health(site, "ok")
    assert report["status"] == "ok" and report["index"]["papers"] == len(PAPERS), report
    print(f"{label}: whole again {seconds:.1f} s after the writer let go")
    assert_search_finds_every_paper(site)
    if damage.aside:  # moved aside whole, never deleted
        kept = sorted(site.home.glob(damage.aside + ".damaged-*"))
        assert kept, sorted(site.home.rglob("*"))
        assert (kept[-1] / "x" if kept[-1].is_dir() else kept[-1]).read_text() == "x\n"


def semantic_ids(site, query: str, **params) -> tuple[list[str], dict]:
    """The ids of the 5 papers semantic search finds for ``query``, and the answer's headers."""
    found, headers = api(site, q=query, mode="semantic", limit=5, **params)
    return [item["paper"]["id"] for item in found], headers


def assert_search_finds_every_paper(site) -> None:
    """From the indexes themselves: no answer carries a fallback notice."""
    for record in PAPERS:
        lexical, headers = api(site, q=record["title"], mode="lexical", limit=1)
        assert [i["paper"]["id"] for i in lexical] == [record["id"]] and "X-Paperwire-Notice" not in headers
        found, headers = semantic_ids(site, "about " + record["title"])
        if record["id"] not in found:  # seen once in CI, never reproduced: say what follows it
            again = [semantic_ids(site, "about " + record["title"], again=n)[0] for n in range(4)]
            raise AssertionError(f"{record['id']} not in {found}; asked again: {again}; health: {health(site)}")
        assert "X-Paperwire-Notice" not in headers, headers
    status, paper = site.get(f"/papers/{SINKS}?round=whole")
    assert status == 200 and b"Related papers" in paper


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_index_is_rebuilt_while_the_site_keeps_serving(tmp_path, database, damage):
    home = tmp_path / "home"
    env = paperwire_env(home, **database)
    imported = run_paperwire("import", str(DEMO), env=env)
    assert imported.returncode == 0, imported.stderr
    options = {**database, "PAPERWIRE_INDEX_INTERVAL": "1"}
    site = start_site(home, "--workers", "2", **options)
    try:
        assert health(site)["status"] == "ok"

        # Damaged while serving, with the index files open in the web workers. The lock first:
        # an update may be writing (the serving updater runs every second), and a worker that
        # last searched before the newest commit keeps, rightly, an
        # open copy that the damage does not touch (no notice to expect from it).
        with index_writer_busy(home):
            open_the_indexes(site)
            damaged = DAMAGE[damage](home / "index")
            report, _ = wait_for_health(site, "degraded")
            assert report["status"] == "degraded" and damaged.reason in report["reason"], report
            assert_the_site_answers(site, "serving", damaged)
        assert_whole_again(site, f"\n{damage}, while serving", damaged)

        # Damaged while stopped: `serve` starts all the same.
        stop_site(site)
        with index_writer_busy(home):
            damaged = DAMAGE[damage](home / "index")
            site = start_site(home, "--workers", "2", wait_for_index=False, **options)
            report = health(site)
            assert report["status"] == "degraded" and damaged.reason in report["reason"], report
            assert_the_site_answers(site, "restarted", damaged)
        assert_whole_again(site, f"{damage}, across a restart", damaged)
    finally:
        stop_site(site)


@contextmanager
def small_filesystem(folder: Path, size: str = "1m") -> Iterator[Path]:
    """A real filesystem of ``size`` mounted on ``folder`` (a tmpfs: needs root, else skipped)."""
    folder.mkdir(parents=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def test_a_full_disk_stops_the_repair_with_a_clear_error_and_loses_nothing(tmp_path):
    home = tmp_path / "home"
    env = paperwire_env(home)
    with small_filesystem(home / "index") as folder:
        assert run_paperwire("import", str(DEMO), env=env).returncode == 0
        with open(folder / "filler", "wb", buffering=0) as filler:  # the disk fills up
            with contextlib.suppress(OSError):
                while True:
                    filler.write(b"\0" * 4096)
        random_bytes_over_vectors(folder)
        before = sorted(path.name for path in folder.iterdir())
        failed = run_paperwire("index", env=env)
        assert failed.returncode == 1 and "Traceback" not in failed.stderr, failed.stderr
        last = failed.stderr.splitlines()[-1]
        assert last.startswith("CommandError: updating the search indexes failed: No space left on device"), last
        assert sorted(path.name for path in folder.iterdir()) == before  # no half-written file left
        site = start_site(home, wait_for_index=False, PAPERWIRE_INDEX_INTERVAL="1")
        try:
            report = health(site)
            assert report["status"] == "degraded" and "vectors.usearch is damaged" in report["reason"], report
            found, headers = api(site, q="attention sink emerges", limit=5)
            assert SINKS in [item["paper"]["id"] for item in found]
            assert headers["X-Paperwire-Notice"].startswith("Semantic search is unavailable")
            (folder / "filler").unlink()  # room again: the updater repairs at its next update
            assert_whole_again(site, "full disk, once there is room", Damage("vectors.usearch"))
        finally:
            stop_site(site)
