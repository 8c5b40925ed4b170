"""The LaTeX in titles and abstracts: formulas (``$...$``, ``$$...$$``, ``\\(...\\)``, ``\\[...\\]``)
and links (``\\href{url}{text}``, ``\\url{url}``).

Pages mark each formula up for the browser, which renders it with KaTeX
(paperwire/static/paperwire/maths.js), and show a link as a link (through the one link check,
paperwire/papers/links.py). The server finds them, so that shortening a text for a card or a
search snippet never cuts one in half nor puts a <mark> inside one. The API, feeds, mail and
the markdown twin keep the raw text.

A dollar sign opens a formula as pandoc reads it, so that prices stay prices: the opening
``$`` has a non-space character right after it, the next unescaped ``$`` closes it, and that
one has a non-space character right before it ("$5 and $10" is text). A formula that starts
with a digit looks like a price, so it must look like maths too: it is text when its closing
``$`` is followed by a digit ("$5-$10"; while "0.95$\\pm$0.02", as arXiv abstracts write it,
holds a formula), or when it holds ``\\$`` or a lower-case word between spaces ("$10 or $20 per
run, at 0.95$"). ``\\$`` is a dollar sign. No formula crosses a blank line (a paragraph break on
the page). A delimiter without its partner is text.
"""

from __future__ import annotations

import re
from itertools import islice
from typing import NamedTuple

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from paperwire.papers.links import web_url

ELLIPSIS = "…"
DIGITS = tuple("0123456789")
PARAGRAPH_BREAK = re.compile(r"\n{2,}")
# A lower-case word between spaces ("or", "per"): prose, which a formula that opens with a digit
# ("$0.93 \pm 0.05$") does not hold, while "$10 or $20 per run at 0.95$" does.
PROSE_WORD = re.compile(r"(?<!\S)[a-z]{2,}[,.;:]?(?!\S)")
LINK_COMMAND = re.compile(r"\\(href|url)\s*\{")
# One level of these around a link's text is dropped: \href{...}{\texttt{github.com/x}}.
TEXT_WRAPPERS = re.compile(r"^\\(?:text\w*|emph|mathrm|mathtt|url|underline)\s*\{(.*)\}$", re.DOTALL)
COLOUR_WRAPPER = re.compile(r"^\\(?:textcolor|color)\s*\{[^{}]*\}\s*\{(.*)\}$", re.DOTALL)

LATEX_ESCAPE = re.compile(r"\\([_%#&~$])")  # "\_" in a URL is "_"

CLOSERS = {closer: re.compile(re.escape(closer) + r"|\\.", re.DOTALL) for closer in ("$", "$$", "\\)", "\\]")}
CANDIDATE = re.compile(r"[$\\]")
WORD_RUN = re.compile(r"\S+")
SPACE = re.compile(r"\s")

TEXT, MATHS, LINK = "text", "maths", "link"


class Segment(NamedTuple):
    raw: str  # the characters of the source text this segment covers
    kind: str = TEXT
    tex: str = ""  # a formula's TeX, inside its delimiters
    display: bool = False  # a formula set on a line of its own
    url: str = ""  # a link's target (already through web_url) and text
    label: str = ""

    @property
    def is_text(self) -> bool:
        return self.kind == TEXT


def _blank_line(text: str, start: int, end: int) -> bool:
    """A paragraph break (a newline, optional spaces, a newline) inside text[start:end]."""
    at = text.find("\n", start, end)
    while at != -1:
        after = at + 1
        while after < end and text[after] in " \t\r":
            after += 1
        if after < end and text[after] == "\n":
            return True
        at = text.find("\n", at + 1, end)
    return False


def _closing(text: str, start: int, closer: str) -> int:
    """Where the first unescaped ``closer`` at or after ``start`` begins, or -1.

    A backslash escapes the character after it, so ``\\$`` inside ``$...$`` does not close it."""
    for match in CLOSERS[closer].finditer(text, start):
        if match.group() == closer:
            return match.start()
    return -1


def _formula(text: str, at: int) -> tuple[int, str, bool] | None:
    """The formula opening at ``at``: (its end, its TeX, display?), or None."""
    if text.startswith(("\\(", "\\["), at):
        closer = "\\)" if text[at + 1] == "(" else "\\]"
        end = _closing(text, at + 2, closer)
        if end == -1 or not text[at + 2 : end].strip() or _blank_line(text, at, end):
            return None
        return end + 2, text[at + 2 : end], closer == "\\]"
    if text.startswith("$$", at):
        end = _closing(text, at + 2, "$$")
        if end == -1 or not text[at + 2 : end].strip() or _blank_line(text, at, end):
            return None
        return end + 2, text[at + 2 : end], True
    if at + 1 >= len(text) or text[at + 1].isspace():
        return None
    end = _closing(text, at + 1, "$")
    if end == -1 or text[end - 1].isspace() or _blank_line(text, at, end):
        return None
    tex = text[at + 1 : end]
    if tex[0] in DIGITS and (text[end + 1 : end + 2] in DIGITS or "\\$" in tex or PROSE_WORD.search(tex)):
        return None  # prices: "$5-$10", "$10, or \$20 per run, at 0.95$"
    return end + 1, tex, False


def _group(text: str, at: int) -> int:
    """Where the brace group opening at ``text[at] == "{"`` ends (after its "}"), or -1."""
    depth = 0
    while at < len(text):
        char = text[at]
        if char == "\\":
            at += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return at + 1
        at += 1
    return -1


