"""`paperwire index` killed halfway resumes without computing any stored embedding again."""

import signal
import sqlite3
import time

from paperwire.search.ann import Index
from tests.conftest import paperwire_env, run_paperwire, start_paperwire, write_jsonl

WORDS = "graph neural protein folding robot policy speech vision language diffusion sparse kernel".split()


def synthetic_papers(count: int) -> list[dict]:
    papers = []
    for n in range(count):
        topic = [WORDS[(n + i) % len(WORDS)] for i in range(3)]
        papers.append(
            {
                "id": f"2503.{n + 1:05d}",
                "title": f"Study {n}: {' '.join(topic)} methods",
                "abstract": f"We present study number {n} on {' and '.join(topic)}, "
                f"with experiments on {n % 7 + 2} datasets.",
                "published": "2025-03-01",
            }
        )
    return papers


def test_a_killed_index_run_resumes_where_it_stopped(tmp_path):
    home = tmp_path / "home"
    env = paperwire_env(home, PAPERWIRE_INDEX_BATCH="8")
    papers = synthetic_papers(300)
    source = write_jsonl(tmp_path / "papers.jsonl", papers)
    assert run_paperwire("import", "--no-index", str(source), env=env).returncode == 0

    process = start_paperwire("index", env=env)
    database = home / "paperwire.sqlite3"
    stored = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        with sqlite3.connect(database, timeout=30) as db:
            stored = db.execute("select count(*) from search_papervector").fetchone()[0]
        if stored >= 150:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    with sqlite3.connect(database) as db:
        stored = db.execute("select count(*) from search_papervector").fetchone()[0]
    assert 150 <= stored < 300

    resumed = run_paperwire("index", env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.strip() == f"indexed 300 papers, computed {300 - stored} embeddings"
    assert len(Index.restore(str(home / "index" / "vectors.usearch"), view=True)) == 300
    found = run_paperwire("search", papers[123]["title"], "--json", "--limit", "1", env=env)
    assert f'"id": "{papers[123]["id"]}"' in found.stdout
