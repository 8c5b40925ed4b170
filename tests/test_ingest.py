"""`paperwire ingest` against real HTTP servers on loopback serving recorded responses."""

import datetime as dt
import json
import time

import pytest
import time_machine
from django.core.management import CommandError, call_command

from paperwire.ingest import http
from paperwire.ingest.models import SourceCursor
from paperwire.papers.models import Paper
from tests.conftest import PINNED_NOW, Reply, arxiv_feed, shared_data
from tests.test_import import HF_ITEM

pytestmark = pytest.mark.django_db


def hf_day(paper_id: str, day: str, upvotes: int = 1) -> dict:
    paper = dict(HF_ITEM["paper"], id=paper_id, submittedOnDailyAt=f"{day}T03:00:00.000Z", upvotes=upvotes)
    return dict(HF_ITEM, paper=paper)


@pytest.fixture
def hf(recorded_server, settings):
    settings.HF_ENDPOINT = recorded_server.url
    return recorded_server


@pytest.fixture
def arxiv(recorded_server, settings):
    settings.ARXIV_API_URL = recorded_server.url + "/api/query"
    return recorded_server


def ingest(*args):
    call_command("ingest", *args, "--no-index")


def test_hf_daily_fetches_one_day(hf, capsys):
    hf.add(
        "/api/daily_papers?date=2025-07-22&limit=100", Reply(body=json.dumps([hf_day("2507.14683", "2025-07-22", 63)]))
    )
    ingest("hf-daily", "--date", "2025-07-22")
    assert capsys.readouterr().out.strip() == "imported 1 new, 0 updated, 0 rejected"
    assert Paper.objects.get().upvotes == 63
    assert SourceCursor.get("hf-daily") == "2025-07-22"


@time_machine.travel(PINNED_NOW, tick=False)
def test_hf_daily_since_walks_every_day_and_resumes_from_its_cursor(hf, capsys):
    for n, day in enumerate(("2025-07-20", "2025-07-21", "2025-07-22")):
        hf.add(f"/api/daily_papers?date={day}&limit=100", Reply(body=json.dumps([hf_day(f"2507.0000{n}", day)])))
    ingest("hf-daily", "--since", "2025-07-20")
    assert Paper.objects.count() == 3
    hf.requests.clear()
    ingest("hf-daily")  # no arguments: from the last day read to today
    assert hf.requests == ["/api/daily_papers?date=2025-07-22&limit=100"]
    assert "imported 0 new, 0 updated, 0 rejected" in capsys.readouterr().out


def test_hf_daily_waits_as_told_by_retry_after(hf):
    url = "/api/daily_papers?date=2025-07-22&limit=100"
    hf.add(
        url,
        Reply(429, "slow down", {"Retry-After": "1"}),
        Reply(503, "busy", {"Retry-After": "0"}),
        Reply(body=json.dumps([hf_day("2507.14683", "2025-07-22")])),
    )
    started = time.monotonic()
    ingest("hf-daily", "--date", "2025-07-22")
    assert time.monotonic() - started >= 1.0
    assert hf.requests == [url, url, url]
    assert Paper.objects.filter(pk="2507.14683").exists()


def test_hf_daily_reports_a_broken_day_and_keeps_the_others(hf, capsys):
    hf.add("/api/daily_papers?date=2025-07-20&limit=100", Reply(body=json.dumps([hf_day("2507.00001", "2025-07-20")])))
    hf.add("/api/daily_papers?date=2025-07-21&limit=100", Reply(body="<html>oops</html>"))
    hf.add("/api/daily_papers?date=2025-07-22&limit=100", Reply(500, "down"))
    with time_machine.travel(PINNED_NOW, tick=False), pytest.raises(CommandError, match="2 request"):
        ingest("hf-daily", "--since", "2025-07-20")
    err = capsys.readouterr().err
    assert "date=2025-07-21: malformed response" in err
    assert "HTTP 500" in err
    assert list(Paper.objects.values_list("pk", flat=True)) == ["2507.00001"]
    assert SourceCursor.get("hf-daily") == "2025-07-20"


def test_hf_daily_gives_up_on_a_server_that_never_answers(hf, settings, capsys):
    settings.HTTP_TIMEOUT = 0.3
    settings.HTTP_RETRIES = 1
    hf.add("/api/daily_papers?date=2025-07-22&limit=100", Reply(body="[]", delay=1.5))
    with pytest.raises(CommandError):
        ingest("hf-daily", "--date", "2025-07-22")
    assert "timed out" in capsys.readouterr().err
    assert len(hf.requests) == 2


