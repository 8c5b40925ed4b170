"""Trending and submissions as a person meets them on an instance fed from an archive, in
headless Chromium (Debian's) through Playwright against a real `paperwire serve`."""

import datetime as dt
import json

import pytest

from tests.conftest import paper, paperwire_env, run_paperwire, start_site, stop_site, write_jsonl

pytestmark = pytest.mark.browser

from tests.chromium import expect  # noqa: E402 (importing it skips this module without Chromium)

# The archive ends three months before the day the test runs (the server's clock is real).
LATEST = dt.date.today() - dt.timedelta(days=90)
OLD_ID, OLD_TITLE = "2407.01949", "An Archived Paper From Last Year"
WIDTHS = (1280, 390)


def archive() -> list[dict]:
    """Two papers a day for eight weeks up to LATEST, and one paper a year older."""
    records = []
    for back in range(56):
        day = LATEST - dt.timedelta(days=back)
        for slot in range(2):
            records.append(
                paper(
                    f"2601.{back * 2 + slot + 1:05d}",
                    f"Archived {day.isoformat()} number {slot}",
                    published=f"{day.isoformat()}T06:00:00Z",
                    submitted_at=f"{day.isoformat()}T{9 + slot:02d}:00:00Z",
                    upvotes=5 + (back * 2 + slot) % 17,
                )
            )
    old_day = LATEST - dt.timedelta(days=365)
    records.append(
        paper(OLD_ID, OLD_TITLE, published=f"{old_day.isoformat()}T06:00:00Z", submitted_at=f"{old_day}T09:00:00Z")
    )
    return records


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    home = tmp_path_factory.mktemp("archive-home")
    result = run_paperwire("import", str(write_jsonl(home / "archive.jsonl", archive())), env=paperwire_env(home))
    assert result.returncode == 0, result.stderr
    site = start_site(home)
    create = "from django.contrib.auth.models import User; User.objects.create_user('ada', password='pass phrase 71')"
    assert site.command("shell", "-c", create).returncode == 0
    yield site
    stop_site(site)


def log_in(page, site) -> None:
    page.goto(site.url + "/accounts/login")
    page.fill("#id_username", "ada")
    page.fill("#id_password", "pass phrase 71")
    page.click("button:has-text('Log in')")


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_vote_on_an_archived_paper_leaves_the_rest_of_trending(site, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log_in(page, site)
    page.goto(site.url + f"/papers/{OLD_ID}")
    count = page.locator("form.vote .count")
    expect(count).to_have_text("0")
    page.click("form.vote button")
    expect(count).to_have_text("1")
    page.close()

    latest_top = f"Archived {LATEST.isoformat()} number 1"  # 6 upvotes, the most of its week's last day
    for width in WIDTHS:
        page = browser.new_page(viewport={"width": width, "height": 900})
        log_in(page, site)
        page.goto(site.url + "/papers/trending")
        cards = page.locator("article.paper-card")
        expect(cards.first).to_be_visible()
        assert cards.count() >= 14  # the latest week's papers, at least
        titles = cards.locator("h3.paper-title").all_inner_texts()
        assert OLD_TITLE in titles and latest_top in titles
        assert sum(title.startswith("Archived ") for title in titles) >= 14
        newest = f"The newest papers are from {LATEST:%B} {LATEST.day}, {LATEST.year}: here is their week"
        expect(page.locator(".tagline")).to_contain_text(newest)
        voted = cards.filter(has_text=OLD_TITLE)
        expect(voted.locator("form.vote")).to_have_class("vote voted")
        assert no_sideways_scroll(page), width
        page.close()

    status, body = site.get("/api/daily_papers?sort=trending&limit=100")
    ids = [item["paper"]["id"] for item in json.loads(body)]
    assert status == 200 and OLD_ID in ids and len(ids) >= 15


def test_submitting_a_listed_paper_shows_where_it_is(site, browser):
    listed = f"2601.{5:05d}"  # on the archive's third-latest day
    day = LATEST - dt.timedelta(days=2)
    for width in WIDTHS:
        page = browser.new_page(viewport={"width": width, "height": 900})
        log_in(page, site)
        page.goto(site.url + "/submit")
        page.fill("#paper", f"https://arxiv.org/abs/{listed}v2")
        page.click("form button:has-text('Submit')")
        expect(page).to_have_url(site.url + "/submit")
        message = page.locator("#paper_error")
        expect(message).to_have_text(
            f"Already on Paperwire: Archived {day.isoformat()} number 0, listed on {day:%B} {day.day}, {day.year}."
        )
        assert no_sideways_scroll(page), width
        message.locator("a", has_text=f"Archived {day.isoformat()} number 0").click()
        expect(page).to_have_url(site.url + f"/papers/{listed}")
        expect(page.locator(f'a[href="/papers/date/{day.isoformat()}"]').first).to_be_visible()
        page.close()
    status, body = site.get(f"/api/papers/{listed}")
    assert status == 200 and "submittedOnDailyBy" not in json.loads(body)
    status, body = site.get(f"/api/daily_papers?date={day.isoformat()}")
    assert listed in [item["paper"]["id"] for item in json.loads(body)]
