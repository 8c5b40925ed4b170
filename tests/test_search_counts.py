"""Search counts, sorts, filters and the empty state over every match (issue 10, item 5).

The corpus puts the most upvoted and the newest matching papers at the very bottom of the
relevance ranking (beyond 1,000 candidates): sorting by upvotes or date must still bring them
first, and the count must be the number of matches, filtered or not.
"""

import datetime as dt
import re

import pytest

from paperwire.ingest.importer import import_files
from paperwire.papers.models import Paper, set_vote
from paperwire.search.engine import OpenIndexes, search
from paperwire.search.index_files import LEXICAL_UNBUILT_NOTICE
from paperwire.search.models import PaperVector
from paperwire.search.query import parse_query
from paperwire.search.updating import update_indexes
from tests.conftest import paper, write_jsonl
from tests.test_search import TOPICAL

pytestmark = pytest.mark.django_db

MATCHING = 1500
TOP_VOTED = "2401.09001"  # the most upvoted matching paper
NEWEST = "2401.09002"  # the newest matching paper
FILLER = (
    "Soil nitrogen and winter wheat yields were recorded across many field plots, seasons and "
    "irrigation schedules, with nitrate leaching measured in lysimeters under several tillage "
    "regimes, crop rotations, cover crops, fertiliser rates and rainfall patterns over a decade."
)


def corpus() -> list[dict]:
    records = []
    for n in range(MATCHING - 2):
        records.append(
            paper(
                f"2401.{n:05d}",
                f"Attention heads study {n}",
                abstract="Attention maps and attention heads: attention everywhere.",
                published=(dt.date(2024, 1, 1) + dt.timedelta(days=n % 300)).isoformat(),
                upvotes=n % 50,
                categories=["cs.CL"] if n % 3 else ["cs.LG"],
            )
        )
    # Long texts that say "attention" once: the lowest BM25 scores of all the matches.
    records.append(
        paper(
            TOP_VOTED,
            "Field trials of winter wheat",
            abstract=f"{FILLER} {FILLER} Farmers paid attention to the weather. {FILLER}",
            published="2024-03-01",
            upvotes=500,
            categories=["cs.CL"],
        )
    )
    records.append(
        paper(
            NEWEST,
            "Nitrate leaching in lysimeters",
            abstract=f"{FILLER} {FILLER} Farmers paid attention to the rain. {FILLER}",
            published="2025-06-30",
            upvotes=1,
            categories=["cs.CL"],
        )
    )
    # Papers that do not match: more upvoted and newer than any match.
    for n in range(200):
        records.append(
            paper(
                f"2402.{n:05d}",
                f"Crop rotation report {n}",
                abstract=FILLER,
                published="2026-01-01",
                upvotes=900,
                categories=["q-bio.PE"],
            )
        )
    return records


EMBEDDED: dict[str, tuple] = {}  # the corpus's embeddings, computed by the model once for the module


@pytest.fixture
def deep(tmp_path):
    load_deep(tmp_path)


def load_deep(tmp_path) -> None:
    """The corpus imported and indexed (its embeddings computed once for the test session)."""
    import_files([write_jsonl(tmp_path / "deep.jsonl", corpus())], progress=False)
    if EMBEDDED:  # stored embeddings, as a rebuild finds them: the indexer computes none again
        PaperVector.objects.bulk_create(
            PaperVector(paper_id=pid, model=model, text_hash=text_hash, vector=vector)
            for pid, (model, text_hash, vector) in EMBEDDED.items()
        )
    assert update_indexes().embedded == (0 if EMBEDDED else len(corpus()))
    if not EMBEDDED:
        rows = PaperVector.objects.values_list("paper_id", "model", "text_hash", "vector")
        EMBEDDED.update({pid: (model, text_hash, bytes(vector)) for pid, model, text_hash, vector in rows})


@pytest.fixture
def topical(tmp_path):
    load_topical(tmp_path)


def load_topical(tmp_path) -> None:
    import_files([write_jsonl(tmp_path / "topical.jsonl", TOPICAL)], progress=False)
    update_indexes()


def ids(results) -> list[str]:
    return [h.paper.id for h in results.hits]


def first_hit(html: str) -> str:
    return re.search(r'class="paper-card search-hit" id="paper-([^"]+)"', html).group(1)


def shown_count(html: str) -> str:
    count = re.search(r'<p class="result-count"[^>]*>(.*?)</p>', html).group(1)
    return count.replace("<bdi>", "").replace("</bdi>", "")  # the query isolated: its direction its own


