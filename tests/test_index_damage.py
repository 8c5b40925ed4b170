"""A damaged, truncated or deleted index file never takes the site down (issue 9, defects 4 and 5).

Each case damages a real index file of a real `paperwire serve`, once while it serves and once
while it is stopped: every search surface and paper page answers 200 with results, /healthz
says `degraded` and why, the background updater rebuilds the index from the database, then
/healthz says `ok` and search finds every paper again. While the test looks at the degraded
site it holds the index write lock, as a `paperwire index` running elsewhere would: the
rebuild waits for it, so the degraded state is seen however fast the rebuild is.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import DEMO, paperwire_env, run_paperwire, start_site, stop_site

PAPERS = [json.loads(line) for line in DEMO.read_text().splitlines()]
SINKS = "2410.10781"  # When Attention Sink Emerges in Language Models: An Empirical View
RECOVERY_DEADLINE = 180  # seconds: a bound for the test, not a measurement


def random_bytes_over_vectors(folder: Path) -> str:
    with open(folder / "vectors.usearch", "r+b") as file:
        file.write(os.urandom(100))
    return "vectors.usearch"


def broken_lexical_meta(folder: Path) -> str:
    (folder / "lexical" / "meta.json").write_text('{"broken')
    return "lexical"


def vectors_truncated_in_place(folder: Path) -> str:
    path = folder / "vectors.usearch"
    os.truncate(path, path.stat().st_size // 2)  # the same inode: what a serving process maps
    return "vectors.usearch"


def vectors_deleted(folder: Path) -> str:
    (folder / "vectors.usearch").unlink()
    return "vectors.usearch"


def lexical_deleted(folder: Path) -> str:
    shutil.rmtree(folder / "lexical")
    return "lexical"


DAMAGE = {
    "random-bytes-over-vectors": random_bytes_over_vectors,
    "broken-lexical-meta": broken_lexical_meta,
    "vectors-truncated-in-place": vectors_truncated_in_place,
    "vectors-deleted": vectors_deleted,
    "lexical-deleted": lexical_deleted,
}


@contextmanager
def index_writer_busy(home: Path) -> Iterator[None]:
    """Hold the index write lock: the node's updater waits for it before it can rebuild."""
    folder = home / "index"
    with open(folder / ".write.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


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


def assert_the_site_answers(site, round: str) -> None:
    """Every surface that reads an index answers 200 with what a reader expects.

    ``round`` makes each URL new, so that no answer comes from the page cache (a parameter of
    its own: in the words it would make the query another one, farther from every paper).
    """
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


def assert_whole_again(site, label: str) -> None:
    report, seconds = wait_for_health(site, "ok")
    assert report["status"] == "ok" and report["index"]["papers"] == len(PAPERS), report
    print(f"{label}: whole again {seconds:.1f} s after the writer let go")
    assert_search_finds_every_paper(site)


def assert_search_finds_every_paper(site) -> None:
    """From the indexes themselves: no answer carries a fallback notice."""
    for record in PAPERS:
        lexical, headers = api(site, q=record["title"], mode="lexical", limit=1)
        assert [i["paper"]["id"] for i in lexical] == [record["id"]] and "X-Paperwire-Notice" not in headers
        semantic, headers = api(site, q="about " + record["title"], mode="semantic", limit=5)
        assert record["id"] in [i["paper"]["id"] for i in semantic] and "X-Paperwire-Notice" not in headers
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

        # Damaged while serving.
        with index_writer_busy(home):
            damaged = DAMAGE[damage](home / "index")
            report, _ = wait_for_health(site, "degraded")
            assert report["status"] == "degraded" and damaged in report["reason"], report
            assert_the_site_answers(site, "serving")
        assert_whole_again(site, f"\n{damage}, while serving")

        # Damaged while stopped: `serve` starts all the same.
        stop_site(site)
        with index_writer_busy(home):
            damaged = DAMAGE[damage](home / "index")
            site = start_site(home, "--workers", "2", wait_for_index=False, **options)
            report = health(site)
            assert report["status"] == "degraded" and damaged in report["reason"], report
            assert_the_site_answers(site, "restarted")
        assert_whole_again(site, f"{damage}, across a restart")
    finally:
        stop_site(site)
