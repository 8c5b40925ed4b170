"""On PostgreSQL, a row that a writer locks must not be one that another writer's new rows refer to
with a lock that conflicts: Django's foreign keys are checked when a transaction commits (they are
deferred), with FOR KEY SHARE on the rows referred to, after that transaction took the content
version (``content_changed``, the last lock of every write). A FOR UPDATE lock there waits for
the committing transaction's content version in a cycle: a deadlock, and one of the two writes
answered 500. Locks on such rows are FOR NO KEY UPDATE, which KEY SHARE does not wait for.

Each test holds a transaction that refers to a row and took the content version (what a vote,
a comment or a submission does just before it commits), starts the write that locks that row,
then commits the first: both must succeed."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from django.db import connection

from paperwire.discussions.threads import post_comment, set_comment_vote
from paperwire.papers.models import Paper, current_content_version, set_vote
from paperwire.papers.submit import start_submission

pytestmark = pytest.mark.django_db(transaction=True)


def raw_connection() -> psycopg.Connection:
    s = connection.settings_dict
    return psycopg.connect(
        host=s["HOST"], port=s["PORT"] or 5432, user=s["USER"], password=s["PASSWORD"], dbname=s["NAME"]
    )


def waiting_on_a_lock(watcher: psycopg.Connection) -> bool:
    query = "select count(*) from pg_stat_activity where datname = %s and wait_event_type = 'Lock'"
    return watcher.execute(query, [connection.settings_dict["NAME"]]).fetchone()[0] > 0


def race(refer: str, parameters: list, write) -> list[str]:
    """Hold a transaction that ran ``refer`` (an insert referring to a row) and took the content
    version; run ``write`` in a thread until it waits; commit the first. The errors, if any."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks and deferred foreign keys are PostgreSQL's; SQLite runs one writer at a time")
    current_content_version()  # the row exists
    errors: list[str] = []
    holder, watcher = raw_connection(), raw_connection()
    watcher.autocommit = True
    holder.execute(refer, parameters)
    holder.execute("update papers_contentversion set counter = counter + 1 where id = 1")

    def run() -> None:
        try:
            write()
        except Exception as error:  # the deadlock this test looks for
            errors.append(f"write: {error}")
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 10
    while not waiting_on_a_lock(watcher) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    try:
        holder.commit()
    except psycopg.errors.DeadlockDetected as error:
        errors.append(f"holder: {error}")
    thread.join(timeout=30)
    holder.close()
    watcher.close()
    return errors


@pytest.fixture
def papers():
    Paper.objects.create(id="2410.10819", title="On no day yet", abstract="...")
    return Paper.objects.create(id="2410.10820", title="Voted on", abstract="...")


def test_a_submission_waits_for_no_vote_of_its_submitter(papers, alice):
    """start_submission locks the submitter's row; a vote of theirs committing refers to it."""
    refer = "insert into papers_vote (user_id, paper_id, created_at) values (%s, %s, now())"
    assert race(refer, [alice.pk, papers.pk], lambda: start_submission(alice, "2410.10819")) == []


def test_a_paper_vote_waits_for_no_comment_on_the_paper(papers, alice, bob):
    """refresh_upvotes locks the paper's row; a comment committing refers to it."""
    refer = (
        "insert into discussions_comment (paper_id, author_id, body, html, html_version, created_at, hidden, upvotes)"
        " values (%s, %s, 'x', '<p>x</p>', '', now(), false, 0)"
    )
    assert race(refer, [papers.pk, alice.pk], lambda: set_vote(bob, papers, True)) == []


def test_a_comment_vote_waits_for_no_reply_to_the_comment(papers, alice, bob):
    """A comment vote locks the comment's row; a reply committing refers to it."""
    top = post_comment(alice, papers, "Top")
    refer = (
        "insert into discussions_comment (paper_id, parent_id, author_id, body, html, html_version, created_at,"
        " hidden, upvotes) values (%s, %s, %s, 'x', '<p>x</p>', '', now(), false, 0)"
    )
    assert race(refer, [papers.pk, top.pk, alice.pk], lambda: set_comment_vote(bob, top.pk, True)) == []
