"""Maths in headless Chromium (Debian's): formulas render as MathML under the site's strict
Content-Security-Policy, prices and broken formulas stay as written, and KaTeX loads only where
there is maths. tests/test_latex.py holds the server's side."""

import glob
import gzip
import json
from pathlib import Path

import pytest

from tests.conftest import DEMO, SHARED_DATA, paperwire_env, run_paperwire, shared_data, start_site, stop_site

pytestmark = pytest.mark.browser

from tests.chromium import expect  # noqa: E402 (importing it skips this module without Chromium)

TITLE = r"Attention in $\mathcal{O}(n^2)$ Time and $\frac{a}{b}$ Space"
ABSTRACT = (
    r"We bound the cost by $\mathcal{O}(n^2)$ and the ratio by $\frac{a}{b}$, over $x_i^{(t)} \in \mathbb{R}^d$ "
    r"with $\text{softmax}(QK^\top/\sqrt{d})$ and $A = \begin{pmatrix} a & b \\ c & d \end{pmatrix}$. "
    r"It costs $5 and $10, or \$20 per run. A broken formula $\frac{a}{$ stays as written. "
    r"Code: \href{https://github.com/good/repo}{here}. Never $\href{javascript:alert(1)}{this}$."
    "\n\n"
    r"$$\sum_{i=1}^{n} \frac{1}{i^2} = \frac{\pi^2}{6}$$"
)
CSP_LISTENER = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(`${event.violatedDirective} ${event.blockedURI} ${event.sourceFile}:${event.lineNumber}`);
});
"""
WIDTHS = [(1280, 900), (390, 844)]
# Wider than a phone's column, narrower than a desktop's: 2411.19477's bound, with the backslashes
# that Hugging Face's copy lost.
LONG_FORMULA = (
    r"$P(\text{final output is incorrect}) \le (1 - p_{\text{gen}})^N + \lceil \log_2 N \rceil "
    r"e^{-2 K (p_{\text{comp}} - 0.5)^2}$"
)
LONG_ABSTRACT = (
    "We prove that the failure probability decays to zero exponentially with respect to N and K: "
    + LONG_FORMULA
    + r". It holds for 62.3\% of the \emph{scan and snap} runs."
)
# Two days of the Hugging Face archive whose summaries lost their backslashes (2410.04717, 2411.19477).
HF_DAYS = ["hf_daily/2024-10-09.json", "hf_daily/2024-12-03.json"]
AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
AUDIT = """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
  .filter((v) => v.impact === "serious" || v.impact === "critical")
  .map((v) => `${v.impact} ${v.id}: ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`)"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    home = tmp_path_factory.mktemp("maths-home")
    records = [
        {
            "id": "2510.99101",
            "title": TITLE,
            "abstract": ABSTRACT,
            "authors": ["Ada Lovelace"],
            "published": "2025-10-20",
            "upvotes": 9,
            "organization": "Maths Lab",
        },
        {
            "id": "2510.99102",
            "title": "Prices of $5 and $10",
            "abstract": "Nothing to render here.",
            "authors": ["Alan Turing"],
            "published": "2025-10-20",
        },
        {
            "id": "2510.99104",
            "title": "A Simple and Provable Scaling Law",
            "abstract": LONG_ABSTRACT,
            "authors": ["Grace Hopper"],
            "published": "2025-10-19",
        },
    ]
    data = home / "maths.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in records))
    hf_days = [SHARED_DATA / day for day in HF_DAYS if (SHARED_DATA / day).exists()]
    for path in (DEMO, data, *hf_days):
        result = run_paperwire("import", str(path), env=paperwire_env(home))
        assert result.returncode == 0, result.stderr
    site = start_site(home)
    yield site
    stop_site(site)