def test_the_corpus_hides_the_papers_to_find_below_1000_candidates(deep):
    bm25 = [hit.paper_id for hit in OpenIndexes.get().lexical.search(parse_query("attention"), MATCHING)]
    assert len(bm25) == MATCHING and TOP_VOTED not in bm25[:1000] and NEWEST not in bm25[:1000]
    assert bm25[-2:] in ([TOP_VOTED, NEWEST], [NEWEST, TOP_VOTED])


@pytest.mark.parametrize("mode", ["lexical", "hybrid"])
def test_sorting_by_upvotes_or_date_ranks_every_match(deep, mode):
    by_upvotes = search("attention", mode=mode, sort="upvotes", limit=5, snippets=False)
    assert ids(by_upvotes)[0] == TOP_VOTED
    assert [h.paper.upvotes for h in by_upvotes.hits] == [500, 49, 49, 49, 49]
    by_date = search("attention", mode=mode, sort="date", limit=3, snippets=False)
    assert ids(by_date)[0] == NEWEST
    assert by_date.hits[1].paper.published == dt.date(2024, 10, 26)  # the newest of the others
    # Pages follow on: the second page starts where the first ended.
    first = ids(search("attention", mode=mode, sort="upvotes", limit=40, snippets=False))
    second = ids(search("attention", mode=mode, sort="upvotes", limit=20, offset=20, snippets=False))
    assert second == first[20:]
    assert by_upvotes.total == by_date.total == MATCHING


@pytest.mark.parametrize("mode", ["lexical", "hybrid"])
def test_counts_are_the_number_of_matches_and_filters_only_narrow_them(deep, mode):
    everything = search("attention", mode=mode, snippets=False).total
    assert everything == MATCHING
    expected = (
        Paper.objects.filter(
            title__contains="ttention", published__gte=dt.date(2024, 3, 1), published__lte=dt.date(2024, 3, 31)
        ).count()
        + 1
    )  # TOP_VOTED's title does not say it
    march = search("attention", mode=mode, date_from=dt.date(2024, 3, 1), date_to=dt.date(2024, 3, 31))
    assert march.total == expected < everything
    assert TOP_VOTED in ids(search("attention", mode=mode, sort="upvotes", date_from=dt.date(2024, 3, 1)))
    category = search("attention", mode=mode, category="cs.LG", snippets=False)
    assert category.total == len(range(0, MATCHING - 2, 3)) < everything
    assert search("attention", mode=mode, category="cs.LG", date_from=dt.date(2024, 3, 1)).total < category.total
    assert search("attention", mode=mode, category="no.SUCH").total == 0


def test_a_vote_reorders_the_sort_at_once_and_after_the_next_index_update(deep, alice, bob):
    deep_paper = Paper.objects.get(pk="2401.00777")  # 27 upvotes
    Paper.objects.filter(pk=deep_paper.pk).update(base_upvotes=499, upvotes=499)
    set_vote(alice, deep_paper, True)
    set_vote(bob, deep_paper, True)  # 501: more than TOP_VOTED
    assert ids(search("attention", sort="upvotes", limit=2)) == ["2401.00777", TOP_VOTED]
    update_indexes()
    assert ids(search("attention", sort="upvotes", limit=2)) == ["2401.00777", TOP_VOTED]
    set_vote(bob, deep_paper, False)
    set_vote(alice, deep_paper, False)  # back to 499
    assert ids(search("attention", sort="upvotes", limit=2)) == [TOP_VOTED, "2401.00777"]
    update_indexes()
    assert ids(search("attention", sort="upvotes", limit=2)) == [TOP_VOTED, "2401.00777"]


def test_hidden_papers_are_not_counted(deep):
    Paper.objects.filter(pk__in=[TOP_VOTED, "2401.00001"]).update(hidden=True)
    from paperwire.papers.models import content_changed

    content_changed()
    results = search("attention", sort="upvotes", limit=1)
    assert results.total == MATCHING - 2 and ids(results) != [TOP_VOTED]


def test_the_page_and_the_api_show_the_same_counts_and_order(client, deep):
    html = client.get("/search", {"q": "attention", "sort": "upvotes"}).content.decode()
    assert shown_count(html) == "1,500 results for “attention”"
    assert first_hit(html) == TOP_VOTED
    filtered = client.get("/search", {"q": "attention", "from": "2024-03-01", "to": "2024-03-31"}).content.decode()
    assert int(shown_count(filtered).split()[0]) < MATCHING
    response = client.get("/api/papers/search", {"q": "attention", "sort": "date", "limit": 2})
    assert response.status_code == 200 and response["X-Total-Count"] == str(MATCHING)
    assert [item["paper"]["id"] for item in response.json()][0] == NEWEST
    response = client.get("/api/papers/search", {"q": "attention", "sort": "upvotes", "category": "cs.LG"})
    assert response["X-Total-Count"] == str(len(range(0, MATCHING - 2, 3)))
    assert all(item["paper"]["id"] != TOP_VOTED for item in response.json())


