"""TeX in titles and abstracts: pages mark formulas up for the browser (tests/test_browser_maths.py
watches it render them) and make \\href links links; prices stay prices; every other surface
(API, feeds, markdown twin, mail, <title>) keeps the raw text."""

import datetime as dt
import glob
import gzip
import html as htmlmod
import json
import re
import xml.etree.ElementTree as ET

import pytest
from django.template.defaultfilters import linebreaks_filter, truncatewords
from django.utils.html import escape

from paperwire.digests.models import Subscriber
from paperwire.ingest.importer import import_files
from paperwire.ingest.records import unwrap_abstract
from paperwire.papers import latex
from paperwire.papers.citations import bibtex
from paperwire.papers.models import Paper
from paperwire.search.updating import update_indexes
from tests.conftest import SHARED_DATA, paper, shared_data, write_jsonl

TITLE = r"Attention in $\mathcal{O}(n^2)$ Time and $\frac{a}{b}$ Space"
ABSTRACT = (
    r"We bound the cost by $\mathcal{O}(n^2)$ and the ratio by $\frac{a}{b}$, with softmax scores "
    r"$\text{softmax}(QK^\top)$ over $x \in \mathbb{R}^d$. It costs $5 and $10, or \$20 per run, "
    r"at 0.95$\pm$0.02 accuracy. A broken formula $\frac{a}{$ stays. Code: "
    r"\href{https://github.com/good/repo}{here}; never \href{javascript:alert(1)}{this}."
)
# Text-mode LaTeX (the demo corpus's "62.3\\%" and "\\emph{scan and snap}") and a formula whose
# backslashes Hugging Face stripped (2410.04717).
TEXT_TITLE = r"\textbf{UniReg}: 62.3\% of Q\&A"
TEXT_ABSTRACT = (
    r"We verify this \emph{scan and snap} softmax dynamics, 62.3\% better, on \texttt{<WikiText>}; "
    r"fine-tuning of $textbf{specialist} and textbf{generalist}$ models."
)
ATOM = "{http://www.w3.org/2005/Atom}"
MATHS_SPAN = re.compile(r'<span class="maths[^"]*">(.*?)</span>', re.DOTALL)


def segments(text):
    return [(s.kind, s.tex or s.label or s.raw) for s in latex.split(text)]


# --- finding formulas and links --------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "It costs $5 and $10.",
        "a median price around $250, and an average of $306).",
        "from $5-$10 a run",
        "$10 or $20 per run at 0.95$ accuracy, or \\$5 at 1.0$",
        "US$0.50 per audit, see github$.io, a $ alone",
        "a $ x$ and a $x $ are not formulas",
        "$a\n\nb$ crosses a paragraph break",
        r"escaped \$20 and \$30",
        "an unclosed $x or \\(y or \\[z or $$w",
    ],
)
def test_dollars_that_are_not_maths_stay_text(text):
    assert segments(text) == [("text", text)]
    assert latex.html(text) == escape(text.replace("\\$", "$"))


def test_formulas_in_every_delimiter():
    assert segments(r"by $\mathcal{O}(n^2)$.") == [("text", "by "), ("maths", r"\mathcal{O}(n^2)"), ("text", ".")]
    assert segments(r"0.956$\pm$0.046") == [("text", "0.956"), ("maths", r"\pm"), ("text", "0.046")]
    assert segments(r"$x \$ y$") == [("maths", r"x \$ y")]
    assert [(s.kind, s.tex, s.display) for s in latex.split(r"$$a$$ \[b\] \(c\)") if s.kind == "maths"] == [
        ("maths", "a", True),
        ("maths", "b", True),
        ("maths", "c", False),
    ]
    assert latex.html(r"$a<b$ & <i>") == '<span class="maths">$a&lt;b$</span> &amp; &lt;i&gt;'


