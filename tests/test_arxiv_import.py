"""The 74,728 arXiv papers of ../shared/data/arxiv import in one streaming run."""

import sqlite3
import subprocess
import sys

from tests.conftest import ROOT, paperwire_env, run_paperwire, shared_data

ONE_GIB_IN_KIB = 1024 * 1024
# A fresh parent process whose only child is the command: its RUSAGE_CHILDREN peak is the command's own.
MEASURE = (
    "import resource, subprocess, sys; result = subprocess.run(sys.argv[1:]); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(result.returncode)"
)


def test_the_arxiv_set_imports_with_bounded_memory(tmp_path):
    files = sorted(str(p) for p in shared_data("arxiv").glob("*.jsonl.gz"))
    home = tmp_path / "home"
    env = paperwire_env(home)
    assert run_paperwire("migrate", "-v0", env=env).returncode == 0
    command = [sys.executable, "-c", MEASURE, sys.executable, "-m", "paperwire", "import", "--no-index", *files]
    result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "imported 74728 new, 0 updated, 0 rejected"
    peak_kib = int(result.stderr.strip().splitlines()[-1])
    assert peak_kib < ONE_GIB_IN_KIB, f"peak memory {peak_kib / 1024:.0f} MiB"
    db = sqlite3.connect(home / "paperwire.sqlite3")
    assert db.execute("select count(*) from papers_paper").fetchone() == (74728,)
    assert db.execute("select count(*) from papers_paper where daily_date is null").fetchone() == (0,)
