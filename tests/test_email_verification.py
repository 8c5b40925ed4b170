"""An account sees or changes a digest subscription only after proving it owns the address;
sign-up says nothing about which addresses have accounts."""

import datetime as dt
import re

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client
from django.utils import timezone

from paperwire.digests.models import Subscriber
from paperwire.digests.tokens import subscriber_token
from tests.conftest import PINNED_NOW

pytestmark = pytest.mark.django_db
LINK = re.compile(r"http://testserver(/\S+)")
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')
PASSWORD = "a long pass phrase 42"


@pytest.fixture(autouse=True)
def _base_url(settings):
    settings.BASE_URL = "http://testserver"


@pytest.fixture(autouse=True)
def _frozen():
    """The mail limits count in windows aligned to the clock: time stands still inside one."""
    with time_machine.travel(PINNED_NOW, tick=False):
        yield


@pytest.fixture
def sub3(client):
    """A subscriber who confirmed through the real double opt-in."""
    client.post("/subscribe", {"email": "sub3@example.org", "frequency": "weekly", "topics": "protein folding"})
    confirm = LINK.search(mail.outbox.pop().body)[1]
    assert client.post(confirm).status_code == 200
    subscriber = Subscriber.objects.get(email="sub3@example.org")
    assert subscriber.state == Subscriber.CONFIRMED
    return subscriber


def sign_up(client, username, email, **extra):
    return client.post(
        "/accounts/signup",
        {"username": username, "email": email, "password1": PASSWORD, "password2": PASSWORD},
        **extra,
    )


def mails_to(address):
    return [m for m in mail.outbox if m.to == [address]]


def verification_link(message) -> str:
    return LINK.search(message.body.split("Confirm it here")[1])[1]


def verify(client, message):
    link = verification_link(message)
    return client.post(link)


def test_the_takeover_of_a_subscription_is_closed(sub3):
    mallory = Client()
    response = sign_up(mallory, "mallory", "SUB3@example.org")
    assert response.status_code == 302

    page = mallory.get("/accounts/settings").content.decode()
    token = subscriber_token(sub3)
    assert "/subscription/" not in page and token not in page
    assert "protein folding" not in page and "Weekly" not in page  # nothing of the subscription shows
    assert "Verify your address to manage its digest" in page

    # The only way to verify is the link mailed to the address: it reached its owner, not mallory.
    assert [m.to for m in mail.outbox] == [["SUB3@example.org"]]
    assert mallory.post("/accounts/verify").status_code == 302  # "send it again": to the owner again
    assert [m.to for m in mail.outbox] == [["SUB3@example.org"]] * 2
    assert "/subscription/" not in mallory.get("/accounts/settings").content.decode()

    # A subscription asked for while logged in does not attach it to the unverified account.
    mallory.post("/subscribe", {"email": "sub3@example.org", "frequency": "daily"})
    sub3.refresh_from_db()
    assert sub3.user_id is None and (sub3.frequency, sub3.topics) == ("weekly", "protein folding")


def test_a_look_alike_address_verified_by_its_own_owner_sees_nothing(client):
    """ "victim@gıthub.io" (dotless ı) is another address, at a domain an attacker can own. Verifying
    it must not show the subscription of "victim@github.io": PostgreSQL's case-insensitive match
    (UPPER) took the two for one."""
    client.post("/subscribe", {"email": "victim@github.io", "frequency": "weekly", "topics": "private topic"})
    assert client.post(LINK.search(mail.outbox.pop().body)[1]).status_code == 200
    victim = Subscriber.objects.get(email="victim@github.io")
    attacker = Client()
    assert sign_up(attacker, "mallory", "victim@g\u0131thub.io").status_code == 302
    assert verify(attacker, mails_to("victim@g\u0131thub.io")[-1]).status_code == 200
    page = attacker.get("/accounts/settings").content.decode()
    assert "Verify your address" not in page  # verified: the page would show a subscription of its own
    assert subscriber_token(victim) not in page and "private topic" not in page and "/subscription/" not in page


