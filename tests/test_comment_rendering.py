"""A comment's text is never trusted: whatever Markdown or HTML it holds, the HTML made of it
(paperwire/discussions/rendering.py) holds only the allowed tags and attributes, no script, no
event handler, links only to http(s) URLs with rel="nofollow ugc", and is bounded in size. The
property tests parse the output, as a browser would, rather than look for strings in it."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paperwire.discussions import rendering
from paperwire.discussions.rendering import MAX_BODY_CHARS, render
from paperwire.papers import latex
from paperwire.papers.links import web_url

ALLOWED = {tag: rendering.ATTRIBUTES.get(tag, set()) for tag in rendering.TAGS}
ALLOWED["a"] = ALLOWED["a"] | {"rel"}
ALLOWED["span"] = {"class"}
VOID = {"br", "hr"}


class Page(HTMLParser):
    """Every element, attribute and text of an HTML fragment, read as a browser reads it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.open: list[str] = []
        self.oddities: list[str] = []
        self.maths_children: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if self.open and self.open[-1] == "span":
            self.maths_children.append(tag)
        self.elements.append((tag, dict(attrs)))
        if tag not in VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if not self.open or self.open[-1] != tag:
            self.oddities.append(f"</{tag}> closes {self.open[-1:]}")
        else:
            self.open.pop()

    def handle_data(self, data):
        self.text.append(data)

    def handle_comment(self, data):
        self.oddities.append(f"comment {data!r}")

    def handle_decl(self, decl):
        self.oddities.append(f"declaration {decl!r}")

    def handle_pi(self, data):
        self.oddities.append(f"processing instruction {data!r}")

    def unknown_decl(self, data):
        self.oddities.append(f"unknown declaration {data!r}")


def problems(html: str) -> list[str]:
    """What makes ``html`` unsafe or malformed, in words (nothing when it is safe)."""
    page = Page()
    page.feed(html)
    page.close()
    found = list(page.oddities)
    if page.open:
        found.append(f"unclosed {page.open}")
    found += [f"element inside a formula: {tag}" for tag in page.maths_children]
    for tag, attrs in page.elements:
        if tag not in ALLOWED:
            found.append(f"<{tag}>")
            continue
        for name, value in attrs.items():
            if name.startswith("on") or name not in ALLOWED[tag]:
                found.append(f"<{tag} {name}={value!r}>")
        if tag == "a":
            href = attrs.get("href") or ""
            if urlsplit(href).scheme.lower() not in ("http", "https") or web_url(href) != href:
                found.append(f"href {href!r}")
            if attrs.get("rel") != "nofollow ugc":
                found.append(f"rel {attrs.get('rel')!r}")
        if tag == "span" and attrs.get("class") not in ("maths", "maths display"):
            found.append(f"span class {attrs.get('class')!r}")
    return found


def bounded(source: str, html: str) -> bool:
    """The HTML of a text is at most a dozen times its size (its first MAX_BODY_CHARS characters)."""
    return len(html) <= 12 * min(len(source), MAX_BODY_CHARS) + 100