GIBBERISH = ["zzzzqqqxx", "asdkjh qwpoe"]


@pytest.mark.parametrize("query", GIBBERISH)
def test_gibberish_finds_nothing_in_any_mode(deep, query):
    for mode in ("hybrid", "semantic", "lexical"):
        for sort in ("relevance", "upvotes"):
            results = search(query, mode=mode, sort=sort)
            assert (results.total, results.hits) == (0, []), (mode, sort)


def test_gibberish_shows_the_empty_state_and_the_api_an_empty_list(client, topical):
    html = client.get("/search", {"q": "zzzzqqqxx"}).content.decode()
    assert shown_count(html) == "0 results for “zzzzqqqxx”"
    assert "No papers match “<bdi>zzzzqqqxx</bdi>”" in html and "check the spelling" in html
    assert 'href="/">browse the latest papers</a>' in html
    assert "search-hit" not in html and "remove-filters" not in html  # no filters to remove
    filtered = client.get("/search", {"q": "zzzzqqqxx", "from": "2025-01-01", "category": "cs.CL", "sort": "date"})
    html = filtered.content.decode()
    assert 'class="remove-filters" href="/search?q=zzzzqqqxx&amp;sort=date"' in html
    response = client.get("/api/papers/search", {"q": "zzzzqqqxx"})
    assert (response.status_code, response.json(), response["X-Total-Count"]) == (200, [], "0")


def test_the_category_box_offers_the_categories_there_are(client, topical, tmp_path, settings):
    html = client.get("/search", {"q": "attention"}).content.decode()
    options = re.findall(r'<option value="([^"]*)"[^>]*>', html.split('name="category"')[1].split("</select>")[0])
    assert options == ["", "cs.CL", "cs.CV", "cs.LG", "q-bio.PE"]
    chosen = client.get("/search", {"q": "attention", "category": "cs.LG"}).content.decode()
    assert '<option value="cs.LG" selected>' in chosen
    # A category the corpus does not have stays selectable, escaped, selected, after the others.
    hostile = client.get("/search", {"q": "attention", "category": '"><b>é'}).content.decode()
    box = hostile.split('name="category"')[1].split("</select>")[0]
    escaped = "&quot;&gt;&lt;b&gt;é"
    assert box.endswith(
        f'<option value="q-bio.PE">q-bio.PE</option><option value="{escaped}" selected>{escaped}</option>'
    )
    assert "<b>é" not in hostile


def test_without_categories_there_is_no_category_box(client, tmp_path):
    import_files([write_jsonl(tmp_path / "plain.jsonl", [paper("2501.00009", "Attention")])], progress=False)
    update_indexes()
    html = client.get("/search", {"q": "attention"}).content.decode()
    assert 'name="category"' not in html and 'name="from"' in html


def test_the_results_page_links_its_own_feed_visibly(client, topical):
    html = client.get("/search", {"q": "attention sinks"}).content.decode()
    body = html.split("<body>")[1]
    assert '<a class="feed-link" href="/search/feed.atom?q=attention+sinks"' in body
    head = html.split("<body>")[0]
    assert 'type="application/atom+xml"' in head and "/search/feed.atom?q=attention+sinks" in head
    feed = client.get("/search/feed.atom", {"q": "attention sinks"})
    assert feed.status_code == 200 and b"2501.00003" in feed.content


def test_before_the_index_is_built_the_database_counts_sorts_and_filters_alike(client, tmp_path):
    """The fallback (no lexical index yet) follows the same rules, and says so."""
    import_files([write_jsonl(tmp_path / "topical.jsonl", TOPICAL)], progress=False)
    words = "tokens wheat noise sinks"
    by_upvotes = search(words, mode="lexical", sort="upvotes")
    assert by_upvotes.notice == LEXICAL_UNBUILT_NOTICE and by_upvotes.exact
    assert ids(by_upvotes) == ["2501.00002", "2501.00004", "2501.00001", "2501.00003"] and by_upvotes.total == 4
    assert ids(search(words, mode="lexical", sort="date")) == ["2501.00003", "2501.00002", "2501.00001", "2501.00004"]
    category = search(words, mode="lexical", category="cs.CL", sort="upvotes")
    assert (ids(category), category.total) == (["2501.00001", "2501.00003"], 2)
    january = search(words, mode="lexical", date_from=dt.date(2025, 1, 1), date_to=dt.date(2025, 1, 31))
    assert (sorted(ids(january)), january.total) == (["2501.00001", "2501.00002"], 2)
    response = client.get("/api/papers/search", {"q": words, "mode": "lexical", "sort": "upvotes", "limit": 1})
    assert response["X-Total-Count"] == "4" and response["X-Paperwire-Notice"] == LEXICAL_UNBUILT_NOTICE
    assert [item["paper"]["id"] for item in response.json()] == ["2501.00002"]


