"""Following in headless Chromium (Debian's), driven by Playwright: follow an author with the
script (the button changes in place), import a new paper by them with `paperwire import`, see it
on /following and in the private Atom feed; follow without JavaScript; the profile, Following
and settings pages under axe-core at 1280 and 390 px, without sideways scrolling, and from the
keyboard."""

import os
from pathlib import Path

import pytest

from tests.conftest import DEMO, paperwire_env, run_paperwire, start_site, stop_site, write_jsonl
from tests.test_browser_authors import problems_of, sign_in
from tests.test_browser_layout import AXE

pytestmark = pytest.mark.browser

from tests.chromium import expect  # noqa: E402 (importing it skips this module without Chromium)

AUTHOR = "/authors/oriol-vinyals"
NOJS_FOLLOWS = (
    "from paperwire.people.models import Follow; print(Follow.objects.filter(follower__username='nojs').count())"
)
SHOTS = Path(os.environ.get("PAPERWIRE_SHOTS", "/work/wt/notes/shots/profiles"))
SETUP = """
from django.contrib.auth.models import User
from paperwire.people.models import Profile
from paperwire.discussions.threads import post_comment
from paperwire.papers.models import Paper, Organization
reader = User.objects.create_user("reader", "reader@example.org", "pass phrase 81")
Profile.objects.create(user=reader, display_name="Ruth Reader", bio="I read papers about memory.\\nهذا نص عربي",
                       links=["https://reader.example.org/"], upvotes_public=True)
post_comment(reader, Paper.objects.get(pk="1506.03134"), "Pointer networks, *still* a classic: $O(n^2)$.")
User.objects.create_user("nojs", "nojs@example.org", "pass phrase 82")
print("org=" + Organization.objects.first().slug)
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    home = tmp_path_factory.mktemp("following-home")
    result = run_paperwire("import", str(DEMO), env=paperwire_env(home))
    assert result.returncode == 0, result.stderr
    site = start_site(home)
    result = site.command("shell", "-c", SETUP)
    assert result.returncode == 0, result.stderr
    site.org = result.stdout.strip().rsplit("org=", 1)[1]
    yield site
    stop_site(site)


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_follow_an_author_then_see_their_next_paper(site, browser, tmp_path):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, site, "reader", "pass phrase 81")
    page.goto(site.url + AUTHOR)
    button = page.locator("form.follow button")
    expect(button).to_have_text("Follow Oriol Vinyals")
    expect(button).to_have_attribute("aria-pressed", "false")
    page.evaluate("window.marker = 1")  # gone if the page were loaded again
    button.click()
    expect(button).to_have_attribute("aria-pressed", "true")
    expect(button).to_have_text("Following Oriol Vinyals")
    expect(page.locator(".follow-status")).to_have_text("You follow Oriol Vinyals.")
    assert page.evaluate("window.marker") == 1 and page.url == site.url + AUTHOR
    shot(page, "author-following-1280")

    # A new paper by him comes with the next import.
    new = {
        "id": "2601.00042",
        "title": "Pointer networks revisited",
        "abstract": "We look again at pointer networks.",
        "authors": ["Oriol Vinyals", "Ada Newcomer"],
        "published": "2026-01-05",
    }
    result = site.command("import", str(write_jsonl(tmp_path / "new.jsonl", [new])))
    assert result.returncode == 0, result.stderr
    page.goto(site.url + "/following")
    first = page.locator("article.paper-card").first
    expect(first.locator(".paper-title")).to_have_text("Pointer networks revisited")
    expect(first.locator(".why")).to_have_text("Why it is here: by Oriol Vinyals (you follow)")
    shot(page, "following-1280")

    # The private Atom feed, from the settings page: the paper is in it, for any feed reader.
    page.goto(site.url + "/accounts/settings")
    feed = page.locator("input.feed-address").input_value()
    assert feed.startswith(site.url + "/following/feed/")
    status, headers, body = site.fetch(feed.removeprefix(site.url))
    assert status == 200 and headers["X-Robots-Tag"] == "noindex, nofollow"
    assert b"Pointer networks revisited" in body and b"Why: by Oriol Vinyals (you follow)." in body
    # A new address from the settings page: the old one is gone.
    page.get_by_role("button", name="Make a new address").click()
    expect(page.locator(".messages")).to_contain_text("the old one no longer works")
    assert site.fetch(feed.removeprefix(site.url))[0] == 404
    context.close()


def test_follow_without_javascript(site, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, java_script_enabled=False)
    page = context.new_page()
    sign_in(page, site, "nojs", "pass phrase 82")
    page.goto(site.url + f"/orgs/{site.org}")
    page.locator("form.follow button").click()
    expect(page).to_have_url(site.url + f"/orgs/{site.org}")
    expect(page.locator(".messages")).to_contain_text("their new papers appear on your Following page")
    expect(page.locator("form.follow button")).to_have_attribute("aria-pressed", "true")
    page.goto(site.url + "/u/reader")
    page.locator("form.follow button").click()
    expect(page).to_have_url(site.url + "/u/reader")
    expect(page.locator("form.follow button")).to_contain_text("Following")
    count = site.command("shell", "-c", NOJS_FOLLOWS)
    assert count.stdout.strip().endswith("\n2"), count.stdout  # the organization and the person
    context.close()


def test_follow_from_the_keyboard(site, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, site, "nojs", "pass phrase 82")
    page.goto(site.url + "/authors/meire-fortunato")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('follow-button')"):
            break
    else:
        raise AssertionError("the follow button is not reached with Tab")
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") not in ("", "none")
    page.keyboard.press("Enter")
    expect(page.locator("form.follow button")).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("Space")
    expect(page.locator("form.follow button")).to_have_attribute("aria-pressed", "false")
    context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [1280, 390])
def test_people_pages_pass_axe_at_every_width(site, browser, width, scheme):
    context = browser.new_context(viewport={"width": width, "height": 844}, color_scheme=scheme)
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    problems = []
    assert page.goto(site.url + "/u/reader").status == 200
    problems += [f"/u/reader (anonymous): {p}" for p in problems_of(page, width)]
    shot(page, f"profile-anonymous-{width}-{scheme}")
    sign_in(page, site, "reader", "pass phrase 81")
    for path in ("/u/reader", "/following", "/accounts/settings", AUTHOR, f"/orgs/{site.org}"):
        assert page.goto(site.url + path).status == 200, path
        problems += [f"{path}: {p}" for p in problems_of(page, width)]
        shot(page, f"{path.strip('/').replace('/', '-')}-{width}-{scheme}")
    context.close()
    assert not problems, "\n".join(problems)


def test_the_empty_following_page_says_how_to_follow(site, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    result = site.command(
        "shell",
        "-c",
        "from django.contrib.auth.models import User; "
        "User.objects.create_user('fresh', '', 'pass phrase 83'); print('ok')",
    )
    assert result.returncode == 0, result.stderr
    sign_in(page, site, "fresh", "pass phrase 83")
    page.goto(site.url + "/following")
    expect(page.locator(".empty-state")).to_contain_text("You follow nothing yet. Press Follow on an author's page")
    shot(page, "following-empty-390")
    context.close()
