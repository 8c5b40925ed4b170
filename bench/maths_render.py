"""What pages do with the LaTeX of real titles and abstracts, and what rendering maths costs in
the browser.

First, counts (docs/maths.md), over the shared arXiv set (real LaTeX) and the whole Hugging Face
archive (whose summaries lost their backslashes), as paperwire/papers/latex.py reads them:
- formulas, those without a backslash, and those the one rule turns off (shown as written,
  ``latex.lost_backslashes``): on the arXiv set this must be about none;
- how many of the arXiv formulas that have backslashes the rule would turn off once their
  backslashes are stripped the way Hugging Face strips them (what it catches);
- formulas that are only words in a text command (shown as those words), the text-mode
  escapes and commands shown as what they mean, and the prices (a `$` then a digit) that stay
  text.

Then (unless --counts-only) a feed day of the most formula-dense real arXiv abstracts, opened in
headless Chromium (Debian's) through `paperwire serve`, beside the same measures for a feed day
without maths (the baseline):
- formulas on the page and the time maths.js spends rendering them (its performance measure);
- time from navigation to the load event, and to the last formula rendered;
- bytes the page fetched (KaTeX and the maths font only where there is maths).

    .venv/bin/python bench/maths_render.py [--papers 60] [--runs 5] [--counts-only]

The counts take about a minute, the browser runs another (one import of --papers papers with
their embeddings, then the runs).
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from common import ROOT, setup_django, shared_data_folder

sys.path.insert(0, str(ROOT))

DAY, PLAIN_DAY = "2025-10-20", "2025-10-21"


def densest(data: Path, count: int) -> tuple[list[dict], list[dict]]:
    """The ``count`` abstracts with the most formulas in the 60 words a card shows, and as many
    without any: both on a day of their own."""
    from paperwire.papers import latex

    scored, plain = [], []
    for path in sorted((data / "arxiv").glob("*.jsonl.gz")):
        with gzip.open(path, "rt") as lines:
            for line in lines:
                record = json.loads(line)
                shown = latex.truncate_words(record["abstract"], 60)
                formulas = sum(s.kind == latex.MATHS for s in latex.split(record["title"] + " " + shown))
                if formulas:
                    scored.append((formulas, record))
                elif len(plain) < count:
                    plain.append(record)
    scored.sort(key=lambda pair: -pair[0])
    maths = [dict(record, published=DAY) for _, record in scored[:count]]
    return maths, [dict(record, published=PLAIN_DAY) for record in plain]


def arxiv_texts(data: Path):
    """(paper id, text) for every title and abstract of the shared arXiv set, as imports store them."""
    from paperwire.ingest.records import unwrap_abstract

    for path in sorted((data / "arxiv").glob("*.jsonl.gz")):
        with gzip.open(path, "rt") as lines:
            for line in lines:
                record = json.loads(line)
                yield record["id"], record["title"]
                yield record["id"], unwrap_abstract(record["abstract"])


def hf_texts(data: Path):
    """(paper id, text) for every title, summary and AI summary of the Hugging Face archive, read
    as `paperwire import` reads it; each paper once."""
    from paperwire.ingest.formats import SourceFile

    seen = set()
    for path in sorted((data / "hf_daily").glob("*.json")):
        source = SourceFile(path)
        try:
            for item in source.items():
                record = item.record
                if record is None or record.id in seen:
                    continue
                seen.add(record.id)
                for text in (record.title, record.abstract, record.ai_summary):
                    if text:
                        yield record.id, text
        finally:
            source.close()


def latex_counts(texts) -> dict:
    from paperwire.papers import latex

    counts = collections.Counter()
    shown_as_written, uncaught = [], collections.Counter()
    papers, priced = set(), set()
    for paper_id, text in texts:
        papers.add(paper_id)
        if "$" not in text and "\\" not in text:
            continue
        for segment in latex.split(text):
            if segment.kind == latex.OPEN:
                counts["commands"] += 1
            elif segment.is_text and segment.tex:
                counts["formulas"] += 1
                counts["no backslash"] += 1
                shown_as_written.append(f"{paper_id}: ${segment.tex}$")
            elif segment.kind == latex.PHRASE:
                counts["formulas"] += 1
                counts["phrases"] += 1
            elif segment.kind == latex.MATHS:
                counts["formulas"] += 1
                if "\\" not in segment.tex:
                    counts["no backslash"] += 1
                else:
                    counts["with backslashes"] += 1
                    stripped = segment.tex.replace("\\", "")
                    if latex.lost_backslashes(stripped):
                        counts["caught once stripped"] += 1
                    else:
                        uncaught[stripped] += 1
            elif segment.is_text:
                counts["escapes"] += len(re.findall(r"\\[%&#_${}]", segment.raw))
                prices = len(re.findall(r"(?<!\\)\$\d", segment.raw))  # "$5 and $10" stay text
                counts["prices"] += prices
                if prices:
                    priced.add(paper_id)
    counts["papers"], counts["priced papers"] = len(papers), len(priced)
    return {"counts": counts, "shown as written": shown_as_written, "uncaught": uncaught}


def print_counts(data: Path) -> None:
    home = Path(tempfile.mkdtemp(prefix="paperwire-maths-counts-"))
    try:
        setup_django(home)
        for name, texts in (("arXiv set", arxiv_texts(data)), ("Hugging Face archive", hf_texts(data))):
            found = latex_counts(texts)
            c = found["counts"]
            print(f"{name}: {c['papers']:,} papers, {c['formulas']:,} formulas")
            print(f"  without a backslash            {c['no backslash']:,}")
            print(f"  shown as written (lost them)   {len(found['shown as written']):,}")
            for formula in found["shown as written"][:10]:
                print(f"    {formula[:110]}")
            if c["with backslashes"]:
                share = c["caught once stripped"] / c["with backslashes"]
                print(
                    f"  with backslashes, stripped     {c['caught once stripped']:,} of {c['with backslashes']:,} "
                    f"({share:.0%}) caught by the rule"
                )
                common = ", ".join(f"{tex!r} ×{n}" for tex, n in found["uncaught"].most_common(6))
                print(f"    most common not caught: {common}")
            print(f"  words in a text command        {c['phrases']:,} (shown as words)")
            print(f"  text-mode commands shown       {c['commands']:,} (\\emph, \\textbf...)")
            print(f"  escaped characters shown       {c['escapes']:,} (\\%, \\&, \\_...)")
            print(f"  prices left as text            {c['prices']:,} in {c['priced papers']:,} papers ($ then a digit)")
    finally:
        shutil.rmtree(home, ignore_errors=True)


def measure(browser, url: str) -> dict:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    fetched = []
    page.on("requestfinished", lambda request: fetched.append(request))
    page.goto(url, wait_until="load")
    has_maths = page.locator("span.maths").count() > 0
    if has_maths:
        page.locator("html[data-maths=rendered]").wait_for(state="attached")
    page.wait_for_timeout(1000)  # the maths font, fetched once a formula shows
    timings = page.evaluate(
        """() => {
          const nav = performance.getEntriesByType("navigation")[0];
          const render = performance.getEntriesByName("paperwire-maths")[0];
          return {
            load: nav.loadEventEnd,
            rendered: render ? render.startTime + render.duration : null,
            render: render ? render.duration : 0,
            formulas: document.querySelectorAll("span.maths").length,
            math: document.querySelectorAll("span.maths math").length,
          };
        }"""
    )
    timings["bytes"] = sum(r.sizes()["responseBodySize"] for r in fetched)
    timings["files"] = sorted({r.url.rsplit("/", 1)[-1] for r in fetched if "/static/" in r.url})
    context.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=shared_data_folder())
    parser.add_argument("--papers", type=int, default=60)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--counts-only", action="store_true", help="print the counts, skip the browser")
    args = parser.parse_args()

    print_counts(args.data)
    if args.counts_only:
        return

    maths, plain = densest(args.data, args.papers)
    home = Path(tempfile.mkdtemp(prefix="paperwire-maths-bench-"))
    env = {
        **os.environ,
        "PAPERWIRE_HOME": str(home),
        "PAPERWIRE_MODEL_DIR": os.environ.get("PAPERWIRE_MODEL_DIR", str(ROOT / ".cache" / "models")),
        "PAPERWIRE_SECRET_KEY": "bench-secret-key-0123456789-abcdefghijklmnop",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    records = home / "papers.jsonl"
    records.write_text("".join(json.dumps(r) + "\n" for r in maths + plain))
    subprocess.run([sys.executable, "-m", "paperwire", "import", str(records)], env=env, cwd=ROOT, check=True)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "paperwire", "serve", "--port", str(port)], env=env, cwd=ROOT, stderr=subprocess.DEVNULL
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox", "--disable-gpu"]
            )
            for label, day in (("with maths", DAY), ("without maths", PLAIN_DAY)):
                runs = [measure(browser, f"{base}/papers/date/{day}") for _ in range(args.runs)]
                first = runs[0]
                print(f"feed day {label}: {first['formulas']} formulas ({first['math']} rendered), {args.papers} cards")
                print(f"  load event       median {statistics.median(r['load'] for r in runs):7.1f} ms")
                if first["formulas"]:
                    print(f"  maths rendering  median {statistics.median(r['render'] for r in runs):7.1f} ms")
                    print(f"  last formula at  median {statistics.median(r['rendered'] for r in runs):7.1f} ms")
                print(f"  bytes fetched    {first['bytes']:,} ({', '.join(first['files'])})")
            browser.close()
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
