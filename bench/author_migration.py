"""The time the authors' data migration (paperwire/people/migrations/0002_link_paper_authors.py)
takes on an existing database: the arXiv set of ../shared/data (74,728 papers, 433,449 names)
imported, the people tables dropped (`paperwire migrate people zero`: the database of the
version before), then `paperwire migrate` timed, then timed again once its work is done (the
data migration run a second time finds nothing to do). Each command is a child process; wall
clock and CPU seconds (user + system) are printed, with the counts of the tables after it.

On SQLite by default (a fresh PAPERWIRE_HOME); with ``--database-url`` on that PostgreSQL
database, which must hold no papers yet (its tables are created by migrate).

    python bench/author_migration.py [--data ../shared/data] [--database-url postgres://...] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COUNTS = """
from paperwire.papers.models import Paper
from paperwire.people.models import Author, PaperAuthor
print(Paper.objects.count(), Author.objects.count(), PaperAuthor.objects.count(),
      Author.objects.filter(same_as__isnull=False).count())
"""


def run(*args: str, env: dict) -> tuple[float, float, str]:
    """`paperwire <args>`: wall seconds, CPU seconds of the child, its output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "paperwire", *args], env=env, cwd=ROOT, capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode:
        raise SystemExit(f"paperwire {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, result.stdout + result.stderr


def counts(env: dict) -> str:
    _, _, output = run("shell", "-c", COUNTS, env=env)
    papers, authors, places, matched = (int(n) for n in output.split()[-4:])
    return f"{papers:,} papers, {authors:,} authors, {places:,} places, {matched:,} abbreviations matched"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data", help="the shared data folder")
    parser.add_argument("--database-url", default="", help="an empty PostgreSQL database (default: SQLite)")
    parser.add_argument("--keep", type=Path, help="keep the home in this folder (default: a temporary one)")
    args = parser.parse_args()

    home = args.keep or Path(tempfile.mkdtemp(prefix="paperwire-author-migration-"))
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")}
    env.update(
        PAPERWIRE_HOME=str(home),
        PAPERWIRE_SECRET_KEY=env.get("PAPERWIRE_SECRET_KEY", "bench-secret-key-0123456789-abcdefghijklmnop"),
        PAPERWIRE_PROGRESS_SECONDS="3600",
    )
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    database = "PostgreSQL" if args.database_url else "SQLite"
    try:
        files = sorted(str(p) for p in (args.data / "arxiv").glob("*.jsonl.gz"))
        wall, cpu, output = run("import", "--no-index", *files, env=env)
        print(f"{database}: import of the arXiv set {wall:.1f} s ({output.strip().splitlines()[-1]})")
        run("migrate", "people", "zero", env=env)
        print(f"the database of the version before: {counts_before(env)}")
        wall, cpu, _ = run("migrate", env=env)
        print(f"`paperwire migrate` (tables, then the data migration): {wall:.1f} s wall, {cpu:.1f} s CPU")
        print(f"  after it: {counts(env)}")
        run("migrate", "people", "0001", env=env)  # the data migration unapplied (it undoes nothing)
        wall, cpu, _ = run("migrate", env=env)
        print(f"the data migration run again over its own work: {wall:.1f} s wall, {cpu:.1f} s CPU")
        print(f"  after it: {counts(env)}")
        print(f"load average at the end: {os.getloadavg()[0]:.1f} (2 cores)")
    finally:
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)


def counts_before(env: dict) -> str:
    _, _, output = run(
        "shell", "-c", "from paperwire.papers.models import Paper; print(Paper.objects.count())", env=env
    )
    return f"{int(output.split()[-1]):,} papers, no author tables"


if __name__ == "__main__":
    main()
