"""A subscriber's own links (manage, unsubscribe, web version) carry a secret of the
subscriber's that changes when the person asks for new links, subscribes again, or when an
account's verified address changes: a leaked link from an old digest stops working. Digests and
link mails go through a real SMTP server (aiosmtpd)."""

import datetime as dt
import re

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core import signing
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client

from paperwire.accounts.models import VerifiedEmail
from paperwire.digests.content import DigestPeriod
from paperwire.digests.models import Subscriber
from paperwire.digests.sending import send_period
from paperwire.ingest.importer import import_files
from tests.conftest import paper, write_jsonl

pytestmark = pytest.mark.django_db
DAY, NEXT_DAY = "2025-07-22", "2025-07-23"
LINK = re.compile(r"http://testserver(/\S+)")
OLD_SALT = "paperwire.digests.subscriber"  # how links were signed before they carried a secret


@pytest.fixture(autouse=True)
def _base_url(settings):
    settings.BASE_URL = "http://testserver"


@pytest.fixture
def papers(tmp_path):
    records = [paper(f"2507.4000{n}", f"Paper {n}", published=day, upvotes=n) for n, day in enumerate([DAY, NEXT_DAY])]
    import_files([write_jsonl(tmp_path / "p.jsonl", records)], progress=False)


def send(day):
    return send_period(DigestPeriod.containing("daily", dt.date.fromisoformat(day)))


def text_part(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def links_of(message) -> dict:
    text = text_part(message)
    return {
        "manage": LINK.search(text.split("Manage your preferences: ")[1])[1],
        "unsubscribe": LINK.search(text.split("Unsubscribe: ")[1])[1],
        "web": LINK.search(text.split("Web version: ")[1])[1],
        "header": re.fullmatch(r"<http://testserver(\S+)>", message["List-Unsubscribe"].strip())[1],
    }


def subscribe_and_confirm(client, smtp_server, email="dana@example.org") -> str:
    """The real double opt-in; the manage link the confirmation page shows."""
    before = len(smtp_server.handler.messages)
    assert client.post("/subscribe", {"email": email, "frequency": "daily"}).status_code == 200
    (confirmation,) = smtp_server.handler.messages[before:]
    done = client.post(LINK.search(text_part(confirmation))[1])
    assert done.status_code == 200 and "You are subscribed" in done.content.decode()
    return re.search(r'href="http://testserver(/subscription/[^"]+)"', done.content.decode())[1]


def one_click(path):
    """What a mail client does for RFC 8058: a POST with no session and no CSRF token."""
    return Client(enforce_csrf_checks=True).post(
        path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )


def assert_expired(response):
    assert response.status_code == 410, response.status_code
    assert "This link has expired" in response.content.decode()
    assert "/subscribe" in response.content.decode()  # where to get a new one


def test_asking_for_a_new_link_retires_the_links_of_every_mail_sent_before(client, smtp_server, papers):
    subscribe_and_confirm(client, smtp_server)
    send(DAY)
    old = links_of(smtp_server.handler.messages[-1])
    page = client.get(old["manage"]).content.decode()
    assert "Send me a new link" in page

    asked = client.post(old["manage"] + "/new-link")
    body = asked.content.decode()
    assert asked.status_code == 200 and "We mailed a new link to dana@example.org" in body
    new_mail = smtp_server.handler.messages[-1]
    assert new_mail["To"] == "dana@example.org" and new_mail["Subject"] == "Your new Paperwire digest links"
    new_manage = LINK.search(text_part(new_mail).split("Manage your subscription: ")[1])[1]
    assert new_manage != old["manage"]
    new_token = new_manage.rsplit("/", 1)[1]
    assert new_token not in body and new_token.replace(":", "%3A") not in body  # by mail only

    for path in (old["manage"], old["unsubscribe"], old["web"]):
        assert_expired(client.get(path))
    assert_expired(one_click(old["header"]))
    assert_expired(client.post(old["manage"], {"frequency": "weekly"}))
    assert Subscriber.objects.get().state == Subscriber.CONFIRMED  # the old links changed nothing

    assert client.get(new_manage).status_code == 200
    send(NEXT_DAY)  # the next digest carries the new links, and its one-click unsubscribe works
    current = links_of(smtp_server.handler.messages[-1])
    assert current["manage"] == new_manage
    assert client.get(current["web"]).status_code == 200
    done = one_click(current["header"])
    assert done.status_code == 200 and "You are unsubscribed" in done.content.decode()
    assert one_click(current["header"]).status_code == 200  # a mail client trying again
    assert Subscriber.objects.get().state == Subscriber.UNSUBSCRIBED


def test_a_new_link_needs_a_post_with_csrf_and_the_mail_server(client, smtp_server, settings):
    manage = subscribe_and_confirm(client, smtp_server)
    assert Client(enforce_csrf_checks=True).post(manage + "/new-link").status_code == 403
    assert client.get(manage + "/new-link").status_code == 405
    settings.EMAIL_PORT = 9  # nothing listens: the old link must keep working, or the person loses both
    failed = client.post(manage + "/new-link")
    assert failed.status_code == 503 and "could not send" in failed.content.decode()
    assert client.get(manage).status_code == 200


def test_new_links_are_limited_per_address(client, smtp_server, settings):
    settings.RATE_LIMITS = dict(settings.RATE_LIMITS, subscribe_address="2/86400")
    manage = subscribe_and_confirm(client, smtp_server)  # the confirmation was the first mail
    asked = client.post(manage + "/new-link")
    assert asked.status_code == 200
    manage = LINK.search(text_part(smtp_server.handler.messages[-1]).split("Manage your subscription: ")[1])[1]
    limited = client.post(manage + "/new-link")
    assert limited.status_code == 429 and limited["Retry-After"]
    assert client.get(manage).status_code == 200  # refused before anything changed
    assert len(smtp_server.handler.messages) == 2


def test_subscribing_again_retires_the_old_links(client, smtp_server):
    first = subscribe_and_confirm(client, smtp_server)
    unsubscribe = first.replace("/subscription/", "/unsubscribe/")
    assert one_click(unsubscribe).status_code == 200
    page = client.get(first)  # still the subscriber's link until they come back
    assert page.status_code == 200 and "Retire my links" in page.content.decode()

    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(days=2)):  # one confirmation a day
        second = subscribe_and_confirm(client, smtp_server)
        assert second != first
        assert_expired(client.get(first))
        assert_expired(one_click(unsubscribe))
        assert Subscriber.objects.get().state == Subscriber.CONFIRMED
        assert client.get(second).status_code == 200


