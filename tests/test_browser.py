"""The main flow in headless Chromium (Debian's), driven by Playwright."""

import json
import sqlite3

import pytest

from tests.conftest import DEMO, RecordedServer, Reply, arxiv_feed, paperwire_env, run_paperwire, start_site, stop_site

pytestmark = pytest.mark.browser

from tests.chromium import expect  # noqa: E402 (importing it skips this module without Chromium)


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


def test_upvoting_from_a_list_changes_the_count_in_place(site, browser):
    """Issue 10, item 1: the vote script posts to the form's own URL; the page does not reload
    and keeps its place (the 31st card of a list), and the count changes in place."""
    create = "from django.contrib.auth.models import User; User.objects.create_user('ivan', password='pass phrase 45')"
    assert site.command("shell", "-c", create).returncode == 0
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(site.url + "/accounts/login")
    page.fill("#id_username", "ivan")
    page.fill("#id_password", "pass phrase 45")
    page.click("button:has-text('Log in')")
    page.goto(site.url + "/papers/trending")
    cards = page.locator("article.paper-card")
    assert cards.count() > 31
    card = cards.nth(30)
    paper_id = card.get_attribute("id").removeprefix("paper-")
    card.scroll_into_view_if_needed()
    scrolled = page.evaluate("window.scrollY")
    assert scrolled > 2000
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)
    count = card.locator("form.vote .count")
    before = int(count.inner_text())
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        card.locator("form.vote button").click()
    assert answer.value.url == f"{site.url}/papers/{paper_id}/vote" and answer.value.status == 200
    assert answer.value.json() == {"id": paper_id, "upvotes": before + 1, "voted": True}
    expect(count).to_have_text(str(before + 1))
    expect(card.locator("form.vote")).to_have_class("vote voted")
    assert navigations == [] and page.evaluate("window.scrollY") == scrolled
    db = sqlite3.connect(site.home / "paperwire.sqlite3")
    voted = "select count(*) from papers_vote v join auth_user u on u.id = v.user_id where u.username = 'ivan'"
    assert db.execute(voted + " and v.paper_id = ?", (paper_id,)).fetchone() == (1,)
    with page.expect_response(lambda r: r.request.method == "POST"):
        card.locator("form.vote button").click()  # and take it back, still in place
    expect(count).to_have_text(str(before))
    assert navigations == [] and db.execute(voted).fetchone() == (0,)
    page.close()


BUTTON_LABELS = """
new MutationObserver(() => {
  const form = document.querySelector("form[data-busy]");
  const label = form && form.querySelector("button[type=submit]").textContent;
  if (form && label !== "Submit") {
    const busy = form.getAttribute("aria-busy") === "true" ? " busy" : "";
    sessionStorage.setItem("labels", (sessionStorage.getItem("labels") || "") + "|" + label + busy);
  }
}).observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
"""


def test_a_submission_while_arxiv_hangs_says_so_at_once(site, browser, arxiv_stub):
    """Issue 10, item 9: the button says the site is asking arXiv; after the short wait the page
    says the paper will appear once fetched, and lists it as waiting."""
    create = "from django.contrib.auth.models import User; User.objects.create_user('judy', password='pass phrase 46')"
    assert site.command("shell", "-c", create).returncode == 0
    page = browser.new_page()
    # What the button says, each time it changes, kept across the navigation that follows.
    page.add_init_script(BUTTON_LABELS)
    page.goto(site.url + "/accounts/login")
    page.fill("#id_username", "judy")
    page.fill("#id_password", "pass phrase 46")
    page.click("button:has-text('Log in')")
    page.goto(site.url + "/submit")
    page.evaluate("sessionStorage.removeItem('labels')")
    arxiv_stub.hang()
    try:
        page.fill("#paper", "2507.99002")
        page.click("form[data-busy] button[type=submit]")
        expect(page.locator(".messages")).to_contain_text(
            "arXiv did not answer; your paper will appear once it is fetched.", timeout=15000
        )
        expect(page).to_have_url(site.url + "/submit")
        expect(page.locator("ul.submissions")).to_contain_text("2507.99002")
        expect(page.locator("form[data-busy] button[type=submit]")).to_have_text("Submit")
        assert page.evaluate("sessionStorage.getItem('labels')") == "|Asking arXiv… busy"
    finally:
        arxiv_stub.answer()
    page.close()


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


