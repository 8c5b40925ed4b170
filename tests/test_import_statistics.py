"""A large import renews PostgreSQL's statistics of the tables it fills: pages planned right
after it (a day's authors) took seconds a query with a join planned for empty tables."""

from __future__ import annotations

import pytest
from django.db import connection

from paperwire.ingest.importer import ANALYZE_AFTER, import_files
from tests.conftest import paper, write_jsonl

pytestmark = pytest.mark.django_db


def estimated_rows(table: str) -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [table])
        return cursor.fetchone()[0]


def test_a_large_import_leaves_the_planner_counting_its_rows(tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL runs when DATABASE_URL names a server (.ci/run does)")
    with connection.cursor() as cursor:
        # Autovacuum may be analyzing these tables after the rows an earlier test wrote and rolled
        # back: its estimate (blind to this test's rows, not yet committed) would replace the
        # one this test reads. Held to the end of the test's transaction, this lock makes the
        # autovacuum workers skip them (an analysis already under way is cancelled or awaited).
        cursor.execute("LOCK TABLE papers_paper, people_paperauthor IN SHARE UPDATE EXCLUSIVE MODE")
    before = estimated_rows("papers_paper")  # whatever an earlier test left
    small = [paper(f"2501.{n:05d}", f"Small {n}", authors=[f"Ann Small{n}"]) for n in range(10)]
    import_files([write_jsonl(tmp_path / "small.jsonl", small)], progress=False)
    assert estimated_rows("papers_paper") == before  # a small import leaves them to autovacuum
    many = [paper(f"2502.{n:05d}", f"Many {n}", authors=[f"Bo Many{n}", "Cy Shared"]) for n in range(ANALYZE_AFTER)]
    import_files([write_jsonl(tmp_path / "many.jsonl", many)], progress=False)
    assert estimated_rows("papers_paper") == ANALYZE_AFTER + 10
    assert estimated_rows("people_paperauthor") == 2 * ANALYZE_AFTER + 10
