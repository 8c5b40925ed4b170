"""What `paperwire serve` does before it answers, and what it leaves to the background: it collects
the static files only when they changed, brings the search index up to date in a child process
of lower CPU priority, and /healthz says what is still pending."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from tests.conftest import index_writer_busy, paper, paperwire_env, run_paperwire, start_site, stop_site, write_jsonl


def index_children(pid: int) -> list[int]:
    """The `paperwire index` processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid and b"index" in command:
            found.append(int(entry.name))
    return found


def stylesheet(site) -> str:
    status, body = site.get("/")
    assert status == 200
    return re.search(r'href="(/static/paperwire/paperwire\.[0-9a-f]+\.css)"', body.decode())[1]


def test_a_second_start_collects_nothing_and_a_missing_file_is_collected_again(tmp_path):
    home = tmp_path / "home"
    manifest = home / "static" / "staticfiles.json"
    site = start_site(home, wait_for_index=False)
    css = stylesheet(site)
    stop_site(site)
    written = manifest.stat().st_mtime_ns

    site = start_site(home, wait_for_index=False)
    try:
        assert manifest.stat().st_mtime_ns == written  # nothing hashed nor compressed again
        assert stylesheet(site) == css and site.get(css)[0] == 200
    finally:
        stop_site(site)

    (home / css.removeprefix("/")).unlink()  # a collected file lost
    site = start_site(home, wait_for_index=False)
    try:
        assert stylesheet(site) == css
        status, body = site.get(css)
        assert status == 200 and b"font" in body
    finally:
        stop_site(site)


def test_the_index_is_brought_up_to_date_at_a_lower_priority(tmp_path):
    site = start_site(tmp_path / "home", wait_for_index=False)
    try:
        [indexer] = index_children(site.process.pid)
        web = os.getpriority(os.PRIO_PROCESS, site.process.pid)
        assert os.getpriority(os.PRIO_PROCESS, indexer) == min(web + 10, 19)
    finally:
        stop_site(site)


def test_healthz_says_what_is_still_pending(tmp_path):
    """Papers imported while the site runs (here without indexing them, and with updates an hour
    apart) are pending for the index: /healthz says so, in words, and is still `ok`."""
    home = tmp_path / "home"
    env = paperwire_env(home)
    first = write_jsonl(tmp_path / "first.jsonl", [paper("2401.00001", "First")])
    assert run_paperwire("import", str(first), env=env).returncode == 0
    site = start_site(home, PAPERWIRE_INDEX_INTERVAL="3600")
    try:
        health = json.loads(site.get("/healthz")[1])
        assert (health["status"], health["pending"]) == ("ok", [])
        more = write_jsonl(tmp_path / "more.jsonl", [paper(f"2401.0001{n}", f"More {n}") for n in range(3)])
        # The lock held: the site's first update may not have started yet (it would index them).
        with index_writer_busy(home):
            result = site.command("import", "--no-index", str(more))
            assert result.returncode == 0, result.stderr
            status, body = site.get("/healthz")
        health = json.loads(body)
        assert (status, health["status"], health["index"]["status"]) == (200, "ok", "behind")
        assert health["pending"] == ["search index: 3 papers not indexed yet"]
    finally:
        stop_site(site)