def test_links_written_in_latex_become_links_through_the_link_check():
    assert segments(r"at \href{https://github.com/a/b}{here}.") == [
        ("text", "at "),
        ("link", "here"),
        ("text", "."),
    ]
    [link] = latex.split(r"\url{https://x.org/a\_b}")
    assert (link.kind, link.url, link.label) == ("link", "https://x.org/a_b", "https://x.org/a_b")
    [link] = latex.split(r"$\href{https://a.org/x}{\texttt{a.org/x}}$")
    assert (link.kind, link.url, link.label) == ("link", "https://a.org/x", "a.org/x")
    [link] = latex.split(r"\href{https://a.org}{$x^2$}")
    assert link.label == "https://a.org"  # a label that is not plain text: the address
    for hostile in (r"\href{javascript:alert(1)}{x}", r"\url{data:text/html,x}", r"\href{https://a.org\evil}{x}"):
        assert segments(hostile) == [("text", hostile)]
    assert latex.html(r"\href{https://a.org/?q=1&r=<2>}{a <b>}") == (
        '<a class="tex-link" href="https://a.org/?q=1&amp;r=&lt;2&gt;" rel="nofollow noopener">a &lt;b&gt;</a>'
    )
    assert latex.html(r"\href{https://a.org}{x}", links=False) == "x"


def test_paragraphs_and_shortening_match_django_where_there_is_no_latex():
    text = "One line\nand the next.\n\nA second  paragraph with <b>tags</b> & more words than four."
    assert latex.html_paragraphs(text) == linebreaks_filter(text, autoescape=True)
    for count in (1, 4, 100):
        assert latex.truncate_words(text, count) == truncatewords(text, count)


def test_shortening_never_cuts_a_formula_or_a_link():
    text = r"one $O(n \log n)$ two \href{https://a.org}{the code here} three $a$b c"
    assert latex.truncate_words(text, 2) == r"one $O(n \log n)$ …"
    assert latex.truncate_words(text, 4) == r"one $O(n \log n)$ two \href{https://a.org}{the code here} …"
    assert latex.truncate_words(text, 5) == r"one $O(n \log n)$ two \href{https://a.org}{the code here} three …"


def test_displayed_formulas_get_their_own_line_only_in_the_full_abstract():
    assert latex.html_paragraphs("a $$x$$ b") == '<p>a <span class="maths display">$$x$$</span> b</p>'
    assert latex.html("a $$x$$ b") == 'a <span class="maths">$$x$$</span> b'


def test_bibtex_keeps_formulas_and_escapes_the_rest():
    record = Paper(id="2510.99101", title=TITLE + r" for \$20 & 5% of $\frac{a}{$", authors=["Ada Lovelace"])
    title = re.search(r"title = \{\{(.*)\}\},", bibtex(record))[1]
    assert title == (
        r"Attention in $\mathcal{O}(n^2)$ Time and $\frac{a}{b}$ Space for \$20 \& 5\% of \$\frac\{a\}\{\$"
    )


# --- formulas that lost their backslashes (Hugging Face's summaries) ----------------------------


HF_FORMULA = "$P(final output is incorrect) le (1 - p_{gen})^N + lceil log_2 N rceil e^{-2 K (p_{comp} - 0.5)^2}.$"


@pytest.mark.parametrize(
    "text,formula",
    [
        # Hugging Face stripped every backslash (2410.04717, 2411.19477): KaTeX would run the words together.
        (
            "fine-tuning of $textbf{specialist} and textbf{generalist}$ models.",
            "$textbf{specialist} and textbf{generalist}$",
        ),
        (f"K: {HF_FORMULA} Our", HF_FORMULA),
        ("in $mathcal{O}(n^2)$ time", "$mathcal{O}(n^2)$"),
        ("a ratio $frac{a}{b}$ here", "$frac{a}{b}$"),
        ("where $x in mathbb{R}^d$ holds", "$x in mathbb{R}^d$"),
        ("with $a cdot b leq c$ and", "$a cdot b leq c$"),
        ("set $alpha = 0.5$ and", "$alpha = 0.5$"),
        ("at $90^circ$ angles", "$90^circ$"),
    ],
)
def test_a_formula_that_lost_its_backslashes_shows_as_written(text, formula):
    parts = latex.split(text)
    assert all(part.is_text for part in parts), parts
    assert "".join(part.raw for part in parts) == text
    assert [part.tex for part in parts if part.tex] == [formula[1:-1]]  # counted, for the bench
    assert latex.html(text) == escape(text)  # as written: no span for KaTeX
    assert latex.html_paragraphs(text) == f"<p>{escape(text)}</p>"


