"""Real `paperwire digest send` processes: racing senders, and a sender killed mid-run."""

import datetime as dt
import signal
import subprocess
from collections import Counter

import pytest

from tests.conftest import paper, paperwire_env, run_paperwire, start_paperwire, write_jsonl

DAY = "2025-07-22"


def confirmed_subscribers(env: dict, emails: list[str]) -> list[str]:
    """Subscribers who have confirmed, written by a child process into ``env``'s database."""
    code = (
        "from paperwire.digests.models import Subscriber as S; from django.utils import timezone; "
        f"[S.objects.create(email=e, state='confirmed', confirmed_at=timezone.now()) for e in {emails!r}]"
    )
    assert run_paperwire("shell", "-c", code, env=env).returncode == 0
    return emails


@pytest.fixture
def home(tmp_path, smtp_server, database):
    home = tmp_path / "home"
    # A site that sends digests sets its public URL (without it, `digest send` warns: docs/digests.md).
    env = paperwire_env(
        home, PAPERWIRE_EMAIL_URL=smtp_server.url, PAPERWIRE_BASE_URL="https://papers.example.org", **database
    )
    papers = [paper(f"2507.3000{n}", f"Paper {n}", published=DAY, upvotes=n) for n in range(1, 6)]
    assert (
        run_paperwire("import", "--no-index", str(write_jsonl(tmp_path / "p.jsonl", papers)), env=env).returncode == 0
    )

    def subscribe(count: int) -> list[str]:
        return confirmed_subscribers(env, [f"reader{n}@example.org" for n in range(count)])

    return env, subscribe


def sender(env: dict) -> subprocess.Popen:
    return start_paperwire("digest", "send", "--frequency", "daily", "--date", DAY, env=env)


def test_two_senders_at_once_send_each_digest_once(home, smtp_server):
    env, subscribe = home
    emails = subscribe(20)
    first, second = sender(env), sender(env)
    outputs = [p.communicate(timeout=300) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], outputs
    received = Counter(m["To"] for m in smtp_server.handler.messages)
    assert received == Counter({e: 1 for e in emails})
    sent = sum(int(out.split("sent ")[1].split(",")[0]) for out, _ in outputs)
    assert sent == 20


def test_workers_and_a_sender_racing_send_each_digest_once(tmp_path, smtp_server, database):
    yesterday = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).date().isoformat()
    env = paperwire_env(tmp_path / "home", PAPERWIRE_EMAIL_URL=smtp_server.url, PAPERWIRE_DIGEST_HOUR="0", **database)
    papers = [paper(f"2507.5000{n}", f"Paper {n}", published=yesterday, upvotes=n) for n in range(1, 4)]
    assert (
        run_paperwire("import", "--no-index", str(write_jsonl(tmp_path / "p.jsonl", papers)), env=env).returncode == 0
    )
    emails = confirmed_subscribers(env, [f"racer{n}@example.org" for n in range(30)])
    commands = [["worker", "--once"], ["worker", "--once"], ["digest", "send", "--frequency", "daily"]]
    processes = [start_paperwire(*c, env=env) for c in commands]
    outputs = [p.communicate(timeout=300) for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], outputs
    assert Counter(m["To"] for m in smtp_server.handler.messages) == Counter({e: 1 for e in emails})


def test_a_sender_killed_mid_run_loses_nothing_and_sends_nothing_twice(home, smtp_server):
    env, subscribe = home
    emails = subscribe(5)
    smtp_server.handler.hold_at, smtp_server.handler.hold_seconds = 3, 5.0
    process = sender(env)
    assert smtp_server.handler.held.wait(timeout=120), "the third message never arrived"
    process.send_signal(signal.SIGKILL)  # killed while the server holds back its answer to the third
    process.wait(timeout=30)
    assert len(smtp_server.handler.messages) == 3

    again = run_paperwire(
        "digest", "send", "--frequency", "daily", "--date", DAY, env=dict(env, PAPERWIRE_DIGEST_LEASE_MINUTES="0")
    )
    assert again.returncode == 0, again.stderr
    assert "daily:2025-07-22: sent 2, skipped 0, failed 0, 1 uncertain" in again.stdout
    assert Counter(m["To"] for m in smtp_server.handler.messages) == Counter({e: 1 for e in emails})
    third = run_paperwire("digest", "send", "--frequency", "daily", "--date", DAY, env=env)
    assert "sent 0, skipped 0, failed 0, 1 uncertain" in third.stdout
    assert len(smtp_server.handler.messages) == 5


