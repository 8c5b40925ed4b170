"""`make test-postgres` (pytest --postgres-pass) runs the tests whose database is PostgreSQL and
leaves out those that would repeat, exactly, what `make test` ran on SQLite."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT

FILES = [
    "tests/test_following.py",
    "tests/test_index_damage.py",
    "tests/test_static_files.py",
    "tests/test_cli.py",
]


def collect(*options: str, env: dict) -> subprocess.CompletedProcess:
    """``pytest --collect-only`` of FILES (collecting connects to no database)."""
    command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *options, *FILES]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def collected(*options: str, database_url: str) -> list[str]:
    done = collect(*options, env={**os.environ, "DATABASE_URL": database_url})  # any server name will do
    assert done.returncode == 0, done.stdout + done.stderr
    return [line for line in done.stdout.splitlines() if "::" in line]


def test_the_postgres_pass_keeps_what_uses_the_server_and_leaves_the_repeats():
    url = "postgres://nobody:nothing@127.0.0.1:9/none"
    everything = collected(database_url=url)
    kept = collected("--postgres-pass", database_url=url)
    # The Django test database (a module marked django_db): every test.
    following = [t for t in everything if t.startswith("tests/test_following.py::")]
    assert following and all(t in kept for t in following)
    # Child processes on a database of their own: the PostgreSQL side only.
    damage = [t for t in everything if t.startswith("tests/test_index_damage.py::test_a_damaged_index")]
    assert {t for t in damage if "[postgres-" in t} == {t for t in kept if "test_a_damaged_index" in t}
    assert any("[sqlite-" in t for t in damage)
    # A site on a SQLite file of its own, whatever DATABASE_URL says: the same in both passes.
    served = "tests/test_static_files.py::test_deleting_the_static_folder_while_serving"
    assert served in everything and served not in kept
    # A test that reads the server DATABASE_URL names itself says so (postgres_server): kept.
    unreachable = "tests/test_cli.py::test_each_way_a_database_is_unreachable_is_one_line"
    assert f"{unreachable}[wrong password]" in kept and f"{unreachable}[no such database]" in kept
    assert f"{unreachable}[closed port]" not in kept


def test_the_postgres_pass_needs_a_postgres_server():
    done = collect("--postgres-pass", env={k: v for k, v in os.environ.items() if k != "DATABASE_URL"})
    assert done.returncode != 0
    assert "--postgres-pass needs DATABASE_URL to name a PostgreSQL server" in done.stdout + done.stderr