@pytest.mark.parametrize(
    "tex",
    # Real formulas without a backslash, as arXiv abstracts write them: they still render.
    [
        "x_i",
        "O(n)",
        "k=2",
        "n^{2}",
        "top",  # "$top$-K" (2503.12827)
        "N{=}1",  # a brace around an operator, for its spacing
        "n_{exp}/n_{topk}",  # names in a subscript
        "T_{max}=300",
        "O(log_2 N)",  # a function name without its backslash reads as it would in LaTeX
        "O(max(S, T))",
        "CC(Pi)=(R*-N)/N",
        "r^mp^n",
        "\\mathcal{O}(n)",
    ],
)
def test_formulas_without_a_backslash_that_read_well_still_render(tex):
    assert segments(f"by ${tex}$ here") == [("text", "by "), ("maths", tex), ("text", " here")]


def test_the_closing_dollar_of_a_formula_shown_as_written_opens_nothing():
    text = "so $a le b$c and d$ e"
    assert [(s.kind, s.raw) for s in latex.split(text) if not s.is_text] == []
    assert latex.html(text) == escape(text)


# --- text-mode LaTeX outside formulas ----------------------------------------------------------


@pytest.mark.parametrize(
    "text,page",
    [
        (r"improves by 62.3\% over", "improves by 62.3% over"),
        (r"Q\&A, \#params, Part\_A, \$5, \{x\}", "Q&amp;A, #params, Part_A, $5, {x}"),
        (r"this \emph{scan and snap} dynamics", "this <em>scan and snap</em> dynamics"),
        (
            r"\textit{e.g.}, \textbf{UniReg}, \texttt{pip install x}",
            "<em>e.g.</em>, <strong>UniReg</strong>, <code>pip install x</code>",
        ),
        (r"we propose \textbf{\textsc{FastCuRL}}", 'we propose <strong><span class="tex-sc">FastCuRL</span></strong>'),
        (r"\textbf{$k$-means} works", '<strong><span class="maths">$k$</span>-means</strong> works'),
        (
            r"\textbf{\href{https://a.org/x}{code}}",
            '<strong><a class="tex-link" href="https://a.org/x" rel="nofollow noopener">code</a></strong>',
        ),
        (r"\underline{\textbf{Fed}}erated", "<strong>Fed</strong>erated"),
        (r"\textbf {spaced}", "<strong>spaced</strong>"),
        # Untrusted text stays text, inside a command too.
        (
            r"\emph{<script>alert(1)</script>} & \textbf{'x' \"o <b>}",
            r"<em>&lt;script&gt;alert(1)&lt;/script&gt;</em> &amp; <strong>&#x27;x&#x27; \&quot;o &lt;b&gt;</strong>",
        ),
        # What is not whole or not known stays as written.
        (r"an \emph{unclosed group", r"an \emph{unclosed group"),
        (r"\cite{x} and \method and 86\\% and ~10x", r"\cite{x} and \method and 86\\% and ~10x"),
        (r"a \textbf} b", r"a \textbf} b"),
    ],
)
def test_text_mode_latex_shows_as_its_characters_and_styles(text, page):
    assert str(latex.html(text)) == page


def test_a_formula_that_is_only_words_in_a_text_command_shows_as_those_words():
    # As abstracts write emphasis (2604.10827, 2503.17287): words, which wrap, not one long formula.
    assert latex.html(r"the $\textbf{three essential steps}$ now") == "the <strong>three essential steps</strong> now"
    assert latex.html("$\\textit{Agents Under\nSiege}$") == "<em>Agents Under Siege</em>"
    assert latex.html(r"$\text{a <b> c}$") == "a &lt;b&gt; c"
    assert (
        latex.truncate_words(r"the $\textbf{three essential steps}$ now", 2)
        == r"the $\textbf{three essential steps}$ …"
    )
    for formula in (r"$\textbf{x}$", r"$\text{a b}^2$", r"$\textbf{a \alpha}$", r"$\textbf{a {b} c}$"):
        assert segments(formula) == [("maths", formula[1:-1])]
    assert latex.html_paragraphs(r"$$\textbf{a b}$$") == r'<p><span class="maths display">$$\textbf{a b}$$</span></p>'


def test_text_mode_commands_do_not_cross_a_paragraph_and_nesting_is_bounded():
    assert latex.html_paragraphs("a \\emph{b\n\nc} d") == "<p>a \\emph{b</p>\n\n<p>c} d</p>"
    deep = "\\emph{" * 5000 + "x" + "}" * 5000  # no recursion error: the levels past a few stay as written
    page = str(latex.html(deep))
    levels = page.count("<em>")
    assert 1 <= levels == page.count("</em>") < 50
    assert re.sub(r"<[^>]+>", "", page) == "\\emph{" * (5000 - levels) + "x" + "}" * (5000 - levels)