def _link(text: str, at: int) -> tuple[int, str, str] | None:
    """The ``\\href{url}{text}`` or ``\\url{url}`` at ``at``: (its end, URL, label), or None when
    it is not whole, its URL is not a plain http(s) one, or its label is not plain text."""
    match = LINK_COMMAND.match(text, at)
    if not match:
        return None
    url_end = _group(text, match.end() - 1)
    if url_end == -1:
        return None
    url = LATEX_ESCAPE.sub(r"\1", text[match.end() : url_end - 1].strip())
    url = "" if "\\" in url else web_url(url)
    if not url:
        return None
    if match.group(1) == "url":
        return url_end, url, url
    label_at = url_end
    while label_at < len(text) and text[label_at] in " \t":
        label_at += 1
    if not text.startswith("{", label_at):
        return None
    end = _group(text, label_at)
    if end == -1:
        return None
    label = text[label_at + 1 : end - 1].strip()
    for wrapper in (COLOUR_WRAPPER, TEXT_WRAPPERS, TEXT_WRAPPERS):
        unwrapped = wrapper.match(label)
        label = unwrapped.group(1).strip() if unwrapped else label
    label = " ".join(label.replace("~", " ").split())
    if not label or any(char in label for char in "\\{}$^"):
        label = url
    return end, url, label


def split(text: str) -> list[Segment]:
    """``text`` as text, formula and link segments; their ``raw`` put together is ``text``."""
    segments: list[Segment] = []
    plain_from = at = 0
    while True:
        candidate = CANDIDATE.search(text, at)
        if not candidate:
            break
        at = candidate.start()
        char = text[at]
        segment = None
        if char == "\\" and text.startswith(("\\href", "\\url"), at):
            link = _link(text, at)
            if link:
                end, url, label = link
                segment = Segment(text[at:end], LINK, url=url, label=label)
        elif char == "$" or text.startswith(("\\(", "\\["), at):
            formula = _formula(text, at)
            if formula:
                end, tex, display = formula
                link = _link(tex.strip(), 0)  # "$\href{https://...}{code}$": a link, written in maths
                if link and link[0] == len(tex.strip()):
                    segment = Segment(text[at:end], LINK, url=link[1], label=link[2])
                else:
                    segment = Segment(text[at:end], MATHS, tex=tex, display=display)
        if segment is None:
            # An escaped character (\$ among them) is text; so is a delimiter without its partner.
            at += 2 if char == "\\" or text.startswith("$$", at) else 1
            continue
        if plain_from < at:
            segments.append(Segment(text[plain_from:at]))
        segments.append(segment)
        plain_from = at = at + len(segment.raw)
    if plain_from < len(text):
        segments.append(Segment(text[plain_from:]))
    return segments


def has_latex(text: str) -> bool:
    if "$" not in text and "\\" not in text:
        return False
    return any(not segment.is_text for segment in split(text))


def located(text: str) -> list[tuple[int, Segment]]:
    """Every formula and link in ``text`` with where it starts: what may not be cut nor marked."""
    found, at = [], 0
    for segment in split(text):
        if not segment.is_text:
            found.append((at, segment))
        at += len(segment.raw)
    return found


def truncate_words(text: str, count: int) -> str:
    """Django's ``truncatewords`` (the first ``count`` words, spaces collapsed, " …" when
    shortened), a formula or link and the text it touches one word however many spaces it
    holds, so that none is cut in half."""
    if count <= 0:
        return ""
    # Words are runs of non-space characters, a formula or link one run whatever spaces it holds.
    pieces, at = [], 0
    for start, segment in located(text):
        pieces += [text[at:start], SPACE.sub("x", segment.raw)]
        at = start + len(segment.raw)
    masked = "".join(pieces) + text[at:] if pieces else text
    words = [text[m.start() : m.end()] for m in islice(WORD_RUN.finditer(masked), count + 1)]
    if len(words) <= count:
        return " ".join(words)
    return " ".join(words[:count]) + " " + ELLIPSIS


def text_html(text: str) -> str:
    """Text, escaped, with ``\\$`` shown as the dollar sign it stands for."""
    return escape(text.replace("\\$", "$"))


def segment_html(segment: Segment, *, display: bool = False, links: bool = True) -> str:
    """One segment as a page shows it. A formula: its source in a ``span.maths`` that
    paperwire/maths.js renders (and that shows the source where scripts do not run), in a
    ``span.maths.display`` when ``display`` allows it a line of its own. A link: a link, or
    its text alone where the segment sits inside a link already (``links=False``)."""
    if segment.kind == MATHS:
        css = "maths display" if display and segment.display else "maths"
        return f'<span class="{css}">{escape(segment.raw)}</span>'
    if segment.kind == LINK:
        if not links:
            return escape(segment.label)
        return f'<a class="tex-link" href="{escape(segment.url)}" rel="nofollow noopener">{escape(segment.label)}</a>'
    return text_html(segment.raw)


def html(text: str, *, links: bool = True) -> SafeString:
    """``text`` escaped, its formulas marked up (set inline) and its links made links."""
    return mark_safe("".join(segment_html(s, links=links) for s in split(text)))


def html_paragraphs(text: str) -> SafeString:
    """Django's ``linebreaks`` (a paragraph per blank-line-separated block, ``<br>`` for a lone
    newline) with formulas marked up, displayed ones on a line of their own, and links."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    paragraphs = []
    for paragraph in PARAGRAPH_BREAK.split(text):
        parts = []
        for segment in split(paragraph):
            part = segment_html(segment, display=True)
            parts.append(part.replace("\n", "<br>") if segment.is_text else part)
        paragraphs.append(f"<p>{''.join(parts)}</p>")
    return mark_safe("\n\n".join(paragraphs))
