"""Real `paperwire digest notify` and `paperwire worker` processes sending notification mails:
racing senders, and a sender killed mid-run, on SQLite and PostgreSQL."""

import signal
from collections import Counter

import pytest

from tests.conftest import paper, paperwire_env, run_paperwire, start_paperwire, write_jsonl

PAPER = "2507.40001"


def replies_to(env: dict, count: int) -> list[str]:
    """``count`` verified readers, each with a comment that "writer" replies to."""
    code = f"""
from django.contrib.auth.models import User
from paperwire.accounts.models import VerifiedEmail
from paperwire.discussions.threads import post_comment
from paperwire.papers.models import Paper
paper = Paper.objects.get(pk={PAPER!r})
writer = User.objects.create_user("writer", "writer@example.org", "a long pass phrase 42")
for n in range({count}):
    user = User.objects.create_user(f"reader{{n}}", f"reader{{n}}@example.org", "a long pass phrase 42")
    VerifiedEmail.objects.create(user=user, email=user.email)
    top = post_comment(user, paper, f"Question {{n}}")
    post_comment(writer, paper, f"Answer {{n}}", reply_to=top.pk)
"""
    result = run_paperwire("shell", "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    return [f"reader{n}@example.org" for n in range(count)]


@pytest.fixture
def env(tmp_path, smtp_server, database):
    env = paperwire_env(
        tmp_path / "home",
        PAPERWIRE_EMAIL_URL=smtp_server.url,
        PAPERWIRE_BASE_URL="https://papers.example.org",
        PAPERWIRE_DIGEST_HOUR="23",
        **database,
    )
    records = write_jsonl(tmp_path / "p.jsonl", [paper(PAPER, "A paper")])
    assert run_paperwire("import", "--no-index", str(records), env=env).returncode == 0
    return env


def states(env: dict) -> str:
    code = (
        "from paperwire.digests.models import NotificationMail as M; from collections import Counter; "
        "print(sorted(Counter(M.objects.values_list('state', flat=True)).items()))"
    )
    return run_paperwire("shell", "-v", "0", "-c", code, env=env).stdout.strip()


def test_senders_and_workers_racing_send_each_notification_once(env, smtp_server):
    emails = replies_to(env, 20)
    commands = [["digest", "notify"], ["digest", "notify"], ["worker", "--once"], ["digest", "notify"]]
    processes = [start_paperwire(*c, env=env) for c in commands]
    outputs = [p.communicate(timeout=300) for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0, 0], outputs
    assert Counter(m["To"] for m in smtp_server.handler.messages) == Counter({e: 1 for e in emails})
    sent = sum(int(out.split("notifications: sent ")[1].split(",")[0]) for out, _ in outputs)
    assert sent == 20
    assert states(env) == "[('sent', 20)]"
    again = run_paperwire("digest", "notify", env=env)
    assert again.stdout.strip() == "notifications: sent 0, skipped 0, failed 0"
    assert len(smtp_server.handler.messages) == 20


def test_a_sender_killed_mid_run_loses_nothing_and_sends_nothing_twice(env, smtp_server):
    emails = replies_to(env, 5)
    smtp_server.handler.hold_at, smtp_server.handler.hold_seconds = 3, 5.0
    process = start_paperwire("digest", "notify", env=env)
    assert smtp_server.handler.held.wait(timeout=120), "the third message never arrived"
    process.send_signal(signal.SIGKILL)  # killed after the server has the third, before it answered
    process.wait(timeout=30)
    assert len(smtp_server.handler.messages) == 3

    # Within the lease the row is still the dead sender's: nothing happens to it.
    again = run_paperwire("digest", "notify", env=env)
    assert again.returncode == 0, again.stderr
    assert "notifications: sent 2, skipped 0, failed 0" in again.stdout
    assert len(smtp_server.handler.messages) == 5
    # After the lease it is uncertain: the server may have it (it does), so it is not sent again.
    later = run_paperwire("digest", "notify", env=dict(env, PAPERWIRE_DIGEST_LEASE_MINUTES="0"))
    assert "notifications: sent 0, skipped 0, failed 0, 1 uncertain" in later.stdout
    assert Counter(m["To"] for m in smtp_server.handler.messages) == Counter({e: 1 for e in emails})
    assert states(env) == "[('sent', 4), ('uncertain', 1)]"
