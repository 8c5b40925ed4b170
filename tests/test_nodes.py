"""Two processes on one database: a web node picks up papers another process wrote."""

import json
import subprocess
import time
import urllib.parse

from tests.conftest import DEMO, paper, paperwire_env, run_paperwire, start_site, stop_site, write_jsonl


def test_a_web_node_finds_papers_written_by_another_node(tmp_path):
    database = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    worker_env = paperwire_env(tmp_path / "worker-home", DATABASE_URL=database)
    assert run_paperwire("migrate", "-v0", env=worker_env).returncode == 0
    site = start_site(tmp_path / "web-home", DATABASE_URL=database, PAPERWIRE_INDEX_INTERVAL="1")
    try:
        record = paper("2507.80001", "Zebrafish fin regeneration under microgravity", published="2025-07-22")
        imported = run_paperwire("import", str(write_jsonl(tmp_path / "new.jsonl", [record])), env=worker_env)
        assert imported.returncode == 0, imported.stderr
        query = "/api/papers/search?" + urllib.parse.urlencode({"q": "zebrafish microgravity", "mode": "lexical"})
        deadline = time.monotonic() + 60
        found = []
        while time.monotonic() < deadline and not found:
            status, body = site.get(query)
            found = [item["paper"]["id"] for item in json.loads(body)] if status == 200 else []
            time.sleep(0.5)
        assert found[:1] == ["2507.80001"]
        behind = None
        while time.monotonic() < deadline and behind != 0:  # the next update moves the watermark past it
            behind = json.loads(site.get("/healthz")[1])["index"]["papers_not_indexed"]
            time.sleep(0.5)
        assert behind == 0
    finally:
        stop_site(site)


def test_rate_limits_are_shared_by_every_process(tmp_path):
    database = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    limits = {"DATABASE_URL": database, "PAPERWIRE_RATE_API": "5/3600", "PAPERWIRE_INDEX_INTERVAL": "0"}
    first = start_site(tmp_path / "a", **limits)
    second = start_site(tmp_path / "b", **limits)
    try:
        statuses = [site.get("/api/daily_papers")[0] for site in (first, second, first, second, first)]
        assert statuses == [200] * 5
        status, body = second.get("/api/daily_papers")
        assert status == 429 and "error" in json.loads(body)
        assert first.get("/api/daily_papers")[0] == 429
        assert first.get("/healthz")[0] == 200  # only the limited kinds count
    finally:
        stop_site(first)
        stop_site(second)


def test_serve_runs_several_worker_processes(tmp_path):
    from tests.conftest import DEMO

    env = paperwire_env(tmp_path / "home")
    assert run_paperwire("import", "--no-index", str(DEMO), env=env).returncode == 0
    site = start_site(tmp_path / "home", "--workers", "2", "--threads", "2", PAPERWIRE_INDEX_INTERVAL="0")
    try:
        children: list[str] = []
        deadline = time.monotonic() + 30
        while len(children) < 2 and time.monotonic() < deadline:  # the second worker may still be booting
            ps = ["ps", "-o", "pid=,args=", "--ppid", str(site.process.pid)]
            lines = subprocess.run(ps, capture_output=True, text=True).stdout.splitlines()
            # The web workers are forks of serve; the index child (or its zombie, once its single
            # run with PAPERWIRE_INDEX_INTERVAL=0 is over) is not one of them.
            children = [line for line in lines if "paperwire serve" in line and "<defunct>" not in line]
            time.sleep(0.2)
        assert len(children) == 2
        query = "/api/papers/search?" + urllib.parse.urlencode({"q": "attention sinks in language models", "limit": 3})
        results = [json.loads(site.get(query)[1]) for _ in range(6)]  # spread over both workers
        assert all(len(r) == 3 and r == results[0] for r in results)
    finally:
        stop_site(site)


def test_a_vote_through_one_web_process_refreshes_the_pages_another_has_cached(tmp_path, database):
    shared = database or {"DATABASE_URL": f"sqlite:///{tmp_path / 'shared.sqlite3'}"}
    setup = paperwire_env(tmp_path / "setup", **shared)
    assert run_paperwire("import", "--no-index", str(DEMO), env=setup).returncode == 0
    create = "from django.contrib.auth.models import User; User.objects.create_user('bob', password='pw')"
    assert run_paperwire("shell", "-c", create, env=setup).returncode == 0
    options = {**shared, "PAPERWIRE_INDEX_INTERVAL": "0"}
    first = start_site(tmp_path / "a", "--workers", "2", **options)
    second = start_site(tmp_path / "b", **options)
    pages = ["/papers/2403.01767", "/api/papers/2403.01767", "/api/daily_papers?date=2024-03-04"]
    try:
        for path in pages:  # each worker of the first process fills its own cache
            assert {first.fetch(path)[1].get("X-Cache") for _ in range(6)} >= {"hit"}, path
        opener, csrf = second.log_in("bob", "pw")
        assert second.vote(opener, csrf, "2403.01767")["upvotes"] == 1
        for path in pages:
            for _ in range(4):  # whichever worker answers
                status, headers, body = first.fetch(path)
                assert status == 200 and headers["X-Cache"] in ("hit", "miss")
                if path.startswith("/api/papers/"):
                    assert json.loads(body)["upvotes"] == 1
                elif path.startswith("/api/daily_papers"):
                    assert [i["paper"]["upvotes"] for i in json.loads(body) if i["paper"]["id"] == "2403.01767"] == [1]
                else:
                    assert b'<span class="count">1</span>' in body
    finally:
        stop_site(first)
        stop_site(second)
