"""The discussion under a paper in headless Chromium (Debian's), driven by Playwright, against a
real `paperwire serve`: what a person sees when they comment, reply, edit, delete, upvote and
report, with the script (in place: no page load) and without it (forms that post and come back
to the comment); a moderator hiding a reported comment in the admin; and the layout: no sideways
scroll at 390 px, dark mode, the keyboard, and no serious axe-core problem."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.conftest import DEMO, paperwire_env, run_paperwire, start_site, stop_site

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
pytestmark = pytest.mark.browser

from tests.chromium import expect  # noqa: E402 (importing it skips this module without Chromium)

PASSWORD = "a long pass phrase 42"
USERS = """
from django.contrib.auth.models import User
for name in ("alice", "bob", "carol", "dave"):
    User.objects.create_user(name, f"{name}@example.org", "a long pass phrase 42")
User.objects.create_superuser("mod", "mod@example.org", "a long pass phrase 42")
"""
# Generous limits: every account here is new, and the tests write (and log in) more than a person would.
KINDS = ("", "_EDIT", "_VOTE", "_REPORT")
ROOM = {f"PAPERWIRE_RATE_COMMENT{kind}{new}": "1000/60" for kind in KINDS for new in ("", "_NEW")} | {
    "PAPERWIRE_RATE_LOGIN": "1000/60",
    "PAPERWIRE_RATE_LOGIN_ACCOUNT": "1000/60",
}
SIDEWAYS = "document.documentElement.scrollWidth - window.innerWidth"
AUDIT = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => ({
    id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
  }));
}"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    home = tmp_path_factory.mktemp("discussions-home")
    result = run_paperwire("import", str(DEMO), env=paperwire_env(home))
    assert result.returncode == 0, result.stderr
    site = start_site(home, **ROOM)
    result = site.command("shell", "-c", USERS)
    assert result.returncode == 0, result.stderr
    yield site
    stop_site(site)


def database(site) -> sqlite3.Connection:
    return sqlite3.connect(site.home / "paperwire.sqlite3")


def signed_in(browser, site, name: str, **options):
    context = browser.new_context(**options)
    page = context.new_page()
    page.goto(site.url + "/accounts/login")
    page.fill("#id_username", name)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    expect(page.locator(".account-nav .username")).to_have_text(name)
    return page


def watch_navigations(page) -> list[str]:
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)
    return navigations


def test_comment_reply_edit_upvote_and_delete_in_place(site, browser):
    paper = "/papers/2406.15765"
    alice = signed_in(browser, site, "alice")
    alice.goto(site.url + paper)
    navigations = watch_navigations(alice)
    expect(alice.locator("#discussion-heading")).to_have_text("Discussion")
    alice.fill("#new-comment", "Nice *result*: $O(n^2)$ attention")
    alice.click("#discussion form.comment-form button:has-text('Comment')")
    comment = alice.locator("#discussion article.comment").first
    expect(comment.locator(".comment-body em")).to_have_text("result")
    expect(comment.locator(".comment-body span.maths.rendered math")).to_have_count(1)  # KaTeX, loaded for it
    expect(alice.locator("#discussion-heading")).to_have_text("Discussion (1)")
    expect(alice.locator("#new-comment")).to_have_value("")
    comment_id = comment.get_attribute("id").removeprefix("comment-")

    # Bob replies, then upvotes; alice's page is not his.
    bob = signed_in(browser, site, "bob")
    bob.goto(site.url + paper)
    bob_navigations = watch_navigations(bob)
    bob.click(f"#comment-{comment_id} a.comment-reply")
    expect(bob.locator(f"#reply-{comment_id}")).to_be_focused()  # the form opened under the thread
    bob.fill(f"#reply-{comment_id}", "Is it $O(n \\log n)$ with sparsity?")
    bob.click("form.comment-replier button:has-text('Reply')")
    reply = bob.locator("ol.replies article.comment")
    expect(reply.locator(".comment-author")).to_have_text("bob")
    expect(reply.locator("span.maths.rendered")).to_have_count(1)
    expect(bob.locator("form.comment-replier")).to_have_count(0)
    vote = bob.locator(f"#comment-{comment_id} form.comment-vote")
    vote.locator("button").click()
    expect(vote.locator(".count")).to_have_text("1")
    expect(vote).to_have_class("vote comment-vote voted")
    assert bob_navigations == []

    # Alice edits hers in place: the text comes back into a form, and "edited" shows.
    alice.reload()
    navigations.clear()
    alice.click(f"#comment-{comment_id} a.comment-edit")
    editor = alice.locator(f"#comment-{comment_id} form.comment-editor textarea")
    expect(editor).to_have_value("Nice *result*: $O(n^2)$ attention")
    editor.fill("Nice **result**: $O(n^2)$ attention, and fast")
    alice.click(f"#comment-{comment_id} form.comment-editor button:has-text('Save')")
    edited = alice.locator(f"#comment-{comment_id}")
    expect(edited.locator(".comment-body strong")).to_have_text("result")
    expect(edited.locator(".comment-edited")).to_have_text("edited")
    expect(edited.locator(".comment-body span.maths.rendered")).to_have_count(1)
    expect(edited.locator(".comment-vote .count")).to_have_text("1")

    # Deleting the top comment leaves a stub above bob's reply; deleting the reply takes both away.
    edited.locator("details.comment-delete > summary").click()
    edited.locator("details.comment-delete button:has-text('Delete')").click()
    expect(alice.locator(f"#comment-{comment_id} .stub-text")).to_have_text("This comment was deleted.")
    expect(alice.locator("#discussion-heading")).to_have_text("Discussion (1)")
    assert navigations == []
    bob.reload()
    bob.locator("ol.replies details.comment-delete > summary").click()
    bob.locator("ol.replies details.comment-delete button").click()
    expect(bob.locator("#discussion article.comment")).to_have_count(0)
    expect(bob.locator("#discussion-heading")).to_have_text("Discussion")
    db = database(site)
    rows = db.execute("select body, deleted_at is not null from discussions_comment where paper_id = '2406.15765'")
    assert sorted(rows.fetchall()) == [("", 1), ("", 1)]
    assert db.execute("select local_comments from papers_paper where id = '2406.15765'").fetchone() == (0,)


def test_an_error_shows_beside_the_form_and_keeps_the_text(site, browser):
    paper = "/papers/1506.03134"
    alice = signed_in(browser, site, "alice")
    alice.goto(site.url + paper)
    alice.fill("#new-comment", "A thought that will be deleted")
    alice.click("#discussion form.comment-form button:has-text('Comment')")
    expect(alice.locator("#discussion article.comment")).to_have_count(1)
    bob = signed_in(browser, site, "bob")
    bob.goto(site.url + paper)
    navigations = watch_navigations(bob)
    alice.locator("details.comment-delete > summary").click()
    alice.locator("details.comment-delete button").click()
    expect(alice.locator("#discussion article.comment")).to_have_count(0)
    # Bob's page still shows the thread; his reply is refused there, in place, his words kept.
    bob.click("a.comment-reply")
    textarea = bob.locator("form.comment-replier textarea")
    textarea.fill("My careful answer")
    bob.click("form.comment-replier button:has-text('Reply')")
    error = bob.locator("form.comment-replier p.errorlist[role=alert]")
    expect(error).to_have_text("The comment you replied to was deleted: your reply was not posted.")
    expect(textarea).to_have_value("My careful answer")
    expect(textarea).to_have_attribute("aria-invalid", "true")
    assert error.get_attribute("id") in textarea.get_attribute("aria-describedby").split()
    assert navigations == []


def test_every_form_works_without_javascript(site, browser):
    paper = "/papers/2308.03429"
    carol = signed_in(browser, site, "carol", java_script_enabled=False)
    carol.goto(site.url + paper)
    carol.fill("#new-comment", "Written *without* scripts")
    carol.click("#discussion form.comment-form button:has-text('Comment')")
    comment = carol.locator("#discussion article.comment").first
    comment_id = comment.get_attribute("id")
    assert carol.url == f"{site.url}{paper}#{comment_id}"
    expect(comment.locator(".comment-body em")).to_have_text("without")
    expect(comment.locator("span.maths")).to_have_count(0)
    # A reply, on its own page without a script, then back at it.
    carol.click(f"#{comment_id} a.comment-reply")
    expect(carol.locator("h1")).to_have_text("Reply to carol")
    carol.fill("textarea", "And a reply, $x$")
    carol.click("button:has-text('Reply')")
    expect(carol.locator("ol.replies .comment-body")).to_have_text("And a reply, $x$")  # KaTeX needs the script
    assert "#comment-" in carol.url and carol.url.startswith(site.url + paper)
    # An empty comment is refused by the browser; an over-long edit by the server, beside the field.
    carol.click(f"#{comment_id} a.comment-edit")
    assert carol.url.endswith("/edit")
    carol.fill("textarea", "Edited without scripts")
    carol.click("button:has-text('Save')")
    expect(carol.locator(f"#{comment_id} .comment-body")).to_have_text("Edited without scripts")
    expect(carol.locator(f"#{comment_id} .comment-edited")).to_be_visible()
    carol.locator(f"#{comment_id} details.comment-delete > summary").click()
    carol.locator(f"#{comment_id} details.comment-delete button").click()
    expect(carol.locator(".messages")).to_have_text("Your comment was deleted.")
    expect(carol.locator(f"#{comment_id} .stub-text")).to_have_text("This comment was deleted.")
    # A vote, without a script: back at the comment, counted.
    dave = signed_in(browser, site, "dave", java_script_enabled=False)
    dave.goto(site.url + paper)
    reply = dave.locator("ol.replies article.comment")
    reply.locator("form.comment-vote button").click()
    expect(dave.locator("ol.replies form.comment-vote .count")).to_have_text("1")
    assert "#comment-" in dave.url


def test_a_report_and_a_moderator_who_hides_the_comment(site, browser):
    paper = "/papers/2307.09458"
    alice = signed_in(browser, site, "alice")
    alice.goto(site.url + paper)
    alice.fill("#new-comment", "Buy cheap watches at example.org")
    alice.click("#discussion form.comment-form button:has-text('Comment')")
    comment = alice.locator("#discussion article.comment").first
    comment_id = comment.get_attribute("id")
    expect(comment.locator("a.comment-report")).to_have_count(0)  # not one's own

    dave = signed_in(browser, site, "dave")
    dave.goto(site.url + paper)
    dave.click(f"#{comment_id} a.comment-report")
    expect(dave.locator("h1")).to_have_text("Report a comment")
    expect(dave.locator("blockquote.reported-body")).to_have_text("Buy cheap watches at example.org")
    dave.check("input[value=spam]")
    dave.fill("#report-details", "An advert")
    dave.click("button:has-text('Send the report')")
    expect(dave.locator(".messages")).to_have_text("Thank you: the moderators will look at it.")
    expect(dave.locator(f"#{comment_id} .comment-reported")).to_have_text("Reported")

    moderator = signed_in(browser, site, "mod")
    moderator.goto(site.url + "/admin/discussions/commentreport/")
    row = moderator.locator("#result_list tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator(".field-reported_comment")).to_have_text("Buy cheap watches at example.org")
    expect(row.locator(".field-details")).to_have_text("An advert")
    row.locator("input.action-select").check()
    moderator.select_option("select[name=action]", "hide_comments")
    moderator.click("button[name=index]")
    expect(moderator.locator(".messagelist")).to_contain_text("Hid 1 comment; resolved 1 report.")
    expect(moderator.locator("#result_list tbody tr")).to_have_count(0)

    reader = browser.new_page()
    reader.goto(site.url + paper)
    expect(reader.locator("#discussion article.comment")).to_have_count(0)
    expect(reader.locator(".empty-discussion")).to_have_text("No comments yet.")
    alice.reload()
    expect(alice.locator("#discussion article.comment")).to_have_count(0)


LONG = "Supercalifragilisticexpialidocious" * 8
HOSTILE_LOOKING = f"""A word that no line holds: {LONG}

