"""The cost of rendering maths in the browser: a feed day of the most formula-dense real arXiv
abstracts, opened in headless Chromium (Debian's) through `paperwire serve`.

Reports, beside the same measures for a feed day without maths (the baseline):
- formulas on the page and the time maths.js spends rendering them (its performance measure);
- time from navigation to the load event, and to the last formula rendered;
- bytes the page fetched (KaTeX and the maths font only where there is maths).

    .venv/bin/python bench/maths_render.py [--papers 60] [--runs 5]

Takes about a minute (one import of --papers papers with their embeddings, then the runs).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from common import ROOT, shared_data_folder

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
    args = parser.parse_args()

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