def test_hf_daily_names_bad_items_and_keeps_good_ones(hf, capsys):
    bad = {"paper": {"id": "not an id", "title": "x", "summary": "y", "authors": []}}
    hf.add(
        "/api/daily_papers?date=2025-07-22&limit=100", Reply(body=json.dumps([hf_day("2507.14683", "2025-07-22"), bad]))
    )
    ingest("hf-daily", "--date", "2025-07-22")
    out = capsys.readouterr()
    assert out.out.strip() == "imported 1 new, 0 updated, 1 rejected"
    assert "rejected hf-daily 2025-07-22:1: invalid id" in out.err


def test_hf_daily_rejects_a_bad_date():
    with pytest.raises(CommandError, match="argument --date: invalid value '22/07/2025': expected a day, YYYY-MM-DD"):
        ingest("hf-daily", "--date", "22/07/2025")


def test_arxiv_pages_back_to_since(arxiv, capsys):
    page_one = arxiv_feed(
        {"id": "2507.20002v1", "title": "Newest", "published": "2025-07-21T10:00:00Z"},
        {
            "id": "2507.20001v2",
            "title": "Older",
            "published": "2025-07-20T09:00:00Z",
            "categories": ["cs.LG", "stat.ML"],
        },
        total=4,
    )
    page_two = arxiv_feed(
        {"id": "2507.10000v1", "title": "Still in range", "published": "2025-07-20T01:00:00Z"},
        {"id": "2507.00009v1", "title": "Too old", "published": "2025-07-18T09:00:00Z"},
        total=4,
    )
    arxiv.add("/api/query", Reply(body=page_one, headers={"Content-Type": "application/atom+xml"}))
    arxiv.routes["/api/query"].append(Reply(body=page_two))
    ingest("arxiv", "--category", "cs.CL", "--category", "cs.LG", "--since", "2025-07-20")
    assert capsys.readouterr().out.strip() == "imported 3 new, 0 updated, 0 rejected"
    older = Paper.objects.get(pk="2507.20001")
    assert older.categories == ["cs.LG", "stat.ML"]
    assert older.abstract == "An abstract that spans two lines."
    assert older.comment == "10 pages"
    assert "search_query=cat%3Acs.CL+OR+cat%3Acs.LG" in arxiv.requests[0]
    assert "start=2" in arxiv.requests[1]
    assert not Paper.objects.filter(pk="2507.00009").exists()
    assert SourceCursor.get("arxiv:cs.CL,cs.LG") == "2025-07-21"


def test_arxiv_reports_a_malformed_feed(arxiv, capsys):
    arxiv.add("/api/query", Reply(body="<feed><entry>"))
    with pytest.raises(CommandError):
        ingest("arxiv", "--since", "2025-07-20")
    assert "not an Atom feed" in capsys.readouterr().err
    assert Paper.objects.count() == 0


def test_arxiv_retries_after_a_503(arxiv):
    arxiv.add(
        "/api/query",
        Reply(503, "", {"Retry-After": "0"}),
        Reply(body=arxiv_feed({"id": "2507.20002", "title": "Back", "published": "2025-07-21T10:00:00Z"})),
    )
    ingest("arxiv", "--since", "2025-07-20")
    assert Paper.objects.get().title == "Back"


def test_arxiv_resumes_from_its_cursor(arxiv):
    with time_machine.travel(PINNED_NOW, tick=False):
        SourceCursor.put("arxiv:cs.AI,cs.CL,cs.CV,cs.LG", "2025-07-21")
        arxiv.add(
            "/api/query",
            Reply(
                body=arxiv_feed(
                    {"id": "2507.20002", "title": "Kept", "published": "2025-07-21T10:00:00Z"},
                    {"id": "2507.20001", "title": "Before the cursor", "published": "2025-07-20T10:00:00Z"},
                )
            ),
        )
        ingest("arxiv")
    assert list(Paper.objects.values_list("title", flat=True)) == ["Kept"]


def test_retry_after_accepts_an_http_date():
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)
    wait = http.retry_after_seconds(soon.strftime("%a, %d %b %Y %H:%M:%S GMT"), 1.0)
    assert 25 <= wait <= 30
    assert http.retry_after_seconds("garbage", 2.5) == 2.5
    assert http.retry_after_seconds("100000", 1.0) == http.MAX_RETRY_AFTER


