"""One rule for email addresses (paperwire/accounts/addresses.py), on every form that takes one
and on every per-address limit: the many spellings RFC 5322 allows for one mailbox (quoted
strings, comments, whitespace, control and invisible characters, a trailing dot, full-width or
punycode domains) are refused with a clear error or counted as the one address they reach.
Mails are counted on a real SMTP server (aiosmtpd)."""

import re

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from paperwire.core.models import RateCounter
from paperwire.digests.models import Subscriber
from tests.conftest import PINNED_NOW

pytestmark = pytest.mark.django_db
PASSWORD = "a long pass phrase 42"
FORM_ERROR = re.compile(r'<ul class="errorlist"[^>]*>\s*<li>([^<]+)</li>')


@pytest.fixture(autouse=True)
def _frozen(settings):
    """The limits count in windows aligned to the clock: time stands still inside one."""
    settings.BASE_URL = "http://testserver"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # many sign-ups, quickly
    with time_machine.travel(PINNED_NOW, tick=False):
        yield


def sign_up(username, email, address="10.3.0.1"):
    return Client(REMOTE_ADDR=address).post(
        "/accounts/signup", {"username": username, "email": email, "password1": PASSWORD, "password2": PASSWORD}
    )


def subscribe(email, address="10.3.0.1"):
    return Client(REMOTE_ADDR=address).post("/subscribe", {"email": email, "frequency": "daily"})


def field_error(response) -> str:
    errors = FORM_ERROR.findall(response.content.decode())
    return " ".join(errors)


# --- the brief's spellings, on every form --------------------------------------------------------

QUOTED = ['"victim"@example.org', '"vic\\tim"@example.org', '"vic tim"@example.org', '"v@ctim"@example.org']
COMMENTS = ["victim(me)@example.org", "(me)victim@example.org", "victim@example.org(me)", "victim@(me)example.org"]
INVISIBLE = [
    "vic\ttim@example.org",
    "victim @example.org",
    "victim@exa\u200bmple.org",
    "victim@exa\u00admple.org",
    "vic\x00tim@example.org",
    "vic\x7ftim@example.org",
    "victim@exa\u00a0mple.org",
    "victim@ex\u2060ample.org",
]
ODD = [
    "victim@example.org.",
    "victim.@example.org",
    ".victim@example.org",
    "vic..tim@example.org",
    "victim@[93.184.216.34]",
    "victim@example..org",
    "victim@",
    "@example.org",
    "vic\\tim@example.org",
]


@pytest.mark.parametrize("spelling", QUOTED + COMMENTS + INVISIBLE + ODD)
def test_odd_spellings_get_a_clear_error_on_every_form(spelling, smtp_server, alice):
    signed = sign_up("newcomer", spelling)
    assert signed.status_code == 200 and field_error(signed), spelling
    subscribed = subscribe(spelling)
    assert subscribed.status_code == 200 and field_error(subscribed), spelling
    reset = Client().post("/accounts/password-reset", {"email": spelling})
    assert reset.status_code == 200 and "error" in reset.content.decode(), spelling
    assert not User.objects.filter(username="newcomer").exists() and not Subscriber.objects.exists()
    assert smtp_server.handler.messages == []


def test_the_errors_say_what_is_wrong(smtp_server):
    assert "quotes" in field_error(subscribe('"victim"@example.org'))
    assert "quotes" in field_error(sign_up("x1", '"vic\\tim"@example.org'))
    assert "comments" in field_error(subscribe("victim(me)@example.org"))
    assert "spaces" in field_error(subscribe("victim@exa\u200bmple.org"))
    assert "spaces" in field_error(subscribe("vic\ttim@example.org"))
    assert "dot" in field_error(subscribe("victim@example.org."))


