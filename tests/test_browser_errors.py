"""Every error page a person can meet, in headless Chromium under the Content-Security-Policy:
in the site's layout (or the admin's), its stylesheet applied, no policy violation."""

import os
import sqlite3

import pytest

from tests.conftest import DEMO, paperwire_env, run_paperwire, start_site, stop_site

pytestmark = pytest.mark.browser

from tests.chromium import expect, launch, sync_playwright  # noqa: E402 (importing it skips this module without Chromium)

CSP_LISTENER = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(`${event.violatedDirective} ${event.blockedURI} ${event.sourceFile}:${event.lineNumber}`);
});
"""
# A stylesheet of the site's that the browser loaded and parsed (a failed load leaves none).
STYLESHEET_APPLIED = """(prefix) => [...document.styleSheets].some(
  (sheet) => sheet.href && new URL(sheet.href).pathname.startsWith(prefix) && sheet.cssRules.length > 0
)"""
USERS = """
from django.contrib.auth.models import User
User.objects.create_superuser('root', 'root@example.org', 'pass phrase 51')
User.objects.create_user('clerk', 'clerk@example.org', 'pass phrase 52', is_staff=True)
User.objects.create_user('grace', 'grace@example.org', 'pass phrase 53')
"""
EXPIRED_LINKS = """
import datetime as dt, time_machine
from django.contrib.auth.models import User
from django.urls import reverse
from paperwire.accounts.verification import verification_token
from paperwire.digests.tokens import confirmation_token
with time_machine.travel(dt.datetime(2020, 1, 1, tzinfo=dt.UTC)):
    print(reverse('confirm_subscription', args=[confirmation_token(1, 'a@example.org', 'daily', '')]))
    print(reverse('verify_email', args=[verification_token(User.objects.get(username='grace'))]))
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    home = tmp_path_factory.mktemp("error-pages-home")
    result = run_paperwire("import", str(DEMO), env=paperwire_env(home))
    assert result.returncode == 0, result.stderr
    site = start_site(home, PAPERWIRE_RATE_SEARCH="3/3600")
    assert site.command("shell", "-c", USERS).returncode == 0
    yield site
    stop_site(site)


@pytest.fixture(scope="module")
def browser(site):
    port = site.url.rsplit(":", 1)[1]
    with sync_playwright() as playwright:
        # evil.example: a name the site does not answer (its Host header gets 400)
        browser = launch(playwright, "--host-resolver-rules=MAP evil.example 127.0.0.1")
        browser.evil_url = f"http://evil.example:{port}"
        yield browser
        browser.close()


class Visitor:
    """A browser context that records CSP violations, console errors about the policy and
    requests leaving the site."""

    def __init__(self, browser, site):
        self.site = site
        self.context = browser.new_context()
        self.context.add_init_script(CSP_LISTENER)
        self.console: list[str] = []
        self.page = self.context.new_page()
        self.page.on("console", lambda message: self.console.append(message.text))

    def log_in(self, username: str, password: str) -> None:
        self.page.goto(self.site.url + "/accounts/login")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", password)
        self.page.click("button:has-text('Log in')")
        expect(self.page.locator(".account-nav .username")).to_have_text(username)

    def check(self, response, status: int, heading: str | None = None, layout: str = "site") -> None:
        where = self.page.url
        assert response.status == status, (where, response.status)
        assert response.headers["content-security-policy"].startswith("default-src 'self'"), where
        if layout == "site":
            expect(self.page.locator("header.site-header a.brand")).to_be_visible()
            expect(self.page.locator("footer.site-footer")).to_be_visible()
            assert self.page.evaluate(STYLESHEET_APPLIED, "/static/paperwire/paperwire."), where
        else:
            expect(self.page.locator("#container #content")).to_be_visible()
            assert self.page.evaluate(STYLESHEET_APPLIED, "/static/admin/css/base."), where
        if heading is not None:
            expect(self.page.locator("main h1, #content h1").first).to_have_text(heading)
        assert self.page.evaluate("window.__violations") == [], where
        assert [m for m in self.console if "Content Security Policy" in m] == [], where

    def post(self, path: str, data: str, **headers: str):
        """Navigate with a POST of ``data`` (what a form would send)."""

        def as_post(route):
            route.continue_(
                method="POST",
                post_data=data,
                headers={**route.request.headers, "content-type": "application/x-www-form-urlencoded", **headers},
            )

        self.page.route(self.site.url + path, as_post)
        try:
            return self.page.goto(self.site.url + path)
        finally:
            self.page.unroute(self.site.url + path)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visitor(browser, site):
    visitor = Visitor(browser, site)
    yield visitor
    visitor.close()


