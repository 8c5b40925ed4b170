"""Authors in headless Chromium (Debian's), driven by Playwright: a claim made from a paper's page
without JavaScript, approved by staff in the admin's queue, then seen by a reader on the author's
page and the paper's; the author page at phone width, in dark mode, from the keyboard, and
under axe-core."""

import re

import pytest

from tests.conftest import DEMO, paperwire_env, run_paperwire, start_site, stop_site
from tests.test_browser_layout import AUDIT, AXE, BACKGROUND, SIDEWAYS

pytestmark = pytest.mark.browser

from tests.chromium import expect  # noqa: E402 (importing it skips this module without Chromium)

PAPER = "/papers/2310.05869"  # HyperAttention: Vahab Mirrokni is its fifth author, and of Titans too
AUTHOR = "/authors/vahab-mirrokni"
SETUP = """
from django.contrib.auth.models import User
from paperwire.accounts.models import VerifiedEmail

vahab = User.objects.create_user("vahab", "vahab@example.org", "pass phrase 71")
VerifiedEmail.objects.create(user=vahab, email="vahab@example.org")
User.objects.create_user("unverified", "unverified@example.org", "pass phrase 72")
User.objects.create_superuser("staff", "staff@example.org", "pass phrase 73")
peilin = User.objects.create_user("peilin", "peilin@example.org", "pass phrase 74")
VerifiedEmail.objects.create(user=peilin, email="peilin@example.org")
print("ok")
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    home = tmp_path_factory.mktemp("authors-home")
    result = run_paperwire("import", str(DEMO), env=paperwire_env(home))
    assert result.returncode == 0, result.stderr
    site = start_site(home)
    result = site.command("shell", "-c", SETUP)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr
    yield site
    stop_site(site)


def sign_in(page, site, username: str, password: str, path: str = "/accounts/login") -> None:
    page.goto(site.url + path)
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.locator("main button[type=submit], main input[type=submit]").first.click()


def problems_of(page, width: int) -> list[str]:
    found = [
        f"{v['impact']} {v['id']} ({v['help']}): {v['nodes']}"
        for v in page.evaluate(AUDIT)
        if v["impact"] in ("serious", "critical")
    ]
    if width <= 390 and (overflow := page.evaluate(SIDEWAYS)) > 0:
        found.append(f"scrolls sideways by {overflow}px at {width}px")
    return found


def test_claim_approve_and_see_the_account(site, browser):
    # The author claims their name, in a browser without JavaScript: a plain form.
    context = browser.new_context(viewport={"width": 390, "height": 844}, java_script_enabled=False)
    page = context.new_page()
    sign_in(page, site, "vahab", "pass phrase 71")
    page.goto(site.url + PAPER)
    claim = page.locator("details.claim")
    expect(claim.locator("summary")).to_have_text("Are you an author of this paper?")
    expect(claim.get_by_role("button", name="This is me: Vahab Mirrokni")).to_be_hidden()
    claim.locator("summary").click()
    row = claim.locator("li", has_text="Vahab Mirrokni")
    row.get_by_role("button", name="This is me").click()
    expect(page).to_have_url(site.url + PAPER + "#authors")
    expect(page.locator(".messages")).to_contain_text("your claim to be “Vahab Mirrokni” is waiting for staff")
    expect(page.locator("details.claim li", has_text="Vahab Mirrokni")).to_contain_text(
        "your claim is waiting for staff"
    )
    assert page.evaluate(SIDEWAYS) <= 0
    context.close()

    # Staff find it in the admin's queue and approve it.
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, site, "staff", "pass phrase 73", "/admin/login/?next=/admin/people/authorclaim/")
    expect(page).to_have_url(re.compile(r"/admin/people/authorclaim/$"))
    row = page.locator("#result_list tbody tr", has_text="Vahab Mirrokni")
    expect(row).to_contain_text("vahab@example.org")
    expect(row).to_contain_text("waiting for staff")
    row.locator("input.action-select").check()
    page.select_option("select[name=action]", "approve_claims")
    page.locator("button[name=index], input[name=index]").first.click()
    expect(page.locator(".messagelist")).to_contain_text("Approved 1 claim.")
    expect(page.locator("#result_list tbody tr", has_text="Vahab Mirrokni")).to_have_count(0)  # the queue is empty
    context.close()

    # A reader (no account) sees the account on the author's page and the mark on the paper's.
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(site.url + AUTHOR)
    expect(page.locator("h1")).to_have_text("Vahab Mirrokni")
    expect(page.locator(".on-site-badge")).to_have_text("✓ On Paperwire as vahab")
    expect(page.locator("main")).to_contain_text("2 papers on this site, most upvoted first")
    page.goto(site.url + PAPER)
    mark = page.locator("#authors .on-site")
    expect(mark).to_have_count(1)
    expect(mark).to_be_visible()
    expect(mark).to_have_attribute("title", "On Paperwire as vahab")
    assert page.evaluate("(e) => e.previousElementSibling.textContent", mark.element_handle()) == "Vahab Mirrokni"
    # The names lead to their pages.
    assert page.locator("#authors a", has_text="Ali Behrouz").count() == 0  # of Titans, not of this paper
    page.locator("#authors a", has_text="Vahab Mirrokni").click()
    expect(page).to_have_url(site.url + AUTHOR)
    context.close()


def test_an_unverified_account_is_told_why_it_cannot_claim(site, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, site, "unverified", "pass phrase 72")
    page.goto(site.url + PAPER)
    page.locator("details.claim summary").click()
    expect(page.locator("details.claim")).to_contain_text(
        "To claim your name, first verify your email address: open the link of the mail sent when you signed up, "
        "or send it again from your settings page."
    )
    expect(page.locator("details.claim button")).to_have_count(0)
    context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [1280, 390])
def test_author_and_paper_pages_pass_axe_at_every_width_and_scheme(site, browser, width, scheme):
    context = browser.new_context(viewport={"width": width, "height": 844}, color_scheme=scheme)
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    problems = []
    for path in (AUTHOR, "/authors/ali-behrouz", PAPER):
        assert page.goto(site.url + path).status == 200, path
        problems += [f"{path}: {p}" for p in problems_of(page, width)]
    sign_in(page, site, "vahab", "pass phrase 71")
    page.goto(site.url + PAPER)
    page.locator("details.claim summary").click()
    problems += [f"{PAPER} (signed in, claims open): {p}" for p in problems_of(page, width)]
    rgb = page.evaluate(BACKGROUND, "body")
    assert (sum(rgb) < 3 * 80) is (scheme == "dark"), rgb
    context.close()
    assert not problems, "\n".join(problems)


def test_the_author_page_from_the_keyboard(site, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(site.url + AUTHOR)
    # Tab through the page: every link of the side columns is reached, with a visible focus.
    reached = []
    for _ in range(60):
        page.keyboard.press("Tab")
        active = page.evaluate(
            "() => ({href: document.activeElement.getAttribute('href') || '',"
            " outline: getComputedStyle(document.activeElement).outlineStyle})"
        )
        if active["href"].startswith("/authors/") or active["href"].startswith("/orgs/"):
            assert active["outline"] not in ("", "none"), active
            reached.append(active["href"])
    coauthors = page.locator(".author-side a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert coauthors and set(coauthors) <= set(reached), (coauthors, reached)
    # Enter follows the link that has the focus.
    target = coauthors[0]
    page.focus(f".author-side a[href='{target}']")
    page.keyboard.press("Enter")
    expect(page).to_have_url(site.url + target)
    context.close()


def test_claiming_from_the_keyboard(site, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, site, "vahab", "pass phrase 71")
    page.goto(site.url + "/papers/2501.00663")  # Titans: Vahab Mirrokni's author is linked already
    page.focus("details.claim summary")
    page.keyboard.press("Enter")
    expect(page.locator("details.claim")).to_contain_text("You are on this paper as Vahab Mirrokni.")
    expect(page.locator("details.claim button")).to_have_count(0)
    # Another author of it claims from the keyboard.
    page.goto(site.url + "/accounts/settings")
    page.locator(".account-nav button", has_text="Log out").click()
    sign_in(page, site, "peilin", "pass phrase 74")
    page.goto(site.url + "/papers/2501.00663")
    page.focus("details.claim summary")
    page.keyboard.press("Enter")
    expect(page.locator("details.claim li", has_text="Vahab Mirrokni")).to_contain_text("on Paperwire as vahab")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "This is me: Peilin Zhong"
    page.keyboard.press("Enter")
    expect(page.locator(".messages")).to_contain_text("your claim to be “Peilin Zhong” is waiting for staff")
    context.close()
