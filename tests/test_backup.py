"""`paperwire backup`: a consistent copy of SQLite while the site writes."""

import sqlite3
import threading

import pytest

from tests.conftest import DEMO, paperwire_env, run_paperwire


def test_a_backup_taken_during_writes_is_consistent(tmp_path):
    env = paperwire_env(tmp_path / "home")
    assert run_paperwire("import", "--no-index", str(DEMO), env=env).returncode == 0
    database = tmp_path / "home" / "paperwire.sqlite3"
    stop = threading.Event()

    def keep_writing():
        with sqlite3.connect(database, timeout=30) as db:
            n = 0
            while not stop.is_set():
                db.execute("update papers_paper set num_comments = ? where id = '2403.01767'", (n,))
                db.commit()
                n += 1

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        result = run_paperwire("backup", "--output", str(tmp_path / "copy.sqlite3"), env=env)
    finally:
        stop.set()
        writer.join()
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"backed up {database} to {tmp_path / 'copy.sqlite3'}")
    copy = sqlite3.connect(tmp_path / "copy.sqlite3")
    assert copy.execute("pragma integrity_check").fetchone() == ("ok",)
    assert copy.execute("select count(*) from papers_paper").fetchone() == (41,)
    again = run_paperwire("backup", "--output", str(tmp_path / "copy.sqlite3"), env=env)
    assert again.returncode != 0 and "exists already" in again.stderr


@pytest.mark.django_db
def test_postgresql_gets_pg_dump_guidance(settings):
    from django.core.management import CommandError, call_command
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("runs on the PostgreSQL pass of the suite (.ci/run)")
    with pytest.raises(CommandError, match="pg_dump --format=custom"):
        call_command("backup")