def test_the_error_pages_of_a_visitor(site, browser, visitor):
    page = visitor.page
    visitor.check(page.goto(site.url + "/no/such/page"), 404, "Page not found")
    visitor.check(page.goto(site.url + "/papers/date/2025-13-45"), 404, "Page not found")
    visitor.check(page.goto(site.url + "/papers/2403.01767/vote"), 405, "Method not allowed")
    expect(page.locator("main")).to_contain_text("only takes forms sent from the pages of this site")
    # Django parses no query of more than 1000 parameters: the 400 page must not read it either.
    many = "&".join(f"p{n}=1" for n in range(1001))
    visitor.check(page.goto(f"{site.url}/papers/date/2025-10-15?{many}"), 400, "Bad request")
    visitor.check(page.goto(site.url + "/subscribe"), 200)  # the form's cookie
    visitor.check(visitor.post("/subscribe", "email=" + "a" * 3_000_000), 413, "Too large")
    for _ in range(3):
        visitor.check(page.goto(site.url + "/search?q=attention"), 200, layout="site")
    visitor.check(page.goto(site.url + "/search?q=attention"), 429, "Slow down")
    expect(page.locator("main")).to_contain_text("Too many requests: try again in")

    links = site.command("shell", "-c", EXPIRED_LINKS).stdout.split()
    confirm, verify = [line for line in links if line.startswith("/")]
    visitor.check(page.goto(site.url + confirm), 410, "This link has expired")
    expect(page.locator("main")).to_contain_text("Subscribe again to get a fresh confirmation link.")
    visitor.check(page.goto(site.url + verify), 410, "This link has expired")
    expect(page.locator("main")).to_contain_text("Ask for a new one on your account page.")


def test_a_page_from_another_host_name_is_refused_in_the_layout(site, browser):
    """A Host the site does not answer (DisallowedHost): the 400 page still loads the stylesheet."""
    visitor = Visitor(browser, site)
    try:
        visitor.check(visitor.page.goto(browser.evil_url + "/"), 400, "Bad request")
    finally:
        visitor.close()


def test_an_expired_form_explains_itself_and_leads_back_to_the_form(site, visitor):
    page = visitor.page
    page.goto(site.url + "/subscribe?from=digest")
    page.fill("#id_email", "grace@example.org")
    # While the form is open, the visitor logs in in another tab: logging in gives the browser a
    # new CSRF cookie, which the open form's token no longer matches.
    other = visitor.context.new_page()
    other.goto(site.url + "/accounts/login")
    other.fill("#id_username", "grace")
    other.fill("#id_password", "pass phrase 53")
    other.click("button:has-text('Log in')")
    expect(other.locator(".account-nav .username")).to_have_text("grace")
    other.close()
    with page.expect_navigation() as navigation:
        page.click("main form button[type=submit]")
    visitor.check(navigation.value, 403, "This form could not be sent")
    expect(page.locator("main")).to_contain_text("The form was open too long")
    expect(page.locator("main")).to_contain_text("Go back, reload the page and send the form again.")
    with page.expect_navigation() as navigation:
        page.click("main a:has-text('Back to the form')")
    visitor.check(navigation.value, 200)
    expect(page).to_have_url(site.url + "/subscribe?from=digest")
    page.fill("#id_email", "grace@example.org")
    with page.expect_navigation() as navigation:
        page.click("main form button[type=submit]")
    visitor.check(navigation.value, 200)  # sent again from the reloaded page, it passes


