"""A comment's text as HTML: Markdown (markdown-it-py: CommonMark with strikethrough, raw HTML
off), LaTeX formulas found and marked up as in abstracts (paperwire/papers/latex.py; the browser
renders them with KaTeX), then everything sanitised by nh3 (ammonia) with an allow-list.

A comment's text is never trusted; nothing written here sanitises HTML by hand:

- markdown-it-py escapes every character of the text it does not turn into markup, and with
  ``html`` off it makes no tag from the text;
- links and autolinks are links only when their target passes the project's one link filter
  (``papers.links.web_url``: an absolute http(s) URL); images are not loaded (the page loads
  nothing from other sites): ``![text](url)`` is a link to the image;
- nh3 then keeps only the tags and attributes listed below, classes only ``maths`` and
  ``display`` on ``span``, hrefs only through ``web_url`` again, and gives every link
  ``rel="nofollow ugc"``.

Headings start at ``<h3>`` (``#`` is h3): the page's own h1 and h2 stay above them. Tables are
off: markdown-it fills every row to the header's width, so a 10 kB table could make 700 kB of
HTML in seconds.

The work is bounded: a body is at most ``MAX_BODY_CHARS`` characters (longer ones are refused
when written, and ``render`` itself reads no more), block nesting (lists, quotes) at most
``MAX_NESTING`` deep, the formula finder never scans for a closing delimiter that does not come.
``bench/comment_page.py --render`` prints the slowest of the hostile bodies it knows.

``VERSION`` names this renderer and the two libraries it uses: a comment's HTML, cached in its
row, is made again when it differs (``Comment.rendered``).
"""

from __future__ import annotations

import re

import markdown_it
import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.rules_inline import StateInline

from paperwire.papers import latex
from paperwire.papers.links import web_url

# The longest comment, in characters (docs/community.md). Pathological Markdown ("![" repeated)
# costs markdown-it time that grows with the square of a paragraph's length: at this size the
# slowest body known renders in about half a second, once, when it is written.
MAX_BODY_CHARS = 10_000
MAX_NESTING = 20  # markdown-it's nesting limit: deeper lists and quotes are text
RULES = 2  # raised whenever what this module makes of a text changes
VERSION = f"{RULES}/{markdown_it.__version__}/{nh3.__version__}"

TAGS = {
    "p",
    "br",
    "hr",
    "em",
    "strong",
    "s",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "h3",
    "h4",
    "h5",
    "h6",
    "span",
}
ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
CLASSES = {"span": {"maths", "display"}}
LINK_REL = "nofollow ugc"
SURROGATE = re.compile(r"[\ud800-\udfff]")
HEADING_SHIFT = 2  # "#" is h3


def _maths(state: StateInline, silent: bool) -> bool:
    """An inline rule: a formula opening at this point ($...$, $$...$$, \\(...\\), \\[...\\]),
    found by the abstracts' finder. Before markdown-it's escapes and emphasis, so that ``\\(``
    and the ``_`` and ``*`` of maths stay maths."""
    src, at = state.src, state.pos
    char = src[at]
    if char == "\\":
        if not src.startswith(("\\(", "\\["), at):
            return False
        closer = "\\)" if src[at + 1] == "(" else "\\]"
    elif char == "$":
        closer = "$$" if src.startswith("$$", at) else "$"
    else:
        return False
    # Where each closing delimiter last occurs in this inline text, found once: an opening one
    # after it looks no further (a hundred "\\(" without a "\\)" would each scan to the end).
    last = state.env.setdefault("maths_last", {})
    if last.get("src") is not src:
        last.clear()
        last["src"] = src
    if closer not in last:
        last[closer] = src.rfind(closer)
    if last[closer] <= at:
        return False
    segment = latex.formula_at(src, at)
    if segment is None or at + len(segment.raw) > state.posMax:
        return False
    if not silent:
        token = state.push("maths", "", 0)
        token.meta = {"segment": segment}
    state.pos = at + len(segment.raw)
    return True


def _render_maths(renderer, tokens, index, options, env) -> str:
    return latex.segment_html(tokens[index].meta["segment"], display=True)


def _render_image(renderer, tokens, index, options, env) -> str:
    """An image as a link to it, named by its text: pages load nothing from other sites."""
    token = tokens[index]
    url = token.attrGet("src") or ""
    text = renderer.renderInlineAsText(token.children or [], options, env)
    return f'<a href="{escapeHtml(url)}">{escapeHtml(text or url)}</a>'


def _link_target(url: str) -> bool:
    return bool(web_url(url))


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "breaks": True, "linkify": False, "maxNesting": MAX_NESTING})
    md.enable("strikethrough")
    md.validateLink = _link_target
    md.inline.ruler.before("escape", "maths", _maths)
    md.add_render_rule("maths", _render_maths)
    md.add_render_rule("image", _render_image)
    return md


def _attribute(tag: str, attribute: str, value: str) -> str | None:
    if attribute == "href":
        return web_url(value) or None
    return value


PARSER = _parser()
CLEANER = nh3.Cleaner(
    tags=TAGS,
    attributes=ATTRIBUTES,
    allowed_classes=CLASSES,
    link_rel=LINK_REL,
    url_schemes={"http", "https"},
    url_relative="deny",
    attribute_filter=_attribute,
    strip_comments=True,
)


def clean_text(text: str) -> str:
    """``text`` as it can be stored and parsed: line ends as "\\n", a lone surrogate (which no
    browser sends, but Python strings can hold) as U+FFFD."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return SURROGATE.sub("\ufffd", text)


def render(text: str) -> str:
    """The HTML of a comment's text: safe to put in a page as it is."""
    text = clean_text(text[:MAX_BODY_CHARS])
    tokens = PARSER.parse(text, {})
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + HEADING_SHIFT, 6)}"
    return CLEANER.clean(PARSER.renderer.render(tokens, PARSER.options, {})).strip()