def test_an_unsubscribed_address_gets_no_mail_for_new_links(client, smtp_server):
    manage = subscribe_and_confirm(client, smtp_server)
    assert one_click(manage.replace("/subscription/", "/unsubscribe/")).status_code == 200
    mails = len(smtp_server.handler.messages)
    retired = client.post(manage + "/new-link")
    assert retired.status_code == 200 and "no longer work" in retired.content.decode()
    assert len(smtp_server.handler.messages) == mails
    assert_expired(client.get(manage))


def test_subscribing_again_while_subscribed_is_how_to_get_new_links_with_none_at_hand(client, smtp_server):
    leaked = subscribe_and_confirm(client, smtp_server)
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(days=2)):  # one confirmation a day
        assert client.post("/subscribe", {"email": "dana@example.org", "frequency": "weekly"}).status_code == 200
        confirmation = smtp_server.handler.messages[-1]
        assert "gives you new links" in text_part(confirmation)
        assert client.get(leaked).status_code == 200  # asking changes nothing: only confirming does
        done = client.post(LINK.search(text_part(confirmation))[1])
        fresh = re.search(r'href="http://testserver(/subscription/[^"]+)"', done.content.decode())[1]
        assert_expired(client.get(leaked))
        assert client.get(fresh).status_code == 200
        assert Subscriber.objects.get().frequency == "weekly"


def admin_change_email(admin_client, user, email):
    """The admin's change form, posted as a browser would, with only the address changed."""
    url = f"/admin/auth/user/{user.pk}/change/"
    form = admin_client.get(url).context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        if field.disabled:
            continue
        value = form[name].value()
        if isinstance(value, list | tuple):
            data[name] = [v for v in value if v is not None]
        elif isinstance(value, dt.datetime):
            data[f"{name}_0"], data[f"{name}_1"] = value.date().isoformat(), value.time().isoformat()
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        elif value is not None:
            data[name] = value
    data["email"] = email
    return admin_client.post(url, data)