CSP_LISTENER = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(`${event.violatedDirective} ${event.blockedURI} ${event.sourceFile}:${event.lineNumber}`);
});
"""


def test_pages_work_under_the_content_security_policy(site, browser, tmp_path):
    record = {
        "id": "2510.99001",
        "title": "Policies Are All You Need",
        "abstract": "Content security policies in practice.",
        "authors": ["Ada Lovelace"],
        "published": "2025-10-01",
        "organization": "Université de Montréal (MILA)",
        "code_urls": ["javascript:alert(9)", "https://github.com/good/repo"],
    }
    (tmp_path / "csp.jsonl").write_text(json.dumps(record) + "\n")
    assert site.command("import", str(tmp_path / "csp.jsonl")).returncode == 0
    create = (
        "from django.contrib.auth.models import User; "
        "User.objects.create_superuser('root', 'r@example.org', 'pass phrase 45')"
    )
    assert site.command("shell", "-c", create).returncode == 0

    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    context.add_init_script(CSP_LISTENER)
    console: list[str] = []
    external: list[str] = []
    page = context.new_page()
    page.on("console", lambda message: console.append(message.text))
    page.on("request", lambda request: None if request.url.startswith(site.url) else external.append(request.url))

    def visit(path: str) -> None:
        response = page.goto(site.url + path)
        assert response.status == 200, path
        assert response.headers["content-security-policy"].startswith("default-src 'self'"), path
        assert page.evaluate("window.__violations") == [], path

    for path in (
        "/",
        "/papers/date/2025-10-01",
        "/papers/week/2025-W40",
        "/papers/month/2025-10",
        "/papers/trending",
        "/orgs",
        "/search?q=policies",
        "/subscribe",
        "/accounts/login",
        "/accounts/signup",
    ):
        visit(path)
    visit("/papers/date/2025-10-01")
    page.click("a.org")
    expect(page.locator("h1")).to_have_text("Université de Montréal (MILA)")
    page.click("h3.paper-title a")
    expect(page.locator("h1")).to_have_text("Policies Are All You Need")
    assert page.locator("a:has-text('Code')").evaluate_all("links => links.map(a => a.href)") == [
        "https://github.com/good/repo"
    ]
    page.click("button.copy")
    expect(page.locator("button.copy")).to_have_text("Copied")

    page.click("text=Log in")
    page.fill("#id_username", "root")
    page.fill("#id_password", "pass phrase 45")
    page.click("button:has-text('Log in')")
    expect(page.locator("h1")).to_have_text("Policies Are All You Need")
    page.evaluate("window.__stayed = true")
    page.click("form.vote button")
    expect(page.locator("form.vote .count")).to_have_text("1")
    expect(page.locator("form.vote")).to_have_class("vote voted")
    assert page.evaluate("window.__stayed") is True  # the script voted: no form post, no reload
    assert page.evaluate("window.__violations") == []

    for path in (
        "/submit",
        "/accounts/settings",
        "/admin/",
        "/admin/papers/paper/",
        "/admin/papers/paper/2510.99001/change/",
        "/admin/papers/organization/",
        "/admin/auth/user/",
    ):
        visit(path)
    page.goto(site.url + "/admin/papers/organization/")
    page.click("#result_list tbody th a >> nth=0")
    page.fill("#id_fullname", "Université de Montréal — MILA")
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    assert page.evaluate("window.__violations") == []
    assert [m for m in console if "Content Security Policy" in m] == []
    assert external == []
    context.close()
