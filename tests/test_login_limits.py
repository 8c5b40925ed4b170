"""Every password check is rate-limited, on every login path: per client address and per
account, so that rotating addresses does not help; password resets per address too."""

import datetime as dt
import http.client
import re
import time
import urllib.parse

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.utils import timezone

from tests.conftest import PINNED_NOW, start_site, stop_site

pytestmark = pytest.mark.django_db
ROOT_PASSWORD = "a long pass phrase 42"
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')


@pytest.fixture
def frozen():
    """The limits count in windows aligned to the clock: time stands still inside one."""
    with time_machine.travel(PINNED_NOW, tick=False):
        yield


@pytest.fixture
def root(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.org", ROOT_PASSWORD)


def admin_login(client, username, password):
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password, "next": "/admin/"})


def site_login(client, username, password):
    return client.post("/accounts/login", {"username": username, "password": password})


def test_admin_login_refuses_guesses_after_the_limit_and_then_the_right_password(client, root, frozen):
    """The defaults: 10 attempts in 5 minutes from one address, 20 in 15 minutes on one account."""
    statuses = [admin_login(client, "root", f"guess {n}").status_code for n in range(30)]
    assert statuses == [200] * 10 + [429] * 20
    refused = admin_login(client, "root", ROOT_PASSWORD)
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "Too many login attempts" in refused.content.decode()
    assert client.get("/admin/").status_code == 302  # not logged in

    with time_machine.travel(timezone.now() + dt.timedelta(minutes=16)):  # both windows are over
        allowed = admin_login(client, "root", ROOT_PASSWORD)
        assert allowed.status_code == 302 and allowed["Location"] == "/admin/"
        assert client.get("/admin/").status_code == 200


def test_rotating_addresses_is_stopped_per_account_on_every_login_path(root, bob, settings, frozen):
    settings.RATE_LIMITS = dict(settings.RATE_LIMITS, login="10/300", login_account="6/900")
    attempts = []
    for n in range(10):  # a fresh address each time, the site's and the admin's form, any case
        client = Client(REMOTE_ADDR=f"10.1.0.{n}")
        name = "root" if n % 2 else "ROOT"
        attempts.append((site_login if n % 3 else admin_login)(client, name, f"guess {n}").status_code)
    assert attempts == [200] * 6 + [429] * 4
    assert admin_login(Client(REMOTE_ADDR="10.2.0.1"), "root", ROOT_PASSWORD).status_code == 429
    assert site_login(Client(REMOTE_ADDR="10.2.0.2"), "root", ROOT_PASSWORD).status_code == 429
    # Another account, from a fresh address, is not affected.
    assert site_login(Client(REMOTE_ADDR="10.2.0.3"), "bob", "correct horse battery").status_code == 302


def test_names_without_an_account_are_limited_the_same(root, settings, frozen):
    """The limits say nothing about which accounts exist."""
    settings.RATE_LIMITS = dict(settings.RATE_LIMITS, login="100/300", login_account="3/900")

    def tries(name):
        client = Client(REMOTE_ADDR=f"10.3.0.{len(name)}")
        return [site_login(client, name, "wrong") for _ in range(5)]

    known, unknown = tries("root"), tries("nobody")
    assert [r.status_code for r in known] == [r.status_code for r in unknown] == [200] * 3 + [429] * 2
    assert CSRF.sub("", known[0].content.decode()).replace("root", "X") == CSRF.sub(
        "", unknown[0].content.decode()
    ).replace("nobody", "X")


def test_password_resets_are_limited_per_address_whatever_the_client(alice, settings, frozen):
    settings.RATE_LIMITS = dict(settings.RATE_LIMITS, password_reset="100/3600", password_reset_address="2/3600")
    for address in ("alice@example.org", "nobody@example.org"):
        statuses = [
            Client(REMOTE_ADDR=f"10.4.0.{n}").post("/accounts/password-reset", {"email": address}).status_code
            for n in range(4)
        ]
        assert statuses == [302, 302, 429, 429], address
    assert len(mail.outbox) == 2 and {m.to[0] for m in mail.outbox} == {"alice@example.org"}
    limited = Client(REMOTE_ADDR="10.4.1.1").post("/accounts/password-reset", {"email": "ALICE@example.org "})
    assert limited.status_code == 429 and limited["Retry-After"]


# --- a real `paperwire serve` ---------------------------------------------------------------


def post_form(url: str, path: str, fields: dict, source: str) -> tuple[int, dict, str]:
    """GET the form and POST it from the loopback address ``source``, as a browser would."""
    host, port = urllib.parse.urlsplit(url).hostname, urllib.parse.urlsplit(url).port
    connection = http.client.HTTPConnection(host, port, timeout=10, source_address=(source, 0))
    try:
        connection.request("GET", path)
        page = connection.getresponse()
        body = page.read().decode()
        cookie = re.search(r"csrftoken=([^;]+)", page.getheader("Set-Cookie"))[1]
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body)[1]
        form = urllib.parse.urlencode({**fields, "csrfmiddlewaretoken": token})
        headers = {"Cookie": f"csrftoken={cookie}", "Content-Type": "application/x-www-form-urlencoded"}
        connection.request("POST", path, form, headers)
        answer = connection.getresponse()
        return answer.status, dict(answer.getheaders()), answer.read().decode()
    finally:
        connection.close()


def test_a_real_server_refuses_admin_password_guesses(tmp_path, database):
    # Day-long windows, aligned to UTC midnight: the test must not straddle one.
    if time.time() % 86400 > 86400 - 120:
        time.sleep(86400 - time.time() % 86400 + 1)
    limits = {"PAPERWIRE_RATE_LOGIN": "10/86400", "PAPERWIRE_RATE_LOGIN_ACCOUNT": "20/86400"}
    site = start_site(tmp_path / "home", "--workers", "2", **limits, **database)
    try:
        create = (
            "from django.contrib.auth.models import User; "
            f"User.objects.create_superuser('root', 'root@example.org', '{ROOT_PASSWORD}'); "
            f"User.objects.create_superuser('editor', 'editor@example.org', '{ROOT_PASSWORD}')"
        )
        assert site.command("shell", "-c", create).returncode == 0
        login = "/admin/login/?next=/admin/"
        answers = [
            post_form(site.url, login, {"username": "root", "password": f"guess {n}"}, "127.0.0.1") for n in range(30)
        ]
        assert [status for status, _, _ in answers] == [200] * 10 + [429] * 20
        assert "Please enter the correct username and password" in answers[0][2]
        assert "Too many login attempts" in answers[-1][2] and int(answers[-1][1]["Retry-After"]) > 0

        # The right password is refused too, from this address and (per account) from another.
        for source in ("127.0.0.1", "127.0.0.2"):
            status, headers, body = post_form(site.url, login, {"username": "root", "password": ROOT_PASSWORD}, source)
            assert status == 429 and "Too many login attempts" in body, source
        status, headers, _ = post_form(site.url, login, {"username": "editor", "password": ROOT_PASSWORD}, "127.0.0.3")
        assert status == 302 and headers["Location"] == "/admin/"
    finally:
        stop_site(site)
