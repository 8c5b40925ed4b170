"""The settings page's API tokens in headless Chromium: a person makes a token (no JavaScript
needed), sees it once, uses it from a script, and revokes it; the section has no serious axe-core
problem and does not scroll sideways, at desktop and phone widths, light and dark."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from tests.conftest import start_site, stop_site

pytestmark = pytest.mark.browser

from tests.chromium import expect  # noqa: E402 (importing it skips this module without Chromium)
from tests.test_browser_layout import AUDIT, AXE, SIDEWAYS  # noqa: E402

LONG_NAME = "Nightly-digest-uploader-for-the-reading-group-" * 2  # 94 characters, no space


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    home = tmp_path_factory.mktemp("tokens-browser-home")
    site = start_site(home, wait_for_index=False)  # migrates the database
    made = site.command(
        "shell",
        "-c",
        "from django.contrib.auth.models import User; "
        "User.objects.create_user('member', 'm@example.org', 'pass phrase 62')",
    )
    assert made.returncode == 0, made.stderr
    yield site
    stop_site(site)


def whoami(site, secret: str) -> tuple[int, dict]:
    request = urllib.request.Request(f"{site.url}/api/whoami-v2", headers={"Authorization": f"Bearer {secret}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def problems_on(page, width: int) -> list[str]:
    found = [
        f"{v['impact']} {v['id']} ({v['help']}): {v['nodes']}"
        for v in page.evaluate(AUDIT)
        if v["impact"] in ("serious", "critical")
    ]
    if (overflow := page.evaluate(SIDEWAYS)) > 0:
        found.append(f"scrolls sideways by {overflow}px at {width}px")
    return found


@pytest.mark.parametrize("javascript", [True, False])
def test_make_see_once_use_and_revoke_a_token(site, browser, javascript, tmp_path):
    context = browser.new_context(viewport={"width": 390, "height": 844}, java_script_enabled=javascript)
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    page.goto(site.url + "/accounts/login")
    page.fill("#id_username", "member")
    page.fill("#id_password", "pass phrase 62")
    page.click("main button[type=submit]")
    page.goto(site.url + "/accounts/settings")
    section = page.locator("#api-tokens")
    expect(section.locator("h2")).to_have_text("API tokens")
    # An empty name is refused beside the field (the browser's own check is bypassed).
    page.locator("#token-name").evaluate("field => field.removeAttribute('required')")
    page.locator("#api-tokens button[type=submit]").last.click()
    expect(page.locator("#token-name-error")).to_contain_text("Give the token a name")
    expect(page.locator("#token-name")).to_have_attribute("aria-invalid", "true")

    page.fill("#token-name", LONG_NAME)
    page.keyboard.press("Enter")
    secret = page.locator("#new-token-secret").inner_text()
    assert secret.startswith("pw_") and len(secret) == 46
    expect(page.locator(".new-token")).to_contain_text("shown this once")
    expect(page.locator("#new-token-secret")).to_be_in_viewport()  # not 1,400 px below, unseen
    expect(section.locator(".token-list li")).to_have_count(1)
    expect(section.locator(".token-list li code")).to_have_text(secret[:11] + "…")
    if javascript:  # checked once: the page is the same without JavaScript
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            for width in (390, 1280):
                page.set_viewport_size({"width": width, "height": 844})
                page.screenshot(path=str(tmp_path / f"tokens-{scheme}-{width}.png"), full_page=True)
                assert not problems_on(page, width), (scheme, width, problems_on(page, width))

    status, me = whoami(site, secret)
    assert (status, me["name"], me["auth"]["accessToken"]["displayName"]) == (200, "member", LONG_NAME)
    # Seen once: the page again shows only the prefix, and that it was used.
    page.goto(site.url + "/accounts/settings")
    assert secret not in page.content()
    expect(section.locator(".token-list li")).to_contain_text("last used")

    section.get_by_role("button", name=f"Revoke the token {LONG_NAME}").click()
    expect(page.locator(".messages")).to_contain_text("is revoked")
    expect(page.locator(".messages")).to_be_in_viewport()
    expect(section).to_contain_text("You have no API token.")
    assert whoami(site, secret) == (401, {"error": "This API token was revoked."})
    context.close()
