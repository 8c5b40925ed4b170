"""Digests against a real SMTP server on loopback (aiosmtpd): opt-in, content, sending, leaving."""

import datetime as dt
import re
from collections import Counter

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from paperwire.accounts.models import VerifiedEmail
from paperwire.digests.content import DigestPeriod
from paperwire.digests.models import Delivery, ShownPaper, Subscriber
from paperwire.digests.sending import send_period
from paperwire.ingest.importer import import_files
from paperwire.papers.models import Paper
from paperwire.search.updating import update_indexes
from tests.conftest import free_port, paper, write_jsonl

pytestmark = pytest.mark.django_db
DAY = "2025-07-22"
LINK = re.compile(r"http://testserver(/\S+)")


@pytest.fixture(autouse=True)
def _base_url(settings):
    settings.BASE_URL = "http://testserver"


@pytest.fixture
def day_papers(tmp_path):
    records = [
        paper(
            "2507.10001",
            "Scaling laws for mixture-of-experts language models",
            published=DAY,
            upvotes=40,
            abstract="We fit scaling laws for sparse mixture-of-experts transformers trained on text.",
        ),
        paper(
            "2507.10002",
            "Diffusion models for video generation",
            published=DAY,
            upvotes=25,
            abstract="A latent video diffusion model generates minute-long clips from text prompts.",
        ),
        paper(
            "2507.10003",
            "Protein structure prediction with geometric deep learning",
            published=DAY,
            upvotes=3,
            abstract="Equivariant graph networks predict protein folds from amino-acid sequences.",
        ),
        paper(
            "2507.10004",
            "Soil moisture mapping from satellites",
            published=DAY,
            upvotes=1,
            abstract="We estimate soil moisture from radar satellite images over farmland.",
        ),
        paper("2507.10005", "Yesterday's paper", published="2025-07-21", upvotes=99),
    ]
    import_files([write_jsonl(tmp_path / "day.jsonl", records)], progress=False)
    update_indexes()


def subscriber(email, frequency="daily", topics="", state=Subscriber.CONFIRMED):
    return Subscriber.objects.create(
        email=email,
        frequency=frequency,
        topics=topics,
        state=state,
        confirmed_at=timezone.now() if state == Subscriber.CONFIRMED else None,
    )


def send(date=DAY, frequency="daily", **options):
    return send_period(DigestPeriod.containing(frequency, dt.date.fromisoformat(date)), **options)


