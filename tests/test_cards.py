"""Paper cards rendered in Python (paperwire/web/cards.py): whatever a paper holds, a card is the
same tags, its values are text (escaped), its links are the site's or http(s), and what a reader
sees is the paper's. Pages that show cards are tested in test_feeds, test_pages_odd_data and the
browser tests; here the card alone, against any value."""

import datetime as dt
from html import unescape

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from paperwire.papers.models import Organization, Paper
from paperwire.people.following import Reason
from paperwire.web.cards import Reader, card_html, names_html
from tests.test_page_security import Tags, link_scheme

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)


def structure(html: str) -> list[str]:
    return [tag for tag, _ in Tags(html).tags]


@hypothesis_settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    title=text,
    authors=st.lists(text, max_size=5),
    organization=text,
    reasons=st.lists(st.builds(Reason, text, st.just("/authors/ada-lovelace")), max_size=2),
    code=st.sampled_from(["https://github.com/a/b", "javascript:alert(1)", "data:text/html,x", ""]),
    stars=st.none() | st.integers(0, 10**12),
    comments=st.integers(0, 10**7),
    signed_in=st.booleans(),
)
def test_any_paper_makes_the_same_tags_and_shows_its_values_as_text(
    title, authors, organization, reasons, code, stars, comments, signed_in
):
    paper = Paper(
        id="2603.00001",
        title=title,
        abstract="An abstract.",
        authors=authors,
        published=dt.date(2026, 3, 2),
        code_urls=[code],
        github_stars=stars,
        num_comments=comments,
        upvotes=7,
    )
    paper.organization = Organization(name=organization or "Org", slug="org")
    paper.reasons = reasons
    reader = Reader(signed_in=signed_in, voted=frozenset({"2603.00001"}), csrf_token="t0k3n", path="/?q=<a>")
    html = card_html(paper, reader)
    tags = Tags(html)
    expected = (
        ["article", "form", "input", "input", "input", "button", "span", "span"]
        if signed_in
        else ["article", "a", "span", "span"]
    )
    assert [t for t, _ in tags.tags][: len(expected)] == expected
    # No tag came from a value: the card's tags are the ones its parts make.
    allowed = {"article", "form", "input", "button", "span", "div", "h3", "a", "p", "bdi", "time"}
    assert {t for t, _ in tags.tags} <= allowed | {"em", "strong", "code"}, tags.tags  # the last: LaTeX in a title
    spans = [attrs for tag, attrs in tags.tags if tag == "span" and attrs.get("class") == "authors"]
    assert spans[0]["title"] == ", ".join(authors)
    assert unescape(html).count(organization or "Org") >= 1
    for tag, attrs in tags.tags:
        for name in ("href", "action"):
            if name in attrs:
                assert attrs[name].startswith("/") or link_scheme(attrs[name]) in ("http", "https"), (tag, attrs)
    if signed_in:
        form = dict(tags.tags)["form"]
        assert "voted" in form["class"]
        inputs = {a["name"]: a["value"] for t, a in tags.tags if t == "input"}
        assert inputs == {"csrfmiddlewaretoken": "t0k3n", "next": "/?q=<a>", "action": "down"}
    else:
        vote = next(attrs for tag, attrs in tags.tags if tag == "a")
        assert vote["class"] == "vote" and vote["href"].endswith("?next=/%3Fq%3D%3Ca%3E")


@pytest.mark.parametrize("count", [0, 1, 3, 4, 40])
def test_a_card_names_three_authors_at_most(count):
    paper = Paper(id="x", authors=[f"Author <{n}>" for n in range(count)])
    shown = names_html(paper, 3)
    if count > 3:
        assert shown == f"{count} authors"
    else:
        assert [d for d in Tags(f"<p>{shown}</p>").data_in.get("bdi", [])] == [f"Author <{n}>" for n in range(count)]