def test_before_the_index_is_built_the_database_reads_only_the_newest_papers(client, tmp_path, monkeypatch):
    """A substring match reads every row it passes: on a large corpus the fallback reads only
    the SCAN_ROWS newest papers (of those the dates admit) and says which, never the whole table
    (19.6 s a search at 2.7 million papers, 0.2 s with the window)."""
    from paperwire.search import fallback

    monkeypatch.setattr(fallback, "SCAN_ROWS", 2)
    import_files([write_jsonl(tmp_path / "topical.jsonl", TOPICAL)], progress=False)
    among = " among the 2 newest papers (published since Jan 3, 2025) meanwhile."
    newest = search("sinks wheat noise tokens", mode="lexical", sort="upvotes")
    assert sorted(ids(newest)) == ["2501.00002", "2501.00003"]  # not 00001 (Jan 2) nor 00004 (Dec 1)
    assert newest.notice == LEXICAL_UNBUILT_NOTICE.replace(" meanwhile.", among) and not newest.exact
    old = search("denoising", mode="lexical")
    assert ids(old) == [] and old.notice.endswith(among)
    december = search("denoising", mode="lexical", date_to=dt.date(2024, 12, 31))  # its dates: one paper
    assert ids(december) == ["2501.00004"] and december.notice == LEXICAL_UNBUILT_NOTICE and december.exact
    january = search("sinks wheat noise tokens", mode="lexical", date_to=dt.date(2025, 1, 31))
    assert sorted(ids(january)) == ["2501.00001", "2501.00002"] and "since Jan 2, 2025" in january.notice
    html = client.get("/search", {"q": "sinks wheat", "mode": "lexical"}).content.decode()
    assert "About 2 results" in html and "among the 2 newest papers (published since Jan 3, 2025)" in html
    response = client.get("/api/papers/search", {"q": "sinks wheat", "mode": "lexical"})
    assert response["X-Paperwire-Notice"].startswith(LEXICAL_UNBUILT_NOTICE.replace(" meanwhile.", among))


def test_the_fallback_finds_the_newest_papers_from_an_index(db):
    """The window is read from the index on the publication date, not by reading the table."""
    from paperwire.search import fallback
    from tests.conftest import query_plan

    plan = query_plan(fallback.window()[0].filter(title__icontains="x").order_by("-published", "-id")[:1000])
    assert "paper_published" in plan, plan
    edge = Paper.visible.filter(published__isnull=False).order_by("-published", "-id").values_list("published")
    plan = query_plan(edge[19_999:20_000])
    assert "paper_published" in plan and "TEMP B-TREE" not in plan, plan  # (PostgreSQL, without a
    # corpus's statistics, sorts what the index found: with them it reads the index backwards)


def test_before_the_index_is_built_a_word_cut_to_one_letter_matches_nothing(client, tmp_path):
    """ "C++" analyses to "c", "İstanbul" to "i": as substrings they matched every paper."""
    import_files([write_jsonl(tmp_path / "topical.jsonl", TOPICAL)], progress=False)
    for query in ("C++", "İstanbul"):
        results = search(query, mode="lexical")
        assert (ids(results), results.total) == ([], 0), query
    assert ids(search("C++ wheat", mode="lexical")) == ["2501.00002"]


def test_the_query_keeps_its_direction_to_itself_on_the_results_page(client, tmp_path):
    """A right-to-left query ("שלום sinks") drawn beside the quotes and "with these filters"
    would reorder them: it is isolated (control characters such as U+202E are dropped as the
    query is read)."""
    import_files([write_jsonl(tmp_path / "topical.jsonl", TOPICAL)], progress=False)
    update_indexes()
    html = client.get("/search", {"q": "שלום sinks"}).content.decode()
    assert "for “<bdi>שלום sinks</bdi>”" in html
    html = client.get("/search", {"q": "zzzqqq \u202eשלום"}).content.decode()
    assert "No papers match “<bdi>zzzqqq שלום</bdi>”" in html
