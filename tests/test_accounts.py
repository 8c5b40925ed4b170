"""Sign-up, login, logout and password reset."""

import re

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client

pytestmark = pytest.mark.django_db


def test_sign_up_logs_in_and_hashes_with_argon2(client):
    response = client.post(
        "/accounts/signup",
        {
            "username": "dana",
            "email": "dana@example.org",
            "password1": "a long pass phrase 42",
            "password2": "a long pass phrase 42",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/"
    dana = User.objects.get(username="dana")
    assert dana.password.startswith("argon2$")
    assert "dana" in client.get("/").content.decode()


def test_sign_up_rejects_weak_passwords(client, alice):
    response = client.post(
        "/accounts/signup",
        {"username": "x", "email": "x@example.org", "password1": "password", "password2": "password"},
    )
    assert response.status_code == 200 and "This password is too common." in response.content.decode()
    assert User.objects.count() == 1 and mail.outbox == []


def test_sign_up_never_says_an_address_has_an_account(client, alice):
    """A taken address signs up like any other (tests/test_email_verification.py has the rest)."""
    response = client.post(
        "/accounts/signup",
        {
            "username": "alice2",
            "email": "ALICE@example.org",
            "password1": "a long pass phrase 42",
            "password2": "a long pass phrase 42",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/"
    assert "exists" not in client.get("/").content.decode()
    assert User.objects.filter(email__iexact="alice@example.org").count() == 2


def test_log_in_and_out(client, alice):
    response = client.post(
        "/accounts/login", {"username": "alice", "password": "correct horse battery", "next": "/orgs"}
    )
    assert response.status_code == 302 and response["Location"] == "/orgs"
    assert client.get("/").context["user"] == alice
    assert client.get("/accounts/logout").status_code == 405  # logging out takes a POST
    client.post("/accounts/logout")
    assert not client.get("/").context["user"].is_authenticated


def test_log_in_never_redirects_off_site(client, alice):
    response = client.post(
        "/accounts/login", {"username": "alice", "password": "correct horse battery", "next": "https://evil.example/"}
    )
    assert response["Location"] == "/"


def test_wrong_passwords_are_rate_limited(client, alice, settings):
    settings.RATE_LIMITS = dict(settings.RATE_LIMITS, login="3/300")
    for _ in range(3):
        assert client.post("/accounts/login", {"username": "alice", "password": "nope"}).status_code == 200
    response = client.post("/accounts/login", {"username": "alice", "password": "correct horse battery"})
    assert response.status_code == 429 and response["Retry-After"]


def test_password_reset_by_email(client, alice, settings):
    settings.BASE_URL = "https://papers.example.org"
    # A host the site answers (loopback) that is not the public one: links still use the public URL.
    response = client.post("/accounts/password-reset", {"email": "alice@example.org"}, HTTP_HOST="localhost:8000")
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["alice@example.org"] and message.subject == "Reset your Paperwire password"
    link = re.search(r"https://papers\.example\.org(/accounts/password-reset/\S+)", message.body)
    assert link, message.body
    form = client.get(link[1], follow=True)
    assert form.context["validlink"]
    done = client.post(
        form.redirect_chain[-1][0], {"new_password1": "another pass phrase 7", "new_password2": "another pass phrase 7"}
    )
    assert done.status_code == 302
    assert Client().login(username="alice", password="another pass phrase 7")


def test_password_reset_for_an_unknown_address_sends_nothing(client, db):
    response = client.post("/accounts/password-reset", {"email": "nobody@example.org"})
    assert response.status_code == 302 and mail.outbox == []


@pytest.mark.parametrize("url", ["/accounts/signup", "/accounts/login", "/accounts/password-reset", "/submit"])
def test_every_form_needs_a_csrf_token(url, alice):
    client = Client(enforce_csrf_checks=True)
    if url == "/submit":
        client.force_login(alice)
    page = client.get(url)
    assert 'name="csrfmiddlewaretoken"' in page.content.decode()
    assert client.post(url, {"username": "x", "paper": "2401.00001"}).status_code == 403
