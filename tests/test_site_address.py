"""Links in mail, feeds and the API schema point where the site is: PAPERWIRE_BASE_URL when it is
set, else the address a request came to (a real `paperwire serve --port <any>`), else, outside a
request, the default address with a warning."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

import pytest
from django.test import Client

from tests.conftest import DEMO, paper, paperwire_env, run_paperwire, start_site, stop_site, write_jsonl
from tests.test_http import raw_request

LINK = re.compile(r"https?://[^\s/\"<>]+/[^\s\"<>]*")
PASSWORD = "a long pass phrase 42"


class Browser:
    """A urllib session with cookies, speaking to one site like a browser would."""

    def __init__(self, site) -> None:
        self.site = site
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def get(self, url: str) -> tuple[int, str, str]:
        try:
            with self.opener.open(url if "://" in url else self.site.url + url, timeout=30) as response:
                return response.status, response.url, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.url, error.read().decode()

    def post_form(self, url: str, fields: dict) -> tuple[int, str, str]:
        """GET the page at ``url``, then POST its form with ``fields`` and its CSRF token."""
        status, _, page = self.get(url)
        assert status == 200, (url, status, page[:300])
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
        body = urllib.parse.urlencode({"csrfmiddlewaretoken": token, **fields}).encode()
        request = urllib.request.Request(url if "://" in url else self.site.url + url, body)
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.url, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.url, error.read().decode()


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def links_in(message) -> list[str]:
    html = message.get_body(("html",)).get_content()
    return LINK.findall(text_of(message)) + LINK.findall(html.replace("&amp;", "&"))


def feed_links(xml: str) -> list[str]:
    return re.findall(r"<link[^>]*?href=\"([^\"]+)\"", xml) + re.findall(r"<link>([^<]+)</link>", xml)


@pytest.fixture
def demo_home(tmp_path):
    home = tmp_path / "home"
    result = run_paperwire("import", str(DEMO), env=paperwire_env(home))
    assert result.returncode == 0, result.stderr
    return home


def test_without_a_base_url_mail_and_feeds_link_to_the_port_served_on(tmp_path, smtp_server, database):
    """`serve --port <random>` and no PAPERWIRE_BASE_URL: sign up, follow the mailed link (it works),
    subscribe, confirm; every link (mail, feeds, API schema, account page) names that port."""
    home = tmp_path / "home"
    result = run_paperwire("import", str(DEMO), env=paperwire_env(home, **database))
    assert result.returncode == 0, result.stderr
    site = start_site(home, PAPERWIRE_BASE_URL="", PAPERWIRE_EMAIL_URL=smtp_server.url, **database)
    try:
        browser = Browser(site)
        status, url, page = browser.post_form(
            "/accounts/signup",
            {"username": "grace", "email": "grace@example.org", "password1": PASSWORD, "password2": PASSWORD},
        )
        assert (status, url) == (200, site.url + "/") and "Welcome, grace!" in page
        [mail] = smtp_server.handler.to("grace@example.org")
        links = links_in(mail)
        assert links and all(link.startswith(site.url + "/") for link in links), links
        verify = next(link for link in links if "/accounts/verify/" in link)
        status, _, page = browser.post_form(verify, {})
        assert status == 200 and "Your address is verified" in page

        status, _, page = browser.post_form("/subscribe", {"email": "grace@example.org", "frequency": "daily"})
        assert status == 200 and "grace@example.org" in page
        confirmation = smtp_server.handler.to("grace@example.org")[-1]
        links = links_in(confirmation)
        assert links and all(link.startswith(site.url + "/") for link in links), links
        confirm = next(link for link in links if "/subscribe/confirm/" in link)
        status, _, page = browser.post_form(confirm, {})
        assert status == 200 and "You are subscribed" in page
        status, _, page = browser.get("/accounts/settings")
        manage = re.search(r'href="([^"]*/subscription/[^"]+)"', page)[1]
        assert manage.startswith(site.url + "/subscription/"), manage
        assert browser.get(manage)[0] == 200

        for path in ("/papers/feed.atom", "/papers/feed.rss", "/search/feed.atom?q=attention"):
            status, body = site.get(path)
            links = feed_links(body.decode())
            assert status == 200 and len(links) > 3, path
            assert all(link.startswith(site.url + "/") for link in links), (path, links)
        status, body = site.get("/api/openapi.json")
        assert status == 200 and json.loads(body)["servers"] == [{"url": site.url}]

        # A digest is sent outside any request, by another command: the address `serve` wrote
        # into the PAPERWIRE_HOME they share.
        assert (home / "served_url").read_text() == site.url + "\n"
        result = site.command("digest", "send", "--frequency", "daily", "--date", "2025-10-15")
        assert result.returncode == 0, result.stderr
        assert "PAPERWIRE_BASE_URL is not set" not in result.stderr
        digest = smtp_server.handler.to("grace@example.org")[-1]
        assert site.url + "/unsubscribe/" in digest["List-Unsubscribe"]
        links = links_in(digest)
        assert links and all(link.startswith(site.url + "/") for link in links), links
    finally:
        stop_site(site)


def test_without_a_base_url_each_allowed_host_gets_its_own_links(demo_home):
    """The page cache keys on the address links use: a feed asked for through localhost links to
    localhost, then through 127.0.0.1 to 127.0.0.1, and a request naming another port poisons
    nothing."""
    site = start_site(demo_home, PAPERWIRE_BASE_URL="")
    port = site.url.rsplit(":", 1)[1]
    try:
        for host in (f"localhost:{port}", f"127.0.0.1:{port}", "127.0.0.1:1", f"127.0.0.1:{port}"):
            status, _, body = raw_request(site, "GET", "/papers/feed.atom", host)
            links = feed_links(body.decode())
            assert status == 200 and links and all(link.startswith(f"http://{host}/") for link in links), host
    finally:
        stop_site(site)


def test_with_a_base_url_every_link_uses_it_whatever_the_host(demo_home, smtp_server):
    site = start_site(demo_home, PAPERWIRE_BASE_URL="http://papers.example.org", PAPERWIRE_EMAIL_URL=smtp_server.url)
    port = site.url.rsplit(":", 1)[1]
    try:
        for host in (f"localhost:{port}", f"127.0.0.1:{port}"):
            status, _, body = raw_request(site, "GET", "/papers/feed.rss", host)
            links = feed_links(body.decode())
            assert status == 200 and all(link.startswith("http://papers.example.org/") for link in links), links
            status, _, body = raw_request(site, "GET", "/api/openapi.json", host)
            assert json.loads(body)["servers"] == [{"url": "http://papers.example.org"}]
        status, _, page = Browser(site).post_form("/subscribe", {"email": "ada@example.org", "frequency": "weekly"})
        assert status == 200
        [mail] = smtp_server.handler.to("ada@example.org")
        assert all(link.startswith("http://papers.example.org/") for link in links_in(mail))
    finally:
        stop_site(site)


def test_serve_answers_the_address_it_listens_on(demo_home):
    """`serve --host 127.0.0.2` without PAPERWIRE_BASE_URL: that host is served (it was a 400) and
    links name it."""
    site = start_site(demo_home, host="127.0.0.2", PAPERWIRE_BASE_URL="")
    try:
        status, body = site.get("/papers/feed.atom")
        links = feed_links(body.decode())
        assert status == 200 and links and all(link.startswith(site.url + "/") for link in links), links
        connection = http.client.HTTPConnection("127.0.0.2", int(site.url.rsplit(":", 1)[1]), timeout=30)
        connection.request("GET", "/", headers={"Host": "127.0.0.3"})
        assert connection.getresponse().status == 400  # only the host it listens on
        connection.close()
    finally:
        stop_site(site)


def test_a_base_url_naming_another_port_of_this_machine_is_warned_about(demo_home):
    """PAPERWIRE_BASE_URL left from `make run` (port 8000) while serving on another port: the
    links it makes would all lead to the wrong port, and serve says so as it starts."""
    site = start_site(demo_home, PAPERWIRE_BASE_URL="http://localhost:8000", wait_for_index=False)
    stop_site(site)
    output = site.process.stdout.read()
    assert f"PAPERWIRE_BASE_URL is http://localhost:8000 but the site is served on {site.url}" in output
    site = start_site(demo_home, PAPERWIRE_BASE_URL="https://papers.example.org", wait_for_index=False)
    stop_site(site)
    assert "PAPERWIRE_BASE_URL is" not in site.process.stdout.read()  # a proxy's public URL


# --- in-process: the one helper ---------------------------------------------------------------


@pytest.fixture
def local_paper(tmp_path, db):
    from django.core.management import call_command

    call_command(
        "import", str(write_jsonl(tmp_path / "p.jsonl", [paper("local-1", "A local paper", published="2025-07-01")]))
    )


def test_links_built_in_a_request_follow_its_address_when_no_base_url_is_set(local_paper, settings):
    settings.BASE_URL = ""
    client = Client(HTTP_HOST="127.0.0.1:8123")
    assert 'href="http://127.0.0.1:8123/papers/local-1"' in client.get("/papers/feed.atom").content.decode()
    assert "url = {http://127.0.0.1:8123/papers/local-1}" in client.get("/papers/local-1").content.decode()
    assert client.get("/api/openapi.json").json()["servers"] == [{"url": "http://127.0.0.1:8123"}]
    settings.BASE_URL = "https://papers.example.org"
    assert "url = {https://papers.example.org/papers/local-1}" in client.get("/papers/local-1").content.decode()


@pytest.mark.parametrize(
    "written",
    [
        None,  # no file: `serve` never ran with this home
        "javascript:alert(1)",
        "http://evil.example/phish",
        "https://127.0.0.1:8123",  # never written by serve (it listens on http)
        "http://127.0.0.1:8123\nhttp://evil.example:80",
        "http://127.0.0.1:8123/../x",
        "\ufeffhttp://127.0.0.1:8123",
        "http://127.0.0.1:8123" + " " * 200 + "x",
        "",
    ],
)
def test_outside_a_request_links_use_the_default_address_and_say_so(settings, caplog, tmp_path, written):
    """Without a file `serve` wrote, or with one that does not read as its address (damaged,
    edited), the default address and a warning: a file is never followed to another site."""
    from paperwire.core import siteurl

    settings.PAPERWIRE_HOME = tmp_path
    if written is not None:
        (tmp_path / "served_url").write_text(written, encoding="utf-8")
    settings.BASE_URL = ""
    siteurl._warned.clear()
    assert siteurl.absolute("/papers/x") == "http://127.0.0.1:8000/papers/x"
    assert siteurl.absolute("/papers/y") == "http://127.0.0.1:8000/papers/y"
    warnings = [r for r in caplog.records if "PAPERWIRE_BASE_URL is not set" in r.getMessage()]
    assert len(warnings) == 1  # once a process
    settings.BASE_URL = "https://papers.example.org"
    assert siteurl.absolute("/papers/x") == "https://papers.example.org/papers/x"


def test_outside_a_request_links_use_the_address_serve_last_listened_on(settings, tmp_path):
    from paperwire.core import siteurl

    settings.BASE_URL = ""
    settings.PAPERWIRE_HOME = tmp_path / "site"
    settings.PAPERWIRE_HOME.mkdir()
    siteurl.remember_served_url("http://[::1]:8123")
    assert siteurl.absolute("/papers/x") == "http://[::1]:8123/papers/x"
    siteurl.remember_served_url("http://127.0.0.1:8124")  # serve started again elsewhere
    assert siteurl.absolute("/papers/x") == "http://127.0.0.1:8124/papers/x"
    assert [p.name for p in settings.PAPERWIRE_HOME.iterdir()] == ["served_url"]  # no temporary file left
    settings.BASE_URL = "https://papers.example.org"
    assert siteurl.absolute("/papers/x") == "https://papers.example.org/papers/x"


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8123"),
        ("0.0.0.0", "http://127.0.0.1:8123"),
        ("::", "http://127.0.0.1:8123"),
        ("::1", "http://[::1]:8123"),
        ("Papers.Local", "http://papers.local:8123"),
    ],
)
def test_the_address_served_on(host, url):
    from paperwire.core.siteurl import url_of_address

    assert url_of_address(host, 8123) == url


# --- in Chromium --------------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"


@pytest.mark.browser
def test_the_confirmation_link_works_in_a_browser_without_a_base_url(demo_home, smtp_server):
    """`make run PORT=<any>`, as a person: sign up in the browser, open the mailed link, confirm."""
    if not shutil.which(CHROMIUM):
        if os.environ.get("PAPERWIRE_REQUIRE_BROWSER") == "1":
            raise RuntimeError(f"{CHROMIUM} is missing but PAPERWIRE_REQUIRE_BROWSER=1")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    site = start_site(demo_home, PAPERWIRE_BASE_URL="", PAPERWIRE_EMAIL_URL=smtp_server.url)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
            page = browser.new_page()
            page.goto(site.url + "/accounts/signup")
            page.fill("#id_username", "ada")
            page.fill("#id_email", "ada@example.org")
            page.fill("#id_password1", PASSWORD)
            page.fill("#id_password2", PASSWORD)
            page.locator("form button[type=submit]").last.click()
            expect(page.locator("body")).to_contain_text("Welcome, ada!")
            [mail] = smtp_server.handler.to("ada@example.org")
            link = next(link for link in LINK.findall(text_of(mail)) if "/accounts/verify/" in link)
            assert link.startswith(site.url + "/accounts/verify/"), link
            page.goto(link)
            page.get_by_role("button", name="Confirm").click()
            expect(page.locator("h1")).to_have_text("Your address is verified")
            browser.close()
    finally:
        stop_site(site)
