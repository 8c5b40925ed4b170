"""Submissions against a real `paperwire serve`: a hanging arXiv or SMTP server never holds the
site, and racing submissions never pass the daily limit."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.conftest import Reply, arxiv_feed, paper, start_site, stop_site, write_jsonl

# A request that has not answered by then has waited on something it should not have.
CLIENT_TIMEOUT = 15
PENDING_MESSAGE = "arXiv did not answer; your paper will appear once it is fetched."


def post(site, opener, csrf: str, path: str, fields: dict) -> tuple[int, str, str]:
    """POST a form as the session's user: the final status, URL and body (redirects followed)."""
    body = urllib.parse.urlencode({"csrfmiddlewaretoken": csrf, **fields}).encode()
    request = urllib.request.Request(site.url + path, body, headers={"Referer": site.url})
    try:
        with opener.open(request, timeout=CLIENT_TIMEOUT) as response:
            return response.status, response.url, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.url, error.read().decode()


def error_text(body: str) -> str:
    return body.split('role="alert">', 1)[-1].split("<", 1)[0] if 'role="alert">' in body else ""


def create_user(site, username: str, email: str = "") -> None:
    code = (
        "from django.contrib.auth.models import User; "
        f"User.objects.create_user({username!r}, {email!r}, 'correct horse battery')"
    )
    result = site.command("shell", "-c", code)
    assert result.returncode == 0, result.stderr


def create_users(site, usernames: list[str]) -> None:
    code = (
        "from django.contrib.auth.models import User; "
        f"[User.objects.create_user(name, '', 'correct horse battery') for name in {usernames!r}]"
    )
    result = site.command("shell", "-c", code)
    assert result.returncode == 0, result.stderr


def shell_output(site, code: str) -> str:
    result = site.command("shell", "-c", code)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


class HealthPoller:
    """Polls /healthz in a thread until stopped; records each answer's status (or the error)."""

    def __init__(self, site) -> None:
        self.site = site
        self.answers: list[object] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                with urllib.request.urlopen(self.site.url + "/healthz", timeout=CLIENT_TIMEOUT) as response:
                    self.answers.append(response.status)
            except (OSError, urllib.error.URLError) as error:
                self.answers.append(repr(error))
            self.stopping.wait(0.2)

    def stop(self) -> list[object]:
        self.stopping.set()
        self.thread.join()
        return self.answers


def in_threads(count: int, work) -> list:
    """Run ``work(n)`` in ``count`` threads started together; their results in order."""
    results: list = [None] * count
    start = threading.Barrier(count)

    def run(n: int) -> None:
        start.wait()
        try:
            results[n] = work(n)
        except Exception as error:  # a client timeout is the failure this test looks for
            results[n] = error

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


NEW_PAPERS = [
    {"id": f"2507.1468{n}v1", "title": f"Slow paper {n}", "published": "2025-07-19T16:21:23Z"} for n in range(5)
]


def test_a_hanging_arxiv_never_holds_the_site(tmp_path, recorded_server, database):
    """Five people submit while arXiv hangs (more than the site's four threads): each is told at
    once that the paper waits for arXiv and /healthz keeps answering; the worker fetches the
    papers once arXiv answers. (Five people, not one person five times: one session's messages
    are shown by whichever of its pages loads first.)"""
    recorded_server.add("/api/query", Reply(body=arxiv_feed(*NEW_PAPERS)))
    recorded_server.hang()
    site = start_site(
        tmp_path / "home",
        PAPERWIRE_ARXIV_API_URL=recorded_server.url + "/api/query",
        PAPERWIRE_ARXIV_INTERVAL="0",
        **database,
    )
    try:
        people = [f"reader{n}" for n in range(5)]
        create_users(site, people)
        sessions = [site.log_in(name, "correct horse battery") for name in people]
        health = HealthPoller(site)
        answers = in_threads(5, lambda n: post(site, *sessions[n], "/submit", {"paper": f"2507.1468{n}"}))
        polled = health.stop()
        for n, answer in enumerate(answers):
            assert not isinstance(answer, Exception), answer
            status, url, body = answer
            assert status == 200 and url == site.url + "/submit"
            assert PENDING_MESSAGE in body
            assert f"2507.1468{n}" in body  # listed as waiting for arXiv
        assert polled and set(polled) == {200}
        assert site.get("/healthz")[0] == 200
        status, body = site.get("/api/daily_papers?limit=100")
        assert status == 200 and json.loads(body) == []

        recorded_server.answer()
        result = site.command("worker", "--once")
        assert result.returncode == 0, result.stderr
        assert "5 submissions on the feed" in result.stdout
        for n, name in enumerate(people):
            status, body = site.get(f"/api/daily_papers?submitter={name}")
            assert status == 200
            assert [(i["paper"]["id"], i["title"]) for i in json.loads(body)] == [(f"2507.1468{n}", f"Slow paper {n}")]
            assert "Waiting for arXiv" not in site.fetch("/submit", sessions[n][0])[2].decode()
        again = site.command("worker", "--once")  # nothing left to do, nothing fetched twice
        assert again.returncode == 0 and "submissions on the feed" not in again.stdout
    finally:
        stop_site(site)


