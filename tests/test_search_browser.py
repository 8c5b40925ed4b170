"""The search page in headless Chromium (Debian's), against a real `paperwire serve`: sorting
by upvotes and by date over every match, paging past the 200 most relevant, the feed of a
filtered search, the date filters, and the empty state of a search that finds nothing."""

import pytest

from tests.conftest import paperwire_env, run_paperwire, start_site, stop_site, write_jsonl

pytestmark = pytest.mark.browser

from tests.chromium import expect  # noqa: E402 (importing it skips this module without Chromium)

MATCHING = 251  # more than the 200 most relevant a relevance search ranks
TOP_VOTED = "2403.09001"
NEWEST = "2406.09002"
WIDTHS = (1280, 390)


def corpus() -> list[dict]:
    records = [
        {
            "id": f"2403.{n:05d}",
            "title": f"Attention heads study {n}",
            "abstract": "Attention maps and attention heads: attention everywhere.",
            "authors": ["Ada Lovelace"],
            "published": "2024-03-01",
            "upvotes": n % 20,
            "categories": ["cs.CL"],
        }
        for n in range(MATCHING - 2)
    ]
    filler = "Soil nitrogen and winter wheat yields were recorded across field plots and seasons. " * 6
    records.append(
        {
            "id": TOP_VOTED,
            "title": "Field trials of winter wheat",
            "abstract": f"{filler}Farmers paid attention to the weather. {filler}",
            "authors": ["Grace Hopper"],
            "published": "2024-02-01",
            "upvotes": 300,
            "categories": ["q-bio.PE"],
        }
    )
    records.append(
        {
            "id": NEWEST,
            "title": "Crop rotation in a wet spring",
            "abstract": f"{filler}The rain drew attention away from the soil. {filler}",
            "authors": ["Grace Hopper"],
            "published": "2024-06-01",
            "upvotes": 0,
            "categories": ["q-bio.PE"],
        }
    )
    return records


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    home = tmp_path_factory.mktemp("search-browser-home")
    corpus_file = write_jsonl(home / "corpus.jsonl", corpus())
    result = run_paperwire("import", str(corpus_file), env=paperwire_env(home))
    assert result.returncode == 0, result.stderr
    site = start_site(home)
    yield site
    stop_site(site)


