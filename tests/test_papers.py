"""Paper pages, their markdown twin, votes and submissions."""

import datetime as dt
import io
import re
import threading

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client

from paperwire.ingest.importer import import_files
from paperwire.papers.models import Paper, Submission, Vote, content_changed, set_vote
from tests.conftest import PINNED_NOW, Reply, arxiv_feed, paper, write_jsonl

pytestmark = pytest.mark.django_db


@pytest.fixture
def attention(tmp_path):
    record = paper(
        "2410.10819",
        "Attention: all you need? & more",
        published="2024-10-14",
        upvotes=2,
        authors=["Zoë Müller", "Bob Smith"],
        categories=["cs.CL", "cs.LG"],
        code_urls=["https://github.com/a/b"],
        organization="Acme",
        doi="10.1000/xyz",
    )
    import_files([write_jsonl(tmp_path / "a.jsonl", [record])], progress=False)
    return Paper.objects.get(pk="2410.10819")


def test_the_paper_page_has_everything_a_reader_needs(client, attention):
    response = client.get("/papers/2410.10819")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Attention: all you need? &amp; more" in html
    # Each name links to its author's page.
    assert "Zoë Müller, Bob Smith" in re.sub(r"<[^>]*>", "", html)
    assert '<a class="author" href="/authors/zoe-muller"><bdi>Zoë Müller</bdi></a>' in html
    assert '<a class="author" href="/authors/bob-smith"><bdi>Bob Smith</bdi></a>' in html
    assert 'href="https://arxiv.org/abs/2410.10819"' in html
    assert 'href="https://arxiv.org/pdf/2410.10819"' in html
    assert 'href="https://github.com/a/b"' in html
    assert 'href="/papers/date/2024-10-14"' in html
    assert "@misc{muller2024attention," in html
    assert "eprint = {2410.10819}" in html
    assert "primaryClass = {cs.CL}" in html
    assert "title = {{Attention: all you need? \\&amp; more}}" in html
    # Anonymous readers get a link to log in, so the page holds no CSRF token and can be cached.
    assert '<a class="vote" href="/accounts/login?next=/papers/2410.10819"' in html
    assert "csrfmiddlewaretoken" not in html


def test_versions_and_prefixes_redirect_to_the_paper(client, attention):
    for alias in ("2410.10819v3", "arXiv:2410.10819"):
        response = client.get(f"/papers/{alias}")
        assert response.status_code == 301 and response["Location"] == "/papers/2410.10819"
    assert client.get("/papers/2410.10819v2.md")["Location"] == "/papers/2410.10819.md"


