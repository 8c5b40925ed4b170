"""Outside servers that answer a byte at a time (tarpits) never hold a caller longer than its
overall deadline (paperwire/core/outside.py): not a web thread (a submission's arXiv fetch, a
subscription's or a password reset's mail), not the digest sender, not an ingest run."""

from __future__ import annotations

import datetime as dt
import signal
import socket
import threading

import pytest
from django.core.mail import EmailMessage, get_connection
from django.utils import timezone

from paperwire.digests.content import DigestPeriod
from paperwire.digests.models import Delivery, Subscriber
from paperwire.digests.sending import send_period
from paperwire.digests.smtp import CONNECT, SmtpFailure, transmit
from paperwire.ingest import http
from paperwire.ingest.sources import fetch_arxiv_paper
from tests.conftest import paper, start_site, stop_site, write_jsonl
from tests.test_submit_processes import HealthPoller, create_user, create_users, in_threads, post

# Far more than any deadline below: a call still running by then was not cut off.
BOUND = 40


class Trickler:
    """A server on 127.0.0.1 that answers every connection one piece at a time, forever:
    ``http-headers`` (a status line, then a header byte a second), ``http-body`` (whole headers,
    then a body byte a second) or ``smtp-greeting`` (``220-please wait`` every half second)."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.socket.settimeout(0.1)
        self.connections = 0
        self.closing = threading.Event()
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/query"

    def _accept(self) -> None:
        while not self.closing.is_set():
            try:
                connection, _ = self.socket.accept()
            except TimeoutError:
                continue
            self.connections += 1
            thread = threading.Thread(target=self._serve, args=(connection,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _serve(self, connection: socket.socket) -> None:
        with connection:
            try:
                if self.mode.startswith("http"):
                    connection.settimeout(5)
                    data = b""
                    while b"\r\n\r\n" not in data and (chunk := connection.recv(4096)):
                        data += chunk
                    if self.mode == "http-headers":
                        connection.sendall(b"HTTP/1.1 200 OK\r\n")
                    else:
                        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/atom+xml\r\n\r\n")
                piece = {"http-headers": b"X", "http-body": b" ", "smtp-greeting": b"220-please wait\r\n"}[self.mode]
                while not self.closing.wait(0.5):
                    connection.sendall(piece)
            except OSError:
                pass  # the client gave up: what this server is for

    def close(self) -> None:
        self.closing.set()
        for thread in self.threads:
            thread.join(timeout=10)
        self.socket.close()


@pytest.fixture
def trickler(request):
    server = Trickler(request.param)
    yield server
    server.close()


class StillWaiting(Exception):
    pass


def within(seconds: float, work):
    """``work()``, interrupted by StillWaiting if it is still running after ``seconds`` (run in
    this thread, so that it sees the test's database transaction)."""

    def interrupt(signum, frame):
        raise StillWaiting(f"still waiting on the outside server after {seconds} s")

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return work()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# --- the HTTP client ---------------------------------------------------------------------------


@pytest.mark.parametrize("trickler", ["http-headers", "http-body"], indirect=True)
def test_a_trickling_http_server_times_out_in_whole(trickler, settings):
    settings.HTTP_BACKOFF = 0
    with pytest.raises(http.FetchError) as caught:
        within(BOUND, lambda: http.get(trickler.url, timeout=2, retries=1))
    assert caught.value.timed_out
    assert str(caught.value) == f"{trickler.url}: timed out after 2s"
    assert trickler.connections == 2  # retried once, then gave up


@pytest.mark.parametrize("trickler", ["http-headers"], indirect=True)
def test_a_submission_fetch_from_a_trickling_arxiv_fails_as_a_timeout(trickler, settings):
    settings.ARXIV_API_URL = trickler.url
    with pytest.raises(http.FetchError) as caught:
        within(BOUND, lambda: fetch_arxiv_paper("2501.00001", timeout=2, retries=0))
    assert caught.value.timed_out


# --- SMTP ---------------------------------------------------------------------------------------


def smtp_settings(settings, port: int, timeout: float) -> None:
    settings.EMAIL_BACKEND = "paperwire.digests.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = settings.BACKGROUND_EMAIL_TIMEOUT = timeout


@pytest.mark.parametrize("trickler", ["smtp-greeting"], indirect=True)
def test_a_web_mail_to_a_tarpitting_server_gives_up_in_whole(trickler, settings):
    smtp_settings(settings, trickler.port, 2)
    message = EmailMessage("Hello", "Body", "papers@example.org", ["reader@example.org"])
    with pytest.raises(TimeoutError, match="no complete answer within 2s"):
        within(BOUND, message.send)
    assert trickler.connections == 1


@pytest.mark.parametrize("trickler", ["smtp-greeting"], indirect=True)
def test_a_transaction_with_a_tarpitting_server_fails_at_connect_not_uncertain(trickler, settings):
    smtp_settings(settings, trickler.port, 2)
    message = EmailMessage("Hello", "Body", "papers@example.org", ["reader@example.org"])
    with pytest.raises(SmtpFailure) as caught:
        within(BOUND, lambda: transmit(get_connection(timeout=2), message))
    assert (caught.value.step, caught.value.code) == (CONNECT, None)
    assert not caught.value.maybe_delivered
    assert "no complete answer within 2s" in str(caught.value)


DAY = "2025-07-22"


@pytest.fixture
def day_papers(tmp_path):
    from django.core.management import call_command

    records = [paper(f"2507.6000{n}", f"Paper {n}", published=DAY, upvotes=n) for n in range(1, 4)]
    call_command("import", str(write_jsonl(tmp_path / "p.jsonl", records)), no_index=True)


def period() -> DigestPeriod:
    return DigestPeriod.containing("daily", dt.date.fromisoformat(DAY))


@pytest.mark.django_db
@pytest.mark.parametrize("trickler", ["smtp-greeting"], indirect=True)
def test_a_digest_to_a_tarpitting_server_is_retried_not_lost(trickler, settings, day_papers):
    """The sender gives up within PAPERWIRE_EMAIL_TIMEOUT; the digest, which never reached DATA,
    is to retry, and a later run (its lease expired) leaves it so rather than uncertain."""
    smtp_settings(settings, trickler.port, 2)
    Subscriber.objects.create(email="alice@example.org", state=Subscriber.CONFIRMED)
    report = within(BOUND, lambda: send_period(period(), show_progress=False))
    assert (report.sent, report.retrying, report.uncertain) == (0, 1, 0)
    assert "could not reach the SMTP server" in report.problem
    delivery = Delivery.objects.get()
    assert delivery.state == Delivery.RETRY
    assert delivery.message_started_at is None
    assert delivery.last_error.startswith("connect: TimeoutError: no complete answer within 2s")

    settings.DIGEST_LEASE_MINUTES = 0
    Delivery.objects.update(next_attempt_at=timezone.now())
    again = within(BOUND, lambda: send_period(period(), show_progress=False))
    assert (again.sent, again.retrying, again.uncertain) == (0, 1, 0)
    assert Delivery.objects.get().state == Delivery.RETRY


@pytest.mark.django_db
def test_a_stale_claim_that_never_began_the_message_is_retried_and_sent_once(smtp_server, day_papers, settings):
    Subscriber.objects.create(email="alice@example.org", state=Subscriber.CONFIRMED)
    Delivery.objects.create(
        subscriber=Subscriber.objects.get(),
        period=period().key,
        state=Delivery.SENDING,
        claimed_at=timezone.now() - dt.timedelta(hours=1),
    )
    report = send_period(period(), show_progress=False)
    assert (report.sent, report.uncertain) == (1, 0)
    assert [m["To"] for m in smtp_server.handler.messages] == ["alice@example.org"]
    assert send_period(period(), show_progress=False).sent == 0
    assert len(smtp_server.handler.messages) == 1


@pytest.mark.django_db
def test_a_sender_whose_claim_was_taken_does_not_send_the_message(smtp_server, day_papers, settings):
    """A run that expired this sender's lease handed the row on: this sender stops before the message."""
    from paperwire.digests import sending

    Subscriber.objects.create(email="alice@example.org", state=Subscriber.CONFIRMED)
    real_claim = sending.claim

    def claim_then_lose_it(delivery):
        won = real_claim(delivery)
        Delivery.objects.filter(pk=delivery.pk).update(claimed_at=timezone.now() + dt.timedelta(seconds=1))
        return won

    sending.claim = claim_then_lose_it
    try:
        report = send_period(period(), show_progress=False)
    finally:
        sending.claim = real_claim
    assert report.sent == 0
    assert smtp_server.handler.messages == []
    assert Delivery.objects.get().state == Delivery.SENDING  # the other sender's


# --- a real `paperwire serve` ------------------------------------------------------------------


@pytest.mark.parametrize("trickler", ["http-headers", "http-body"], indirect=True)
def test_submissions_to_a_trickling_arxiv_never_hold_the_site(tmp_path, trickler, database):
    """Four people submit (the site's four threads) while arXiv trickles: each is told the
    paper waits for arXiv within a few seconds, and /healthz keeps answering."""
    site = start_site(
        tmp_path / "home",
        PAPERWIRE_ARXIV_API_URL=trickler.url,
        PAPERWIRE_WEB_OUTSIDE_TIMEOUT="2",
        **database,
    )
    try:
        people = [f"reader{n}" for n in range(4)]
        create_users(site, people)
        sessions = [site.log_in(name, "correct horse battery") for name in people]
        health = HealthPoller(site)
        answers = in_threads(4, lambda n: post(site, *sessions[n], "/submit", {"paper": f"2507.1468{n}"}))
        polled = health.stop()
        for n, answer in enumerate(answers):
            assert not isinstance(answer, Exception), answer
            status, url, body = answer
            assert (status, url) == (200, site.url + "/submit")
            assert "arXiv did not answer; your paper will appear once it is fetched." in body
            assert f"2507.1468{n}" in body
        assert trickler.connections == 4
        assert polled and set(polled) == {200}, polled
    finally:
        stop_site(site)


@pytest.mark.parametrize("trickler", ["smtp-greeting"], indirect=True)
@pytest.mark.parametrize("form", ["subscribe", "password-reset", "signup"])
def test_mail_to_a_tarpitting_smtp_server_never_holds_the_site(tmp_path, trickler, form):
    site = start_site(
        tmp_path / "home",
        PAPERWIRE_EMAIL_URL=f"smtp://127.0.0.1:{trickler.port}",
        PAPERWIRE_WEB_OUTSIDE_TIMEOUT="2",
        PAPERWIRE_RATE_PASSWORD_RESET="100/3600",
        PAPERWIRE_RATE_PASSWORD_RESET_ADDRESS="100/3600",
        PAPERWIRE_RATE_SIGNUP="100/3600",
    )
    try:
        create_user(site, "alice", "alice@example.org")
        opener, csrf = site.log_in("alice", "correct horse battery")
        health = HealthPoller(site)
        if form == "subscribe":
            answers = in_threads(
                4,
                lambda n: post(
                    site, opener, csrf, "/subscribe", {"email": f"reader{n}@example.org", "frequency": "daily"}
                ),
            )
        elif form == "password-reset":
            fields = {"email": "alice@example.org"}
            answers = in_threads(4, lambda n: post(site, opener, csrf, "/accounts/password-reset", fields))
        else:
            answers = in_threads(4, lambda n: signup(site, n))
        polled = health.stop()
        for answer in answers:
            assert not isinstance(answer, Exception), answer
            status, url, body = answer
            if form == "subscribe":
                assert status == 503 and "could not send the confirmation message" in body
            elif form == "password-reset":
                assert status == 200 and url == site.url + "/accounts/password-reset/sent"
            else:
                assert status == 200, body
        assert trickler.connections >= 4
        assert polled and set(polled) == {200}, polled
    finally:
        stop_site(site)


def signup(site, n: int):
    import urllib.request
    from http.cookiejar import CookieJar

    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{site.url}/accounts/signup", timeout=15).read().decode()
    csrf = page.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    fields = {"username": f"newcomer{n}", "email": f"newcomer{n}@example.org"}
    fields |= {"password1": "correct horse battery", "password2": "correct horse battery"}
    return post(site, opener, csrf, "/accounts/signup", fields)