def test_shortening_and_snippets_keep_text_mode_commands_whole():
    text = r"We propose \textbf{Personalize Anything}, a training-free method with 62.3\% gains."
    assert latex.truncate_words(text, 3) == r"We propose \textbf{Personalize} …"
    assert str(latex.html(latex.truncate_words(text, 3))) == "We propose <strong>Personalize</strong> …"
    from paperwire.search.snippets import highlight

    snippet = str(highlight(text, {"anything"}, lambda w: [w.lower()], width=300))
    assert "<strong>Personalize <mark>Anything</mark></strong>" in snippet and "62.3% gains" in snippet
    words = " ".join(f"word{i}" for i in range(40))
    text = rf"\textbf{{{words} needle}} after"
    snippet = str(highlight(text, {"needle"}, lambda w: [w.lower()], width=60))
    assert snippet.startswith("… <strong>") and "<mark>needle</mark></strong> after" in snippet
    assert snippet.count("<strong>") == snippet.count("</strong>") == 1


def test_bibtex_keeps_text_mode_commands_and_keys_are_words_of_the_title():
    record = Paper(
        id="2510.99103",
        title=r"$\mathcal{A}$LLM4ADD: \textbf{Unsupervised} Anomaly Detection",
        authors=["Qi Gu"],
        published=dt.date(2025, 10, 20),
    )
    entry = bibtex(record)
    assert entry.startswith("@misc{gu2025allm4add,"), entry
    assert r"title = {{$\mathcal{A}$LLM4ADD: \textbf{Unsupervised} Anomaly Detection}}" in entry
    record.title = r"\textbf{UniReg}: one model for 62.3\% of cases"
    assert bibtex(record).startswith("@misc{gu2025unireg,")


# --- every real abstract ---------------------------------------------------------------------


def _corpus():
    shared_data("arxiv")
    for path in sorted(glob.glob(str(SHARED_DATA / "arxiv" / "*.jsonl.gz"))):
        with gzip.open(path, "rt") as lines:
            for line in lines:
                yield json.loads(line)


def shown_text(segments_) -> str:
    """What a page shows of these segments before any script runs: text with LaTeX's escaped
    characters as themselves, a link's label, a formula's source, no text-mode command."""
    shown = {
        latex.LINK: lambda s: s.label,
        latex.PHRASE: lambda s: s.label,
        latex.MATHS: lambda s: s.raw,
        latex.OPEN: lambda s: "",
        latex.CLOSE: lambda s: "",
    }
    return "".join(
        re.sub(r"\\([%&#_${}])|\\.", lambda m: m.group(1) or m.group(), s.raw, flags=re.DOTALL)
        if s.is_text
        else shown[s.kind](s)
        for s in segments_
    )


def test_no_character_of_a_real_abstract_is_lost(capsys):
    records = with_dollar = with_latex = formulas = as_written = 0
    for record in _corpus():
        records += 1
        with_dollar += "$" in record["title"] + record["abstract"]
        abstract = unwrap_abstract(record["abstract"])  # as imports store it
        found = False
        for text in (record["title"], abstract):
            parts = latex.split(text)
            assert "".join(s.raw for s in parts) == text, record["id"]
            as_written += sum(1 for s in parts if s.is_text and s.tex)  # formulas that lost their backslashes
            if len(parts) > 1 or not parts[0].is_text or "\\" in text:
                page = re.sub(r"<[^>]+>", "", str(latex.html(text)))
                assert htmlmod.unescape(page) == shown_text(parts), record["id"]
                found = found or any(s.is_unit for s in parts)
        with_latex += found
        kept = [s.raw for s in latex.split(abstract) if s.is_unit]
        formulas += len(kept)
        short = latex.truncate_words(abstract, 60)
        if kept:
            shown = [s.raw for s in latex.split(short) if s.is_unit]
            assert shown == kept[: len(shown)], record["id"]  # whole formulas, in order, none cut
        elif records % 10 == 0 and "\\" not in abstract:  # a sample: Django's filters are slow
            assert short == truncatewords(abstract, 60), record["id"]
            assert latex.html_paragraphs(abstract) == linebreaks_filter(abstract, autoescape=True), record["id"]
    with capsys.disabled():
        print(f"\n{records} papers, {with_dollar} with a $ ({with_dollar / records:.1%}), {with_latex} with LaTeX,")
        print(f"{formulas} formulas and links in their abstracts, {as_written} shown as written")
    assert records > 70_000 and formulas > 10_000
    assert as_written == 0  # real arXiv LaTeX keeps its backslashes: the rule turns none off