@pytest.mark.parametrize(
    "spelling, canonical",
    [
        (" Victim@Example.ORG ", "victim@example.org"),
        ("victim@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.org", "victim@example.org"),  # full-width letters
        ("victim@example\u3002org", "victim@example.org"),  # the ideographic full stop
        ("victim@b\u00fccher.example", "victim@b\u00fccher.example"),
        ("victim@xn--bcher-kva.example", "victim@b\u00fccher.example"),  # the same domain, in punycode
        ("victim@B\u00dcCHER.example", "victim@b\u00fccher.example"),
        ("victim@g\u0131thub.io", "victim@g\u0131thub.io"),  # dotless ı: another domain, not github.io
    ],
)
def test_equivalent_spellings_have_one_canonical_form(spelling, canonical):
    from paperwire.accounts.addresses import canonical_email, clean_address

    assert canonical_email(clean_address(spelling)) == canonical_email(spelling) == canonical
    assert canonical_email(canonical) == canonical


def test_the_validator_refuses_with_a_validation_error():
    from paperwire.accounts.addresses import clean_address

    for spelling in QUOTED + COMMENTS + INVISIBLE + ODD:
        with pytest.raises(ValidationError):
            clean_address(spelling)


def test_sub_addresses_share_the_mailbox_limits():
    from paperwire.accounts.addresses import mailbox_key

    assert mailbox_key("Victim+news@Example.org") == mailbox_key("victim@example.org")
    assert mailbox_key("victim+x@EXAMPLE.org") == mailbox_key("victim@example.org")
    assert mailbox_key("victim@example.org") != mailbox_key("victim@g\u0131thub.io")


# --- many spellings of one mailbox: never more mails than the limits allow ---------------------

FULLWIDTH = {c: chr(ord(c) + 0xFEE0) for c in "abcdefghijklmnopqrstuvwxyz0123456789"}
DOTS = [".", "\u3002", "\uff0e", "\uff61"]
REFUSED_CHARACTERS = [
    "\t",
    " ",
    "\x00",
    "\x01",
    "\x1f",
    "\x7f",
    "\u00a0",
    "\u200b",
    "\u200c",
    "\u200d",
    "\u00ad",
    "\u2060",
    "\ufeff",
    "\u2028",
    "\u3000",
    '"',
    "(",
    ")",
    "\\",
    ",",
    "<",
    ">",
    ";",
    ":",
    "[",
    "]",
]


@st.composite
def spelling(draw, domain: str) -> tuple[str, str | None]:
    """A spelling of victim@<domain> (or of victim+tag@<domain>, the same mailbox) and the
    address it stands for, or None if the rule refuses it."""
    tag = "+" + draw(st.text("abc12", min_size=1, max_size=3)) if draw(st.booleans()) else ""
    local = "".join(c.upper() if draw(st.booleans()) else c for c in "victim" + tag)
    canonical = f"victim{tag}@{domain}"
    labels = domain.split(".")
    if labels[0] == "b\u00fccher" and draw(st.booleans()):
        labels[0] = draw(st.sampled_from(["xn--bcher-kva", "XN--BCHER-KVA", "B\u00dcCHER"]))
    labels = ["".join(FULLWIDTH[c] if c in FULLWIDTH and draw(st.booleans()) else c for c in label) for label in labels]
    host = labels[0]
    for label in labels[1:]:
        host += draw(st.sampled_from(DOTS)) + label
    host = "".join(c.upper() if draw(st.booleans()) else c for c in host)
    address = f"{local}@{host}"
    accepted = True
    odd = draw(st.sampled_from(["none", "none", "quoted", "quoted-pairs", "comment", "character", "trailing-dot"]))
    if odd == "quoted":
        address, accepted = f'"{local}"@{host}', False
    elif odd == "quoted-pairs":
        address, accepted = '"' + "".join("\\" + c for c in local) + f'"@{host}', False
    elif odd == "comment":
        comment = "(" + draw(st.text("abc ", max_size=4)) + ")"
        where = draw(st.sampled_from(["before", "after-local", "after-at", "end"]))
        address = {
            "before": comment + address,
            "after-local": f"{local}{comment}@{host}",
            "after-at": f"{local}@{comment}{host}",
            "end": address + comment,
        }[where]
        accepted = False
    elif odd == "character":
        position = draw(st.integers(1, len(address) - 1))  # inside: the ends are trimmed like any field
        address, accepted = address[:position] + draw(st.sampled_from(REFUSED_CHARACTERS)) + address[position:], False
    elif odd == "trailing-dot":
        address, accepted = address + ".", False
    return address, canonical if accepted else None