def test_the_verification_mail_names_the_account_and_needs_a_button(sub3):
    owner = Client()
    sign_up(owner, "sub3", "Sub3@Example.ORG")
    (message,) = mail.outbox
    assert message.subject == "Verify your Paperwire address"
    assert '"sub3"' in message.body
    html = message.alternatives[0][0]
    link = verification_link(message)
    assert link in html

    scanner = Client()  # a mail scanner following the link changes nothing
    page = scanner.get(link)
    assert page.status_code == 200 and "sub3" in page.content.decode() and "<button" in page.content.decode()
    assert "Verify your address to manage its digest" in owner.get("/accounts/settings").content.decode()

    done = scanner.post(link)  # pressing the button, from any browser, verifies
    assert done.status_code == 200 and "Your address is verified" in done.content.decode()
    page = owner.get("/accounts/settings").content.decode()
    manage = f"/subscription/{subscriber_token(sub3)}"
    assert manage in page and "protein folding" in page
    assert owner.get(manage).status_code == 200


def test_the_sign_up_answer_is_the_same_for_a_taken_address(sub3):
    owner = Client()
    sign_up(owner, "sub3", "sub3@example.org")
    verify(owner, mail.outbox.pop())

    def answer(username, email):
        client = Client()
        client.get("/accounts/signup")
        response = sign_up(client, username, email)
        page = client.get(response["Location"])
        return response, page, client

    taken, taken_page, mallory = answer("mallory", "SUB3@example.org")
    fresh, fresh_page, _ = answer("nina", "nina@example.org")

    def same(text, username, email):
        return CSRF.sub("", text.replace(email, "ADDRESS").replace(username, "NAME"))

    assert (taken.status_code, taken["Location"]) == (fresh.status_code, fresh["Location"]) == (302, "/")
    assert same(taken.content.decode(), "mallory", "SUB3@example.org") == same(
        fresh.content.decode(), "nina", "nina@example.org"
    )
    assert taken_page.status_code == fresh_page.status_code == 200
    assert same(taken_page.content.decode(), "mallory", "SUB3@example.org") == same(
        fresh_page.content.decode(), "nina", "nina@example.org"
    )
    assert "mallory" in taken_page.content.decode()
    assert User.objects.filter(username__in=["mallory", "nina"]).count() == 2

    # The owner hears about it; the new account gets no link for an address someone verified.
    (notice,) = mails_to("sub3@example.org")  # to the owner, at the address as the owner gave it
    assert notice.subject == "Someone tried to sign up with your address"
    assert '"mallory"' in notice.body and '"sub3"' in notice.body and "/accounts/verify/" not in notice.body
    assert mallory.post("/accounts/verify").status_code == 302
    assert len(mails_to("sub3@example.org")) == 2 and mails_to("SUB3@example.org") == []
    assert all("/accounts/verify/" not in m.body for m in mails_to("sub3@example.org"))
    assert "/subscription/" not in mallory.get("/accounts/settings").content.decode()

    (welcome,) = mails_to("nina@example.org")
    assert welcome.subject == "Verify your Paperwire address"


def test_a_taken_username_may_be_said(alice):
    response = sign_up(Client(), "alice", "another@example.org")
    assert response.status_code == 200 and "A user with that username already exists." in response.content.decode()
    assert mail.outbox == []


def test_only_the_verified_owner_of_an_address_sees_its_subscription(sub3, alice, bob):
    """Two accounts claim the address (one from before verification existed): the one that
    confirms owns it; a link mailed earlier to the other no longer works."""
    User.objects.filter(pk__in=[alice.pk, bob.pk]).update(email="sub3@example.org")
    as_alice, as_bob = Client(), Client()
    as_alice.force_login(alice)
    as_bob.force_login(bob)
    for client in (as_alice, as_bob):
        page = client.get("/accounts/settings").content.decode()
        assert "/subscription/" not in page and "Verify your address to manage its digest" in page
        client.post("/accounts/verify")
    bobs_link = verification_link(mail.outbox[1])
    verify(as_alice, mail.outbox[0])
    assert "/subscription/" in as_alice.get("/accounts/settings").content.decode()

    refused = as_bob.post(bobs_link)
    assert refused.status_code == 409 and "already verified by another account" in refused.content.decode()
    assert "/subscription/" not in as_bob.get("/accounts/settings").content.decode()


