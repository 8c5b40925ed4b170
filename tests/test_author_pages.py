"""Author pages (/authors/<slug>) and the author links of paper pages and cards: what a reader
sees, in a number of queries that does not grow with the papers shown."""

from __future__ import annotations

import re
import urllib.parse

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from paperwire.ingest.importer import import_files
from paperwire.papers.models import Paper
from tests.conftest import paper, write_jsonl
from tests.test_upgrade import paper_order, visible_text

pytestmark = pytest.mark.django_db

DAY = "2025-03-10"
PAPERS = [
    paper("2503.00001", "Deep learning", authors=["Yann LeCun", "Yoshua Bengio", "Geoffrey Hinton"], upvotes=30,
          published=DAY, organization="Meta AI"),
    paper("2503.00002", "Convolutional nets", authors=["Y. LeCun", "Léon Bottou", "Yoshua Bengio"], upvotes=20,
          published=DAY, organization="Meta AI"),
    paper("2503.00003", "Energy-based models", authors=["YANN LECUN", "Sumit Chopra", "Yoshua Bengio"], upvotes=10,
          published=DAY, organization="NYU"),
    paper("2503.00004", "A hidden paper", authors=["Yann LeCun", "Spam Author"], upvotes=50, published=DAY),
    paper("2503.00005", "Right to left", authors=["محمد علي", "Yann LeCun"], upvotes=5, published=DAY),
]  # fmt: skip


@pytest.fixture
def corpus(tmp_path):
    import_files([write_jsonl(tmp_path / "p.jsonl", PAPERS)], progress=False)
    Paper.objects.filter(pk="2503.00004").update(hidden=True)


def text_of(response) -> str:
    return visible_text(response.content)


def test_an_author_page_shows_their_papers_ranked_co_authors_and_organizations(client, corpus):
    response = client.get("/authors/yann-lecun")
    assert response.status_code == 200
    body = response.content.decode()
    text = text_of(response)
    assert re.search(r"<h1><bdi>Yann LeCun</bdi></h1>", body)
    assert "4 papers on this site, most upvoted first · also written Y. LeCun" in text
    # The papers of every spelling ("YANN LECUN", and "Y. LeCun" whom nothing contradicts), by
    # upvotes; not the hidden one.
    ids = [p["id"] for p in PAPERS]
    assert paper_order(body, ids) == ["2503.00001", "2503.00002", "2503.00003", "2503.00005"]
    assert "A hidden paper" not in text and "Spam Author" not in text
    # Co-authors by shared papers, linked; organizations likewise.
    coauthors = re.findall(r'<li><a href="(/authors/[^"]+)"><bdi>([^<]+)</bdi></a>[^<]*<span class="count">(\d+)', body)
    assert coauthors[0] == ("/authors/yoshua-bengio", "Yoshua Bengio", "3")
    assert {name for _, name, _ in coauthors} == {
        "Yoshua Bengio",
        "Geoffrey Hinton",
        "Léon Bottou",
        "Sumit Chopra",
        "محمد علي",
    }
    assert "Co-authors" in text and "Organizations Meta AI 2 papers NYU 1 paper" in text
    # The cards name the authors, each a link to their page.
    assert '<a class="author" href="/authors/leon-bottou"><bdi>Léon Bottou</bdi></a>' in body


def test_an_abbreviation_leads_to_its_full_name_and_unknown_authors_are_not_found(client, corpus):
    response = client.get("/authors/y-lecun")
    assert response.status_code == 302 and response["Location"] == "/authors/yann-lecun"
    response = client.get("/authors/Yann-LeCun")  # slugs are lower case
    assert response.status_code == 301 and response["Location"] == "/authors/yann-lecun"
    response = client.get("/authors/nobody-at-all")
    assert response.status_code == 404 and "There is no author at this address." in text_of(response)
    assert client.get("/authors/Nobody-At-All").status_code == 404
    response = client.get("/authors/spam-author")  # their only paper is hidden
    assert response.status_code == 404 and "No paper on this site lists this author." in text_of(response)
    assert "Spam Author" not in text_of(response)


def test_an_author_page_in_another_script(client, corpus):
    path = "/authors/" + urllib.parse.quote("محمد-علي")
    response = client.get(path)
    assert response.status_code == 200
    assert "محمد علي" in text_of(response) and "Right to left" in text_of(response)
    assert f'href="{path}"' in client.get("/papers/2503.00005").content.decode()


def test_paper_pages_and_cards_link_every_name(client, corpus):
    body = client.get("/papers/2503.00002").content.decode()
    assert (
        '<p class="authors" id="authors"><a class="author" href="/authors/yann-lecun"><bdi>Y. LeCun</bdi></a>, ' in body
    )
    # Anonymous readers are told how to claim, without a form (the page stays cacheable).
    assert "An author of this paper? Log in to claim your name." in visible_text(body)
    assert "csrfmiddlewaretoken" not in body
    for path in (f"/papers/date/{DAY}", "/papers/trending", "/orgs/meta-ai", "/search?q=convolutional"):
        body = client.get(path).content.decode()
        assert '<a class="author" href="/authors/leon-bottou"><bdi>Léon Bottou</bdi></a>' in body, path


def test_a_card_of_many_authors_says_how_many(client, tmp_path):
    names = [f"Author Number{n}" for n in range(12)]
    import_files([write_jsonl(tmp_path / "p.jsonl", [paper("2503.00009", "Big", authors=names, published=DAY)])])
    body = client.get(f"/papers/date/{DAY}").content.decode()
    assert '<span class="authors" title="' + ", ".join(names) + '">12 authors</span>' in body
    body = client.get("/papers/2503.00009").content.decode()
    assert body.count('<a class="author" href="/authors/author-number') == 12


def test_pages_ask_the_same_number_of_queries_for_few_or_many_papers(client, tmp_path):
    """One query for the names of every card (and of a paper page), not one a paper."""

    def queries(path: str) -> int:
        with CaptureQueriesContext(connection) as context:
            assert client.get(path).status_code == 200
        return len(context)

    def corpus(n: int, folder):
        folder.mkdir()
        records = [
            paper(f"2504.{i:05d}", f"Paper {i}", authors=["Ada Lovelace", f"Other Author{i}", "Charles Babbage"],
                  published="2025-04-01", upvotes=i, organization=f"Lab {i % 3}")
            for i in range(n)
        ]  # fmt: skip
        import_files([write_jsonl(folder / "p.jsonl", records)], progress=False)

    corpus(3, tmp_path / "few")
    few = {path: queries(path) for path in ("/authors/ada-lovelace", "/papers/date/2025-04-01", "/papers/2504.00001")}
    corpus(45, tmp_path / "many")
    many = {path: queries(path) for path in few}
    assert many == few
