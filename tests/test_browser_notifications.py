"""A notification mail end to end in headless Chromium against a real `paperwire serve` and a real
SMTP server: a reply made in the page is mailed to the comment's author, the mail's link opens
the reply on the paper's page, its one-click unsubscribe (RFC 8058) turns the mails off, and the
pages it leads to (unsubscribe, the settings' Notifications section) work at 1280 and 390 px,
dark too, with no serious axe-core problem."""

from __future__ import annotations

import re
import sqlite3
import urllib.request

import pytest

from tests.conftest import paper, paperwire_env, run_paperwire, start_site, stop_site, write_jsonl

pytestmark = pytest.mark.browser

from tests.chromium import expect  # noqa: E402 (importing it skips this module without Chromium)
from tests.test_browser_discussions import AUDIT, AXE, PASSWORD, ROOM, SIDEWAYS, signed_in  # noqa: E402

PAPER = "2507.60001"
SETUP = f"""
from django.contrib.auth.models import User
from paperwire.accounts.models import VerifiedEmail
from paperwire.discussions.threads import post_comment
from paperwire.papers.models import Paper
alice = User.objects.create_user("alice", "alice@example.org", {PASSWORD!r})
User.objects.create_user("bob", "bob@example.org", {PASSWORD!r})
VerifiedEmail.objects.create(user=alice, email=alice.email)
print(post_comment(alice, Paper.objects.get(pk={PAPER!r}), "How does this scale?").pk)
"""


def check_layout(browser, url: str, **options) -> None:
    for width in (1280, 390):
        for scheme in ("light", "dark"):
            context = browser.new_context(viewport={"width": width, "height": 800}, color_scheme=scheme, **options)
            context.add_init_script(path=str(AXE))
            page = context.new_page()
            page.goto(url)
            assert page.evaluate(SIDEWAYS) <= 0, (url, width)
            assert page.evaluate(AUDIT) == [], (url, width, scheme)
            context.close()


def test_a_reply_in_the_page_is_mailed_with_a_working_link_and_one_click_unsubscribe(tmp_path, browser, smtp_server):
    home = tmp_path / "home"
    records = write_jsonl(tmp_path / "p.jsonl", [paper(PAPER, "Sparse attention for long documents")])
    assert run_paperwire("import", str(records), env=paperwire_env(home)).returncode == 0
    site = start_site(home, PAPERWIRE_EMAIL_URL=smtp_server.url, **ROOM)
    try:
        made = site.command("shell", "-v", "0", "-c", SETUP)
        assert made.returncode == 0, made.stderr
        top = made.stdout.strip()

        bob = signed_in(browser, site, "bob")
        bob.goto(f"{site.url}/papers/{PAPER}")
        bob.click(f"#comment-{top} a.comment-reply")
        bob.fill(f"#reply-{top}", "It scales **linearly** <really>.")
        bob.click("form.comment-replier button:has-text('Reply')")
        reply = bob.locator("ol.replies article.comment")
        expect(reply.locator(".comment-author")).to_have_text("bob")
        reply_id = reply.get_attribute("id").removeprefix("comment-")

        sent = site.command("digest", "notify")
        assert sent.stdout.strip() == "notifications: sent 1, skipped 0, failed 0", sent.stderr
        [message] = smtp_server.handler.messages
        assert message["To"] == "alice@example.org"
        text = message.get_body(("plain",)).get_content()
        assert "It scales linearly <really>." in text
        [link] = re.findall(re.escape(site.url) + r"/papers/\S+", text)
        assert link == f"{site.url}/papers/{PAPER}#comment-{reply_id}"

        # Alice follows the link: the page opens at bob's reply.
        alice = signed_in(browser, site, "alice")
        alice.goto(link)
        shown = alice.locator(f"#comment-{reply_id}")
        expect(shown.locator(".comment-body strong")).to_have_text("linearly")
        expect(shown).to_be_in_viewport()

        # The unsubscribe link opened in the browser: a page to confirm and to manage.
        unsubscribe = message["List-Unsubscribe"].strip()[1:-1]
        assert unsubscribe.startswith(f"{site.url}/notifications/unsubscribe/") and unsubscribe in text
        alice.goto(unsubscribe)
        expect(alice.locator("main h1")).to_have_text("Notification mails")
        expect(alice.locator("main form button")).to_have_text("Turn off notification mails")
        check_layout(browser, unsubscribe)

        # The mail client's one-click POST (no session, no CSRF token).
        request = urllib.request.Request(
            unsubscribe,
            data=b"List-Unsubscribe=One-Click",
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200 and b"Notification mails are off" in response.read()
        with sqlite3.connect(home / "paperwire.sqlite3") as db:
            rows = db.execute("select replies, paper_comments from digests_notificationsettings").fetchall()
        assert rows == [(0, 0)]
        alice.goto(unsubscribe)
        expect(alice.locator("main p").first).to_contain_text("nothing: notification mails are off")

        # Its settings link leads to the Notifications section, both boxes now off; turning one on
        # works without JavaScript.
        alice.click("main a:has-text('Choose which notifications you get')")
        expect(alice.locator("#id_replies")).not_to_be_checked()
        expect(alice.locator("#id_paper_comments")).not_to_be_checked()
        alice.check("#id_replies")
        alice.click("button:has-text('Save notification settings')")
        expect(alice.locator(".messages")).to_contain_text("Your notification settings are saved.")
        expect(alice.locator("#id_replies")).to_be_checked()
        state = alice.context.storage_state()
        check_layout(browser, f"{site.url}/accounts/settings", storage_state=state)

        # Bob replies again: after the hour, alice gets it (replies are on again); nothing before.
        bob.reload()
        bob.click(f"#comment-{top} a.comment-reply")
        bob.fill(f"#reply-{top}", "One more thing.")
        bob.click("form.comment-replier button:has-text('Reply')")
        expect(bob.locator("ol.replies article.comment")).to_have_count(2)
        again = site.command("digest", "notify")
        assert again.stdout.strip() == "notifications: sent 0, skipped 0, failed 0", again.stderr
        assert len(smtp_server.handler.messages) == 1
    finally:
        stop_site(site)
