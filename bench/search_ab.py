"""Search latency of two checkouts of Paperwire, interleaved, so that both see the same load.

Each checkout runs `engine.search` in a worker process of its own on its own PAPERWIRE_HOME
(the same papers; each index built by its own code). The driver sends every query to A and
then to B (then B before A for the next one), so a busy machine slows both alike, and
reports p50/p95 per case with B's p50 as a ratio of A's.

    .venv/bin/python bench/search_ab.py --tree-a OLD_CHECKOUT --home-a DIR_A \\
        --tree-b . --home-b DIR_B [--queries 120]

Used for the before/after figures in docs/search.md: A the commit before the change, B after.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
from pathlib import Path

from common import TOPICS

WORKER = r"""
import datetime as dt, json, os, sys, time
sys.path.insert(0, os.getcwd())
import django
django.setup()
from paperwire.search import engine
for line in sys.stdin:
    job = json.loads(line)
    options = job["options"]
    if "date_from" in options:
        options["date_from"] = dt.date.fromisoformat(options["date_from"])
    started = time.perf_counter()
    results = engine.search(job["query"], limit=20, **options)
    print(json.dumps([(time.perf_counter() - started) * 1000, results.total]), flush=True)
"""

WORDS = ["attention", "diffusion", "language", "model", "video", "reasoning", "agents", "benchmark", "robot", "3d"]


def worker(tree: Path, home: Path) -> subprocess.Popen:
    env = dict(os.environ, PAPERWIRE_HOME=str(home), DJANGO_SETTINGS_MODULE="paperwire.settings")
    env.setdefault("PAPERWIRE_MODEL_DIR", str(tree / ".cache" / "models"))
    return subprocess.Popen(
        [sys.executable, "-c", WORKER], cwd=tree, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


def ask(process: subprocess.Popen, job: dict) -> tuple[float, int]:
    process.stdin.write(json.dumps(job) + "\n")
    process.stdin.flush()
    return tuple(json.loads(process.stdout.readline()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for side in "ab":
        parser.add_argument(f"--tree-{side}", type=Path, required=True)
        parser.add_argument(f"--home-{side}", type=Path, required=True)
    parser.add_argument("--queries", type=int, default=120)
    parser.add_argument("--titles", type=Path, help="a text file of titles to draw queries from (default: TOPICS)")
    parser.add_argument("--newest", default="2026-08-20", help="the newest publication day, for the 90-day filter")
    args = parser.parse_args()
    rng = random.Random(5)
    titles = args.titles.read_text().splitlines() if args.titles else []
    queries = TOPICS + WORDS + [" ".join(t.split()[:3]) for t in rng.sample(titles, min(len(titles), args.queries))]
    queries = queries[: args.queries]
    since = (dt.date.fromisoformat(args.newest) - dt.timedelta(days=90)).isoformat()
    cases = {
        "hybrid relevance": {},
        "hybrid sort=date": {"sort": "date"},
        "hybrid sort=upvotes": {"sort": "upvotes"},
        "hybrid, last 90 days": {"date_from": since},
        "lexical relevance": {"mode": "lexical"},
        "lexical sort=upvotes": {"mode": "lexical", "sort": "upvotes"},
    }
    a, b = worker(args.tree_a, args.home_a), worker(args.tree_b, args.home_b)
    try:
        for query in queries[:20]:  # warm both
            ask(a, {"query": query, "options": {}})
            ask(b, {"query": query, "options": {}})
        print(f"{len(queries)} queries, 20 results, interleaved A/B; A {args.tree_a}, B {args.tree_b}")
        print(f"{'case':<24}{'A p50':>8}{'A p95':>8}{'B p50':>8}{'B p95':>8}{'B/A p50':>9}{'A total':>9}{'B total':>9}")
        for name, options in cases.items():
            samples = {"a": [], "b": []}
            totals = {"a": [], "b": []}
            for number, query in enumerate(queries):
                order = [("a", a), ("b", b)] if number % 2 == 0 else [("b", b), ("a", a)]
                for side, process in order:
                    ms, total = ask(process, {"query": query, "options": dict(options)})
                    samples[side].append(ms)
                    totals[side].append(total)
            row = {}
            for side in "ab":
                ordered = sorted(samples[side])
                row[side] = (statistics.median(ordered), ordered[int(len(ordered) * 0.95)])
            mean_totals = "".join(f"{statistics.mean(totals[side]):>9.0f}" for side in "ab")
            print(
                f"{name:<24}{row['a'][0]:>8.1f}{row['a'][1]:>8.1f}{row['b'][0]:>8.1f}{row['b'][1]:>8.1f}"
                f"{row['b'][0] / row['a'][0]:>8.2f}x{mean_totals}"
            )
    finally:
        for process in (a, b):
            process.stdin.close()
            process.wait(timeout=60)


if __name__ == "__main__":
    main()
