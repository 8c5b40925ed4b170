"""What a newcomer met searching the whole Hugging Face archive (issue 10): results that stopped at
200 without saying so, a feed link that dropped the filters, a neighbour cap shown as a count,
an arXiv id matching every paper sharing its first four digits, and date filters that did not
say which date they filter (nor what a reversed range does).

The corpus of tests/test_search_counts.py (1,500 matches of "attention") serves most of them.
"""

import datetime as dt
import html as htmllib
import json
import re
import xml.etree.ElementTree as ET
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.core.management import call_command

from paperwire.ingest.importer import import_files
from paperwire.papers.models import Paper, set_vote
from paperwire.search.engine import search
from paperwire.search.updating import update_indexes
from tests.conftest import paper, write_jsonl
from tests.test_search_counts import MATCHING, NEWEST, TOP_VOTED, ids, load_deep, load_topical, shown_count

pytestmark = pytest.mark.django_db

PAGES = -(-MATCHING // 20)  # 75 pages of 20
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def deep(tmp_path):
    load_deep(tmp_path)


@pytest.fixture
def topical(tmp_path):
    load_topical(tmp_path)


def page_ids(html: str) -> list[str]:
    return re.findall(r'class="paper-card search-hit" id="paper-([^"]+)"', html)


def text(html: str) -> str:
    """What a reader sees: the body's text, tags dropped, spaces collapsed."""
    body = re.sub(r"</?(a|time|q|mark|bdi)\b[^>]*>", "", html.split("<body", 1)[-1])  # inline: no space
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def get_page(client, **params):
    response = client.get("/search", params)
    return response.status_code, response.content.decode()


def feed_link(html: str) -> tuple[str, str]:
    """The search feed's address in the page's <head> and in its visible link."""
    head, body = html.split("<body", 1)
    in_head = re.search(r'<link rel="alternate" type="application/atom\+xml"[^>]*href="(/search/feed[^"]*)"', head)
    visible = re.search(r'<a class="feed-link" href="([^"]+)"', body).group(1)
    return htmllib.unescape(in_head.group(1)), htmllib.unescape(visible)


def feed_entries(content: bytes) -> list[str]:
    root = ET.fromstring(content)
    return [entry.find(f"{ATOM}link").get("href").rsplit("/", 1)[1] for entry in root.iter(f"{ATOM}entry")]


def sort_key(paper_id: str, sort: str) -> tuple:
    p = Paper.objects.get(pk=paper_id)
    return (p.published, p.upvotes) if sort == "date" else (p.upvotes, p.published)


# --- 1. every match reachable when sorted; the relevance ranking's limit said plainly ------------


@pytest.mark.parametrize("sort", ["date", "upvotes"])
def test_sorted_by_date_or_upvotes_every_page_of_the_matches_is_served(client, deep, sort):
    everything = ids(search("attention", sort=sort, limit=MATCHING, snippets=False))
    assert len(everything) == len(set(everything)) == MATCHING
    status, first = get_page(client, q="attention", sort=sort)
    assert status == 200 and f"Page 1 of {PAGES}" in text(first)
    assert "most relevant" not in text(first)  # every match is ranked: nothing to warn about
    for number in (11, 40, PAGES - 1, PAGES):
        status, html = get_page(client, q="attention", sort=sort, page=number)
        assert status == 200, (number, text(html)[:300])
        assert page_ids(html) == everything[(number - 1) * 20 : number * 20]
        assert f"Page {number} of {PAGES}" in text(html)
        assert ('rel="next"' in html) == (number < PAGES)
        assert f"page={number - 1}" in html.split('rel="prev"')[1].split(">")[0]
    assert everything[-1] in page_ids(html)
    status, past = get_page(client, q="attention", sort=sort, page=PAGES + 1)
    assert status == 404
    assert f"There are {PAGES} pages of results" in text(past)
    assert f'page={PAGES}">the last page</a>' in past


def test_by_relevance_the_page_says_it_ranks_the_200_most_relevant_and_offers_the_sorts(client, deep):
    status, html = get_page(client, q="attention")
    assert status == 200 and shown_count(html) == f"{MATCHING:,} results for “attention”"
    assert "Showing the 200 most relevant; sort by date or upvotes to see all 1,500." in text(html)
    assert 'href="/search?q=attention&amp;sort=date">sort by date</a>' in html
    assert 'href="/search?q=attention&amp;sort=upvotes">upvotes</a>' in html
    assert "Page 1 of 10" in text(html)
    seen = []
    for number in range(1, 11):
        status, html = get_page(client, q="attention", page=number)
        assert status == 200 and f"Page {number} of 10" in text(html)
        seen += page_ids(html)
    assert len(seen) == len(set(seen)) == 200  # the pages follow on: none repeated, none skipped
    assert 'rel="next"' not in html
    status, past = get_page(client, q="attention", page=11)
    assert status == 404
    assert (
        "By relevance, search ranks the 200 most relevant papers (10 pages). "
        "Sort by date or upvotes to see all 1,500." in text(past)
    )
    assert 'href="/search?q=attention&amp;sort=date">Sort by date</a>' in past


def test_a_search_with_fewer_matches_than_the_ranking_covers_says_nothing_of_it(client, topical):
    status, html = get_page(client, q="attention")
    assert status == 200 and "most relevant" not in text(html) and 'class="pagination"' not in html


@pytest.mark.parametrize("sort", ["date", "upvotes"])
def test_the_api_pages_through_every_match_sorted_even_with_votes_not_yet_indexed(client, deep, alice, bob, sort):
    # Votes since the last index update: those papers are ranked by their current counts.
    for n in range(5, MATCHING - 2, 149):  # ten papers, some moving up past pages, some tied
        set_vote(alice, Paper.objects.get(pk=f"2401.{n:05d}"), True)
    set_vote(bob, Paper.objects.get(pk="2401.00777"), True)
    everything = ids(search("attention", sort=sort, limit=MATCHING, snippets=False))
    for offset in [*range(0, MATCHING, 53), MATCHING - 20, MATCHING - 1, MATCHING]:
        page = ids(search("attention", sort=sort, limit=20, offset=offset, snippets=False))
        assert page == everything[offset:][:20], offset
    seen, url, pages = [], f"/api/papers/search?q=attention&sort={sort}&limit=120", 0
    while url:
        response = client.get(url)
        assert response.status_code == 200 and response["X-Total-Count"] == str(MATCHING)
        seen += [item["paper"]["id"] for item in response.json()]
        pages += 1
        link = response.headers.get("Link")
        url = None
        if link:
            target = re.fullmatch(r'<([^>]+)>; rel="next"', link).group(1)
            url = f"{urlsplit(target).path}?{urlsplit(target).query}"
    assert pages == 13 and seen == everything and len(set(seen)) == MATCHING
    keys = [sort_key(pid, sort) for pid in seen]
    assert keys == sorted(keys, reverse=True)  # the voted papers are where their counts put them
    past = client.get("/api/papers/search", {"q": "attention", "sort": sort, "limit": 120, "p": 13})
    assert (past.status_code, past.json(), past["X-Total-Count"]) == (200, [], str(MATCHING))


def test_the_api_by_relevance_serves_the_200_most_relevant_and_says_so(client, deep):
    first = client.get("/api/papers/search", {"q": "attention", "limit": 120})
    assert first.status_code == 200 and len(first.json()) == 120 and first["X-Total-Count"] == str(MATCHING)
    assert first["X-Paperwire-Notice"] == (
        "By relevance, search ranks the 200 most relevant of the 1,500 matches; "
        "sort=date or sort=upvotes pages through all of them."
    )
    assert dict(parse_qsl(urlsplit(first["Link"][1:].split(">")[0]).query)) == {
        "q": "attention",
        "limit": "120",
        "p": "1",
    }
    second = client.get("/api/papers/search", {"q": "attention", "limit": 120, "p": 1})
    assert len(second.json()) == 80 and "Link" not in second
    both = [item["paper"]["id"] for item in first.json() + second.json()]
    assert len(set(both)) == 200
    past = client.get("/api/papers/search", {"q": "attention", "limit": 50, "p": 4})
    assert past.status_code == 400
    assert past.json() == {
        "error": "p: by relevance, search ranks the first 200 results (p × limit must be below 200); "
        "sort=date or sort=upvotes pages through every match"
    }
    bad = client.get("/api/papers/search", {"q": "attention", "p": "-1"})
    assert bad.status_code == 400 and bad.json() == {"error": "p must be an integer from 0 to 1000000"}


def test_the_command_line_ranks_as_many_as_it_is_asked(deep, capsys):
    """One run is not a page of many: `paperwire search --limit` (up to 1,000) ranks that deep."""
    call_command("search", "attention", "--limit", "300", "--mode", "lexical", "--json")
    out, err = capsys.readouterr()
    rows = json.loads(out)
    assert len(rows) == len({row["id"] for row in rows}) == 300 and err == ""


# --- 2. the feed of a filtered search keeps its filters ------------------------------------------


def test_the_feed_link_of_a_filtered_search_keeps_the_filters_and_the_feed_applies_them(client, deep):
    status, html = get_page(
        client, q="attention", **{"from": "2024-03-01", "to": "2024-03-31"}, category="cs.CL", sort="upvotes"
    )
    assert status == 200
    expected = "/search/feed.atom?q=attention&sort=upvotes&from=2024-03-01&to=2024-03-31&category=cs.CL"
    assert feed_link(html) == (expected, expected)
    feed = client.get(expected)
    assert feed.status_code == 200
    entries = feed_entries(feed.content)
    assert entries[0] == TOP_VOTED and len(entries) == 50
    for pid in entries:
        found = Paper.objects.get(pk=pid)
        assert dt.date(2024, 3, 1) <= found.published <= dt.date(2024, 3, 31) and "cs.CL" in found.categories
    root = ET.fromstring(feed.content)
    alternate = [link.get("href") for link in root.findall(f"{ATOM}link") if link.get("rel") == "alternate"][0]
    assert alternate.endswith("/search?q=attention&sort=upvotes&from=2024-03-01&to=2024-03-31&category=cs.CL")
    assert "published from 2024-03-01 to 2024-03-31" in root.find(f"{ATOM}title").text


def test_the_feed_sorted_by_date_holds_the_newest_matches_and_refuses_bad_filters(client, deep):
    entries = feed_entries(client.get("/search/feed.atom", {"q": "attention", "sort": "date"}).content)
    assert entries[0] == NEWEST and len(entries) == 50  # NEWEST is far below the 200 most relevant
    assert NEWEST not in feed_entries(client.get("/search/feed.atom", {"q": "attention"}).content)
    bad = client.get("/search/feed.atom", {"q": "attention", "from": "2024-13-01"})
    assert (bad.status_code, bad.content.decode()) == (400, "from must be a day, YYYY-MM-DD\n")
    reversed_range = client.get("/search/feed.atom", {"q": "attention", "from": "2024-03-31", "to": "2024-03-01"})
    assert reversed_range.status_code == 400
    assert reversed_range.content.decode() == "from (2024-03-31) must not be after to (2024-03-01)\n"


# --- 3. a count that is the neighbour cap does not read as the number of matches ------------------


def test_a_semantic_search_that_fills_its_neighbours_says_they_are_the_closest(client, deep):
    results = search("attention", mode="semantic", snippets=False)
    assert (results.total, results.capped) == (100, True)
    status, html = get_page(client, q="attention", mode="semantic")
    assert status == 200 and shown_count(html) == "The 100 closest papers to “attention”"
    assert "100 results" not in text(html)
    status, html = get_page(client, q="attention", mode="semantic", category="cs.LG")
    narrowed = search("attention", mode="semantic", category="cs.LG").total
    assert 0 < narrowed < 100
    assert shown_count(html) == f"{narrowed} of the 100 closest papers to “attention” with these filters"
    response = client.get("/api/papers/search", {"q": "attention", "mode": "semantic"})
    assert response["X-Total-Count"] == "100"
    assert response["X-Paperwire-Notice"] == (
        "Semantic search returns the 100 papers closest in meaning; other papers may be as close."
    )


def test_a_semantic_search_below_the_cap_counts_its_results(client, topical):
    results = search("attention sinks in streaming models", mode="semantic")
    assert 0 < results.total < 100 and not results.capped
    status, html = get_page(client, q="attention sinks in streaming models", mode="semantic")
    plural = "s" if results.total > 1 else ""
    assert shown_count(html) == f"{results.total} result{plural} for “attention sinks in streaming models”"


# --- 4. an arXiv id finds that paper and the papers that mention it ------------------------------

ID_CORPUS = [
    paper("2507.09477", "Towards Agentic RAG with Deep Reasoning", abstract="A survey of reasoning in retrieval."),
    paper("2508.00001", "Tuning Qwen3-2507 for agents", abstract="We fine-tune Qwen3-30B-A3B-Instruct-2507 for tools."),
    paper("2508.00002", "Agentic search", abstract="We extend the survey arXiv:2507.09477v2 with tool use."),
    paper("2508.00003", "Deep research agents", abstract="Following 2507.09477, we build a research agent."),
    paper("2508.00004", "A neighbouring id", abstract="Compared with 2507.09478 and model 09477-b in 2507."),
    paper("2508.00005", "Citing an absent paper", abstract="As shown in arXiv:2401.12345, agents plan."),
]
SPELLINGS = [
    "2507.09477",
    "2507.09477v2",
    "arXiv:2507.09477",
    "arxiv:2507.09477v1",
    "https://arxiv.org/abs/2507.09477v2",
    "arxiv.org/pdf/2507.09477",
    "https://huggingface.co/papers/2507.09477",
]


@pytest.fixture
def id_corpus(tmp_path):
    import_files([write_jsonl(tmp_path / "ids.jsonl", ID_CORPUS)], progress=False)
    update_indexes()


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_an_arxiv_id_finds_the_paper_and_the_papers_mentioning_it(client, id_corpus, spelling):
    for mode in ("hybrid", "lexical", "semantic"):
        results = search(spelling, mode=mode)
        assert results.total == 3, (mode, ids(results))
        assert ids(results)[0] == "2507.09477" and results.hits[0].pinned
        assert sorted(ids(results)[1:]) == ["2508.00002", "2508.00003"], mode
    status, html = get_page(client, q=spelling)
    assert shown_count(html) == f"3 results for “{spelling}”"
    assert page_ids(html)[0] == "2507.09477" and sorted(page_ids(html)[1:]) == ["2508.00002", "2508.00003"]
    response = client.get("/api/papers/search", {"q": spelling})
    assert response["X-Total-Count"] == "3"


def test_an_arxiv_id_of_a_paper_not_here_finds_the_papers_that_mention_it(id_corpus):
    results = search("arXiv:2401.12345")
    assert (ids(results), results.total) == (["2508.00005"], 1)


def test_an_arxiv_id_finds_the_same_papers_while_the_keyword_index_is_rebuilt(tmp_path):
    import_files([write_jsonl(tmp_path / "ids.jsonl", ID_CORPUS)], progress=False)  # no index yet
    results = search("https://arxiv.org/abs/2507.09477v2", mode="lexical")
    assert ids(results)[0] == "2507.09477" and sorted(ids(results)[1:]) == ["2508.00002", "2508.00003"]
    assert results.total == 3


# --- 5. the dates say which date they filter; a reversed range is not a silent 0 -----------------


def test_the_date_filters_say_they_are_publication_dates(client, topical):
    status, html = get_page(client, q="attention")
    labels = [" ".join(re.sub(r"<[^>]+>", " ", label).split()) for label in re.findall(r"<label>(.*?)</label>", html)]
    assert "Published from" in labels and "Published to" in labels


def test_a_reversed_date_range_is_swapped_on_the_page_and_said(client, topical):
    right = {"q": "tokens wheat noise sinks", "mode": "lexical", "from": "2025-01-01", "to": "2025-01-31"}
    status, expected = get_page(client, **right)
    assert sorted(page_ids(expected)) == ["2501.00001", "2501.00002"]
    status, html = get_page(client, **{**right, "from": "2025-01-31", "to": "2025-01-01"})
    assert status == 200 and page_ids(html) == page_ids(expected)
    assert "The dates were the wrong way round: showing papers published from 2025-01-01 to 2025-01-31." in text(html)
    assert 'name="from" value="2025-01-01"' in html and 'name="to" value="2025-01-31"' in html
    assert feed_link(html)[1] == (
        "/search/feed.atom?q=tokens+wheat+noise+sinks&mode=lexical&from=2025-01-01&to=2025-01-31"
    )


def test_the_api_refuses_a_reversed_date_range_clearly(client, topical):
    response = client.get("/api/papers/search", {"q": "attention", "from": "2025-02-01", "to": "2025-01-01"})
    assert (response.status_code, response.json()) == (
        400,
        {"error": "from (2025-02-01) must not be after to (2025-01-01)"},
    )
    same_day = client.get("/api/papers/search", {"q": "attention", "from": "2025-02-10", "to": "2025-02-10"})
    assert same_day.status_code == 200 and same_day["X-Total-Count"] == "1"
