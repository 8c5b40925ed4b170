"""What a person sees on every page, in headless Chromium (Debian's) through Playwright: no page
scrolls sideways on a phone, the menu folds away and opens without JavaScript, forms read top to
bottom with their help and errors tied to the fields, cards stay compact, dark mode follows the
system, and axe-core (tests/vendor/axe-core) finds no serious or critical accessibility problem
on any page at desktop and phone widths, light and dark."""

import json
from pathlib import Path

import pytest

from tests.conftest import DEMO, paperwire_env, run_paperwire, start_site, stop_site

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
pytestmark = pytest.mark.browser

from tests.chromium import expect  # noqa: E402 (importing it skips this module without Chromium)

DAY = "2025-10-15"  # the demo corpus's latest day
# A title of 300 characters without a space, names and a URL that no line can hold whole.
LONG_TITLE = "Unbreakable" + "Supercalifragilisticexpialidocious" * 8 + "Transformers"
LONG_NAME = "Wolfeschlegelsteinhausenbergerdorffwelchevoralternwarengewissenhaftschaferswessen"
LONG_ORG = "InternationalInstituteForExtraordinarilyLongOrganizationNamesWithoutAnySpaces"
LONG_URL = "https://example.org/" + "a-very-long-path-segment-" * 8
STARS, COMMENTS = 1234, 7
ITEMS = [
    {
        "paper": {
            "id": "2510.99100",
            "title": LONG_TITLE,
            "summary": f"We study {LONG_URL} and {LONG_NAME}. " + "Words that fill the abstract. " * 40,
            "authors": [{"name": LONG_NAME}, {"name": "Ada Lovelace"}],
            "publishedAt": f"{DAY}T08:00:00.000Z",
            "submittedOnDailyAt": f"{DAY}T09:00:00.000Z",
            "upvotes": 99,
            "githubRepo": "https://github.com/" + LONG_NAME.lower() + "/" + LONG_ORG.lower(),
            "githubStars": STARS,
            "projectPage": LONG_URL,
            "organization": {"_id": "o-long", "name": LONG_ORG.lower(), "fullname": LONG_ORG},
        },
        "publishedAt": f"{DAY}T09:00:00.000Z",
        "title": LONG_TITLE,
        "numComments": COMMENTS,
    }
]
SETUP = """
import json
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from paperwire.accounts.verification import verification_token
from paperwire.digests.emails import subscriber_links
from paperwire.digests.models import Delivery, ShownPaper, Subscriber
from paperwire.digests.tokens import confirmation_token
from paperwire.papers.models import Organization, Paper
from paperwire.people.models import Author

reader = User.objects.create_user("reader", "reader@example.org", "pass phrase 61")
# Signs in instead of reader, whose password reset link a sign-in would void (it hashes last_login).
User.objects.create_user("member", "member@example.org", "pass phrase 62")
subscriber = Subscriber.objects.create(email="reader@example.org", state=Subscriber.CONFIRMED, topics="attention")
delivery = Delivery.objects.create(subscriber=subscriber, period="daily:2025-10-15", state=Delivery.SENT)
for position, paper in enumerate(Paper.objects.order_by("-upvotes", "id")[:4]):
    topic = "attention" if position >= 2 else ""
    ShownPaper.objects.create(subscriber=subscriber, paper=paper, delivery=delivery, position=position, topic=topic)
token = subscriber_links(subscriber)["manage_url"].rsplit("/", 1)[1]
uid = urlsafe_base64_encode(force_bytes(reader.pk))
print(json.dumps({
    "manage": reverse("manage_subscription", args=[token]),
    "unsubscribe": reverse("unsubscribe", args=[token]),
    "digest": reverse("digest_web", args=[token, "daily:2025-10-15"]),
    "confirm": reverse(
        "confirm_subscription", args=[confirmation_token(subscriber.pk, subscriber.email, "weekly", "")]
    ),
    "reset_link": reverse("password_reset_confirm", args=[uid, default_token_generator.make_token(reader)]),
    "verify": reverse("verify_email", args=[verification_token(reader)]),
    "org": Organization.objects.get(fullname=LONG_ORG).get_absolute_url(),
    "long_author": Author.objects.get(name=LONG_NAME).get_absolute_url(),
}))
""".replace("LONG_ORG", repr(LONG_ORG)).replace("LONG_NAME", repr(LONG_NAME))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    home = tmp_path_factory.mktemp("layout-home")
    (home / "long.json").write_text(json.dumps(ITEMS))
    for path in (DEMO, home / "long.json"):
        result = run_paperwire("import", str(path), env=paperwire_env(home))
        assert result.returncode == 0, result.stderr
    site = start_site(home)
    result = site.command("shell", "-c", SETUP)
    assert result.returncode == 0, result.stderr
    site.paths = json.loads(result.stdout.strip().splitlines()[-1])
    yield site
    stop_site(site)


