"""The 74,728 arXiv papers of ../shared/data/arxiv import in one streaming run."""

import resource
import sqlite3

from tests.conftest import paperwire_env, run_paperwire, shared_data

ONE_GIB_IN_KIB = 1024 * 1024


def test_the_arxiv_set_imports_with_bounded_memory(tmp_path):
    files = sorted(str(p) for p in shared_data("arxiv").glob("*.jsonl.gz"))
    home = tmp_path / "home"
    env = paperwire_env(home)
    assert run_paperwire("migrate", "-v0", env=env).returncode == 0
    result = run_paperwire("import", "--no-index", *files, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "imported 74728 new, 0 updated, 0 rejected"
    # ru_maxrss of children is the largest peak of any child so far: an upper bound for the import.
    assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss < ONE_GIB_IN_KIB
    db = sqlite3.connect(home / "paperwire.sqlite3")
    assert db.execute("select count(*) from papers_paper").fetchone() == (74728,)
    assert db.execute("select count(*) from papers_paper where daily_date is null").fetchone() == (0,)