def test_a_server_acknowledging_too_late_gets_each_digest_once(home, smtp_server):
    """The server keeps the second message but answers 250 only after the sender's timeout."""
    env, subscribe = home
    env = dict(env, PAPERWIRE_EMAIL_TIMEOUT="1")
    emails = subscribe(3)
    smtp_server.handler.hold_at, smtp_server.handler.hold_seconds = 2, 3.0
    first = run_paperwire("digest", "send", "--frequency", "daily", "--date", DAY, env=env)
    assert first.returncode == 0, first.stderr
    assert "daily:2025-07-22: sent 2, skipped 0, failed 0, 1 uncertain" in first.stdout
    again = run_paperwire("digest", "send", "--frequency", "daily", "--date", DAY, env=env)
    assert "daily:2025-07-22: sent 0, skipped 0, failed 0, 1 uncertain" in again.stdout
    assert Counter(m["To"] for m in smtp_server.handler.messages) == Counter({e: 1 for e in emails})


def test_a_run_the_server_refuses_entirely_exits_non_zero(home, smtp_server):
    env, subscribe = home
    for email in subscribe(10):
        smtp_server.handler.rcpt_answers[email] = ["550 5.7.1 Relaying denied"]
    result = run_paperwire("digest", "send", "--frequency", "daily", "--date", DAY, env=env)
    assert result.returncode == 1
    assert "daily:2025-07-22: sent 0, skipped 0, failed 0, 5 to retry" in result.stdout  # then it stopped
    [line] = result.stderr.splitlines()
    assert "refused every digest it was given" in line and "550 5.7.1 Relaying denied" in line
    code = "from paperwire.digests.models import Subscriber as S; print(S.objects.filter(bounces=0).count())"
    assert run_paperwire("shell", "-v", "0", "-c", code, env=env).stdout.strip() == "10"


def test_links_work_when_followed_against_the_running_server(tmp_path, smtp_server):
    import re
    import sqlite3
    import urllib.request

    from tests.conftest import start_site, stop_site

    home = tmp_path / "site"
    papers = [paper(f"2507.3000{n}", f"Paper {n}", published=DAY, upvotes=n) for n in range(1, 4)]
    env = paperwire_env(home, PAPERWIRE_EMAIL_URL=smtp_server.url)
    assert run_paperwire("import", str(write_jsonl(tmp_path / "p.jsonl", papers)), env=env).returncode == 0
    site = start_site(home, PAPERWIRE_EMAIL_URL=smtp_server.url)
    try:
        code = (
            "from paperwire.digests.models import Subscriber as S; "
            "S.objects.create(email='live@example.org', state='confirmed', topics='paper two')"
        )
        assert site.command("shell", "-c", code).returncode == 0
        sent = site.command("digest", "send", "--frequency", "daily", "--date", DAY)
        assert "sent 1," in sent.stdout, sent.stderr
        [message] = smtp_server.handler.messages
        text = message.get_body(("plain",)).get_content()
        links = set(re.findall(re.escape(site.url) + r"/\S+", text))
        assert len(links) >= 5  # three papers, the web version, manage, unsubscribe
        for link in links:
            with urllib.request.urlopen(link, timeout=10) as response:
                assert response.status == 200, link
        unsubscribe = message["List-Unsubscribe"].strip()[1:-1]
        request = urllib.request.Request(
            unsubscribe,
            data=b"List-Unsubscribe=One-Click",
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
        with sqlite3.connect(home / "paperwire.sqlite3") as db:
            assert db.execute("select state from digests_subscriber").fetchone() == ("unsubscribed",)
    finally:
        stop_site(site)
