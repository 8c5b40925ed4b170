"""Text forms of a paper: a BibTeX entry to copy and the markdown twin of its page."""

from __future__ import annotations

import re
import unicodedata

from paperwire.core.siteurl import absolute
from paperwire.papers import latex
from paperwire.papers.models import Paper


def _ascii_word(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", plain.lower())


def citation_key(paper: Paper) -> str:
    surname = _ascii_word(paper.authors[0].split()[-1]) if paper.authors else "anonymous"
    year = str(paper.published.year) if paper.published else ""
    # The title's words as a reader sees them: "$\\mathcal{A}$LLM4ADD" is "allm4add", not "mathcalallm4add".
    words = latex.plain_text(paper.title).split()
    first_word = next((w for w in (_ascii_word(t) for t in words) if len(w) > 3), "paper")
    return f"{surname or 'anonymous'}{year}{first_word}"


BIBTEX_SPECIAL = re.compile(r"\\?([{}&%$#_])")


def _bibtex_escape(text: str) -> str:
    """Text as BibTeX reads it: its special characters escaped (once: "\\$" stays "\\$"), its
    formulas ("$\\mathcal{O}(n^2)$") and links kept as LaTeX when their braces balance, and so
    its text-mode commands ("\\textbf{...}", whose braces balance)."""
    out = []
    for segment in latex.split(" ".join(text.split())):
        if segment.kind in (latex.OPEN, latex.CLOSE) or (segment.is_unit and _balanced(segment.raw)):
            out.append(segment.raw)
        else:
            out.append(BIBTEX_SPECIAL.sub(r"\\\1", segment.raw))
    return "".join(out)


def _balanced(tex: str) -> bool:
    depth = 0
    for match in re.finditer(r"\\.|[{}]", tex, re.DOTALL):
        token = match.group()
        depth += 1 if token == "{" else -1 if token == "}" else 0
        if depth < 0:
            return False
    return depth == 0


def bibtex(paper: Paper) -> str:
    fields = [
        ("title", "{" + _bibtex_escape(paper.title) + "}"),
        ("author", " and ".join(_bibtex_escape(a) for a in paper.authors)),
        ("year", str(paper.published.year) if paper.published else ""),
    ]
    if paper.is_arxiv:
        fields += [
            ("eprint", paper.id),
            ("archivePrefix", "arXiv"),
            ("primaryClass", paper.categories[0] if paper.categories else ""),
            ("url", paper.arxiv_abs_url),
        ]
    else:
        fields.append(("url", absolute(paper.get_absolute_url())))
    if paper.doi:
        fields.append(("doi", paper.doi))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields if value)
    return f"@misc{{{citation_key(paper)},\n{body}\n}}"


def markdown(paper: Paper) -> str:
    lines = [f"# {paper.title}", ""]
    if paper.authors:
        lines += [f"**Authors:** {', '.join(paper.authors)}", ""]
    facts = []
    if paper.published:
        facts.append(f"**Published:** {paper.published.isoformat()}")
    if paper.daily_date:
        facts.append(f"**Daily papers:** {paper.daily_date.isoformat()}")
    facts.append(f"**Upvotes:** {paper.upvotes}")
    if paper.organization:
        facts.append(f"**Organization:** {paper.organization}")
    lines += ["  \n".join(facts), ""]
    links = []
    if paper.is_arxiv:
        links += [f"- arXiv: {paper.arxiv_abs_url}", f"- PDF: {paper.arxiv_pdf_url}"]
    links += [f"- Code: {url}" for url in paper.code_links]
    if paper.project_url:
        links.append(f"- Project page: {paper.project_url}")
    if links:
        lines += ["## Links", "", *links, ""]
    lines += ["## Abstract", "", paper.abstract, ""]
    if paper.ai_summary:
        lines += ["## AI summary", "", paper.ai_summary, ""]
    return "\n".join(lines)