def test_unknown_papers_are_404_pages(client, db):
    for url in ("/papers/2410.99999", "/papers/nope", "/papers/%00", "/papers/a" + "b" * 200, "/nowhere"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert response["Content-Type"].startswith("text/html")
        html = response.content.decode()
        # The site's page, in plain words, with a search box and a way home; not Django's words.
        assert "<h1>Page not found</h1>" in html, url
        assert "There is nothing at this address" in html, url
        assert "matches the given query" not in html, url
        assert 'role="search"' in html and 'action="/search"' in html and 'href="/"' in html, url
    # What a view says of its own 404 is kept.
    html = client.get("/papers/date/2025-02-30").content.decode()
    assert "<h1>Page not found</h1>" in html and "invalid date &#x27;2025-02-30&#x27;" in html
    assert client.get("/api/papers/2410.99999", HTTP_ACCEPT="application/json").status_code == 404


def test_the_site_has_an_icon(client, db):
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response["Content-Type"] == "image/x-icon"
    assert response.content[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert 'rel="icon"' in client.get("/").content.decode()


def test_feed_pages_link_the_feeds_in_the_page(client, attention):
    for url in ("/", "/papers/date/2024-10-14", "/papers/week/2024-W42", "/papers/month/2024-10", "/papers/trending"):
        main = client.get(url).content.decode().split("<main", 1)[1]
        assert 'href="/papers/feed.rss" type="application/rss+xml">RSS</a>' in main, url
        assert 'href="/papers/feed.atom" type="application/atom+xml">Atom</a>' in main, url


def test_cards_show_code_stars_and_comments(client, attention):
    Paper.objects.filter(pk="2410.10819").update(github_stars=12345, num_comments=3)
    html = client.get("/papers/date/2024-10-14").content.decode()
    assert 'class="code" href="https://github.com/a/b"' in html
    assert '12,345<span class="visually-hidden"> GitHub stars</span>' in html
    assert ">3 comments</span>" in html
    Paper.objects.filter(pk="2410.10819").update(github_stars=None, num_comments=0)
    content_changed()  # a queryset update leaves the page cache as it was
    html = client.get("/papers/date/2024-10-14").content.decode()
    assert "GitHub stars" not in html and "comment" not in html


def test_old_style_ids_have_pages(client, tmp_path):
    import_files([write_jsonl(tmp_path / "old.jsonl", [paper("hep-th/9901001v2", "Old style")])], progress=False)
    assert client.get("/papers/hep-th/9901001").status_code == 200
    assert client.get("/papers/hep-th/9901001.md").content.decode().startswith("# Old style")


def test_the_markdown_twin(client, attention):
    response = client.get("/papers/2410.10819.md")
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    text = response.content.decode()
    assert text.startswith("# Attention: all you need? & more\n")
    assert "**Authors:** Zoë Müller, Bob Smith" in text
    assert "- PDF: https://arxiv.org/pdf/2410.10819" in text
    assert "## Abstract\n\nThe abstract of Attention" in text


# --- votes ---------------------------------------------------------------------------------


def test_a_vote_without_javascript_counts_and_returns_to_the_page(client, attention, alice):
    client.force_login(alice)
    response = client.post("/papers/2410.10819/vote", {"next": "/papers/date/2024-10-14"})
    assert response.status_code == 302 and response["Location"] == "/papers/date/2024-10-14"
    assert Paper.objects.get(pk="2410.10819").upvotes == 3
    assert Vote.objects.filter(user=alice, paper=attention).count() == 1
    client.post("/papers/2410.10819/vote", {"action": "down"})
    assert Paper.objects.get(pk="2410.10819").upvotes == 2
    assert not Vote.objects.exists()


def test_voting_twice_is_one_vote(client, attention, alice):
    client.force_login(alice)
    for _ in range(3):
        client.post("/papers/2410.10819/vote", {"action": "up"})
    assert Paper.objects.get(pk="2410.10819").upvotes == 3


def test_a_vote_with_javascript_answers_json(client, attention, alice, bob):
    client.force_login(alice)
    data = client.post("/papers/2410.10819/vote", {"action": "up"}, HTTP_ACCEPT="application/json").json()
    assert data == {"id": "2410.10819", "upvotes": 3, "voted": True}
    client.force_login(bob)
    assert client.post("/papers/2410.10819/vote", HTTP_ACCEPT="application/json").json()["upvotes"] == 4


def test_the_page_shows_my_vote(client, attention, alice):
    set_vote(alice, attention, True)
    client.force_login(alice)
    html = client.get("/papers/2410.10819").content.decode()
    assert 'class="vote voted"' in html and 'value="down"' in html
    assert 'action="/papers/2410.10819/vote"' in html


def test_anonymous_votes_are_sent_to_log_in(client, attention):
    response = client.post("/papers/2410.10819/vote")
    assert response.status_code == 302 and response["Location"] == "/accounts/login?next=/papers/2410.10819"
    json_response = client.post("/papers/2410.10819/vote", HTTP_ACCEPT="application/json")
    assert json_response.status_code == 401 and json_response.json() == {"error": "log in to upvote"}
    assert not Vote.objects.exists()


def test_votes_need_post_and_a_csrf_token(attention, alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.get("/papers/2410.10819/vote").status_code == 405
    assert client.post("/papers/2410.10819/vote").status_code == 403
    assert not Vote.objects.exists()


def test_the_vote_redirect_is_never_open(client, attention, alice):
    client.force_login(alice)
    for target in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        response = client.post("/papers/2410.10819/vote", {"next": target})
        assert response["Location"] == "/papers/2410.10819", target


def test_votes_are_rate_limited(client, attention, alice, settings):
    settings.RATE_LIMITS = dict(settings.RATE_LIMITS, vote="2/60")
    client.force_login(alice)
    assert client.post("/papers/2410.10819/vote").status_code == 302
    assert client.post("/papers/2410.10819/vote", {"action": "down"}).status_code == 302
    limited = client.post("/papers/2410.10819/vote", HTTP_ACCEPT="application/json")
    assert limited.status_code == 429 and int(limited["Retry-After"]) > 0
    assert "error" in limited.json()


@pytest.mark.django_db(transaction=True)
def test_concurrent_votes_never_double_count(attention, django_user_model):
    users = [django_user_model.objects.create_user(f"voter{n}") for n in range(6)]
    errors = []

    def vote(user):
        try:
            for _ in range(3):  # each user clicks three times at once with the others
                set_vote(user, Paper.objects.get(pk=attention.pk), True)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=vote, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert Vote.objects.count() == 6
    assert Paper.objects.get(pk=attention.pk).upvotes == 2 + 6


@pytest.mark.django_db(transaction=True)
def test_two_votes_whose_transactions_overlap_both_count(attention, django_user_model, monkeypatch):
    """Both votes are inserted before either count is refreshed. On PostgreSQL the second
    refresh used to wait for the first's row lock and then count from its own older snapshot,
    missing the first vote: 2 + 1 instead of 2 + 2. (SQLite lets one writer in at a time.)"""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writing transactions; the interleaving cannot happen there")
    users = [django_user_model.objects.create_user(f"overlap{n}") for n in range(2)]
    both_inserted = threading.Barrier(2, timeout=20)
    original = Vote.objects.get_or_create

    def insert_then_wait(**kwargs):
        result = original(**kwargs)
        both_inserted.wait()
        return result

    monkeypatch.setattr(Vote.objects, "get_or_create", insert_then_wait)
    errors = []

    def vote(user):
        try:
            set_vote(user, Paper.objects.get(pk=attention.pk), True)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=vote, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert Paper.objects.get(pk=attention.pk).upvotes == 2 + 2


# --- submissions ---------------------------------------------------------------------------


@pytest.fixture
def arxiv(recorded_server, settings):
    settings.ARXIV_API_URL = recorded_server.url + "/api/query"
    return recorded_server


NEW_PAPER = {
    "id": "2507.14683v1",
    "title": "MiroMind-M1",
    "published": "2025-07-19T16:21:23Z",
    "authors": ["Xingxuan Li", "Lidong Bing"],
}


@time_machine.travel(PINNED_NOW, tick=False)
def test_submitting_by_url_fetches_arxiv_and_puts_it_on_today(client, alice, arxiv):
    arxiv.add("/api/query", Reply(body=arxiv_feed(NEW_PAPER)))
    client.force_login(alice)
    response = client.post("/submit", {"paper": "https://arxiv.org/abs/2507.14683v1"})
    assert response.status_code == 302 and response["Location"] == "/papers/2507.14683"
    stored = Paper.objects.get(pk="2507.14683")
    assert stored.authors == ["Xingxuan Li", "Lidong Bing"]
    assert stored.daily_date == PINNED_NOW.date()
    assert stored.submitter == alice and stored.submitter_name == "alice"
    assert Submission.objects.get().user == alice
    assert "id_list=2507.14683" in arxiv.requests[0]
    assert client.get("/api/daily_papers", {"date": "2025-07-22"}).json()[0]["submittedBy"]["user"] == "alice"


def test_submitting_needs_an_account(client, db):
    assert client.get("/submit")["Location"] == "/accounts/login?next=/submit"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "not an arXiv id"),
        ("hello world", "not an arXiv id"),
        ("https://example.org/abs/2507.1", "not an arXiv id"),
    ],
)
def test_submitting_garbage_says_what_is_wrong(client, alice, arxiv, value, message):
    client.force_login(alice)
    response = client.post("/submit", {"paper": value})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert arxiv.requests == []