@pytest.mark.parametrize("day", ["2025-07-22", "2024-12-20", "2025-01-10"])
def test_hf_daily_reads_recorded_hugging_face_responses(hf, capsys, day):
    recorded = shared_data(f"hf_daily/{day}.json").read_bytes()
    hf.add(
        f"/api/daily_papers?date={day}&limit=100", Reply(body=recorded, headers={"Content-Type": "application/json"})
    )
    ingest("hf-daily", "--date", day)
    data = json.loads(recorded)
    items = data["data"] if isinstance(data, dict) else data
    assert capsys.readouterr().out.strip() == f"imported {len(items)} new, 0 updated, 0 rejected"
    assert Paper.objects.count() == len(items)


def test_a_source_that_trickles_its_answer_times_out(settings):
    """A server that sends its headers and then a byte every half second never ends a socket wait,
    so only a bound on the whole answer stops it (a web request's submission waited minutes)."""
    import socket
    import threading

    from paperwire.ingest.http import FetchError, get

    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def trickle() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/atom+xml\r\nContent-Length: 100000\r\n\r\n")
        while not stop.wait(0.5):
            try:
                conn.sendall(b"<")
            except OSError:
                break
        conn.close()

    threading.Thread(target=trickle, daemon=True).start()
    outcome: list = []
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/api/query"
    caller = threading.Thread(
        target=lambda: outcome.append(pytest.raises(FetchError, get, url, retries=0, timeout=2)), daemon=True
    )
    caller.start()
    caller.join(30)  # the failure signal if the fetch never gives up; not a measure of speed
    stop.set()
    listener.close()
    assert not caller.is_alive(), "the fetch was still reading the trickle after 30 s"
    assert outcome and outcome[0].value.timed_out and "timed out" in str(outcome[0].value)


def arxiv_page(numbers: range, total: int = 300) -> Reply:
    entries = [{"id": f"2611.{n:05d}v1", "title": f"Paper {n}", "published": "2026-11-15T10:00:00Z"} for n in numbers]
    return Reply(body=arxiv_feed(*entries, total=total))


def test_an_empty_arxiv_page_before_the_end_is_asked_again(arxiv, settings, capsys):
    """arXiv answers start=100 with no entries once, although it counts 300 results: the page is
    asked for again and no paper is skipped."""
    settings.ARXIV_REQUEST_INTERVAL = 0
    arxiv.add(
        "/api/query",
        arxiv_page(range(1, 101)),
        arxiv_page(range(0)),
        arxiv_page(range(101, 201)),
        arxiv_page(range(201, 301)),
    )
    ingest("arxiv", "--category", "cs.CL", "--since", "2026-11-14")
    assert capsys.readouterr().out.strip() == "imported 300 new, 0 updated, 0 rejected"
    assert Paper.objects.count() == 300
    assert ["start=100" in r for r in arxiv.requests] == [False, True, True, False]
    assert SourceCursor.get("arxiv:cs.CL") == "2026-11-15"


def test_arxiv_answering_only_empty_pages_before_the_end_fails_and_keeps_the_cursor(arxiv, settings, capsys):
    settings.ARXIV_REQUEST_INTERVAL = 0
    settings.HTTP_RETRIES = 2
    SourceCursor.put("arxiv:cs.CL", "2026-11-14")
    arxiv.add("/api/query", arxiv_page(range(1, 101)), arxiv_page(range(0)))
    with pytest.raises(CommandError, match="1 request\\(s\\) failed"):
        ingest("arxiv", "--category", "cs.CL", "--since", "2026-11-14")
    err = capsys.readouterr().err
    assert (
        "(start=100): arXiv answered 3 empty pages although it counts 300 results; "
        "the papers from there on were not read" in err
    )
    assert Paper.objects.count() == 100  # what was read is kept
    assert SourceCursor.get("arxiv:cs.CL") == "2026-11-14"  # the next run reads the rest
    assert len(arxiv.requests) == 4


@pytest.mark.parametrize("total", ["²", "١٠٠", "-1", "3.0", "9" * 30])
def test_an_arxiv_feed_whose_total_is_not_a_count_is_malformed(arxiv, settings, capsys, total):
    settings.ARXIV_REQUEST_INTERVAL = 0
    body = arxiv_feed({"id": "2611.00001", "title": "A", "published": "2026-11-15T10:00:00Z"})
    body = body.replace(">1</opensearch:totalResults>", f">{total}</opensearch:totalResults>")
    arxiv.add("/api/query", Reply(body=body))
    with pytest.raises(CommandError):
        ingest("arxiv", "--category", "cs.CL", "--since", "2026-11-14")
    assert "totalResults is not a count" in capsys.readouterr().err
    assert SourceCursor.get("arxiv:cs.CL") is None


def test_retry_after_in_other_digits_is_not_a_number():
    assert http.retry_after_seconds("²", 2.5) == 2.5
    assert http.retry_after_seconds("١٠", 2.5) == 2.5