def anonymous_pages(site) -> dict[str, tuple[str, int]]:
    """Every page a visitor can reach without an account: name -> (path, status)."""
    p = site.paths
    return {
        "home": ("/", 200),
        "day": (f"/papers/date/{DAY}", 200),
        "week": ("/papers/week/2025-W42", 200),
        "month": ("/papers/month/2025-10", 200),
        "trending": ("/papers/trending", 200),
        "paper": ("/papers/2510.99100", 200),
        "demo paper": ("/papers/2403.01767", 200),
        "search": ("/search?q=attention", 200),
        "search, nothing found": ("/search?q=zzzzqqqxx", 200),
        "search, no query": ("/search", 200),
        "organizations": ("/orgs", 200),
        "organization": (p["org"], 200),
        "author": ("/authors/ada-lovelace", 200),
        "author, a long name": (p["long_author"], 200),
        "subscribe": ("/subscribe", 200),
        "confirm subscription": (p["confirm"], 200),
        "manage subscription": (p["manage"], 200),
        "unsubscribe": (p["unsubscribe"], 200),
        "digest web version": (p["digest"], 200),
        "log in": ("/accounts/login", 200),
        "sign up": ("/accounts/signup", 200),
        "verify address": (p["verify"], 200),
        "password reset": ("/accounts/password-reset", 200),
        "password reset sent": ("/accounts/password-reset/sent", 200),
        "password reset link": (p["reset_link"], 200),
        "password reset done": ("/accounts/password-reset/done", 200),
        "unknown paper": ("/papers/2410.99999", 404),
        "unknown page": ("/nowhere", 404),
    }


SIGNED_IN_PAGES = {
    "home, signed in": ("/", 200),
    "paper, signed in": ("/papers/2510.99100", 200),
    "settings": ("/accounts/settings", 200),
    "submit": ("/submit", 200),
}