def text_part(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def html_part(message) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


# --- subscribing ------------------------------------------------------------------------------


def test_double_opt_in(client, smtp_server, day_papers):
    response = client.post(
        "/subscribe",
        {"email": "Dana@Example.org", "frequency": "daily", "topics": "video diffusion\n\nprotein folding"},
    )
    assert response.status_code == 200 and "Check your inbox" in response.content.decode()
    dana = Subscriber.objects.get(email="dana@example.org")
    assert dana.state == Subscriber.PENDING
    assert len(smtp_server.handler.messages) == 1
    confirmation = smtp_server.handler.messages[0]
    assert confirmation["Subject"] == "Confirm your Paperwire digest"
    assert send().sent == 0  # nothing but the confirmation before confirming
    assert len(smtp_server.handler.messages) == 1

    link = LINK.search(text_part(confirmation))[1]
    assert link in html_part(confirmation)
    page = client.get(link)
    assert page.status_code == 200 and "video diffusion, protein folding" in page.content.decode()
    assert Subscriber.objects.get(pk=dana.pk).state == Subscriber.PENDING  # following the link is not enough
    confirmed = client.post(link)
    assert confirmed.status_code == 200 and "You are subscribed" in confirmed.content.decode()
    dana.refresh_from_db()
    assert (dana.state, dana.topic_list) == (Subscriber.CONFIRMED, ["video diffusion", "protein folding"])


def test_asking_again_reveals_nothing_and_sends_at_most_one_mail(client, smtp_server):
    subscriber("owner@example.org", topics="robots")
    first = client.post("/subscribe", {"email": "owner@example.org", "frequency": "weekly", "topics": "spam"})
    new = client.post("/subscribe", {"email": "fresh@example.org", "frequency": "weekly"})
    assert first.content.decode().replace("owner@example.org", "X") == new.content.decode().replace(
        "fresh@example.org", "X"
    )
    for _ in range(2):
        client.post("/subscribe", {"email": "owner@example.org", "frequency": "weekly", "topics": "spam"})
    assert len(smtp_server.handler.to("owner@example.org")) == 1
    owner = Subscriber.objects.get(email="owner@example.org")
    assert (owner.frequency, owner.topics) == ("daily", "robots")  # unchanged until the owner confirms


def test_an_expired_or_forged_confirmation_link(client, smtp_server):
    client.post("/subscribe", {"email": "late@example.org", "frequency": "daily"})
    link = LINK.search(text_part(smtp_server.handler.messages[0]))[1]
    with time_machine.travel(timezone.now() + dt.timedelta(days=4)):
        assert client.post(link).status_code == 410
    assert client.get(link[:-3] + "xyz").status_code == 404
    assert Subscriber.objects.get(email="late@example.org").state == Subscriber.PENDING


def test_subscribing_is_rate_limited(client, smtp_server, settings):
    settings.RATE_LIMITS = dict(settings.RATE_LIMITS, subscribe="3/3600")
    for n in range(3):
        assert client.post("/subscribe", {"email": f"u{n}@example.org", "frequency": "daily"}).status_code == 200
    limited = client.post("/subscribe", {"email": "u9@example.org", "frequency": "daily"})
    assert limited.status_code == 429 and limited["Retry-After"]
    # Per mailbox, whatever the client: beyond the limit nothing is sent, and the answer is the
    # same as ever (it must not tell whether anyone asked for this address before).
    per_address = Client(REMOTE_ADDR="10.9.9.9")
    settings.RATE_LIMITS = dict(settings.RATE_LIMITS, subscribe="100/3600", subscribe_address="2/86400")
    answers = [
        per_address.post("/subscribe", {"email": f"target+{n}@example.org", "frequency": "daily"}) for n in range(3)
    ]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert "Check your inbox" in answers[2].content.decode()
    assert len([m for m in smtp_server.handler.messages if m["To"].startswith("target+")]) == 2


def test_subscribing_while_the_mail_server_is_down(client, smtp_server, settings):
    settings.EMAIL_PORT = free_port()  # nothing listens there
    response = client.post("/subscribe", {"email": "early@example.org", "frequency": "daily"})
    assert response.status_code == 503 and "could not send the confirmation" in response.content.decode()
    assert Subscriber.objects.get(email="early@example.org").confirmation_sent_at is None
    settings.EMAIL_PORT = smtp_server.port  # back: asking again sends the confirmation at once
    assert client.post("/subscribe", {"email": "early@example.org", "frequency": "daily"}).status_code == 200
    assert len(smtp_server.handler.to("early@example.org")) == 1


def test_the_subscribe_form_needs_csrf(smtp_server):
    assert Client(enforce_csrf_checks=True).post("/subscribe", {"email": "a@example.org"}).status_code == 403


# --- the digest -------------------------------------------------------------------------------


def test_a_daily_digest_with_topics(client, smtp_server, day_papers, settings):
    settings.DIGEST_TOP_PAPERS = 2
    subscriber("alice@example.org", topics="video generation with diffusion\nprotein folding")
    subscriber("pending@example.org", state=Subscriber.PENDING)
    subscriber("gone@example.org", state=Subscriber.UNSUBSCRIBED)
    subscriber("weekly@example.org", frequency="weekly")
    report = send()
    assert (report.sent, report.failed) == (1, 0)
    [message] = smtp_server.handler.messages
    assert message["To"] == "alice@example.org"
    assert message["Subject"] == "Daily Papers for July 22, 2025"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = re.fullmatch(r"<http://testserver(/unsubscribe/\S+)>", message["List-Unsubscribe"].strip())[1]
    text, html = text_part(message), html_part(message)
    assert text.index("Scaling laws for mixture-of-experts") < text.index("Diffusion models for video")
    assert "Yesterday's paper" not in text
    protein = text.index("Protein structure prediction")
    assert text.index("Why you got this: it matches your topic “protein folding”.", protein) < protein + 120
    assert "Why you got this: it matches your topic “protein folding”." in html
    assert "<script" not in html and 'style="' in html
    assert f"http://testserver{unsubscribe}" in text and f'href="http://testserver{unsubscribe}"' in html
    for link in set(LINK.findall(text)):
        assert client.get(link).status_code == 200, link
    web = client.get(re.search(r"Web version: http://testserver(\S+)", text)[1]).content.decode()
    assert "Scaling laws for mixture-of-experts" in web and "protein folding" in web


def test_titles_and_names_keep_their_direction_to_themselves_in_both_parts(smtp_server, day_papers):
    """A right-to-left override in a title (some feeds carry them) turned "(40 upvotes)" after
    it around in a text-only mail client: the text part isolates titles and names (U+2068 …
    U+2069), the HTML part wraps them in <bdi>."""
    Paper.objects.filter(pk="2507.10001").update(title="Scaling laws \u202efor experts")
    subscriber("alice@example.org")
    assert send().sent == 1
    [message] = smtp_server.handler.messages
    text, html = text_part(message), html_part(message)
    assert "1. \u2068Scaling laws \u202efor experts\u2069 (40 upvotes)" in text
    assert "\u2068Ada Lovelace\u2069" in text
    assert "<bdi>Scaling laws \u202efor experts</bdi></a>" in html


def test_sending_again_sends_nothing(smtp_server, day_papers):
    subscriber("alice@example.org")
    assert send().sent == 1
    again = send()
    assert (again.sent, again.skipped, again.failed) == (0, 0, 0)
    assert len(smtp_server.handler.messages) == 1


def test_a_period_without_papers_sends_nothing(smtp_server, day_papers):
    subscriber("alice@example.org")
    assert send(date="2025-07-25").sent == 0
    assert smtp_server.handler.messages == [] and not Delivery.objects.exists()


def test_a_paper_is_shown_once_across_digests(smtp_server, day_papers, tmp_path):
    subscriber("alice@example.org")
    send()
    # The top paper is submitted to the daily feed again two days later: it moves there.
    import_files(
        [
            write_jsonl(
                tmp_path / "again.jsonl",
                [
                    paper(
                        "2507.10001",
                        "Scaling laws for mixture-of-experts language models",
                        published=DAY,
                        submitted_at="2025-07-24T08:00:00Z",
                    ),
                    paper("2507.10009", "A new paper", published="2025-07-24"),
                ],
            )
        ],
        progress=False,
    )
    send(date="2025-07-24")
    second = smtp_server.handler.messages[1]
    assert "A new paper" in text_part(second) and "Scaling laws" not in text_part(second)
    assert ShownPaper.objects.filter(paper_id="2507.10001").count() == 1


def test_one_click_unsubscribe_is_immediate(smtp_server, day_papers):
    subscriber("alice@example.org")
    send()
    path = re.fullmatch(r"<http://testserver(\S+)>", smtp_server.handler.messages[0]["List-Unsubscribe"].strip())[1]
    response = Client(enforce_csrf_checks=True).post(
        path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    assert Subscriber.objects.get(email="alice@example.org").state == Subscriber.UNSUBSCRIBED
    assert Client().get(path).status_code == 200  # the link in the text shows a page; GET changes nothing
    assert send(date="2025-07-21").sent == 0


def test_managing_preferences(client, smtp_server, day_papers):
    alice = subscriber("alice@example.org")
    send()
    manage = LINK.search(text_part(smtp_server.handler.messages[0]).split("Manage your preferences: ")[1])[1]
    client.post(manage, {"frequency": "weekly", "topics": "robotics\nrobotics\n  soil  "})
    alice.refresh_from_db()
    assert (alice.frequency, alice.topic_list) == ("weekly", ["robotics", "soil"])


def test_a_logged_in_user_finds_their_subscription(client, alice):
    """Once the account has verified its address (tests/test_email_verification.py)."""
    subscriber("alice@example.org", topics="graphs")
    client.force_login(alice)
    assert "graphs" not in client.get("/accounts/settings").content.decode()
    VerifiedEmail.objects.create(user=alice, email="alice@example.org")
    html = client.get("/accounts/settings").content.decode()
    assert "graphs" in html and "/subscription/" in html


def test_dry_run_says_who_would_get_what(smtp_server, day_papers, capsys, settings):
    settings.DIGEST_TOP_PAPERS = 2
    subscriber("alice@example.org", topics="protein folding")
    call_command("digest", "send", "--frequency", "daily", "--date", DAY, "--dry-run")
    out = capsys.readouterr().out
    assert "alice@example.org: 2 top papers; 'protein folding': 1" in out
    assert "daily:2025-07-22: would send 1 digests" in out
    assert smtp_server.handler.messages == [] and not Delivery.objects.exists()


def test_the_command_sends_and_summarises(smtp_server, day_papers, capsys):
    subscriber("alice@example.org")
    subscriber("bob@example.org", frequency="weekly")
    call_command("digest", "send", "--date", DAY)
    out = capsys.readouterr().out
    assert "daily:2025-07-22: sent 1, skipped 0, failed 0" in out
    assert "weekly:2025-W30: sent 1, skipped 0, failed 0" in out


def test_staff_preview(client, day_papers, django_user_model, settings):
    settings.DIGEST_TOP_PAPERS = 2
    subscriber("alice@example.org", topics="protein folding")
    assert client.get("/digest/preview", {"email": "alice@example.org", "date": DAY}).status_code == 302
    client.force_login(django_user_model.objects.create_superuser("root", "r@example.org", "pw"))
    html = client.get("/digest/preview", {"email": "alice@example.org", "date": DAY}).content.decode()
    assert "Scaling laws for mixture-of-experts" in html and "protein folding" in html
    assert not ShownPaper.objects.exists()


# --- failures ---------------------------------------------------------------------------------


def test_temporary_failures_are_retried_with_backoff(smtp_server, day_papers):
    subscriber("alice@example.org")
    smtp_server.handler.rcpt_answers["alice@example.org"] = ["451 4.3.0 Try again later", None]
    first = send()
    assert (first.sent, first.retrying) == (0, 1)
    delivery = Delivery.objects.get()
    assert delivery.state == Delivery.RETRY and delivery.next_attempt_at > timezone.now()
    assert send().sent == 0  # not due yet
    with time_machine.travel(delivery.next_attempt_at + dt.timedelta(seconds=1)):
        assert send().sent == 1
    assert len(smtp_server.handler.to("alice@example.org")) == 1


def test_a_refused_connection_is_temporary(settings, day_papers):
    settings.EMAIL_BACKEND = "paperwire.digests.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9
    subscriber("alice@example.org")
    assert send().retrying == 1
    assert "Connection refused" in Delivery.objects.get().last_error


def test_permanent_failures_bounce_and_then_stop(smtp_server, day_papers, settings, tmp_path):
    settings.DIGEST_BOUNCE_LIMIT = 2
    subscriber("alice@example.org")
    bad = subscriber("nobody@example.org")
    smtp_server.handler.rcpt_answers["nobody@example.org"] = ["550 5.1.1 No such user"]
    assert send().failed == 1
    assert Delivery.objects.get(subscriber=bad).state == Delivery.FAILED
    import_files(
        [
            write_jsonl(
                tmp_path / "more.jsonl",
                [paper(f"2507.2000{n}", f"Paper {n}", published=d) for n, d in enumerate(["2025-07-23", "2025-07-24"])],
            )
        ],
        progress=False,
    )
    send(date="2025-07-23")
    bad.refresh_from_db()
    assert (bad.bounces, bad.bouncing) == (2, True)
    refused_before = len(smtp_server.handler.refused)
    send(date="2025-07-24")
    assert len(smtp_server.handler.refused) == refused_before  # no more attempts to that address
    assert len(smtp_server.handler.to("alice@example.org")) == 3


def test_a_server_answering_after_the_timeout_gets_the_digest_once(smtp_server, day_papers, settings):
    """The server stores the message but acknowledges it only after the sender gave up waiting."""
    settings.BACKGROUND_EMAIL_TIMEOUT = 1
    smtp_server.handler.hold_at, smtp_server.handler.hold_seconds = 1, 3.0
    subscriber("alice@example.org")
    first = send()
    delivery = Delivery.objects.get()
    assert (first.sent, first.retrying, first.uncertain) == (0, 0, 1)
    assert delivery.state == Delivery.UNCERTAIN and "may have" in delivery.last_error
    with time_machine.travel(timezone.now() + dt.timedelta(days=1)):  # past every retry delay
        again = send()
    assert (again.sent, again.uncertain) == (0, 1)
    assert len(smtp_server.handler.to("alice@example.org")) == 1
    assert not Subscriber.objects.get().bounces


def test_a_timeout_before_the_message_was_sent_is_retried(smtp_server, day_papers, settings):
    """No answer to RCPT TO: the server cannot have the message, so it is sent again later."""
    settings.BACKGROUND_EMAIL_TIMEOUT = 1
    subscriber("alice@example.org")
    smtp_server.handler.rcpt_answers["alice@example.org"] = [3.0, None]  # answers after 3 s, then at once
    assert send().retrying == 1
    delivery = Delivery.objects.get()
    assert delivery.state == Delivery.RETRY
    with time_machine.travel(delivery.next_attempt_at + dt.timedelta(seconds=1)):
        assert send().sent == 1
    assert len(smtp_server.handler.to("alice@example.org")) == 1


def test_a_server_refusing_every_message_is_not_a_bounce(smtp_server, day_papers, settings):
    """A relay that refuses every recipient (here: relaying denied) says nothing about the addresses."""
    settings.DIGEST_BOUNCE_LIMIT = 1
    emails = [f"reader{n}@example.org" for n in range(10)]
    for email in emails:
        subscriber(email)
        smtp_server.handler.rcpt_answers[email] = ["550 5.7.1 Relaying denied"]
    with pytest.raises(CommandError, match="refused every digest it was given.*550 5.7.1 Relaying denied"):
        call_command("digest", "send", "--frequency", "daily", "--date", DAY)
    assert list(Subscriber.objects.values_list("bounces", "bouncing").distinct()) == [(0, False)]
    states = Counter(Delivery.objects.values_list("state", flat=True))
    assert states == {Delivery.RETRY: 5, Delivery.PENDING: 5}  # it stopped after five refusals alike
    smtp_server.handler.rcpt_answers.clear()  # the relay is fixed
    with time_machine.travel(timezone.now() + dt.timedelta(hours=1)):
        call_command("digest", "send", "--frequency", "daily", "--date", DAY)
    assert sorted(m["To"] for m in smtp_server.handler.messages) == emails


def test_a_refused_sender_stops_the_run_and_bounces_nobody(smtp_server, day_papers, settings):
    settings.DIGEST_BOUNCE_LIMIT = 1
    for n in range(3):
        subscriber(f"reader{n}@example.org")
    smtp_server.handler.mail_answer = "550 5.7.1 Sender address rejected"
    with pytest.raises(CommandError, match="refused the sender.*550 5.7.1 Sender address rejected"):
        call_command("digest", "send", "--frequency", "daily", "--date", DAY)
    states = sorted(Delivery.objects.values_list("state", flat=True))
    assert states == [Delivery.PENDING, Delivery.PENDING, Delivery.RETRY]  # one tried, the others left
    assert not Subscriber.objects.filter(bounces__gt=0).exists()
    smtp_server.handler.mail_answer = None
    with time_machine.travel(timezone.now() + dt.timedelta(hours=1)):
        call_command("digest", "send", "--frequency", "daily", "--date", DAY)
    assert len(smtp_server.handler.messages) == 3


def test_a_refusal_after_the_message_fails_that_digest_alone(smtp_server, day_papers, settings):
    settings.DIGEST_BOUNCE_LIMIT = 1
    subscriber("alice@example.org")
    bob = subscriber("bob@example.org")
    smtp_server.handler.data_answers["bob@example.org"] = ["554 5.7.1 Message refused"]
    report = send()
    assert (report.sent, report.failed) == (1, 1)
    assert Delivery.objects.get(subscriber=bob).state == Delivery.FAILED
    bob.refresh_from_db()
    assert (bob.bounces, bob.bouncing) == (1, True)


def test_the_command_fails_when_no_digest_was_accepted(settings, day_papers, capsys):
    settings.EMAIL_BACKEND = "paperwire.digests.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9
    subscriber("alice@example.org")
    with pytest.raises(CommandError, match="could not reach the SMTP server.*Connection refused"):
        call_command("digest", "send", "--frequency", "daily", "--date", DAY)
    assert "daily:2025-07-22: sent 0, skipped 0, failed 0, 1 to retry" in capsys.readouterr().out


def test_the_command_succeeds_when_one_address_bounces_among_others(smtp_server, day_papers, capsys):
    subscriber("alice@example.org")
    subscriber("nobody@example.org")
    smtp_server.handler.rcpt_answers["nobody@example.org"] = ["550 5.1.1 No such user"]
    call_command("digest", "send", "--frequency", "daily", "--date", DAY)
    assert "daily:2025-07-22: sent 1, skipped 0, failed 1" in capsys.readouterr().out


def test_a_stale_claim_becomes_uncertain_and_is_not_resent_blindly(smtp_server, day_papers, settings):
    """Its sender had begun sending the message (a stale claim that had not is retried:
    tests/test_outside_deadlines.py)."""
    subscriber("alice@example.org")
    period = DigestPeriod.containing("daily", dt.date.fromisoformat(DAY))
    claimed = timezone.now() - dt.timedelta(hours=1)
    Delivery.objects.create(
        subscriber=Subscriber.objects.get(),
        period=period.key,
        state=Delivery.SENDING,
        claimed_at=claimed,
        message_started_at=claimed,
    )
    report = send()
    assert (report.sent, report.uncertain) == (0, 1)
    assert smtp_server.handler.messages == []
    resent = send(resend_uncertain=True)
    assert resent.sent == 1
    assert smtp_server.handler.messages[0]["Message-ID"].startswith("<digest.daily.2025-07-22.")


def test_the_hugging_face_archive_day(smtp_server, capsys):
    from tests.conftest import shared_data

    call_command("import", *[str(p) for p in sorted(shared_data("hf_daily").glob("*.json"))], no_index=True)
    for n in range(3):
        subscriber(f"reader{n}@example.org")
    subscriber("weekly@example.org", frequency="weekly")
    call_command("digest", "send", "--frequency", "daily", "--date", "2025-07-22")
    assert "sent 3, skipped 0, failed 0" in capsys.readouterr().out
    top = Paper.objects.filter(daily_date=dt.date(2025, 7, 22)).order_by("-upvotes").first()
    for message in smtp_server.handler.messages:
        first_paper = text_part(message).split("MOST UPVOTED")[1].strip().splitlines()[0]
        assert first_paper.startswith(f"1. \u2068{top.title}\u2069")  # isolated: its direction its own
    call_command("digest", "send", "--frequency", "daily", "--date", "2025-07-22")
    assert "sent 0, skipped 0, failed 0" in capsys.readouterr().out
    assert len(smtp_server.handler.messages) == 3