def spellings_of_one_mailbox():
    return st.sampled_from(["example.org", "b\u00fccher.example"]).flatmap(
        lambda domain: st.lists(spelling(domain), min_size=1, max_size=6)
    )


@hypothesis_settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spellings=spellings_of_one_mailbox())
def test_no_spelling_of_one_mailbox_gets_more_mails_than_its_limits(spellings, smtp_server, settings):
    settings.RATE_LIMITS = dict(
        settings.RATE_LIMITS,
        subscribe="1000/3600",
        signup="1000/3600",
        subscribe_address="2/86400",
        verify_address="2/86400",
    )
    User.objects.all().delete()
    Subscriber.objects.all().delete()
    RateCounter.objects.all().delete()
    smtp_server.handler.messages.clear()
    for n, (address, canonical) in enumerate(spellings):
        subscribed, signed = subscribe(address), sign_up(f"victim{n}", address)
        if canonical:
            assert subscribed.status_code == 200 and "Check your inbox" in subscribed.content.decode(), address
            assert signed.status_code == 302, (address, field_error(signed))
        else:
            assert subscribed.status_code == 200 and field_error(subscribed), address
            assert signed.status_code == 200 and field_error(signed), address
    accepted = [canonical for _, canonical in spellings if canonical]
    subjects = [m["Subject"] for m in smtp_server.handler.messages]
    assert subjects.count("Confirm your Paperwire digest") <= 2
    assert subjects.count("Verify your Paperwire address") <= 2
    assert len(subjects) == len(smtp_server.handler.messages) <= 4
    # One row per address (a +tag is another address at the same mailbox), stored in one form.
    assert sorted(Subscriber.objects.values_list("email", flat=True)) == sorted(set(accepted))
    assert User.objects.count() == len(accepted)