# --- pages mark formulas up; every other surface keeps the raw text --------------------------


@pytest.fixture
def maths_paper(db, tmp_path):
    records = [
        paper("2510.99101", TITLE, abstract=ABSTRACT, published="2025-10-20", organization="Maths Lab", upvotes=3),
        paper("2510.99102", "Prices of $5 and $10", abstract="A softmax study of prices.", published="2025-10-20"),
        paper("2510.99103", TEXT_TITLE, abstract=TEXT_ABSTRACT, published="2025-10-20"),
    ]
    import_files([write_jsonl(tmp_path / "maths.jsonl", records)], progress=False)
    update_indexes()


def maths_sources(page: str) -> list[str]:
    return [htmlmod.unescape(source) for source in MATHS_SPAN.findall(page)]


@pytest.mark.django_db
def test_the_paper_page_marks_formulas_and_keeps_a_plain_title(client, maths_paper):
    page = client.get("/papers/2510.99101").content.decode()
    assert f"<title>{escape(TITLE)} · Paperwire</title>" in page
    assert maths_sources(page) == [
        r"$\mathcal{O}(n^2)$",
        r"$\frac{a}{b}$",
        r"$\mathcal{O}(n^2)$",
        r"$\frac{a}{b}$",
        r"$\text{softmax}(QK^\top)$",
        r"$x \in \mathbb{R}^d$",
        r"$\pm$",
        r"$\frac{a}{$",  # KaTeX cannot read it: the browser keeps it as it is
    ]
    assert "It costs $5 and $10, or $20 per run" in page
    assert '<a class="tex-link" href="https://github.com/good/repo" rel="nofollow noopener">here</a>' in page
    assert r"never \href{javascript:alert(1)}{this}." in page and 'href="javascript' not in page
    assert re.search(r'<script src="/static/paperwire/maths[.\w]*js" data-katex="/static/vendor/katex/katex', page)


@pytest.mark.django_db
def test_pages_show_text_mode_latex_as_text_and_stripped_formulas_as_written(client, maths_paper):
    page = client.get("/papers/2510.99103").content.decode()
    assert f"<title>{escape(TEXT_TITLE)} · Paperwire</title>" in page
    assert "<h1><bdi><strong>UniReg</strong>: 62.3% of Q&amp;A</bdi></h1>" in page
    assert (
        "We verify this <em>scan and snap</em> softmax dynamics, 62.3% better, on <code>&lt;WikiText&gt;</code>;"
        in page
    )
    abstract = page[page.index('<section class="abstract">') :].split("</section>")[0]
    assert "fine-tuning of $textbf{specialist} and textbf{generalist}$ models." in abstract  # as written
    assert maths_sources(abstract) == []
    card = client.get("/papers/date/2025-10-20").content.decode()
    assert '<a href="/papers/2510.99103"><bdi><strong>UniReg</strong>: 62.3% of Q&amp;A</bdi></a>' in card
    assert "this <em>scan and snap</em> softmax" in card
    hits = client.get("/search", {"q": "scan snap dynamics"}).content.decode()
    assert "<em><mark>scan</mark> and <mark>snap</mark></em>" in hits


@pytest.mark.django_db
def test_cards_mark_formulas_in_feeds_organizations_and_search(client, maths_paper):
    for url in ("/papers/date/2025-10-20", "/orgs/maths-lab", "/papers/week/2025-W43"):
        response = client.get(url, follow=True)
        assert response.status_code == 200, url
        page = response.content.decode()
        assert maths_sources(page)[:3] == [r"$\mathcal{O}(n^2)$", r"$\frac{a}{b}$", r"$\mathcal{O}(n^2)$"], url
        assert ("Prices of $5 and $10" in page) is ("orgs" not in url), url
    page = client.get("/search", {"q": "softmax prices"}).content.decode()
    assert r"$\text{softmax}(QK^\top)$" in maths_sources(page)
    assert "<mark>softmax</mark>" in page  # the word, where it is text
    assert all("<mark>" not in source for source in MATHS_SPAN.findall(page))
    assert "<title>softmax prices · Search · Paperwire</title>" in page


