"""What `paperwire serve` does before it answers, and what it leaves to the background: it collects
the static files only when they changed, brings the search index up to date in a child process
of lower CPU priority, and /healthz says what is still pending."""

from __future__ import annotations

import json
import os
import re
import signal
import time
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


def wait_for_health(site, wanted, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        health = json.loads(site.get("/healthz")[1])
        if wanted(health) or time.monotonic() > deadline:
            return health
        time.sleep(0.1)


def test_a_killed_index_updater_is_started_again_and_healthz_says_so_meanwhile(tmp_path):
    """Killed (the out-of-memory killer picks the largest process: the updater growing its vector
    index), the updater stayed dead while /healthz said ok and the index fell behind for ever.
    `serve` starts it again 5 s later; meanwhile /healthz is degraded and says why."""
    home = tmp_path / "home"
    env = paperwire_env(home)
    assert run_paperwire("import", str(write_jsonl(tmp_path / "a.jsonl", [paper("2401.00001", "First")])), env=env)
    site = start_site(home, PAPERWIRE_INDEX_INTERVAL="0.5")
    try:
        health = json.loads(site.get("/healthz")[1])
        [indexer] = index_children(site.process.pid)
        assert health["updater"] == {
            "status": "running",
            "pid": indexer,
            "since": health["updater"]["since"],
            "restarts": 0,
        }
        os.kill(indexer, signal.SIGKILL)
        health = wait_for_health(site, lambda h: h["updater"]["status"] != "running")
        assert health["status"] == "degraded" and health["updater"]["status"] == "restarting", health
        assert re.fullmatch(
            r"index updates: the index updater stopped at \S+ \(killed by SIGKILL\); starting it again in [1-5] s",
            health["reason"],
        ), health
        # Papers imported meanwhile are indexed by the updater started again.
        more = write_jsonl(tmp_path / "more.jsonl", [paper("2401.00002", "Second coming of wombats")])
        assert site.command("import", "--no-index", str(more)).returncode == 0
        health = wait_for_health(site, lambda h: h["status"] == "ok" and h["pending"] == [], timeout=90)
        assert (health["status"], health["updater"]["status"], health["updater"]["restarts"]) == ("ok", "running", 1)
        [again] = index_children(site.process.pid)
        assert again != indexer and health["updater"]["pid"] == again
        assert os.getpriority(os.PRIO_PROCESS, again) == min(os.getpriority(os.PRIO_PROCESS, site.process.pid) + 10, 19)
        status, body = site.get("/api/papers/search?q=wombats&mode=lexical")
        assert status == 200 and [item["paper"]["id"] for item in json.loads(body)] == ["2401.00002"]
    finally:
        stop_site(site)
    output = site.process.stdout.read()
    assert f"the index updater (pid {indexer}) stopped (killed by SIGKILL); starting it again in 5 s" in output
    assert index_children(site.process.pid) == []


def test_outside_serve_healthz_says_no_updater_runs(client, db):
    assert client.get("/healthz").json()["updater"] == {"status": "not run"}


def gunicorn_workers(pid: int) -> list[int]:
    """The web workers of `serve` ``pid``: its children that are not the index updater."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(c) for c in children if int(c) not in index_children(pid)]


def test_a_web_worker_that_exits_is_replaced_and_leaves_the_updater_alone(tmp_path):
    """A worker leaving (gunicorn's max requests, a timeout, a kill) ran serve's own clean-up in
    the forked copy of it: it stopped the index updater, then hung on a lock held, in `serve`,
    by the thread watching the updater: with one worker the site refused every connection for
    a minute."""
    site = start_site(tmp_path / "home", "--workers", "1", PAPERWIRE_INDEX_INTERVAL="0.5")
    try:
        [indexer] = index_children(site.process.pid)
        [worker] = gunicorn_workers(site.process.pid)
        os.kill(worker, signal.SIGTERM)
        health = wait_for_health(site, lambda h: True, timeout=5)  # answered: a new worker serves
        deadline = time.monotonic() + 30
        while worker in gunicorn_workers(site.process.pid) or not gunicorn_workers(site.process.pid):
            assert time.monotonic() < deadline, "the worker never left"
            time.sleep(0.1)
        status, body = site.get("/healthz")
        health = json.loads(body)
        assert status == 200 and health["status"] == "ok", health
        assert (health["updater"]["pid"], health["updater"]["restarts"]) == (indexer, 0)
        assert index_children(site.process.pid) == [indexer]
    finally:
        stop_site(site)
    assert site.process.returncode in (0, -signal.SIGINT), site.process.returncode


def test_a_paused_updater_makes_the_site_degraded_and_does_not_hold_up_its_stop(tmp_path):
    site = start_site(tmp_path / "home", PAPERWIRE_INDEX_INTERVAL="0.5")
    try:
        [indexer] = index_children(site.process.pid)
        os.kill(indexer, signal.SIGSTOP)
        health = wait_for_health(site, lambda h: h["status"] != "ok")
        assert health["updater"]["status"] == "paused", health
        assert health["reason"] == (
            f"index updates: the index updater (pid {indexer}) is stopped (SIGSTOP); updates wait until it is continued"
        )
        os.kill(indexer, signal.SIGCONT)
        health = wait_for_health(site, lambda h: h["status"] == "ok")
        assert health["updater"]["status"] == "running" and health["updater"]["pid"] == indexer
        os.kill(indexer, signal.SIGSTOP)  # and stopped as serve stops: it is continued to take its SIGTERM
    finally:
        stop_site(site)
    assert site.process.returncode in (0, -signal.SIGINT), site.process.returncode  # not killed by stop_site
    assert not Path(f"/proc/{indexer}").exists()