HOSTILE = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "<svg/onload=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "<iframe src=https://evil.example>",
    "<style>body{display:none}</style>",
    '<div style="position:fixed">',
    "<!-- comment -->",
    "<![CDATA[x]]>",
    "<?php ?>",
    "<!DOCTYPE html>",
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](java\tscript:alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[x](vbscript:msgbox(1))",
    "[x](//evil.example)",
    "[x](/relative)",
    '[x](https://ok.example/a?b=1&c=2 "title onmouseover=alert(1)")',
    "[x][ref]\n\n[ref]: javascript:alert(1)",
    "![x](javascript:alert(1))",
    "![x](https://evil.example/track.png)",
    "<javascript:alert(1)>",
    "<https://ok.example/path>",
    "<mailto:a@example.org>",
    "https://bare.example",
    "$x^2$",
    "$$\\sum_{i=1}^n x_i$$",
    "\\(a < b\\)",
    "\\[\\frac{1}{2}\\]",
    "$\\href{javascript:alert(1)}{x}$",
    "$\\href{https://ok.example}{code}$",
    "$\\url{data:text/html,x}$",
    "$<script>$",
    "$a$b$c$",
    "$$ $ $$",
    "\\$5 and $10",
    "$\\textbf{a b}$",
    "`$x$`",
    "```\n<script>\n```",
    "    indented <b>code</b>",
    "**",
    "__",
    "~~",
    "*",
    "_",
    "[",
    "]",
    "(",
    ")",
    "!",
    ">",
    "- ",
    "1. ",
    "# ",
    "---",
    "|",
    "\\",
    "&",
    "&#0;",
    "&#x110000;",
    '"',
    "'",
    "<",
    "\n",
    "\n\n",
    "  \n",
    "\x00",
    "\ud800",
    "\udfff",
    "\u202e",
    "\u2066",
    "\ufeff",
    "مرحبا بالعالم",
    "שלום",
    "\u0301",
    "😀",
]
PIECES = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=20))
BODIES = st.lists(PIECES, max_size=40).map("".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(BODIES)
def test_hostile_text_renders_to_safe_bounded_html(body):
    html = render(body)
    assert problems(html) == [], (body, html)
    assert bounded(body, html), (len(body), len(html))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(HOSTILE), min_size=1, max_size=6).map("".join), st.integers(1, 4))
