"""The main flow in headless Chromium (Debian's), driven by Playwright."""

import os
import shutil
import sqlite3

import pytest

from tests.conftest import DEMO, RecordedServer, Reply, arxiv_feed, paperwire_env, run_paperwire, start_site, stop_site

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.browser

if not shutil.which(CHROMIUM):
    if os.environ.get("PAPERWIRE_REQUIRE_BROWSER") == "1":
        raise RuntimeError(f"{CHROMIUM} is missing but PAPERWIRE_REQUIRE_BROWSER=1 (apt-get install chromium)")
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def arxiv_stub():
    server = RecordedServer()
    server.add(
        "/api/query",
        Reply(
            body=arxiv_feed(
                {
                    "id": "2507.99001v1",
                    "title": "Browsers Are All You Need",
                    "published": "2025-07-20T10:00:00Z",
                    "authors": ["Grace Hopper"],
                }
            )
        ),
    )
    yield server
    server.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory, arxiv_stub):
    home = tmp_path_factory.mktemp("browser-home")
    result = run_paperwire("import", str(DEMO), env=paperwire_env(home))
    assert result.returncode == 0, result.stderr
    site = start_site(home, PAPERWIRE_ARXIV_API_URL=arxiv_stub.url + "/api/query")
    yield site
    stop_site(site)


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


def test_browse_sign_up_upvote_and_submit(site, browser, arxiv_stub):
    page = browser.new_page()
    page.goto(site.url + "/")
    expect(page.locator("h2.period-label")).to_have_text("October 15, 2025")

    page.click("a.previous")
    expect(page).to_have_url(site.url + "/papers/date/2025-10-13")
    card = page.locator("article.paper-card").first
    title = card.locator("h3.paper-title a").inner_text()
    card.locator("h3.paper-title a").click()
    expect(page.locator("h1")).to_have_text(title)
    paper_url = page.url

    page.click("text=Sign up")
    page.fill("#id_username", "grace")
    page.fill("#id_email", "grace@example.org")
    page.fill("#id_password1", "a long pass phrase 42")
    page.fill("#id_password2", "a long pass phrase 42")
    page.click("button:has-text('Create account')")
    expect(page.locator(".account-nav .username")).to_have_text("grace")

    page.goto(paper_url)
    count = page.locator("form.vote .count")
    before = int(count.inner_text())
    page.click("form.vote button")
    expect(count).to_have_text(str(before + 1))
    expect(page.locator("form.vote")).to_have_class("vote voted")
    page.reload()
    expect(page.locator("form.vote .count")).to_have_text(str(before + 1))
    page.click("form.vote button")  # and take it back
    expect(page.locator("form.vote .count")).to_have_text(str(before))

    page.click("nav.main-nav >> text=Submit")
    page.fill("#paper", "https://arxiv.org/abs/2507.99001v1")
    page.click("button:has-text('Submit')")
    expect(page.locator("h1")).to_have_text("Browsers Are All You Need")
    expect(page.locator(".messages")).to_contain_text("on today's feed")

    db = sqlite3.connect(site.home / "paperwire.sqlite3")
    assert db.execute("select submitter_name from papers_paper where id = '2507.99001'").fetchone() == ("grace",)
    assert db.execute("select count(*) from papers_vote").fetchone() == (0,)
    assert any("id_list=2507.99001" in r for r in arxiv_stub.requests)


def test_votes_work_without_javascript(site, browser):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(site.url + "/accounts/signup")
    page.fill("#id_username", "nojs")
    page.fill("#id_email", "nojs@example.org")
    page.fill("#id_password1", "a long pass phrase 43")
    page.fill("#id_password2", "a long pass phrase 43")
    page.click("button:has-text('Create account')")
    page.goto(site.url + "/papers/2403.01767")
    before = int(page.locator("form.vote .count").inner_text())
    page.click("form.vote button")
    expect(page).to_have_url(site.url + "/papers/2403.01767")
    expect(page.locator("form.vote .count")).to_have_text(str(before + 1))
    context.close()


def test_an_anonymous_upvote_leads_to_log_in_and_back(site, browser):
    create = "from django.contrib.auth.models import User; User.objects.create_user('heidi', password='pass phrase 44')"
    assert site.command("shell", "-c", create).returncode == 0
    page = browser.new_page()
    page.goto(site.url + "/papers/2406.15765")
    page.reload()  # the second anonymous view comes from the page cache: it must work the same
    page.click("a.vote")
    expect(page).to_have_url(site.url + "/accounts/login?next=/papers/2406.15765")
    page.fill("#id_username", "heidi")
    page.fill("#id_password", "pass phrase 44")
    page.click("button:has-text('Log in')")
    expect(page).to_have_url(site.url + "/papers/2406.15765")
    before = int(page.locator("form.vote .count").inner_text())
    page.click("form.vote button")
    expect(page.locator("form.vote .count")).to_have_text(str(before + 1))
    page.close()
