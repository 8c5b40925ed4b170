"""What pages may link to and load: only http(s) links from data, no third-party resources, no
inline script or style, a Content-Security-Policy on every response."""

import datetime as dt
import json
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from paperwire.digests.models import Subscriber
from paperwire.ingest.importer import import_files
from paperwire.papers.models import Organization, Paper, set_vote
from paperwire.search.updating import update_indexes
from tests.conftest import paper, write_jsonl

pytestmark = pytest.mark.django_db

HOSTILE_URLS = [
    "javascript:alert(9)",
    "JaVaScRiPt:alert(9)",
    " javascript:alert(9)",
    "\t\njavascript:alert(9)",
    "java\tscript:alert(9)",
    "java\nscript:alert(9)",
    "\x01javascript:alert(9)",
    "javascript&colon;alert(9)",
    "javascript&#58;alert(9)",
    "&#106;avascript:alert(9)",
    "data:text/html,<script>alert(9)</script>",
    "vbscript:msgbox(9)",
    "//evil.example/x",
    "https:alert(9)",
    "http:///alert(9)",
    "file:///etc/passwd",
    "blob:https://evil.example/x",
]
SAFE_URL = "https://github.com/good/repo"


class Tags(HTMLParser):
    """Every start tag of a page with its attributes (values unescaped, as a browser reads them)."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.data_in: dict[str, list[str]] = {}
        self._open: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        self._open.append(tag)

    def handle_endtag(self, tag):
        if self._open and self._open[-1] == tag:
            self._open.pop()

    def handle_data(self, data):
        if self._open:
            self.data_in.setdefault(self._open[-1], []).append(data)


def link_scheme(url: str) -> str:
    """The scheme a browser would see: WHATWG URL parsing strips C0 controls and spaces around
    the URL and removes tabs and newlines inside it."""
    cleaned = re.sub(r"[\t\n\r]", "", url.strip("".join(map(chr, range(0x21)))))
    match = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*):", cleaned)
    return match.group(1).lower() if match else ""


def assert_links_are_safe(body: str, where: str) -> None:
    for tag, attrs in Tags(body).tags:
        for name in ("href", "src", "action", "formaction", "srcset", "poster", "data"):
            if name in attrs:
                value = attrs[name]
                scheme = link_scheme(value)
                assert scheme in ("", "http", "https", "mailto"), (where, tag, name, value)
                if not scheme:
                    assert not re.match(r"^\s*[/\\]{2}", value), (where, tag, name, value)


@pytest.fixture
def hostile(tmp_path, alice):
    """Papers whose links are hostile: from JSONL (code_urls) and from Hugging Face items
    (githubRepo, projectPage, organization avatar, submitter avatar)."""
    records = [
        paper("2507.00001", "Hostile code links", published="2025-07-21", upvotes=3, code_urls=HOSTILE_URLS),
        paper("2507.00002", "A good link", published="2025-07-21", upvotes=2, code_urls=[SAFE_URL]),
    ]
    import_files([write_jsonl(tmp_path / "a.jsonl", records)], progress=False)
    items = []
    for n, url in enumerate(HOSTILE_URLS):
        items.append(
            {
                "paper": {
                    "id": f"2507.{n + 10:05d}",
                    "title": f"Hostile Hugging Face item {n}",
                    "summary": "An abstract.",
                    "authors": [{"name": "Mallory"}],
                    "publishedAt": "2025-07-21T10:00:00.000Z",
                    "githubRepo": url,
                    "projectPage": url,
                    "organization": {"_id": f"o{n}", "name": f"evil{n}", "fullname": f"Evil {n}", "avatar": url},
                    "submittedOnDailyBy": {"_id": "u1", "user": "mallory", "fullname": "M", "avatarUrl": url},
                },
                "publishedAt": "2025-07-21T10:00:00.000Z",
                "title": f"Hostile Hugging Face item {n}",
            }
        )
    (tmp_path / "hf.json").write_text(json.dumps(items))
    import_files([tmp_path / "hf.json"], progress=False)
    # Whatever the importer accepts, the pages must not trust what the database holds (rows
    # written before any import check, or edited in the admin): put the hostile values there.
    for n, url in enumerate(HOSTILE_URLS):
        pid = f"2507.{n + 10:05d}"
        org, _ = Organization.objects.get_or_create(name=f"evil{n}", defaults={"fullname": f"Evil {n}"})
        Organization.objects.filter(pk=org.pk).update(avatar_url=url)
        fields = {
            "title": f"Hostile Hugging Face item {n}",
            "abstract": "An abstract.",
            "daily_date": dt.date(2025, 7, 21),
            "code_urls": [url],
            "project_page": url,
            "organization": org,
            "hf_submitter": {"_id": "u1", "user": "mallory", "fullname": "M", "avatarUrl": url},
        }
        Paper.objects.update_or_create(pk=pid, defaults=fields)
    Paper.objects.filter(pk="2507.00001").update(code_urls=HOSTILE_URLS, project_page=HOSTILE_URLS[0])
    for pid in ("2507.00001", "2507.00010"):
        set_vote(alice, Paper.objects.get(pk=pid), True)
    update_indexes()
    return Paper.objects.filter(pk__gte="2507.00010").values_list("pk", flat=True)


def main_pages(paper_ids) -> list[str]:
    return [
        "/",
        "/papers/date/2025-07-21",
        "/papers/week/2025-W30",
        "/papers/month/2025-07",
        "/papers/trending",
        "/orgs",
        "/orgs/evil0",
        "/search?q=hostile",
        "/papers/2507.00001",
        "/papers/2507.00002",
        *(f"/papers/{pid}" for pid in paper_ids),
        "/submit",
        "/subscribe",
        "/accounts/login",
        "/accounts/signup",
    ]


def test_hostile_links_are_never_rendered_as_links(client, hostile):
    for url in main_pages(hostile):
        response = client.get(url)
        assert response.status_code in (200, 302), url
        body = response.content.decode()
        assert_links_are_safe(body, url)
        assert "alert(9)" not in body and "msgbox" not in body and "evil.example" not in body, url
    page = client.get("/papers/2507.00002").content.decode()
    assert f'href="{SAFE_URL}"' in page
    assert f'href="{SAFE_URL}"' in client.get("/papers/date/2025-07-21").content.decode()


def test_hostile_links_stay_out_of_the_markdown_twin_and_the_api(client, hostile):
    for pid in ["2507.00001", *hostile]:
        markdown = client.get(f"/papers/{pid}.md").content.decode()
        assert "alert(9)" not in markdown and "evil.example" not in markdown and "msgbox" not in markdown, pid
        data = client.get(f"/api/papers/{pid}").json()
        for key in ("githubRepo", "projectPage"):
            assert key not in data, (pid, key)
        if "organization" in data:
            assert data["organization"]["avatar"] == ""
        assert data.get("submittedOnDailyBy", {}).get("avatarUrl", "") == ""
    items = client.get("/api/daily_papers?date=2025-07-21&limit=100").json()
    text = json.dumps(items)
    assert "alert(9)" not in text and "evil.example" not in text
    assert f"- Code: {SAFE_URL}" in client.get("/papers/2507.00002.md").content.decode()
    assert client.get("/api/papers/2507.00002").json()["githubRepo"] == SAFE_URL


def test_a_good_avatar_is_kept_in_the_api_but_never_loaded_by_a_page(client, tmp_path):
    avatar = "https://cdn-uploads.huggingface.co/production/uploads/x/logo.png"
    item = {
        "paper": {
            "id": "2507.00100",
            "title": "With an avatar",
            "summary": "An abstract.",
            "authors": [{"name": "Ada"}],
            "publishedAt": "2025-07-21T10:00:00.000Z",
            "organization": {"_id": "o1", "name": "nvidia", "fullname": "NVIDIA", "avatar": avatar},
        },
        "publishedAt": "2025-07-21T10:00:00.000Z",
        "title": "With an avatar",
    }
    (tmp_path / "hf.json").write_text(json.dumps([item]))
    import_files([tmp_path / "hf.json"], progress=False)
    assert client.get("/api/papers/2507.00100").json()["organization"]["avatar"] == avatar
    for url in ("/orgs/nvidia", "/orgs", "/papers/2507.00100", "/"):
        body = client.get(url).content.decode()
        assert "huggingface.co" not in body, url
        assert "NVIDIA" in body


CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def test_every_response_carries_the_content_security_policy(client, hostile, alice, django_user_model):
    urls = [*main_pages(hostile), "/api/daily_papers", "/papers/feed.atom", "/nowhere", "/papers/2507.00001.md"]
    for url in urls:
        response = client.get(url)
        assert response["Content-Security-Policy"] == CSP, url
    # Cached anonymous pages carry it too (the header is added after the page cache).
    assert client.get("/papers/2507.00002")["X-Cache"] == "hit"
    assert client.get("/papers/2507.00002")["Content-Security-Policy"] == CSP


def assert_self_contained(body: str, where: str) -> None:
    """No inline script, style or event handler; every resource from the site itself."""
    for tag, attrs in Tags(body).tags:
        assert tag != "style", where
        if tag == "script":
            assert attrs.get("src"), (where, "inline script")
        assert "style" not in attrs, (where, tag, attrs)
        assert not [a for a in attrs if a.startswith("on")], (where, tag, attrs)
        for name in ("src", "srcset", "poster", "data") + (("href",) if tag == "link" else ()):
            if name in attrs:
                parts = urlsplit(attrs[name])
                assert not parts.scheme and not parts.netloc and attrs[name].startswith("/"), (where, tag, attrs)


def test_pages_hold_no_inline_script_or_style_and_load_nothing_from_elsewhere(client, hostile, django_user_model):
    for url in main_pages(hostile):
        response = client.get(url)
        assert response.status_code == (302 if url == "/submit" else 200), url
        assert_self_contained(response.content.decode(), url)
    Subscriber.objects.create(email="reader@example.org", state=Subscriber.CONFIRMED, topics="hostile")
    admin = django_user_model.objects.create_superuser("root", "root@example.org", "a long pass phrase 42")
    client.force_login(admin)
    for url in [
        "/",
        "/papers/2507.00001",
        "/submit",
        "/accounts/settings",
        "/digest/preview?email=reader@example.org&date=2025-07-21",
        "/admin/",
        "/admin/papers/paper/",
        "/admin/papers/paper/2507.00001/change/",
        "/admin/papers/organization/",
        f"/admin/papers/organization/{Organization.objects.get(name='evil0').pk}/change/",
        "/admin/auth/user/",
    ]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert_self_contained(response.content.decode(), url)
    preview = client.get("/digest/preview?email=reader@example.org&date=2025-07-21").content.decode()
    assert "Hostile code links" in preview