@pytest.mark.django_db
def test_search_snippets_never_cut_a_formula(client, maths_paper):
    from paperwire.search.snippets import highlight

    words = " ".join(f"word{i}" for i in range(60))
    text = f"{words} $a + b + c + d$ {words} needle $\\text{{needle}}$ end"
    snippet = str(highlight(text, {"needle"}, lambda w: [w.lower()], width=80))
    assert snippet.count("<mark>needle</mark>") == 1
    assert '<span class="maths">$\\text{needle}$</span>' in snippet
    cut = str(highlight(text, {"word59"}, lambda w: [w.lower()], width=30))
    assert "$a + b" not in cut or '<span class="maths">$a + b + c + d$</span>' in cut


@pytest.mark.django_db
def test_the_api_feeds_markdown_and_bibtex_keep_the_raw_text(client, maths_paper):
    data = client.get("/api/papers/2510.99101").json()
    assert (data["title"], data["summary"]) == (TITLE, ABSTRACT)
    [item] = [i for i in client.get("/api/daily_papers?date=2025-10-20").json() if i["paper"]["id"] == "2510.99101"]
    assert (item["title"], item["paper"]["summary"]) == (TITLE, ABSTRACT)
    markdown = client.get("/papers/2510.99101.md").content.decode()
    assert f"# {TITLE}\n" in markdown and f"\n{ABSTRACT}\n" in markdown
    atom = ET.fromstring(client.get("/papers/feed.atom").content)
    entries = {e.find(f"{ATOM}title").text: e for e in atom.findall(f"{ATOM}entry")}
    # The description is HTML to readers: the raw text, escaped, in a paragraph (no maths markup).
    as_html = f"<p>{htmlmod.escape(ABSTRACT)}</p>"
    assert entries[TITLE].find(f"{ATOM}summary").text == as_html
    rss = ET.fromstring(client.get("/papers/feed.rss").content)
    items = {i.find("title").text: i for i in rss.findall("channel/item")}
    assert items[TITLE].find("description").text == as_html
    for url in ("/papers/feed.atom", "/papers/feed.rss", "/search/feed.atom?q=softmax", "/api/papers/2510.99101"):
        assert b"maths" not in client.get(url).content, url
    data = client.get("/api/papers/2510.99103").json()
    assert (data["title"], data["summary"]) == (TEXT_TITLE, TEXT_ABSTRACT)
    assert f"# {TEXT_TITLE}\n" in client.get("/papers/2510.99103.md").content.decode()
    atom = ET.fromstring(client.get("/papers/feed.atom").content)
    entries = {e.find(f"{ATOM}title").text: e for e in atom.findall(f"{ATOM}entry")}
    assert entries[TEXT_TITLE].find(f"{ATOM}summary").text == f"<p>{htmlmod.escape(TEXT_ABSTRACT)}</p>"
    for url in ("/papers/feed.atom", "/papers/feed.rss", "/api/papers/2510.99103", "/papers/2510.99103.md"):
        assert b"<em>" not in client.get(url).content and b"&lt;em&gt;" not in client.get(url).content, url


@pytest.mark.django_db
def test_the_digest_mail_keeps_the_raw_text(maths_paper, smtp_server, settings):
    import datetime as dt

    from django.utils import timezone

    from paperwire.digests.content import DigestPeriod
    from paperwire.digests.sending import send_period

    settings.BASE_URL = "http://testserver"
    Subscriber.objects.create(
        email="reader@example.org",
        frequency="daily",
        topics="softmax",
        state=Subscriber.CONFIRMED,
        confirmed_at=timezone.now(),
    )
    report = send_period(DigestPeriod.containing("daily", dt.date(2025, 10, 20)))
    assert report.sent == 1
    [message] = smtp_server.handler.messages
    text = message.get_body(preferencelist=("plain",)).get_content()
    body = message.get_body(preferencelist=("html",)).get_content()
    assert TITLE in text
    assert escape(TITLE) in body and "maths" not in body
    assert TEXT_TITLE in text and escape(TEXT_TITLE) in body and "<strong>UniReg" not in body


@pytest.mark.django_db
def test_the_submit_page_shows_a_listed_papers_title_as_pages_do(client, maths_paper, alice):
    client.force_login(alice)
    response = client.post("/submit", {"paper": "2510.99103"})
    page = response.content.decode()
    title = "<bdi><strong>UniReg</strong>: 62.3% of Q&amp;A</bdi>"
    assert f'Already on Paperwire: <a href="/papers/2510.99103">{title}</a>' in page