@pytest.fixture
def open_page(browser, site):
    contexts = []

    def open_page(path: str, width: int = 1280, height: int = 900, scheme: str = "light"):
        context = browser.new_context(viewport={"width": width, "height": height}, color_scheme=scheme)
        context.add_init_script(CSP_LISTENER)
        context.add_init_script(path=str(AXE))
        contexts.append(context)
        page = context.new_page()
        page.requests = []
        page.on("request", lambda request: page.requests.append(request.url))
        response = page.goto(site.url + path)
        assert response.status == 200, path
        return page

    yield open_page
    for context in contexts:
        context.close()


def rendered(page) -> None:
    """Wait for maths.js to have rendered every formula of the page."""
    expect(page.locator("html[data-maths=rendered]")).to_have_count(1)  # not wait_for_function: the CSP forbids eval


def fits(page, selector: str) -> list[str]:
    """Formulas under ``selector`` sticking out of their column, and whether the page scrolls sideways."""
    return page.evaluate(
        """(selector) => {
          const out = [];
          for (const math of document.querySelectorAll(selector + " math")) {
            const column = math.closest("p, h1, h3, li").getBoundingClientRect();
            const box = math.getBoundingClientRect();
            if (box.width === 0 || box.right > column.right + 1) out.push(math.textContent.slice(0, 40));
          }
          if (document.querySelector("main").scrollWidth > innerWidth) out.push("main scrolls sideways");
          return out;
        }""",
        selector,
    )


@pytest.mark.parametrize("width,height", WIDTHS)
def test_a_paper_page_shows_its_maths_rendered(open_page, width, height):
    page = open_page("/papers/2510.99101", width, height)
    rendered(page)
    title = page.locator("h1")
    expect(title.locator("math").first).to_be_visible()
    assert "$" not in title.inner_text() and "\\mathcal" not in title.inner_text()  # what shows, not the annotation
    abstract = page.locator("section.abstract")
    assert abstract.locator("span.maths.rendered math").count() == 7
    for formula in abstract.locator("math").all()[:5]:
        expect(formula).to_be_visible()
    text = abstract.inner_text()
    for source in ("\\mathcal", "\\frac{a}{b}", "\\mathbb", "\\text", "\\begin", "$$"):
        assert source not in text, source
    assert "It costs $5 and $10, or $20 per run." in text  # prices stay prices
    broken = abstract.locator("span.maths-error")
    expect(broken).to_have_text("$\\frac{a}{$")  # what KaTeX cannot read stays as written
    assert broken.get_attribute("title").startswith("Not rendered: KaTeX parse error")
    # Structure: a fraction, a script O, a double-struck R, text, a matrix, a displayed sum.
    assert page.locator("section.abstract mfrac").count() >= 2
    assert "𝒪" in text and "ℝ" in text and "softmax" in text
    assert page.locator("section.abstract mtable").count() == 1
    assert page.locator("section.abstract math[display=block] munderover").count() == 1
    # Links: LaTeX's \href becomes a link when its address is a plain web one, else stays text.
    assert page.locator("section.abstract a").evaluate_all("links => links.map(a => a.href)") == [
        "https://github.com/good/repo"
    ]
    assert page.locator("[href^='javascript']").count() == 0
    assert fits(page, "main") == []
    assert page.evaluate("window.__violations") == []


@pytest.mark.parametrize("width,height", WIDTHS)
def test_a_card_in_a_feed_shows_its_maths_rendered(open_page, width, height):
    page = open_page("/papers/date/2025-10-20", width, height)
    rendered(page)
    card = page.locator("#paper-2510\\.99101")
    expect(card.locator("h3 math").first).to_be_visible()
    expect(card.locator(".paper-abstract math").first).to_be_visible()
    assert "$" not in card.locator("h3").inner_text()
    assert card.locator("math[display=block]").count() == 0  # a card sets every formula inline
    expect(page.locator("#paper-2510\\.99102 h3")).to_have_text("Prices of $5 and $10")
    assert [m["name"] for m in page.evaluate("performance.getEntriesByType('measure')")] == ["paperwire-maths"]
    assert fits(page, "main") == []
    assert page.evaluate("window.__violations") == []