def test_submitting_an_unknown_id(client, alice, arxiv):
    error_feed = arxiv_feed()  # arXiv answers an empty feed for ids it does not have
    arxiv.add("/api/query", Reply(body=error_feed))
    client.force_login(alice)
    response = client.post("/submit", {"paper": "2507.99999"})
    assert response.status_code == 400 and "arXiv has no paper 2507.99999." in response.content.decode()
    assert not Paper.objects.exists()


PENDING_MESSAGE = "arXiv did not answer; your paper will appear once it is fetched."


def submit_while_arxiv_fails(client, paper_id: str, arxiv, reply: Reply | None = None) -> str:
    """Submit ``paper_id`` while arXiv answers ``reply`` (an error by default): the submit page the user lands on."""
    arxiv.routes["/api/query"] = [reply or Reply(503, "down")]
    response = client.post("/submit", {"paper": paper_id}, follow=True)
    assert response.redirect_chain == [("/submit", 302)]
    page = response.content.decode()
    assert PENDING_MESSAGE in page
    return page


def complete_submissions(*args: str) -> str:
    out = io.StringIO()
    call_command("ingest", "submissions", "--no-index", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_when_arxiv_fails_the_submission_waits_and_the_worker_completes_it(client, alice, arxiv):
    client.force_login(alice)
    page = submit_while_arxiv_fails(client, "2507.14683", arxiv)
    assert "Waiting for arXiv" in page and "2507.14683" in page
    assert "arXiv answered with an error (HTTP 503)" in page
    assert not Paper.objects.exists()
    [pending] = Submission.objects.all()
    assert (pending.user, pending.arxiv_id, pending.state, pending.attempts) == (alice, "2507.14683", "pending", 1)
    assert len(arxiv.requests) == 1  # one attempt, no retries, in the request

    arxiv.routes["/api/query"] = [Reply(body=arxiv_feed(NEW_PAPER))]
    with time_machine.travel(PINNED_NOW, tick=False):
        assert complete_submissions().strip() == "1 submissions on the feed, 0 waiting for arXiv, 0 given up"
    stored = Paper.objects.get(pk="2507.14683")
    assert stored.daily_date == PINNED_NOW.date() and stored.submitter == alice
    assert Submission.objects.get().state == "done" and Submission.objects.get().paper == stored
    assert client.get("/api/daily_papers", {"date": "2025-07-22"}).json()[0]["submittedBy"]["user"] == "alice"
    assert "Waiting for arXiv" not in client.get("/submit").content.decode()
    assert complete_submissions().strip() == "no submissions waiting for arXiv"
    assert len(arxiv.requests) == 2


def test_an_arxiv_answer_with_an_unreadable_count_leaves_the_submission_waiting(client, alice, arxiv):
    """totalResults "²" (a digit to isdigit(), not to int()): a malformed answer, not a 500."""
    client.force_login(alice)
    body = arxiv_feed(NEW_PAPER).replace(">1</opensearch:totalResults>", ">²</opensearch:totalResults>")
    page = submit_while_arxiv_fails(client, "2507.14683", arxiv, Reply(body=body))
    assert "arXiv sent an unreadable answer" in page
    [pending] = Submission.objects.all()
    assert (pending.state, pending.claimed_until, pending.last_error) == (
        "pending",
        None,
        "arXiv sent an unreadable answer",
    )
    assert not Paper.objects.exists()


def test_a_hanging_arxiv_is_given_one_short_try_in_the_request(client, alice, arxiv, settings):
    settings.WEB_OUTSIDE_TIMEOUT = 0.5
    arxiv.hang()
    client.force_login(alice)
    page = submit_while_arxiv_fails(client, "2507.14683", arxiv, Reply(body=arxiv_feed(NEW_PAPER)))
    assert "arXiv did not answer in time" in page
    arxiv.answer()
    assert complete_submissions().startswith("1 submissions on the feed")
    assert Paper.objects.get(pk="2507.14683").submitter == alice


def test_with_a_single_try_allowed_a_failed_fetch_is_an_error_at_once(client, alice, arxiv, settings):
    settings.SUBMISSION_MAX_ATTEMPTS = 1
    arxiv.add("/api/query", Reply(503, "down"))
    client.force_login(alice)
    response = client.post("/submit", {"paper": "2507.14683"})
    assert response.status_code == 400
    assert "arXiv answered with an error (HTTP 503) (gave up after one try" in response.content.decode()
    assert not Submission.objects.exists()


def test_a_paper_arxiv_does_not_have_is_given_up_with_a_reason(client, alice, arxiv):
    client.force_login(alice)
    submit_while_arxiv_fails(client, "2507.99999", arxiv)
    arxiv.routes["/api/query"] = [Reply(body=arxiv_feed())]  # arXiv's answer for an id it does not have
    assert complete_submissions().strip() == "0 submissions on the feed, 0 waiting for arXiv, 1 given up"
    page = client.get("/submit").content.decode()
    assert "Not added" in page and "arXiv has no paper 2507.99999." in page
    assert not Paper.objects.exists()
    assert complete_submissions().strip() == "no submissions waiting for arXiv"


def test_a_submission_arxiv_keeps_failing_is_given_up_after_the_last_try(client, alice, arxiv, settings):
    settings.SUBMISSION_MAX_ATTEMPTS = 3
    client.force_login(alice)
    submit_while_arxiv_fails(client, "2507.14683", arxiv)  # try 1
    for attempt in (2, 3):
        with pytest.raises(CommandError, match="the submissions stay pending"):
            complete_submissions()
        assert Submission.objects.get().attempts == attempt
    submission = Submission.objects.get()
    assert submission.state == "failed"
    expected = "arXiv answered with an error (HTTP 503) (gave up after 3 tries; you may submit it again later)."
    assert submission.last_error == expected
    assert expected in client.get("/submit").content.decode()
    assert len(arxiv.requests) == 1 + 2 * (settings.HTTP_RETRIES + 1)  # the worker's fetches retry
    assert complete_submissions().strip() == "no submissions waiting for arXiv"
    arxiv.routes["/api/query"] = [Reply(body=arxiv_feed(NEW_PAPER))]
    assert client.post("/submit", {"paper": "2507.14683"})["Location"] == "/papers/2507.14683"  # may try again


def test_a_pending_paper_cannot_be_submitted_twice(client, alice, bob, arxiv, tmp_path):
    client.force_login(alice)
    submit_while_arxiv_fails(client, "2507.14683", arxiv)
    # Meanwhile its row came in from an import that gives it no day: it is not listed yet.
    import_files([write_jsonl(tmp_path / "k.jsonl", [paper("2507.14683")])], progress=False)
    client.force_login(bob)
    response = client.post("/submit", {"paper": "2507.14683"})
    assert response.status_code == 400
    assert "2507.14683 has already been submitted; it will appear once arXiv has sent it." in response.content.decode()
    assert Submission.objects.count() == 1


def test_a_paper_submitted_elsewhere_meanwhile_fails_with_a_link(client, alice, arxiv, tmp_path):
    client.force_login(alice)
    submit_while_arxiv_fails(client, "2507.14683", arxiv)
    hf_item = paper("2507.14683", published="2025-07-19", submitted_at="2025-07-21T08:00:00Z")
    import_files([write_jsonl(tmp_path / "hf.jsonl", [hf_item])], progress=False)
    arxiv.routes["/api/query"] = [Reply(body=arxiv_feed(NEW_PAPER))]
    assert complete_submissions().strip() == "0 submissions on the feed, 0 waiting for arXiv, 1 given up"
    page = client.get("/submit").content.decode()
    assert "Already on Paperwire: A paper, listed on July 21, 2025." in page and 'href="/papers/2507.14683"' in page
    assert Paper.objects.get(pk="2507.14683").submitter is None


def test_a_pending_submission_is_fetched_by_one_claim_at_a_time(alice, arxiv):
    from paperwire.papers.submit import claim, due_submissions, put_on_feed, start_submission

    submission = start_submission(alice, "2507.14683")  # pending, held by its web request
    assert submission.state == "pending" and list(due_submissions()) == []
    Submission.objects.filter(pk=submission.pk).update(claimed_until=None)  # the request let go
    first, second = list(due_submissions()), list(due_submissions())
    assert claim(first[0]) and not claim(second[0])  # two workers saw it; one gets it
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=16)):  # the first one died
        assert claim(list(due_submissions())[0])
    Paper.objects.create(pk="2507.14683", title="MiroMind-M1", abstract="An abstract.")  # as if it was fetched
    assert not put_on_feed(first[0])  # its claim is stale: nothing happens
    assert Submission.objects.get().state == "pending"


