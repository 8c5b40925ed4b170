"""The LaTeX in titles and abstracts: formulas (``$...$``, ``$$...$$``, ``\\(...\\)``, ``\\[...\\]``),
links (``\\href{url}{text}``, ``\\url{url}``) and text-mode markup (``62.3\\%``, ``\\emph{...}``).

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

A formula without a single backslash but with a bare command name (``$textbf{x} le y$``: Hugging
Face's summaries lost their backslashes) is shown as written, as text: KaTeX would run its words
together in italics (``lost_backslashes``).

Outside formulas, LaTeX's escaped characters (``\\% \\& \\# \\_ \\$ \\{ \\}``) show as themselves and
the common text-mode commands as what they mean: ``\\emph`` and ``\\textit`` in <em>, ``\\textbf`` in
<strong>, ``\\texttt`` in <code>, ``\\textsc`` in small capitals, ``\\underline``, ``\\mbox`` and
``\\textrm``-like ones as their text. Any other command stays as written.
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
BRACE_TOKEN = re.compile(r"\\.|[{}]", re.DOTALL)
WORD_RUN = re.compile(r"\S+")
SPACE = re.compile(r"\s")

# Characters that LaTeX escapes with a backslash, shown as themselves; any other "\\x" as written.
TEXT_ESCAPE = re.compile(r"\\([%&#_${}])|\\.", re.DOTALL)
# Text-mode commands shown as what they mean: the element around their text ("" for none).
TEXT_STYLES = {
    "emph": "em",
    "textit": "em",
    "textsl": "em",
    "textbf": "strong",
    "texttt": "code",
    "textsc": "small-caps",
    "underline": "",  # an underline would look like a link
    "textrm": "",
    "textsf": "",
    "textup": "",
    "textnormal": "",
    "mbox": "",
}
STYLE_COMMAND = re.compile(r"\\(" + "|".join(TEXT_STYLES) + r")[ \t]*\{")
STYLE_TAGS = {
    "em": ("<em>", "</em>"),
    "strong": ("<strong>", "</strong>"),
    "code": ("<code>", "</code>"),
    "small-caps": ('<span class="tex-sc">', "</span>"),
    "": ("", ""),
}
BRACE_OR_COMMAND = re.compile(STYLE_COMMAND.pattern + r"|\\.|[{}]", re.DOTALL)
MAX_NESTING = 8  # commands inside commands; deeper ones stay as written
# A formula that is only words in a text command ("$\\textbf{three essential steps}$", as some
# abstracts write emphasis): shown as those words, which wrap, not as maths, which cannot.
PHRASE_WORD = r"[^\s{}$\\^_&%#~]+"
TEXT_PHRASE = re.compile(
    r"\s*\\(textbf|textit|texttt|textsc|emph|text|textrm)\s*\{\s*((?:"
    + PHRASE_WORD
    + r"\s+)+"
    + PHRASE_WORD
    + r")\s*\}\s*"
)
PHRASE_STYLES = {**TEXT_STYLES, "text": ""}

# A formula without a backslash that holds one of these as a word, once sub- and superscripts in
# braces are set aside, lost its backslashes (Hugging Face strips them): "$textbf{a} le b$".
# Function names (log, exp, max, sin) are not among them: without a backslash they read as
# LaTeX would set them, and real abstracts write them so ("$O(log_2 N)$", "$T_{max}$").
LOST_COMMANDS = frozenset(
    """
    text textbf textit texttt textrm textsf textsc textnormal emph mbox operatorname boldsymbol
    mathcal mathbb mathbf mathrm mathit mathsf mathtt mathfrak mathscr
    frac dfrac tfrac sqrt binom sum prod int oint left right big Big bigg Bigg
    le leq ge geq neq ne approx sim simeq equiv propto times cdot cdots ldots dots vdots ddots pm div
    infty partial nabla circ prime ast star dagger odot oplus otimes bullet vee wedge neg prec succ
    preceq succeq lceil rceil lfloor rfloor langle rangle in notin subset subseteq supset supseteq
    cup cap setminus forall exists to rightarrow leftarrow Rightarrow Leftarrow leftrightarrow
    uparrow downarrow mapsto ll gg hat tilde bar vec dot ddot overline underline widehat widetilde
    quad qquad hbar ell alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa
    lambda mu nu xi pi rho varrho sigma varsigma tau upsilon phi varphi chi psi omega
    Gamma Delta Theta Lambda Sigma Upsilon Phi Psi Omega
    """.split()
)
SCRIPT_GROUP = re.compile(r"[_^]\{[^{}]*\}")
LETTERS = re.compile(r"[A-Za-z]+")
COMMAND_GROUP = re.compile(r"[A-Za-z]{2,}\{")  # "textbf{", "frac{": a command name before its argument

TEXT, MATHS, PHRASE, LINK, OPEN, CLOSE = "text", "maths", "phrase", "link", "open", "close"


class Segment(NamedTuple):
    raw: str  # the characters of the source text this segment covers
    kind: str = TEXT
    # A formula's TeX, inside its delimiters; on a text segment, a formula shown as written
    # because it lost its backslashes.
    tex: str = ""
    display: bool = False  # a formula set on a line of its own
    url: str = ""  # a link's target (already through web_url) and text; a PHRASE's words
    label: str = ""
    style: str = ""  # OPEN, CLOSE (a text-mode command and its closing brace) and PHRASE: a STYLE_TAGS key

    @property
    def is_text(self) -> bool:
        return self.kind == TEXT

    @property
    def is_unit(self) -> bool:
        """A formula (a PHRASE too) or a link: shown whole or not at all, never cut, never marked inside."""
        return self.kind == MATHS or self.kind == LINK or self.kind == PHRASE


def lost_backslashes(tex: str) -> bool:
    """Whether a formula's TeX lost its backslashes: none left, and a command name as a word
    ("textbf", "le", "lceil", "alpha") or letters right before a brace ("mathcal{O}")."""
    if "\\" in tex:
        return False
    bare = SCRIPT_GROUP.sub(" ", tex)
    return bool(COMMAND_GROUP.search(bare)) or any(word in LOST_COMMANDS for word in LETTERS.findall(bare))


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


def _braces(text: str) -> dict[int, int]:
    """Where each brace group of ``text`` ends (after its "}"), by where it opens: one pass."""
    ends, stack = {}, []
    for match in BRACE_TOKEN.finditer(text):
        token = match.group()
        if token == "{":
            stack.append(match.start())
        elif token == "}" and stack:
            ends[stack.pop()] = match.end()
    return ends


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


def formula_at(text: str, at: int) -> Segment | None:
    """The formula that opens at ``text[at]`` (a ``$``, ``$$``, ``\\(`` or ``\\[``), as the segment
    pages show: a formula (MATHS), a link or words written in maths (LINK, PHRASE), or a formula
    that lost its backslashes (TEXT, shown as written); None when none opens there. What finds
    formulas in abstracts and in comments (paperwire/discussions/rendering.py) alike."""
    formula = _formula(text, at)
    if not formula:
        return None
    end, tex, display = formula
    link = _link(tex.strip(), 0)  # "$\\href{https://...}{code}$": a link, written in maths
    if link and link[0] == len(tex.strip()):
        return Segment(text[at:end], LINK, url=link[1], label=link[2])
    if lost_backslashes(tex):
        return Segment(text[at:end], TEXT, tex=tex)  # as written; its closing $ opens nothing
    if not display and (phrase := TEXT_PHRASE.fullmatch(tex)):
        words = " ".join(phrase.group(2).split())
        return Segment(text[at:end], PHRASE, tex=tex, label=words, style=PHRASE_STYLES[phrase.group(1)])
    return Segment(text[at:end], MATHS, tex=tex, display=display)


def split(text: str, *, _depth: int = 0) -> list[Segment]:
    """``text`` as text, formula, link and text-mode command segments (a command's OPEN, the
    segments of its argument, its CLOSE); their ``raw`` put together is ``text``."""
    segments: list[Segment] = []
    plain_from = at = 0
    braces = None
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
            segment = formula_at(text, at)
        elif char == "\\" and _depth < MAX_NESTING and (command := STYLE_COMMAND.match(text, at)):
            braces = _braces(text) if braces is None else braces
            opening = command.end() - 1
            end = braces.get(opening, -1)
            if end != -1 and not _blank_line(text, opening, end):
                if plain_from < at:
                    segments.append(Segment(text[plain_from:at]))
                style = TEXT_STYLES[command.group(1)]
                segments.append(Segment(text[at : opening + 1], OPEN, style=style))
                segments += split(text[opening + 1 : end - 1], _depth=_depth + 1)
                segments.append(Segment("}", CLOSE, style=style))
                plain_from = at = end
                continue
        if segment is None:
            # An escaped character (\\$ among them) is text; so is a delimiter without its partner.
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
    """Whether ``text`` holds a formula or a link."""
    if "$" not in text and "\\" not in text:
        return False
    return any(segment.is_unit for segment in split(text))


def positioned(text: str) -> list[tuple[int, Segment]]:
    """Every segment of ``text`` with where it starts."""
    found, at = [], 0
    for segment in split(text):
        found.append((at, segment))
        at += len(segment.raw)
    return found


def located(text: str) -> list[tuple[int, Segment]]:
    """Every formula and link in ``text`` with where it starts: what may not be cut nor marked."""
    return [(at, segment) for at, segment in positioned(text) if segment.is_unit]


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
    kept = " ".join(words[:count])
    return kept + "}" * _unclosed_commands(kept) + " " + ELLIPSIS


def _unclosed_commands(text: str) -> int:
    """How many "}" close the text-mode commands that ``text`` (a shortened text) opens and does
    not close, with the braces opened inside them: "\\textbf{Personalize" needs one."""
    stack: list[bool] = []  # each open brace: does it open a command's argument?
    for segment in split(text):
        if not segment.is_text:
            continue  # formulas and links are whole, and commands found were closed
        for match in BRACE_OR_COMMAND.finditer(segment.raw):
            if match.group(1):
                stack.append(True)
            elif match.group() == "{":
                stack.append(False)
            elif match.group() == "}" and stack:
                stack.pop()
    return len(stack) - stack.index(True) if True in stack else 0


def unescape_text(text: str) -> str:
    """Text with LaTeX's escaped characters (``\\%``, ``\\$``, ``\\&``...) as themselves."""
    if "\\" not in text:
        return text
    return TEXT_ESCAPE.sub(lambda m: m.group(1) or m.group(), text)


def text_html(text: str) -> str:
    """Text, escaped, with LaTeX's escaped characters (``\\$``, ``\\%``...) as themselves."""
    return escape(unescape_text(text))


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
    if segment.kind == PHRASE:
        before, after = STYLE_TAGS[segment.style]
        return before + escape(segment.label) + after
    if segment.kind == OPEN:
        return STYLE_TAGS[segment.style][0]
    if segment.kind == CLOSE:
        return STYLE_TAGS[segment.style][1]
    return text_html(segment.raw)


def html(text: str, *, links: bool = True) -> SafeString:
    """``text`` escaped, its formulas marked up (set inline), its links made links, its text-mode
    markup shown as what it means."""
    return mark_safe("".join(segment_html(s, links=links) for s in split(text)))


def window_html(text: str, begin: int, end: int, marks: list[tuple[int, int]]) -> str:
    """``text[begin:end]`` as a page shows it (a search snippet), the spans ``marks`` of text in
    <mark>. The caller keeps formulas and links whole (a window edge never cuts one); a
    text-mode command that an edge cuts is opened at the window's start or closed at its end, so
    that the elements balance. A mark that is not inside text (in a formula, a link, a command's
    name) is left out."""
    marks = sorted(marks)
    out: list[str] = []
    opened: list[Segment] = []  # commands open at this point
    started = False
    for start, segment in positioned(text):
        stop = start + len(segment.raw)
        if start >= end:
            break
        if segment.kind == OPEN and start < begin:
            opened.append(segment)
            continue
        if segment.kind == CLOSE and start < begin:
            if opened:
                opened.pop()
            continue
        if stop <= begin:
            continue
        if not started:
            started = True
            out += [STYLE_TAGS[s.style][0] for s in opened]
        if segment.kind == OPEN:
            if stop <= end:
                opened.append(segment)
                out.append(segment_html(segment))
        elif segment.kind == CLOSE:
            if opened:
                out.append(STYLE_TAGS[opened.pop().style][1])
        elif segment.is_unit:
            if begin <= start and stop <= end:
                out.append(segment_html(segment))
        else:
            cursor, last = max(start, begin), min(stop, end)
            for mark_start, mark_end in marks:
                if cursor <= mark_start and mark_end <= last:
                    out += [text_html(text[cursor:mark_start]), f"<mark>{text_html(text[mark_start:mark_end])}</mark>"]
                    cursor = mark_end
            out.append(text_html(text[cursor:last]))
    if not started:
        return ""
    out += [STYLE_TAGS[s.style][1] for s in reversed(opened)]
    return "".join(out)


def plain_text(text: str) -> str:
    """The words a reader sees in ``text``, without LaTeX: escaped characters as themselves, a
    link's label, a formula's letters without its commands ("$\\mathcal{A}$LLM" is "ALLM"), no
    command names nor braces."""
    out = []
    for segment in split(text):
        if segment.kind == LINK or segment.kind == PHRASE:
            out.append(segment.label)
        elif segment.kind == MATHS:
            out.append(PLAIN_DROP.sub(_plain, segment.tex).replace("^", "").replace("_", ""))
        elif segment.is_text:
            out.append(PLAIN_DROP.sub(_plain, segment.raw))
    return "".join(out)


PLAIN_DROP = re.compile(r"\\([%&#_${}])|\\[A-Za-z]+ *|\\(.)|[{}$]", re.DOTALL)


def _plain(match: re.Match) -> str:
    return match.group(1) or match.group(2) or ""


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
