"""Search latency by sort and filter on an existing instance (the HF archive, the arXiv set).

For each query (research topics, single common words, the first words of titles; seeded), in
this process, warm: `engine.search` by relevance (the baseline of the ratios, same run), by
date, by upvotes, with a date filter, and the /search page (Django's test client, no cache);
with the totals each reports.

    .venv/bin/python bench/search_sorts.py --home DIR [--queries 120] [--modes hybrid,lexical]

It only reads DIR (a copy of an instance is fine; the index must be built).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import time
from pathlib import Path

from common import TOPICS, setup_django

WORDS = ["attention", "diffusion", "language", "model", "video", "reasoning", "agents", "benchmark", "robot", "3d"]


def percentiles(samples_ms: list[float]) -> tuple[float, float]:
    ordered = sorted(samples_ms)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--queries", type=int, default=120)
    parser.add_argument("--modes", default="hybrid,lexical")
    parser.add_argument("--rounds", type=int, default=2, help="timed passes over the queries")
    args = parser.parse_args()
    setup_django(args.home, PAPERWIRE_PAGE_CACHE_SECONDS="0", PAPERWIRE_RATE_SEARCH="1000000/60")
    from django.conf import settings
    from django.test import Client

    from paperwire.papers.models import Paper
    from paperwire.search import engine

    rng = random.Random(5)
    titles = list(Paper.objects.order_by("id").values_list("title", flat=True))
    sample = rng.sample(titles, min(len(titles), args.queries))
    queries = (TOPICS + WORDS + [" ".join(t.split()[:3]) for t in sample])[: args.queries]
    newest = Paper.objects.exclude(published=None).order_by("-published").values_list("published", flat=True)[0]
    since = newest - dt.timedelta(days=90)
    print(f"PAPERWIRE_HOME {args.home}: {Paper.objects.count():,} papers; {len(queries)} queries, warm")
    cases = {
        "relevance": {},
        "sort=date": {"sort": "date"},
        "sort=upvotes": {"sort": "upvotes"},
        "relevance, last 90 days": {"date_from": since},
        "sort=upvotes, last 90 days": {"sort": "upvotes", "date_from": since},
    }
    for mode in args.modes.split(","):
        for query in queries[:20]:
            engine.search(query, mode=mode)
        print(f"\n{mode}: engine.search, 20 results with snippets")
        print(f"  {'case':<28}{'p50 ms':>9}{'p95 ms':>9}{'vs relevance':>14}{'mean total':>12}")
        baseline = None
        for name, options in cases.items():
            samples, totals = [], []
            for _ in range(args.rounds):
                for query in queries:
                    started = time.perf_counter()
                    results = engine.search(query, mode=mode, limit=20, **options)
                    samples.append((time.perf_counter() - started) * 1000)
                    totals.append(results.total)
            p50, p95 = percentiles(samples)
            baseline = baseline or p50
            print(f"  {name:<28}{p50:>9.2f}{p95:>9.2f}{p50 / baseline:>13.2f}x{statistics.mean(totals):>12.0f}")
    client = Client(HTTP_HOST=settings.ALLOWED_HOSTS[0])
    print("\nGET /search (the HTML page, hybrid, no page cache)")
    baseline = None
    for name, extra in (("relevance", {}), ("sort=upvotes", {"sort": "upvotes"}), ("sort=date", {"sort": "date"})):
        samples = []
        for query in queries:
            started = time.perf_counter()
            response = client.get("/search", {"q": query, **extra})
            samples.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.status_code
        p50, p95 = percentiles(samples)
        baseline = baseline or p50
        print(f"  {name:<28}{p50:>9.2f}{p95:>9.2f}{p50 / baseline:>13.2f}x")


if __name__ == "__main__":
    main()