def test_changing_the_address_of_an_account_unverifies_it(sub3, alice):
    alice_client = Client()
    alice_client.force_login(alice)
    alice_client.post("/accounts/verify")
    old_link = verification_link(mail.outbox.pop())
    User.objects.filter(pk=alice.pk).update(email="sub3@example.org")  # e.g. an admin edit
    assert alice_client.post(old_link).status_code == 404  # a link for the old address proves nothing

    alice_client.post("/accounts/verify")
    verify(alice_client, mail.outbox.pop())
    assert "/subscription/" in alice_client.get("/accounts/settings").content.decode()

    User.objects.filter(pk=alice.pk).update(email="elsewhere@example.org")
    page = alice_client.get("/accounts/settings").content.decode()
    assert "/subscription/" not in page and "Verify your address to manage its digest" in page
    User.objects.filter(pk=alice.pk).update(email="SUB3@EXAMPLE.ORG")  # back: the same address, verified
    assert "/subscription/" in alice_client.get("/accounts/settings").content.decode()


def test_existing_accounts_are_unverified_until_they_confirm(alice):
    """Accounts made before verification existed have proved nothing: they confirm like anyone."""
    Subscriber.objects.create(email="alice@example.org", state=Subscriber.CONFIRMED, topics="graphs")
    client = Client()
    client.force_login(alice)
    page = client.get("/accounts/settings").content.decode()
    assert "graphs" not in page and "Verify your address to manage its digest" in page
    sent = client.post("/accounts/verify", follow=True)
    assert "We sent a link to alice@example.org" in sent.content.decode()
    verify(client, mails_to("alice@example.org")[0])
    page = client.get("/accounts/settings").content.decode()
    assert "graphs" in page and "/subscription/" in page


def test_an_expired_or_forged_link_verifies_nothing(alice):
    client = Client()
    client.force_login(alice)
    client.post("/accounts/verify")
    link = verification_link(mail.outbox[0])
    with time_machine.travel(timezone.now() + dt.timedelta(days=4)):
        expired = client.post(link)
    assert expired.status_code == 410 and "This link has expired" in expired.content.decode()
    assert client.post(link[:-3] + "xyz").status_code == 404
    assert "Verify your address" in client.get("/accounts/settings").content.decode()


def test_sending_the_verification_again_is_rate_limited(alice, settings):
    settings.RATE_LIMITS = dict(settings.RATE_LIMITS, verify_resend="2/3600")
    client = Client()
    client.force_login(alice)
    assert [client.post("/accounts/verify").status_code for _ in range(3)] == [302, 302, 429]
    assert len(mail.outbox) == 2

    # However many accounts claim it, an address gets a bounded number of these mails.
    settings.RATE_LIMITS = dict(settings.RATE_LIMITS, verify_resend="100/3600", verify_address="2/86400")
    limited = client.post("/accounts/verify")
    assert limited.status_code == 429 and limited["Retry-After"]
    assert "Too many mails to alice@example.org" in limited.content.decode()
    for n in range(3):  # sign-up still answers as always (it reveals nothing), but sends no more
        assert sign_up(Client(REMOTE_ADDR=f"10.0.0.{n}"), f"copy{n}", "alice@example.org").status_code == 302
    assert len(mails_to("alice@example.org")) == 2
    assert User.objects.filter(email="alice@example.org").count() == 4  # accounts made, mails not sent


def test_the_verify_page_and_resend_need_csrf_and_a_login(alice):
    assert Client().post("/accounts/verify")["Location"].startswith("/accounts/login")
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post("/accounts/verify").status_code == 403
    assert mail.outbox == []