```
{LONG} a code block that is long too
```

> a quote with $$\\sum_{{i=1}}^{{n}} \\frac{{x_i^2}}{{\\sigma_i}} + \\int_0^\\infty e^{{-t^2}} dt$$

- a list with [a link](https://example.org/{LONG})
"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [1280, 390])
def test_the_discussion_fits_phones_reads_in_dark_mode_and_passes_axe(site, browser, width, scheme):
    paper = "/papers/2501.00663"
    setup = signed_in(browser, site, "bob")
    setup.goto(site.url + paper)
    if setup.locator("#discussion article.comment").count() == 0:
        setup.fill("#new-comment", HOSTILE_LOOKING)
        setup.click("#discussion form.comment-form button:has-text('Comment')")
        expect(setup.locator("#discussion article.comment")).to_have_count(1)
        replier = signed_in(browser, site, "alice")
        replier.goto(site.url + paper)
        replier.click("a.comment-reply")
        replier.fill("form.comment-replier textarea", "A reply with `code` and *emphasis*.")
        replier.click("form.comment-replier button:has-text('Reply')")
        expect(replier.locator("ol.replies article.comment")).to_have_count(1)
        replier.context.close()
    setup.context.close()
    top, reply = comments_of(site, paper)
    pages = [paper, f"/comments/{top}/report", f"/comments/{top}/reply", f"/comments/{reply}/edit"]
    options = {"viewport": {"width": width, "height": 844}, "color_scheme": scheme}
    for who in ("alice", None):
        if who:
            page = signed_in(browser, site, who, **options)
        else:
            page = browser.new_context(**options).new_page()
        page.context.add_init_script(path=str(AXE))
        for path in pages if who else [paper]:
            page.goto(site.url + path)
            if not path.endswith("/edit"):  # the edit page shows the reply's Markdown, which has no formula
                expect(page.locator("html[data-maths=rendered]")).to_have_count(1)  # the comment's formula
            if who and path == paper:
                page.click("a.comment-reply >> nth=0")  # the reply form open too
                expect(page.locator("form.comment-replier")).to_have_count(1)
            problems = page.evaluate(AUDIT)
            assert problems == [], (who, path, problems)
            assert page.evaluate(SIDEWAYS) <= 0, (who, path, width)
            if scheme == "dark" and path == paper:
                colour = page.evaluate("getComputedStyle(document.querySelector('.comment-body')).color")
                assert colour == "rgb(230, 237, 243)", colour  # the dark theme's text
        page.context.close()


def comments_of(site, paper: str) -> tuple[int, int]:
    """The ids of the first comment on the paper (bob's) and of the last (alice's reply)."""
    query = "select min(id), max(id) from discussions_comment where paper_id = ?"
    return database(site).execute(query, (paper.rsplit("/", 1)[1],)).fetchone()


FOCUSED = "document.activeElement.tagName + ' ' + document.activeElement.textContent.trim()"


def test_the_keyboard_reaches_every_action(site, browser):
    paper = "/papers/2305.16300"
    alice = signed_in(browser, site, "alice")
    alice.goto(site.url + paper)
    alice.fill("#new-comment", "Keyboard first")
    alice.keyboard.press("Tab")  # to the Comment button
    alice.keyboard.press("Enter")
    expect(alice.locator("#discussion article.comment")).to_have_count(1)
    # Focus moved to the new comment; from there Tab reaches its vote, edit and delete, then Reply.
    expect(alice.locator("#discussion article.comment")).to_be_focused()
    reached = []
    for _ in range(8):
        alice.keyboard.press("Tab")
        reached.append(alice.evaluate(FOCUSED))
    assert reached[0] == "A alice"  # the author's name, a link to their profile
    assert reached[1].startswith("A ")  # the comment's time, its link
    actions = ["BUTTON ▲0 upvotes", "A Reply", "A Edit", "SUMMARY Delete", "TEXTAREA ", "BUTTON Comment"]
    assert reached[2:] == actions
    for _ in range(4):
        alice.keyboard.press("Shift+Tab")
    assert alice.evaluate(FOCUSED) == "A Reply"
    alice.keyboard.press("Enter")  # the reply form opens, its field focused
    alice.keyboard.type("A reply typed from the keyboard")
    alice.keyboard.press("Tab")
    alice.keyboard.press("Enter")
    expect(alice.locator("ol.replies .comment-body")).to_have_text("A reply typed from the keyboard")