def test_pending_submissions_count_toward_the_daily_limit(client, alice, arxiv, settings):
    settings.SUBMISSIONS_PER_DAY = 2
    client.force_login(alice)
    submit_while_arxiv_fails(client, "2507.14683", arxiv)
    submit_while_arxiv_fails(client, "2507.14684", arxiv)
    response = client.post("/submit", {"paper": "2507.14685"})
    assert response.status_code == 400 and "You can submit 2 papers a day" in response.content.decode()
    assert "2507.14683" in response.content.decode()  # still listed as waiting
    assert Submission.objects.count() == 2


def test_submitting_a_duplicate(client, alice, bob, arxiv):
    arxiv.add("/api/query", Reply(body=arxiv_feed(NEW_PAPER)))
    client.force_login(alice)
    client.post("/submit", {"paper": "2507.14683"})
    client.force_login(bob)
    response = client.post("/submit", {"paper": "arXiv:2507.14683v2"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'Already on Paperwire: <a href="/papers/2507.14683"><bdi>MiroMind-M1</bdi></a>, listed on' in html
    assert Submission.objects.count() == 1 and len(arxiv.requests) == 1
    assert Paper.objects.get(pk="2507.14683").submitter == alice


def test_submitting_a_known_paper_on_no_day_lists_it_today_without_a_fetch(client, alice, arxiv, tmp_path):
    """A paper in the database that no day lists (imported without a date) is what submitting
    is for: it goes on today's feed, from the row already there."""
    import_files([write_jsonl(tmp_path / "k.jsonl", [paper("2401.00001", "Known, undated")])], progress=False)
    assert Paper.objects.get(pk="2401.00001").daily_date is None
    client.force_login(alice)
    with time_machine.travel(PINNED_NOW, tick=False):
        response = client.post("/submit", {"paper": "2401.00001"})
    assert response.status_code == 302 and response["Location"] == "/papers/2401.00001"
    stored = Paper.objects.get(pk="2401.00001")
    assert stored.daily_date == PINNED_NOW.date() and stored.submitter == alice
    assert arxiv.requests == []


def listing(paper_id: str) -> tuple:
    """What a submission must never change of a listed paper."""
    fields = ("daily_date", "submitted_on_daily_at", "submitter", "submitter_name", "upvotes")
    return Paper.objects.values_list(*fields).get(pk=paper_id)


@pytest.mark.parametrize("source", ["published", "submitted_at"])
def test_a_paper_listed_on_an_earlier_day_stays_there(client, alice, bob, arxiv, tmp_path, source):
    """Submitting a paper some day already lists (by its publication, or an explicit submission
    on Hugging Face) is refused as a duplicate, with a link to it; nothing moves."""
    record = paper("2401.00001", "Listed <already> & well", upvotes=3, published="2024-01-02T10:00:00Z")
    if source == "submitted_at":
        record["submitted_at"] = "2024-01-03T08:00:00Z"
    import_files([write_jsonl(tmp_path / "k.jsonl", [record])], progress=False)
    day = "2024-01-02" if source == "published" else "2024-01-03"
    set_vote(bob, Paper.objects.get(pk="2401.00001"), True)
    before = listing("2401.00001")
    client.force_login(alice)
    with time_machine.travel(PINNED_NOW, tick=False):
        response = client.post("/submit", {"paper": "https://arxiv.org/abs/2401.00001v3"})
        assert response.status_code == 200
        html = response.content.decode()
        label = "January 2, 2024" if source == "published" else "January 3, 2024"
        assert (
            f'Already on Paperwire: <a href="/papers/2401.00001"><bdi>Listed &lt;already&gt; &amp; well</bdi></a>, '
            f'listed on <a href="/papers/date/{day}">{label}</a>.'
        ) in html
        assert listing("2401.00001") == before
        assert not Submission.objects.exists()
        assert [p.title for p in client.get(f"/papers/date/{day}").context["papers"]] == ["Listed <already> & well"]
        assert client.get(f"/papers/date/{PINNED_NOW.date()}").context["papers"] == []
    assert arxiv.requests == []


def test_a_listing_that_arrives_while_arxiv_is_asked_wins(client, alice, arxiv, tmp_path):
    """A submission waiting for arXiv whose paper meanwhile came in through a listing import
    (so a day lists it) is given up as a duplicate by `paperwire ingest submissions`."""
    client.force_login(alice)
    submit_while_arxiv_fails(client, "2507.14683", arxiv)
    record = paper("2507.14683", "MiroMind-M1", upvotes=4, published="2025-07-19T16:21:23Z")
    import_files([write_jsonl(tmp_path / "listing.jsonl", [record])], progress=False)
    before = listing("2507.14683")
    arxiv.routes["/api/query"] = [Reply(body=arxiv_feed(NEW_PAPER))]
    with time_machine.travel(PINNED_NOW, tick=False):
        assert complete_submissions().strip() == "0 submissions on the feed, 0 waiting for arXiv, 1 given up"
    assert listing("2507.14683") == before
    submission = Submission.objects.get()
    assert submission.state == "failed" and submission.paper_id == "2507.14683"
    assert submission.last_error == "Already on Paperwire: MiroMind-M1, listed on July 19, 2025."
    page = client.get("/submit").content.decode()
    assert "Already on Paperwire: MiroMind-M1, listed on July 19, 2025." in page
    assert 'href="/papers/2507.14683"' in page
    assert len(arxiv.requests) == 1  # the worker saw it listed: no need to ask arXiv


def test_there_is_a_daily_submission_limit(client, alice, arxiv, settings, tmp_path):
    settings.SUBMISSIONS_PER_DAY = 2
    records = [paper(f"2401.0000{n}") for n in range(1, 4)]
    import_files([write_jsonl(tmp_path / "k.jsonl", records)], progress=False)
    client.force_login(alice)
    for n in (1, 2):
        assert client.post("/submit", {"paper": f"2401.0000{n}"}).status_code == 302
    response = client.post("/submit", {"paper": "2401.00003"})
    assert response.status_code == 400 and "You can submit 2 papers a day" in response.content.decode()
    assert Submission.objects.count() == 2
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(days=1, minutes=1)):
        assert client.post("/submit", {"paper": "2401.00003"}).status_code == 302