def test_a_form_sent_without_cookies_says_so(site, visitor):
    page = visitor.page
    page.goto(site.url + "/subscribe")
    page.fill("#id_email", "reader@example.org")
    visitor.context.clear_cookies()
    with page.expect_navigation() as navigation:
        page.click("main form button[type=submit]")
    visitor.check(navigation.value, 403, "This form could not be sent")
    expect(page.locator("main")).to_contain_text("Your browser did not send this site's cookie")
    expect(page.locator("main a:has-text('Back to the form')")).to_have_attribute("href", "/subscribe")


def test_an_internal_error_is_drawn_in_the_layout_even_without_the_database(site, visitor):
    page = visitor.page
    visitor.log_in("grace", "pass phrase 53")
    database = site.home / "paperwire.sqlite3"
    db = sqlite3.connect(database)
    db.execute("ALTER TABLE papers_paper RENAME TO papers_paper_gone")
    db.commit()
    try:
        visitor.check(page.goto(site.url + "/papers/2403.01767"), 500, "Something broke")
        expect(page.locator(".account-nav .username")).to_have_text("grace")
    finally:
        db.execute("ALTER TABLE papers_paper_gone RENAME TO papers_paper")
        db.commit()
        db.close()
    # The database file itself unreadable: the session of the signed-in visitor cannot be read
    # either, and the error page is drawn without it.
    saved = site.home / "paperwire.sqlite3.saved"
    os.rename(database, saved)
    database.write_bytes(b"this is not a database" * 100)
    try:
        visitor.check(page.goto(site.url + "/papers/2403.01767?again"), 500, "Something broke")
        expect(page.locator(".account-nav a:has-text('Log in')")).to_be_visible()
    finally:
        os.replace(saved, database)
    visitor.check(page.goto(site.url + "/papers/2403.01767"), 200)


def test_the_admin_pages_and_its_errors(site, browser, visitor):
    page = visitor.page
    visitor.check(page.goto(site.url + "/admin/login/?next=/admin/"), 200, layout="admin")
    visitor.log_in("clerk", "pass phrase 52")  # staff, without any permission
    visitor.check(page.goto(site.url + "/admin/"), 200, layout="admin")
    visitor.check(page.goto(site.url + "/admin/papers/paper/"), 403, "Forbidden")
    visitor.check(page.goto(site.url + "/admin/no/such/page/"), 404, "Page not found")
    page.click(".account-nav button:has-text('Log out')")

    visitor.log_in("root", "pass phrase 51")
    for path in (
        "/admin/papers/paper/?q=zzzz",
        "/admin/papers/paper/?daily_date__year=2025",
        "/admin/papers/paper/add/",
        "/admin/papers/paper/2403.01767/history/",
        "/admin/papers/paper/2403.01767/delete/",
        "/admin/auth/user/?_to_field=id&_popup=1",
        "/admin/papers/vote/",
        "/admin/digests/subscriber/",
        "/admin/digests/delivery/",
        "/admin/accounts/verifiedemail/",
        "/admin/papers/submission/",
        "/admin/auth/group/add/",
        "/admin/password_change/",
    ):
        visitor.check(page.goto(site.url + path), 200, layout="admin")
    visitor.check(page.goto(site.url + "/admin/papers/paper/2403.01767x/change/"), 200, layout="admin")
    expect(page.locator(".messagelist")).to_contain_text("doesn’t exist")
    # An action's confirmation, and a change the form refuses
    page.goto(site.url + "/admin/papers/paper/")
    page.check("#result_list tbody input.action-select >> nth=0")
    page.select_option("select[name=action]", "delete_selected")
    with page.expect_navigation() as navigation:
        page.click("button[name=index]")
    visitor.check(navigation.value, 200, layout="admin")
    expect(page.locator("#content h1")).to_have_text("Delete multiple objects")
    page.goto(site.url + "/admin/papers/paper/2403.01767/change/")
    page.fill("#id_title", "")
    with page.expect_navigation() as navigation:
        page.click("input[name=_save]")
    visitor.check(navigation.value, 200, layout="admin")
    expect(page.locator(".errornote")).to_be_visible()
    page.click("#logout-form button")
    expect(page).to_have_url(site.url + "/")  # LOGOUT_REDIRECT_URL
    expect(page.locator(".account-nav a:has-text('Log in')")).to_be_visible()