def test_search_results_highlight_words_and_render_maths(open_page):
    page = open_page("/search?q=softmax+bound")
    rendered(page)
    hit = page.locator("#paper-2510\\.99101")
    expect(hit.locator(".snippet mark").first).to_have_text("bound")
    expect(hit.locator(".snippet math").first).to_be_visible()
    assert hit.locator(".snippet math mark, .snippet mark math").count() == 0
    assert page.title() == "softmax bound · Search · Paperwire"
    assert page.evaluate("window.__violations") == []


def test_katex_loads_only_where_there_is_maths(open_page):
    for path in ("/papers/date/2025-10-15", "/orgs", "/accounts/login"):  # no formula there
        page = open_page(path)
        page.wait_for_load_state("networkidle")
        assert not [url for url in page.requests if "katex" in url or "maths.css" in url], path
        assert "maths" not in page.evaluate("document.documentElement.dataset"), path
    page = open_page("/papers/2510.99101")
    rendered(page)
    assert [url for url in page.requests if "katex" in url]


def test_without_javascript_the_sources_show(browser, site):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(site.url + "/papers/2510.99101")
    expect(page.locator("h1")).to_have_text(TITLE)
    assert "It costs $5 and $10, or $20 per run." in page.locator("section.abstract").inner_text()
    context.close()


def test_every_real_formula_renders_or_stays_as_written(open_page, site):
    """Each formula of the 74,728 real arXiv papers: KaTeX renders it as MathML without a style
    attribute (the policy would refuse it) or, when it cannot read it, leaves the source."""
    shared_data("arxiv")
    from paperwire.papers import latex

    articles = []
    for path in sorted(glob.glob(str(SHARED_DATA / "arxiv" / "*.jsonl.gz"))):
        with gzip.open(path, "rt") as lines:
            for line in lines:
                record = json.loads(line)
                if latex.has_latex(record["title"]) or latex.has_latex(record["abstract"]):
                    title = latex.html(record["title"], links=False)
                    articles.append([record["id"], f"<h3>{title}</h3>{latex.html_paragraphs(record['abstract'])}"])
    page = open_page("/papers/2510.99101")
    rendered(page)
    totals = {"formulas": 0, "rendered": 0, "kept": 0, "lost": [], "styled": 0}
    for start in range(0, len(articles), 500):
        result = page.evaluate(
            """(articles) => {
              const main = document.querySelector("main");
              main.replaceChildren();
              for (const [id, body] of articles) {
                const article = document.createElement("article");
                article.dataset.id = id;
                article.innerHTML = body;
                main.append(article);
              }
              const sources = [...main.querySelectorAll("span.maths")].map((span) => span.textContent);
              window.paperwireMaths.render(main);
              const out = {formulas: sources.length, rendered: 0, kept: 0, lost: [], styled: 0};
              main.querySelectorAll("span.maths").forEach((span, i) => {
                const id = span.closest("article").dataset.id;
                if (span.classList.contains("rendered")) {
                  out.rendered++;
                  out.styled += span.querySelectorAll("[style]").length;
                  const tex = span.querySelector("annotation");
                  if (!tex || !tex.textContent.trim()) out.lost.push(id);
                } else if (span.classList.contains("maths-error") && span.textContent === sources[i]) {
                  out.kept++;
                } else out.lost.push(id);
              });
              return out;
            }""",
            articles[start : start + 500],
        )
        for key in ("formulas", "rendered", "kept", "styled"):
            totals[key] += result[key]
        totals["lost"] += result["lost"]
    print(f"\n{len(articles)} papers with LaTeX: {totals}")
    assert totals["lost"] == [] and totals["styled"] == 0
    assert totals["formulas"] == totals["rendered"] + totals["kept"] > 15_000
    assert totals["kept"] < totals["formulas"] / 50  # authors' own macros, broken braces
    assert page.evaluate("window.__violations") == []


def wide_formulas(page) -> list[dict]:
    """Every rendered formula wider than its box (so that it scrolls), and how a keyboard sees it."""
    return page.evaluate(
        """() => [...document.querySelectorAll("span.maths math")]
          .filter((math) => math.scrollWidth > math.clientWidth + 1)
          .map((math) => ({tabindex: math.getAttribute("tabindex"), name: math.getAttribute("aria-label")}))"""
    )


