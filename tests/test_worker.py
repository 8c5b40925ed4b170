"""`paperwire worker`: the schedule, and a clean stop on SIGTERM."""

import datetime as dt
import json
import signal

import pytest
import time_machine
from django.core.management import call_command

from paperwire.digests.models import Delivery, Subscriber
from paperwire.ingest.importer import import_files
from paperwire.papers.models import Paper, Submission
from paperwire.papers.submit import start_submission
from tests.conftest import Reply, arxiv_feed, paper, paperwire_env, start_paperwire, write_jsonl
from tests.test_import import HF_ITEM

pytestmark = pytest.mark.django_db


@pytest.fixture
def readers(tmp_path):
    import_files(
        [
            write_jsonl(
                tmp_path / "p.jsonl",
                [
                    paper("2507.40001", "Sunday paper", published="2025-07-20", upvotes=3),
                    paper("2507.40002", "Monday paper", published="2025-07-21", upvotes=5),
                ],
            )
        ],
        progress=False,
    )
    Subscriber.objects.create(email="daily@example.org", frequency="daily", state=Subscriber.CONFIRMED)
    Subscriber.objects.create(email="weekly@example.org", frequency="weekly", state=Subscriber.CONFIRMED)


def run_cycle(at: dt.datetime) -> None:
    with time_machine.travel(at, tick=False):
        call_command("worker", "--once")


def test_daily_digests_wait_for_the_hour_and_weekly_ones_for_monday(smtp_server, readers, settings):
    settings.DIGEST_HOUR = 6
    run_cycle(dt.datetime(2025, 7, 22, 5, 0, tzinfo=dt.UTC))  # Tuesday, too early
    assert smtp_server.handler.messages == []
    run_cycle(dt.datetime(2025, 7, 22, 7, 0, tzinfo=dt.UTC))  # Tuesday: yesterday's daily digest only
    assert [m["To"] for m in smtp_server.handler.messages] == ["daily@example.org"]
    assert "Monday paper" in smtp_server.handler.messages[0].get_body(("plain",)).get_content()
    run_cycle(dt.datetime(2025, 7, 22, 8, 0, tzinfo=dt.UTC))  # again: nothing twice
    assert len(smtp_server.handler.messages) == 1
    run_cycle(dt.datetime(2025, 7, 28, 7, 0, tzinfo=dt.UTC))  # Monday: last week's weekly digest too
    assert Delivery.objects.filter(period="weekly:2025-W30", state=Delivery.SENT).count() == 1
    assert len(smtp_server.handler.messages) == 2  # the daily digest of Sunday 27th has no papers


def test_the_worker_ingests_configured_sources(smtp_server, settings, recorded_server):
    settings.WORKER_INGEST = ["hf-daily"]
    settings.HF_ENDPOINT = recorded_server.url
    recorded_server.add("/api/daily_papers", Reply(body=json.dumps([HF_ITEM])))
    run_cycle(dt.datetime(2025, 7, 22, 3, 0, tzinfo=dt.UTC))
    assert Paper.objects.filter(pk="2507.14683").exists()


def test_the_worker_completes_submissions_arxiv_was_slow_for(smtp_server, settings, recorded_server, alice, capsys):
    settings.ARXIV_API_URL = recorded_server.url + "/api/query"
    submission = start_submission(alice, "2507.14683")  # a web request's claim that ran out
    Submission.objects.filter(pk=submission.pk).update(claimed_until=None)
    recorded_server.add("/api/query", Reply(body=arxiv_feed({"id": "2507.14683v1", "title": "MiroMind-M1"})))
    run_cycle(dt.datetime(2025, 7, 22, 3, 0, tzinfo=dt.UTC))
    assert "1 submissions on the feed, 0 waiting for arXiv, 0 given up" in capsys.readouterr().out
    stored = Paper.objects.get(pk="2507.14683")
    assert (stored.title, stored.submitter, str(stored.daily_date)) == ("MiroMind-M1", alice, "2025-07-22")


def test_a_failing_step_does_not_stop_the_others(smtp_server, readers, settings, capsys):
    settings.WORKER_INGEST = ["hf-daily"]
    settings.HF_ENDPOINT = "http://127.0.0.1:9"
    settings.HTTP_RETRIES = 0
    run_cycle(dt.datetime(2025, 7, 22, 7, 0, tzinfo=dt.UTC))
    assert "ingest hf-daily failed" in capsys.readouterr().err
    assert len(smtp_server.handler.messages) == 1


def test_sigterm_stops_the_worker_cleanly(tmp_path):
    env = paperwire_env(tmp_path / "home", PAPERWIRE_WORKER_INTERVAL="3600", PAPERWIRE_EMAIL_URL="console://")
    process = start_paperwire("worker", env=env)
    assert process.stdout.readline().startswith("worker started")
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 0
    assert out.strip().splitlines()[-1] == "worker stopped"