AUDIT = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ") + ": " + n.failureSummary.split("\\n")[1]),
  }));
}"""
SIDEWAYS = "document.documentElement.scrollWidth - window.innerWidth"


def sign_in(page, site) -> None:
    page.goto(site.url + "/accounts/login")
    page.fill("#id_username", "member")
    page.fill("#id_password", "pass phrase 62")
    page.click("main button[type=submit]")
    expect(page.locator(".account-nav .username")).to_have_text("member")


def visit_every_page(site, browser, width: int, scheme: str = "light", check=None) -> list[str]:
    """Open every page at ``width`` in ``scheme``; ``check(page, name)`` returns its problems."""
    context = browser.new_context(viewport={"width": width, "height": 844}, color_scheme=scheme)
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    problems: list[str] = []
    pages = list(anonymous_pages(site).items()) + [("sign in", None)] + list(SIGNED_IN_PAGES.items())
    for name, where in pages:
        if where is None:
            sign_in(page, site)
            continue
        path, status = where
        response = page.goto(site.url + path)
        assert response.status == status, (name, path, response.status)
        problems += [f"{name} ({path}): {problem}" for problem in check(page, name)]
    context.close()
    return problems


def axe_and_layout(width: int):
    def check(page, name) -> list[str]:
        problems = [
            f"{v['impact']} {v['id']} ({v['help']}): {v['nodes']}"
            for v in page.evaluate(AUDIT)
            if v["impact"] in ("serious", "critical")
        ]
        headings = page.locator("h1").count()
        if headings != 1:
            problems.append(f"{headings} <h1> elements, not one")
        if width <= 390 and (overflow := page.evaluate(SIDEWAYS)) > 0:
            problems.append(f"scrolls sideways by {overflow}px at {width}px")
        return problems

    return check


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [1280, 390])
def test_axe_finds_no_serious_problem_on_any_page(site, browser, width, scheme):
    problems = visit_every_page(site, browser, width, scheme, axe_and_layout(width))
    assert not problems, "\n".join(problems)


# Every "▲ 12" of a page: split over two lines where the page is drawn, or able to split (a
# breaking space, outside an element that never wraps) at some other width.
SPLIT_COUNTS = r"""() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (const match of node.data.matchAll(/▲(\s*)\d[\d,]*/g)) {
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      const tops = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
      const wraps = !/^(nowrap|pre)$/.test(getComputedStyle(node.parentElement).whiteSpace);
      if (tops.size > 1) out.push(`"${match[0]}" drawn over two lines`);
      else if (/[ \t\n]/.test(match[1]) && wraps) out.push(`"${match[0]}" can break after its ▲`);
    }
  }
  return out;
}"""


def test_no_page_scrolls_sideways_on_the_smallest_phones(site, browser):
    """Nor splits an upvote count from its ▲ (the related papers did, at 390 px)."""

    def check(page, name) -> list[str]:
        overflow = page.evaluate(SIDEWAYS)
        problems = [f"scrolls sideways by {overflow}px at 320px"] if overflow > 0 else []
        return problems + page.evaluate(SPLIT_COUNTS)

    problems = visit_every_page(site, browser, 320, check=check)
    assert not problems, "\n".join(problems)


def box(locator) -> dict:
    result = locator.bounding_box()
    assert result is not None, locator
    return result


def test_long_unbroken_titles_and_names_wrap(site, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    for path in (f"/papers/date/{DAY}", "/papers/2510.99100", site.paths["org"], f"/search?q={LONG_NAME}"):
        page.goto(site.url + path)
        title = page.get_by_text(LONG_TITLE, exact=True).first
        expect(title).to_be_visible()
        assert box(title)["x"] + box(title)["width"] <= 390, path
        assert box(title)["height"] > 60, path  # several lines, not one cut off
        assert page.evaluate(SIDEWAYS) <= 0, path
    page.goto(site.url + "/papers/2510.99100")
    for text in (LONG_NAME, LONG_ORG):
        element = page.get_by_text(text).first
        assert box(element)["x"] + box(element)["width"] <= 390, text
    context.close()


def test_the_menu_folds_on_phones_and_opens_from_the_keyboard(site, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(site.url + "/papers/week/2025-W42")
    subscribe = page.locator("nav.main-nav a", has_text="Subscribe")
    expect(subscribe).to_be_hidden()
    assert box(page.locator("header.site-header"))["height"] <= 72
    assert box(page.locator("h1"))["height"] <= 90  # the week's title does not wrap into many lines
    # Keyboard only: Tab reaches the menu button, Enter opens it, Tab reaches the links.
    for _ in range(4):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.matches('summary')"):
            break
    assert page.evaluate("document.activeElement.textContent.trim()") == "Menu"
    page.keyboard.press("Enter")
    expect(subscribe).to_be_visible()
    page.keyboard.press("Escape")  # closes it, the focus back on the button
    expect(subscribe).to_be_hidden()
    assert page.evaluate("document.activeElement.matches('summary')")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Daily"
    assert page.evaluate(SIDEWAYS) <= 0
    subscribe.click()
    expect(page).to_have_url(site.url + "/subscribe")
    context.close()

    context = browser.new_context(viewport={"width": 390, "height": 844}, java_script_enabled=False)
    page = context.new_page()
    page.goto(site.url + "/")
    expect(page.locator("nav.main-nav a", has_text="Trending")).to_be_hidden()
    page.get_by_text("Menu", exact=True).click()
    page.locator("nav.main-nav a", has_text="Trending").click()
    expect(page).to_have_url(site.url + "/papers/trending")
    context.close()

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(site.url + "/")
    for link in ("Daily", "Trending", "Organizations", "Submit", "Subscribe"):
        expect(page.locator("nav.main-nav a", has_text=link)).to_be_visible()
    expect(page.get_by_text("Menu", exact=True)).to_be_hidden()
    expect(page.locator("header input[type=search]")).to_be_visible()
    context.close()


def test_the_skip_link_and_focus_are_visible(site, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(site.url + "/")
    page.keyboard.press("Tab")
    skip = page.locator("a.skip-link")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"
    page.keyboard.press("Tab")  # the first link of the page's content
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none"), outline
    assert page.evaluate("document.activeElement.closest('main') !== null")
    context.close()


FORM_PAGES = ["/subscribe", "/accounts/signup", "/accounts/login", "/accounts/password-reset"]


@pytest.mark.parametrize("width", [1280, 390])
def test_forms_put_labels_above_fields_and_choices_beside_theirs(site, browser, width):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    for path in [*FORM_PAGES, site.paths["manage"], site.paths["reset_link"]]:
        page.goto(site.url + path)
        form = page.locator("main form").first
        fields = form.locator("input:not([type=hidden]):not([type=radio]):not([type=checkbox]), textarea, select")
        assert fields.count() > 0, path
        widths = set()
        for field in fields.all():
            label = page.locator(f"label[for='{field.get_attribute('id')}']")
            assert box(label)["y"] + box(label)["height"] <= box(field)["y"] + 1, (path, "label above the field")
            assert abs(box(label)["x"] - box(field)["x"]) <= 2, (path, "label aligned with the field")
            widths.add(round(box(field)["width"]))
        assert len(widths) == 1, (path, "fields of one width", widths)
        if width == 390:
            assert widths.pop() >= 390 - 2 * 24, (path, "full-width fields on a phone")
        for choice in form.locator("input[type=radio], input[type=checkbox]").all():
            label = page.locator(f"label[for='{choice.get_attribute('id')}']")
            text_left = page.evaluate(
                """(label) => { const r = document.createRange(); r.selectNodeContents(label);
                   const rects = [...r.getClientRects()].filter((x) => x.width > 0);
                   return Math.max(...rects.map((x) => x.left)); }""",
                label.element_handle(),
            )
            radio = box(choice)
            assert 0 <= text_left - (radio["x"] + radio["width"]) <= 16, (path, "choice beside its label")
            label_box = box(label)
            middle = radio["y"] + radio["height"] / 2
            assert label_box["y"] <= middle <= label_box["y"] + label_box["height"], (path, "on the label's line")
        assert page.evaluate(SIDEWAYS) <= 0, path
    context.close()


DESCRIBED = """() => [...document.querySelectorAll("main [aria-describedby]")].map((element) => ({
  field: element.id || element.tagName,
  notes: element.getAttribute("aria-describedby").split(/\\s+/).map((id) => {
    const note = document.getElementById(id);
    return note ? note.textContent.trim() : null;
  }),
}))"""


def test_help_and_errors_are_tied_to_their_fields(site, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    for path in ["/accounts/signup", "/subscribe", site.paths["manage"]]:
        page.goto(site.url + path)
        described = page.evaluate(DESCRIBED)
        assert described, path
        for entry in described:
            assert None not in entry["notes"] and "" not in entry["notes"], (path, entry)
    page.goto(site.url + "/subscribe")
    topics = page.locator("#id_topics")
    assert "saved searches" in page.evaluate(DESCRIBED.replace("main [", "#id_topics["))[0]["notes"][0]
    expect(topics).to_be_visible()

    page.goto(site.url + "/accounts/signup")
    page.fill("#id_username", "reader")  # taken
    page.fill("#id_email", "someone@example.org")
    page.fill("#id_password1", "a long pass phrase 62")
    page.fill("#id_password2", "another pass phrase 63")
    page.click("main button[type=submit]")
    for field, words in (("#id_username", "already exists"), ("#id_password2", "didn’t match")):
        expect(page.locator(field)).to_have_attribute("aria-invalid", "true")
        notes = [n for e in page.evaluate(DESCRIBED) if e["field"] == field[1:] for n in e["notes"]]
        assert any(words in note for note in notes), (field, notes)
        error = page.locator(f"{field}_error")
        expect(error).to_be_visible()
        assert box(error)["y"] >= box(page.locator(field))["y"], (field, "the error under its field")
    context.close()


def card_heights(page) -> list[float]:
    """The heights of the cards of real papers (not of the one with a 300-character title)."""
    cards = page.locator("article.paper-card:not(#paper-2510\\.99100)")
    return cards.evaluate_all("cards => cards.map(c => c.getBoundingClientRect().height)")


def test_cards_show_code_stars_and_comments_and_stay_compact(site, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(site.url + "/papers/month/2025-10")
    card = page.locator("#paper-2510\\.99100")
    expect(card.locator(".paper-stats .stars")).to_contain_text("1,234")
    expect(card.locator(".paper-stats .comments")).to_contain_text(str(COMMENTS))
    expect(card.locator("a.code")).to_be_visible()
    expect(card.locator(".authors")).to_have_text(f"{LONG_NAME}, Ada Lovelace")
    # No taller than the cards were (210 px for a title line, a five-line abstract and the
    # meta line at 1280 px) however long the abstract, the title of one line.
    heights = card_heights(page)
    assert max(heights) <= 210, heights
    context.close()

    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(site.url + "/papers/month/2025-10")
    heights = card_heights(page)
    assert max(heights) <= 320, heights  # before: 700 px and more
    abstract = page.locator("article.paper-card .paper-abstract").first
    lines = page.evaluate(
        "(e) => e.getBoundingClientRect().height / parseFloat(getComputedStyle(e).lineHeight)",
        abstract.element_handle(),
    )
    assert lines <= 3.1, lines
    vote = page.locator("article.paper-card a.vote").first
    expect(vote).to_be_visible()
    assert page.evaluate(SIDEWAYS) <= 0
    context.close()


BACKGROUND = "(s) => getComputedStyle(document.querySelector(s)).backgroundColor.match(/\\d+/g).slice(0, 3).map(Number)"


def test_dark_mode_follows_the_system(site, browser):
    for scheme, dark in (("light", False), ("dark", True)):
        context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=scheme)
        page = context.new_page()
        page.goto(site.url + "/")
        for selector in ("body", "article.paper-card", "header.site-header"):
            rgb = page.evaluate(BACKGROUND, selector)
            assert (sum(rgb) < 3 * 80) is dark, (scheme, selector, rgb)
        context.close()


def test_feed_pages_link_their_feeds_and_the_404_page_helps(site, browser):
    page = browser.new_page()
    for path in (f"/papers/date/{DAY}", "/papers/week/2025-W42", "/papers/month/2025-10", "/papers/trending", "/"):
        page.goto(site.url + path)
        for kind in ("rss", "atom"):
            link = page.locator(f"main a[type='application/{kind}+xml']")
            expect(link).to_be_visible()
            assert page.request.get(site.url + link.get_attribute("href")).status == 200, (path, kind)
    response = page.goto(site.url + "/papers/2410.99999")
    assert response.status == 404
    expect(page.locator("h1")).to_have_text("Page not found")
    assert "No Paper matches" not in page.content()
    page.locator("main input[type=search]").fill("attention")
    page.locator("main input[type=search]").press("Enter")
    expect(page).to_have_url(site.url + "/search?q=attention")
    page.go_back()
    page.locator("main a", has_text="Daily Papers").click()
    expect(page).to_have_url(site.url + "/")
    page.close()


def test_the_site_has_an_icon(site, browser):
    page = browser.new_page()
    failed: list[str] = []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    page.goto(site.url + "/")
    icon = page.locator("link[rel=icon]").get_attribute("href")
    response = page.request.get(site.url + icon)
    assert response.status == 200 and response.headers["content-type"].startswith("image/svg+xml")
    favicon = page.request.get(site.url + "/favicon.ico")
    assert favicon.status == 200 and favicon.headers["content-type"] in ("image/x-icon", "image/vnd.microsoft.icon")
    assert favicon.body()[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert failed == []
    page.close()


# Where the upvote count of a related paper is drawn beside its ▲ (a right-to-left override
# running on past the title would draw the count first).
ARROW_THEN_COUNT = """(item) => {
  const walker = document.createTreeWalker(item.querySelector('.muted'), NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const at = node.data.indexOf('\\u25b2');
    if (at < 0) continue;
    const rect = (from, to) => { const r = document.createRange(); r.setStart(node, from); r.setEnd(node, to);
                                 return r.getBoundingClientRect(); };
    return [rect(at, at + 1).left, rect(at + 2, at + 3).left];
  }
  return null;
}"""


def test_a_right_to_left_override_in_a_title_stays_inside_it(site, browser):
    """A title holding U+202E (RIGHT-TO-LEFT OVERRIDE, as some feeds carry) is drawn as its own
    run: the "Oct 2025 · ▲ 31" after it in a paper's related papers still reads left to right
    (before, the override ran on past the link and drew "13 ▲ · 5202 tcO")."""
    page = browser.new_page()
    page.goto(site.url + "/papers/2403.01767")
    related = page.locator(".related li a").first
    other = related.get_attribute("href").rstrip("/").rsplit("/", 1)[1]
    result = site.command(
        "shell",
        "-c",
        "from paperwire.papers.models import Paper\n"
        f"paper = Paper.objects.get(pk={other!r})\n"
        "paper.title = 'Attention over \\u202eevery head'\n"
        "paper.save(update_fields=['title'])\n"
        "print(paper.upvotes)",
    )
    assert result.returncode == 0, result.stderr
    upvotes = result.stdout.strip().splitlines()[-1]
    page.goto(site.url + "/papers/2403.01767?after-the-edit")  # not the copy cached before it
    item = page.locator(".related li", has_text="every head")
    expect(item.locator(".muted")).to_contain_text(f"▲\u00a0{upvotes}")
    arrow, count = page.evaluate(ARROW_THEN_COUNT, item.element_handle())
    assert arrow < count, (arrow, count)  # ▲ first, then its count, as everywhere else
    page.close()