def test_long_runs_of_hostile_text_render_to_safe_bounded_html(piece, nesting):
    """Bodies of 100 kB made of one hostile piece again and again, or of nested lists and quotes."""
    prefix = ["", "> ", "- ", "  - "][nesting - 1]
    body = (prefix + piece) * (100_000 // (len(prefix) + len(piece)) + 1)
    html = render(body)
    assert problems(html) == [], (piece, html[:500])
    assert bounded(body, html), (len(body), len(html))


PATHOLOGICAL = {
    "stars": "*" * 100_000,
    "emphasis": "*a" * 50_000,
    "underscores": "_*" * 50_000,
    "brackets": "[" * 100_000,
    "images": "![" * 50_000,
    "links": "[a](" * 25_000,
    "lesser than": "<" * 100_000,
    "quotes": ">" * 100_000,
    "nested quotes": "".join(">" * n + " x\n" for n in range(400)),
    "nested lists": "".join("  " * n + "- x\n" for n in range(300)),
    "dollars": "$" * 100_000,
    "open formulas": "\\(" * 50_000,
    "open displays": "\\[" * 50_000,
    "formulas": "$a$ " * 25_000,
    "table": "|a" * 1000 + "\n" + "|-" * 1000 + "\n" + "|\n" * 49_000,
    "backticks": "`a" * 50_000,
    "entities": "&#" * 50_000,
    "NUL": "\x00" * 100_000,
    "surrogates": "\ud800\udc00\udfff" * 33_000,
}


@pytest.mark.parametrize("name", PATHOLOGICAL)
def test_pathological_bodies_render_safe_and_bounded(name):
    html = render(PATHOLOGICAL[name])
    assert problems(html) == []
    assert bounded(PATHOLOGICAL[name], html), len(html)


def test_a_body_is_read_up_to_the_limit():
    """``render`` reads no further than a comment may be long (longer ones are refused when written)."""
    assert render("a" * MAX_BODY_CHARS + "*tail*") == "<p>" + "a" * MAX_BODY_CHARS + "</p>"


def test_formulas_are_marked_up_as_in_abstracts():
    for text in ["$x^2$", "$$\\sum_i x_i$$", "\\(a < b\\)", "\\[\\frac{1}{2}\\]", "0.95$\\pm$0.02"]:
        assert render(text) == latex.html_paragraphs(text), text
    # The maths of a formula stays maths: its * and _ are not emphasis, its \\ not an escape.
    assert render("$a_1 * b_2$ and $c_3 * d_4$") == (
        '<p><span class="maths">$a_1 * b_2$</span> and <span class="maths">$c_3 * d_4$</span></p>'
    )
    assert render("$$\\\\ x$$") == '<p><span class="maths display">$$\\\\ x$$</span></p>'
    # Prices are not maths, as in abstracts; an escaped dollar is a dollar.
    assert render("$5 and $10") == "<p>$5 and $10</p>"
    assert render("\\$x$ costs") == "<p>$x$ costs</p>"
    # Inside code, nothing is maths.
    assert render("`$x$`") == "<p><code>$x$</code></p>"
    # Lost backslashes show as written, as in abstracts.
    assert render("$textbf{a} le b$") == "<p>$textbf{a} le b$</p>"


def test_markdown_is_rendered_and_html_is_text():
    assert render("Hello *world*, **bold** ~~gone~~ `code`") == (
        "<p>Hello <em>world</em>, <strong>bold</strong> <s>gone</s> <code>code</code></p>"
    )
    assert render("line one\nline two") == "<p>line one<br>\nline two</p>"
    assert render("# Title\n## Sub") == "<h3>Title</h3>\n<h4>Sub</h4>"
    assert render("<b onmouseover=alert(1)>x</b>") == "<p>&lt;b onmouseover=alert(1)&gt;x&lt;/b&gt;</p>"
    assert render("> quoted\n\n- one\n- two") == (
        "<blockquote>\n<p>quoted</p>\n</blockquote>\n<ul>\n<li>one</li>\n<li>two</li>\n</ul>"
    )


def test_links_are_http_only_and_marked_nofollow_ugc():
    assert render("[paper](https://arxiv.org/abs/2410.10819)") == (
        '<p><a href="https://arxiv.org/abs/2410.10819" rel="nofollow ugc">paper</a></p>'
    )
    assert render("<https://example.org>") == (
        '<p><a href="https://example.org" rel="nofollow ugc">https://example.org</a></p>'
    )
    for target in ["javascript:alert(1)", "data:text/html,x", "/papers/1", "//evil.example", "vbscript:x"]:
        assert "<a" not in render(f"[x]({target})"), target
    # An image is a link to it, never loaded.
    assert render("![a chart](https://example.org/c.png)") == (
        '<p><a href="https://example.org/c.png" rel="nofollow ugc">a chart</a></p>'
    )


@pytest.mark.parametrize(
    "body",
    [
        "<https://example.org/\u202ecod.exe>",  # an autolink shows its URL decoded: .../exe.doc
        "<https://example.org/%E2%80%AEcod.exe>",
        "[x](https://example.org/%e2%80%aecod.exe)",
        "<https://example.org/a\u200bb>",  # zero-width space
        "<https://example.org/%E2%81%A7x>",  # first strong isolate
    ],
)
def test_a_link_whose_address_holds_invisible_or_direction_characters_is_text(body):
    """markdown-it percent-encodes a link's address before the link filter sees it, and shows an
    autolink's address decoded: "<https://example.org/\u202ecod.exe>" was a link that read
    "https://example.org/exe.doc". The filter reads the address decoded too."""
    html = render(body)
    assert "<a" not in html, html
    assert not problems(html)


def test_nul_and_lone_surrogates_become_replacement_characters():
    assert render("a\x00b\ud800c") == "<p>a\ufffdb\ufffdc</p>"


@pytest.mark.parametrize(
    "html",
    [
        "<script>alert(1)</script>",
        '<p onclick="alert(1)">x</p>',
        '<a href="javascript:alert(1)" rel="nofollow ugc">x</a>',
        '<a href="https://ok.example">no rel</a>',
        '<a href=" https://ok.example" rel="nofollow ugc">spaces</a>',
        '<span class="maths"><b>x</b></span>',
        '<span class="evil">x</span>',
        "<img src=x>",
        "<p>unclosed",
        "<!-- x -->",
    ],
)
def test_the_checker_sees_unsafe_html(html):
    assert problems(html)