def test_racing_submissions_never_pass_the_daily_limit(tmp_path, database):
    """8 submitted, then 10 at once from one account on two web processes: exactly 10 stored."""
    home = tmp_path / "home"
    # Papers in the database that no day lists (no date): submitting puts each on today's feed.
    records = [paper(f"2401.100{n:02d}", f"Known paper {n}") for n in range(18)]
    site = start_site(home, "--workers", "2", PAPERWIRE_RATE_SUBMIT="1000/60", **database)
    try:
        result = site.command("import", str(write_jsonl(tmp_path / "known.jsonl", records)))
        assert result.returncode == 0, result.stderr
        create_user(site, "alice")
        opener, csrf = site.log_in("alice", "correct horse battery")
        for n in range(8):
            status, url, _ = post(site, opener, csrf, "/submit", {"paper": f"2401.100{n:02d}"})
            assert status == 200 and url == f"{site.url}/papers/2401.100{n:02d}"
        answers = in_threads(10, lambda n: post(site, opener, csrf, "/submit", {"paper": f"2401.100{8 + n:02d}"}))
        accepted = [a for a in answers if a[0] == 200 and "/papers/" in a[1]]
        refused = [a for a in answers if a[0] == 400 and "You can submit 10 papers a day" in a[2]]
        assert (len(accepted), len(refused)) == (2, 8), [(a[0], a[1], error_text(a[2])) for a in answers]
        status, body = site.get("/api/daily_papers?submitter=alice&limit=100")
        assert status == 200 and len(json.loads(body)) == 10
        count = "from paperwire.papers.models import Submission as S; print(S.objects.count())"
        assert shell_output(site, count) == "10"
    finally:
        stop_site(site)


@pytest.mark.parametrize("form", ["subscribe", "password-reset"])
def test_a_hanging_smtp_server_never_holds_the_site(tmp_path, silent_server, form):
    """Mail sent while the user waits (a subscription's confirmation, a password reset) gives
    up on an SMTP server that never answers within a few seconds, and says so."""
    site = start_site(
        tmp_path / "home",
        PAPERWIRE_EMAIL_URL=f"smtp://127.0.0.1:{silent_server.port}",
        PAPERWIRE_RATE_PASSWORD_RESET="100/3600",
        PAPERWIRE_RATE_PASSWORD_RESET_ADDRESS="100/3600",
    )
    try:
        create_user(site, "alice", "alice@example.org")
        opener, csrf = site.log_in("alice", "correct horse battery")
        health = HealthPoller(site)
        if form == "subscribe":
            answers = in_threads(
                5,
                lambda n: post(
                    site, opener, csrf, "/subscribe", {"email": f"reader{n}@example.org", "frequency": "daily"}
                ),
            )
        else:
            fields = {"email": "alice@example.org"}
            answers = in_threads(5, lambda n: post(site, opener, csrf, "/accounts/password-reset", fields))
        polled = health.stop()
        for answer in answers:
            assert not isinstance(answer, Exception), answer
            status, url, body = answer
            if form == "subscribe":
                assert status == 503 and "could not send the confirmation message" in body
            else:
                assert status == 200 and url == site.url + "/accounts/password-reset/sent"
        assert silent_server.accepted  # the site did try to send
        assert polled and set(polled) == {200}
    finally:
        stop_site(site)