def no_sideways_scroll(page) -> bool:
    """The page does not scroll sideways, and nothing of the search page's own content is the cause."""
    wider = page.evaluate(
        "[...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right > innerWidth + 0.5)"
        ".map(e => e.tagName + '.' + e.className)"
    )
    assert wider == [], wider
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("width", WIDTHS)
def test_sorting_by_upvotes_brings_the_most_upvoted_match_first(site, browser, width):
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(site.url + "/search?q=attention")
    cards = page.locator("article.search-hit")
    expect(page.locator(".result-count")).to_have_text(f"{MATCHING} results for “attention”")
    expect(cards.first).not_to_have_id(f"paper-{TOP_VOTED}")  # by relevance, it is the weakest match
    page.select_option("select[name=sort]", "upvotes")
    page.click(".search-form button[type=submit]")
    expect(page).to_have_url(site.url + "/search?q=attention&from=&to=&category=&sort=upvotes&mode=hybrid")
    expect(cards.first).to_have_id(f"paper-{TOP_VOTED}")
    expect(cards.first.locator(".vote .count")).to_have_text("300")
    expect(page.locator(".result-count")).to_have_text(f"{MATCHING} results for “attention”")
    feed = page.locator("a.feed-link")
    expect(feed).to_be_visible()
    assert feed.get_attribute("href") == "/search/feed.atom?q=attention&sort=upvotes"
    assert no_sideways_scroll(page)
    page.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_sorting_by_date_brings_the_newest_match_first(site, browser, width):
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(site.url + "/search?q=attention")
    cards = page.locator("article.search-hit")
    expect(page.locator(".result-count")).to_have_text(f"{MATCHING} results for “attention”")
    expect(cards.first).to_be_visible()
    ids = [card.get_attribute("id") for card in cards.all()]
    assert f"paper-{NEWEST}" not in ids[:3]  # by relevance it is among the weakest matches
    page.select_option("select[name=sort]", "date")
    page.click(".search-form button[type=submit]")
    expect(page).to_have_url(site.url + "/search?q=attention&from=&to=&category=&sort=date&mode=hybrid")
    expect(cards.first).to_have_id(f"paper-{NEWEST}")
    # then the March papers (ties by upvotes); the February one is the oldest, never on page one
    expect(cards.nth(1)).to_have_id("paper-2403.00019")
    expect(page.locator(f'[id="paper-{TOP_VOTED}"]')).to_have_count(0)
    expect(page.locator(".result-count")).to_have_text(f"{MATCHING} results for “attention”")
    assert no_sideways_scroll(page)
    page.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_gibberish_shows_the_empty_state(site, browser, width):
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(site.url + "/search?q=zzzzqqqxx&from=2024-01-01&category=cs.CL")
    state = page.locator(".empty-state")
    expect(state).to_be_visible()
    expect(state.locator("h2")).to_have_text("No papers match “zzzzqqqxx” with these filters")
    expect(page.locator(".result-count")).to_have_text("0 results for “zzzzqqqxx” with these filters")
    expect(page.locator("article.search-hit")).to_have_count(0)
    expect(state.get_by_text("browse the latest papers")).to_be_visible()
    assert no_sideways_scroll(page)
    state.get_by_text("search again without the filters").click()
    expect(page).to_have_url(site.url + "/search?q=zzzzqqqxx")
    expect(page.locator(".empty-state h2")).to_have_text("No papers match “zzzzqqqxx”")
    expect(page.locator(".empty-state")).not_to_contain_text("without the filters")
    expect(page.locator("select[name=category] option")).to_have_text(["Any", "cs.CL", "q-bio.PE"])
    assert no_sideways_scroll(page)
    page.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_by_relevance_the_page_says_where_it_stops_and_sorting_by_date_pages_to_the_last_match(site, browser, width):
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(site.url + "/search?q=attention")
    note = page.locator(".result-note")
    expect(note).to_have_text(f"Showing the 200 most relevant; sort by date or upvotes to see all {MATCHING}.")
    expect(page.locator(".pagination span")).to_have_text("Page 1 of 10")
    assert no_sideways_scroll(page)
    page.goto(site.url + "/search?q=attention&page=10")
    expect(page.locator(".pagination span")).to_have_text("Page 10 of 10")
    expect(page.locator(".pagination a[rel=next]")).to_have_count(0)
    expect(note.get_by_role("link", name="sort by date")).to_be_visible()
    rest = page.locator(".pagination a.rest")  # where Next was: the way on to every match
    expect(rest).to_have_text(f"All {MATCHING} by date →")
    rest.click()
    expect(page).to_have_url(site.url + "/search?q=attention&sort=date")
    expect(page.locator(".result-note")).to_have_count(0)
    expect(page.locator(".pagination span")).to_have_text("Page 1 of 13")
    page.goto(site.url + "/search?q=attention&sort=date&page=12")
    page.locator(".pagination a[rel=next]").click()
    expect(page).to_have_url(site.url + "/search?q=attention&sort=date&page=13")
    expect(page.locator(".pagination span")).to_have_text("Page 13 of 13")
    expect(page.locator("article.search-hit")).to_have_count(MATCHING - 240)
    expect(page.locator(f'[id="paper-{TOP_VOTED}"]')).to_be_visible()  # the oldest match, last
    assert no_sideways_scroll(page)
    page.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_a_filtered_search_links_its_filtered_feed_and_says_which_dates_it_filters(site, browser, width):
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(site.url + "/search?q=attention")
    expect(page.get_by_label("Published from")).to_be_visible()
    expect(page.get_by_label("Published to")).to_be_visible()
    page.get_by_label("Published from").fill("2024-06-30")
    page.get_by_label("Published to").fill("2024-02-01")  # the wrong way round
    page.select_option("select[name=category]", "q-bio.PE")
    page.select_option("select[name=sort]", "upvotes")
    page.click(".search-form button[type=submit]")
    notice = page.locator(".notice")
    expect(notice).to_have_text(
        "The dates were the wrong way round: showing papers published from 2024-02-01 to 2024-06-30."
    )
    expect(page.get_by_label("Published from")).to_have_value("2024-02-01")
    expect(page.get_by_label("Published to")).to_have_value("2024-06-30")
    expect(page.locator("article.search-hit")).to_have_count(2)
    expect(page.locator("article.search-hit").first).to_have_id(f"paper-{TOP_VOTED}")
    wanted = "/search/feed.atom?q=attention&sort=upvotes&from=2024-02-01&to=2024-06-30&category=q-bio.PE"
    feed = page.locator("a.feed-link")
    expect(feed).to_be_visible()
    assert feed.get_attribute("href") == wanted
    assert page.locator('head link[type="application/atom+xml"][href^="/search/"]').get_attribute("href") == wanted
    assert no_sideways_scroll(page)
    entries = page.request.get(site.url + wanted).text()
    assert entries.count("<entry>") == 2 and f"/papers/{TOP_VOTED}" in entries
    page.close()