def test_a_formula_wider_than_a_phone_scrolls_and_the_keyboard_reaches_it(open_page):
    page = open_page("/papers/2510.99104", 390, 844)
    rendered(page)
    formula = page.locator("section.abstract span.maths math")
    expect(formula).to_have_attribute("tabindex", "0")
    assert wide_formulas(page) == [{"tabindex": "0", "name": LONG_FORMULA[1:-1]}]
    for _ in range(60):  # Tab from the top of the page until the formula has the focus
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.localName") == "math":
            break
    assert page.evaluate("document.activeElement.closest('section.abstract') !== null")
    assert formula.evaluate("(math) => math.scrollLeft") == 0
    for _ in range(8):
        page.keyboard.press("ArrowRight")
    # The arrow keys scroll it (smoothly: the position moves over the next frames, not at once;
    # read at once on a busy machine it was still 0).
    page.wait_for_function("(math) => math.scrollLeft > 0", arg=formula.element_handle())
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")  # the page does not
    # Wide enough for it: out of the tab order, and back in when the window narrows again.
    page.set_viewport_size({"width": 1280, "height": 900})
    expect(formula).not_to_have_attribute("tabindex", "0")
    assert wide_formulas(page) == [] and formula.get_attribute("aria-label") is None
    page.set_viewport_size({"width": 390, "height": 844})
    expect(formula).to_have_attribute("tabindex", "0")
    assert page.evaluate("window.__violations") == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width,height", WIDTHS)
def test_axe_finds_no_serious_problem_on_pages_with_maths(open_page, width, height, scheme):
    paths = ["/papers/2510.99104", "/papers/2510.99101", "/papers/date/2025-10-20"]
    if all((SHARED_DATA / day).exists() for day in HF_DAYS):
        paths += ["/papers/2411.19477", "/papers/2410.04717"]
    problems = []
    for path in paths:
        page = open_page(path, width, height, scheme)
        if page.locator("span.maths").count():
            rendered(page)
        problems += [f"{path}: {problem}" for problem in page.evaluate(AUDIT)]
        if page.evaluate("document.documentElement.scrollWidth > innerWidth"):
            problems.append(f"{path}: scrolls sideways")
    assert problems == []


def test_summaries_that_lost_their_backslashes_show_as_written(open_page):
    shared_data(HF_DAYS[0])
    shared_data(HF_DAYS[1])
    page = open_page("/papers/2410.04717", 390, 844)
    abstract = page.locator("section.abstract")
    expect(abstract).to_contain_text("fine-tuning of $textbf{specialist} and textbf{generalist}$ models.")
    assert abstract.locator("span.maths").count() == 0
    page = open_page("/papers/2411.19477", 390, 844)
    abstract = page.locator("section.abstract")
    expect(abstract).to_contain_text("$P(final output is incorrect) le (1 - p_{gen})^N + lceil log_2 N rceil")
    assert abstract.locator("span.maths").count() == 0
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    assert not [url for url in page.requests if "katex" in url]  # no formula on the page to render


@pytest.mark.parametrize("width,height", WIDTHS)
def test_text_mode_latex_shows_as_what_it_means(open_page, width, height):
    page = open_page("/papers/2305.16380", width, height)  # the demo corpus: real arXiv metadata
    emphasis = page.locator("section.abstract em")
    expect(emphasis).to_have_text("scan and snap")
    assert emphasis.evaluate("(em) => getComputedStyle(em).fontStyle") == "italic"
    assert "\\emph" not in page.locator("section.abstract").inner_text()
    page = open_page("/papers/2501.12206", width, height)
    text = page.locator("section.abstract").inner_text()
    assert "%" in text and "\\%" not in text
    page = open_page("/papers/date/2025-10-19", width, height)
    card = page.locator("#paper-2510\\.99104 .paper-abstract")
    expect(card).to_contain_text("We prove that the failure probability")
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