def test_repeated_requests_for_one_address_make_one_row_and_say_the_same(smtp_server, settings):
    """One address, asked for again and again in its different accepted spellings, from different
    clients: one pending row, one confirmation mail, and the same answer every time."""
    settings.RATE_LIMITS = dict(settings.RATE_LIMITS, subscribe_address="3/86400")
    spellings = ["dana@example.org", "DANA@EXAMPLE.ORG", "dana@\uff45xample.org", " dana@example\u3002org"] * 2
    answers = [subscribe(s, f"10.5.0.{n}") for n, s in enumerate(spellings)]
    assert {a.status_code for a in answers} == {200}
    assert len({re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", a.content.decode()) for a in answers}) == 1
    assert "dana@example.org" in answers[-1].content.decode()
    (row,) = Subscriber.objects.all()
    assert (row.email, row.state) == ("dana@example.org", Subscriber.PENDING)
    assert len(smtp_server.handler.messages) == 1

    # An address nobody asked for gets the same answer, word for word.
    fresh = subscribe("erin@example.org", "10.5.1.1").content.decode().replace("erin@example.org", "dana@example.org")
    strip = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')
    assert strip.sub("", fresh) == strip.sub("", answers[0].content.decode())


def test_sign_ups_for_one_address_send_at_most_the_limit(smtp_server, settings):
    settings.RATE_LIMITS = dict(settings.RATE_LIMITS, verify_address="2/86400")
    spellings = ["sam@example.org", "SAM@example.org", "sam+a@example.org", "sam@\uff45xample.org", "Sam+b@EXAMPLE.org"]
    for n, address in enumerate(spellings):
        assert sign_up(f"sam{n}", address, f"10.6.0.{n}").status_code == 302
    assert User.objects.count() == 5
    assert len(smtp_server.handler.messages) == 2


def test_password_reset_counts_one_address_in_all_its_spellings(alice, smtp_server, settings):
    settings.RATE_LIMITS = dict(settings.RATE_LIMITS, password_reset="100/3600", password_reset_address="2/3600")
    spellings = ["alice@example.org", "ALICE@\uff45xample.org", "alice+x@example.org", "Alice@example\u3002org"]
    statuses = [
        Client(REMOTE_ADDR=f"10.4.0.{n}").post("/accounts/password-reset", {"email": s}).status_code
        for n, s in enumerate(spellings)
    ]
    assert statuses == [302, 302, 429, 429]
    assert len(smtp_server.handler.to("alice@example.org")) == 2


# --- rate-limit keys hold no personal data ------------------------------------------------------


def test_rate_limit_counters_hold_no_address_name_or_client_address(smtp_server, alice):
    browser = Client(REMOTE_ADDR="10.20.30.40")
    browser.post("/subscribe", {"email": "Victim@Example.org", "frequency": "daily"})
    browser.post("/accounts/password-reset", {"email": "alice@example.org"})
    Client(REMOTE_ADDR="10.20.30.41").post("/accounts/login", {"username": "alice", "password": "wrong"})
    sign_up("victimname", "victim@example.org", "10.20.30.42")
    buckets = list(RateCounter.objects.values_list("bucket", flat=True))
    kinds = {bucket.split(":")[0] for bucket in buckets}
    assert kinds == {
        "subscribe",
        "subscribe_address",
        "password_reset",
        "password_reset_address",
        "login",
        "login_account",
        "signup",
        "verify_address",
    }
    text = " ".join(buckets).lower()
    for personal in ("victim", "alice", "example", "10.20.30", "ip:", "name:", "user:"):
        assert personal not in text, personal
    assert all(re.fullmatch(r"[a-z_]+:[0-9a-f]{40}", bucket) for bucket in buckets), buckets


@hypothesis_settings(max_examples=300, deadline=None, database=None)
@given(text=st.text(max_size=80) | st.from_regex(r"[\w.+\"\\() \t-]{0,20}@[\w.\u3002-]{0,20}", fullmatch=True))
def test_the_rule_refuses_or_canonicalises_anything_and_never_breaks(text):
    """Any text: a ValidationError, or an address whose canonical form is stable and accepted."""
    from paperwire.accounts.addresses import canonical_email, clean_address, mailbox_key

    assert isinstance(mailbox_key(text), str) and isinstance(canonical_email(text), str)
    try:
        cleaned = clean_address(text)
    except ValidationError:
        return
    canonical = canonical_email(cleaned)
    assert clean_address(canonical) == canonical == canonical_email(canonical) == canonical_email(text)
    assert canonical.split("@")[0].isascii() and not any(c.isspace() or c in '"\\()[]' for c in canonical)
    assert mailbox_key(canonical) == mailbox_key(text)


def test_many_accounts_on_one_address_do_not_multiply_reset_mails(alice, django_user_model, smtp_server, settings):
    """Sign-up never says an address is taken, so anyone can make accounts with someone's
    address; a password reset for it then mailed every one of them, each request."""
    settings.RATE_LIMITS = dict(settings.RATE_LIMITS, password_reset="100/3600", password_reset_address="2/3600")
    for n in range(4):
        django_user_model.objects.create_user(f"copy{n}", "ALICE@example.org", "another pass phrase 9")
    statuses = [
        Client(REMOTE_ADDR=f"10.4.2.{n}").post("/accounts/password-reset", {"email": "alice@example.org"}).status_code
        for n in range(3)
    ]
    assert statuses == [302, 302, 429]
    mails = smtp_server.handler.messages
    assert len(mails) == 2 and {m["To"] for m in mails} == {"alice@example.org"}
    text = mails[0].get_body(preferencelist=("plain",)).get_content()
    assert all(f'"{name}"' in text for name in ("alice", "copy0", "copy1", "copy2", "copy3"))
    link = re.search(r"http://testserver(/accounts/password-reset/\S+)", text)[1]
    form = Client().get(link, follow=True)
    assert form.context["validlink"]
