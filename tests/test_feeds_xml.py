"""RSS 2.0 and Atom 1.0 feeds: the elements their specifications require, and a real feed parser."""

import xml.etree.ElementTree as ET

import feedparser
import pytest

from paperwire.ingest.importer import import_files
from paperwire.papers.models import Paper
from paperwire.search.updating import update_indexes
from tests.conftest import paper, write_jsonl

pytestmark = pytest.mark.django_db
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def papers(tmp_path, settings):
    settings.BASE_URL = "https://papers.example.org"
    records = [
        paper(
            "2507.60001",
            "Attention sinks & <friends>",
            published="2025-07-21",
            upvotes=5,
            authors=["Ada Lovelace", "Alan Turing"],
            categories=["cs.CL"],
        ),
        paper("2507.60002", "Soil moisture from radar", published="2025-07-22", upvotes=1),
        paper("2507.60003", "Hidden paper", published="2025-07-22"),
    ]
    import_files([write_jsonl(tmp_path / "p.jsonl", records)], progress=False)
    Paper.objects.filter(pk="2507.60003").update(hidden=True)
    update_indexes()


def test_the_atom_feed_has_what_rfc_4287_requires(client, papers):
    response = client.get("/papers/feed.atom")
    assert response["Content-Type"].startswith("application/atom+xml")
    root = ET.fromstring(response.content)
    assert root.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated"):
        assert root.find(f"{ATOM}{required}").text
    assert root.find(f"{ATOM}link[@rel='self']").get("href") == "https://papers.example.org/papers/feed.atom"
    entries = root.findall(f"{ATOM}entry")
    assert [e.find(f"{ATOM}title").text for e in entries] == ["Soil moisture from radar", "Attention sinks & <friends>"]
    for entry in entries:
        for required in ("id", "title", "updated"):
            assert entry.find(f"{ATOM}{required}").text
        assert entry.find(f"{ATOM}link").get("href").startswith("https://papers.example.org/papers/")
        assert entry.find(f"{ATOM}author/{ATOM}name").text
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"


def test_the_rss_feed_has_what_rss_2_requires(client, papers):
    response = client.get("/papers/feed.rss")
    assert response["Content-Type"].startswith("application/rss+xml")
    root = ET.fromstring(response.content)
    assert root.tag == "rss" and root.get("version") == "2.0"
    channel = root.find("channel")
    for required in ("title", "link", "description"):
        assert channel.find(required).text
    items = channel.findall("item")
    assert len(items) == 2 and all(i.find("title").text and i.find("link").text and i.find("guid").text for i in items)
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo and parsed.version == "rss20"
    assert parsed.entries[1].title == "Attention sinks & <friends>"


def test_a_saved_search_as_atom(client, papers):
    response = client.get("/search/feed.atom", {"q": "attention sinks"})
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo
    assert parsed.feed.title == "Paperwire: papers matching “attention sinks”"
    assert parsed.entries[0].link == "https://papers.example.org/papers/2507.60001"
    assert "Hidden paper" not in response.content.decode()
    assert feedparser.parse(client.get("/search/feed.atom", {"q": '\x00"NEAR('}).content).bozo == 0


def test_pages_announce_the_feeds(client, papers):
    html = client.get("/").content.decode()
    assert 'type="application/atom+xml"' in html and 'href="/papers/feed.atom"' in html


def test_characters_xml_cannot_hold_are_left_out_of_every_feed(client, tmp_path):
    """A control character or U+FFFF in a title, an abstract, an author or a category (from an
    import, or an admin edit): every feed still answers well-formed XML (it was a 500, or for
    U+FFFF XML that no parser reads)."""
    record = paper(
        "2507.60009",
        "Ctrl \u0001 title \uffff end",
        published="2025-07-22",
        authors=["Ada \u0002 Lovelace"],
        categories=["cs.\u0003CL"],
    )
    import_files([write_jsonl(tmp_path / "c.jsonl", [record])], progress=False)
    Paper.objects.filter(pk="2507.60009").update(abstract="Ab \u0008 stract \ufffe.")
    update_indexes()
    for path in ("/papers/feed.rss", "/papers/feed.atom", "/search/feed.atom?q=ctrl"):
        response = client.get(path)
        assert response.status_code == 200, path
        ET.fromstring(response.content)  # well-formed
        parsed = feedparser.parse(response.content)
        assert parsed.bozo == 0, (path, parsed.bozo_exception)
        entry = next(e for e in parsed.entries if "2507.60009" in e.link)
        assert entry.title == "Ctrl  title  end", path
        assert "Ab  stract ." in entry.summary, path


def test_an_abstract_is_text_in_every_feed_never_markup(client, tmp_path):
    """A feed's summary (Atom type="html") and description (RSS) are HTML to readers: an abstract
    is plain text, so "<b>" in it is shown as written, not made bold (nor a script run)."""
    record = paper("2507.60010", "Markup", published="2025-07-22")
    import_files([write_jsonl(tmp_path / "m.jsonl", [record])], progress=False)
    Paper.objects.filter(pk="2507.60010").update(
        abstract="We show a <b>bold</b> claim & x<y <script>alert(1)</script>."
    )
    update_indexes()
    for path in ("/papers/feed.rss", "/papers/feed.atom", "/search/feed.atom?q=markup"):
        parsed = feedparser.parse(client.get(path).content)
        entry = next(e for e in parsed.entries if "2507.60010" in e.link)
        assert "&lt;b&gt;bold&lt;/b&gt; claim &amp; x&lt;y &lt;script&gt;" in entry.summary, (path, entry.summary)
        assert "<b>" not in entry.summary, path