def test_an_account_that_loses_its_verified_address_loses_its_manage_link(client, smtp_server, django_user_model):
    subscribe_and_confirm(client, smtp_server, "sub3@example.org")
    owner = Client()
    owner.post(
        "/accounts/signup",
        {"username": "sub3", "email": "sub3@example.org", "password1": "a long pass 42", "password2": "a long pass 42"},
    )
    verify = LINK.search(text_part(smtp_server.handler.messages[-1]).split("Confirm it here")[1])[1]
    assert owner.post(verify).status_code == 200
    owner.post("/subscribe", {"email": "sub3@example.org", "frequency": "daily"})  # attaches it to the account
    assert Subscriber.objects.get().user.username == "sub3"
    seen = re.search(r'href="http://testserver(/subscription/[^"]+)"', owner.get("/accounts/settings").content.decode())
    manage = seen[1]
    assert owner.get(manage).status_code == 200

    root = Client()
    root.force_login(django_user_model.objects.create_superuser("root", "root@example.org", "pw"))
    refused = admin_change_email(root, User.objects.get(username="sub3"), '"sub3"@example.org')
    assert refused.status_code == 200 and "quotes" in refused.content.decode()
    assert owner.get(manage).status_code == 200  # nothing changed
    moved = admin_change_email(root, User.objects.get(username="sub3"), "elsewhere@example.org")
    assert moved.status_code == 302, moved.content.decode()[:2000]
    assert User.objects.get(username="sub3").email == "elsewhere@example.org"
    assert_expired(owner.get(manage))  # a link the account copied while it had the address
    assert Subscriber.objects.get().user_id is None


def test_verifying_an_address_another_account_had_retires_the_links_that_account_saw(client, smtp_server, alice, bob):
    subscribe_and_confirm(client, smtp_server, "shared@example.org")
    as_alice = Client()
    as_alice.force_login(alice)
    User.objects.filter(pk=alice.pk).update(email="shared@example.org")
    VerifiedEmail.objects.create(user=alice, email="shared@example.org")
    manage = re.search(
        r'href="http://testserver(/subscription/[^"]+)"', as_alice.get("/accounts/settings").content.decode()
    )[1]
    User.objects.filter(pk=alice.pk).update(email="alice@example.org")  # an edit that bypassed save()

    as_bob = Client()
    as_bob.force_login(bob)
    User.objects.filter(pk=bob.pk).update(email="shared@example.org")
    as_bob.post("/accounts/verify")
    link = LINK.search(text_part(smtp_server.handler.messages[-1]).split("Confirm it here")[1])[1]
    assert as_bob.post(link).status_code == 200
    assert_expired(as_alice.get(manage))
    fresh = re.search(
        r'href="http://testserver(/subscription/[^"]+)"', as_bob.get("/accounts/settings").content.decode()
    )[1]
    assert fresh != manage and as_bob.get(fresh).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/subscription/garbage",
        "/subscription/12:nosignature",
        "/subscription/99999:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "/unsubscribe/1:x:y:z",
        "/unsubscribe/%00",
        "/digest/garbage/daily:2025-07-22",
        "/subscription/1" + "9" * 40 + ":x",
    ],
)
def test_forged_links_are_refused_plainly(client, path):
    Subscriber.objects.create(email="reader@example.org", state=Subscriber.CONFIRMED)
    assert_expired(client.get(path))
    if path.startswith("/digest/"):
        assert client.post(path).status_code == 405  # a page to read (tests/test_write_limits.py)
    else:
        assert_expired(one_click(path) if path.startswith("/unsubscribe/") else client.post(path))
    assert Subscriber.objects.get().state == Subscriber.CONFIRMED


def test_links_mailed_before_the_upgrade_keep_working(transactional_db, client):
    executor = MigrationExecutor(connection)
    before = [("digests", "0001_initial")]
    after = executor.loader.graph.leaf_nodes()  # every app: those standing on digests' migrations were undone too
    executor.migrate(before)
    old = executor.loader.project_state(before).apps.get_model("digests", "Subscriber")
    reader = old.objects.create(email="reader@example.org", state="confirmed", frequency="daily")
    old_link = signing.Signer(salt=OLD_SALT).sign(str(reader.pk))  # what digests carried until now
    MigrationExecutor(connection).migrate(after)

    assert client.get(f"/subscription/{old_link}").status_code == 200
    newcomer = Subscriber.objects.create(email="new@example.org", state=Subscriber.CONFIRMED)
    other = Subscriber.objects.create(email="other@example.org", state=Subscriber.CONFIRMED)
    assert newcomer.link_secret and other.link_secret and newcomer.link_secret != other.link_secret
    assert client.get(f"/subscription/{signing.Signer(salt=OLD_SALT).sign(str(newcomer.pk))}").status_code == 410
    assert one_click(f"/unsubscribe/{old_link}").status_code == 200
    assert Subscriber.objects.get(pk=reader.pk).state == Subscriber.UNSUBSCRIBED
