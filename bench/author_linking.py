"""The time `resolve` (paperwire/people/linking.py: the matching rules applied to the groups a
batch of papers touches) takes per import batch at a corpus's size, beside the same with the
code of another checkout.

The corpus: the arXiv set of ../shared/data imported into a fresh PAPERWIRE_HOME (`paperwire
import --no-index`), or ``--home``, a home that already holds one (a bigger one, say, imported
from a remix of it: the cost of the rules grows with the groups, "y|wang" holding thousands of
names at a million papers). Batches: ``--batches`` runs of 1,000 consecutive papers (by id)
spread over the corpus, each one's authors resolved as the import resolves a batch's, inside a
transaction that is rolled back; a first batch is run once unmeasured. Each tree runs in a child
process of its own, the trees alternating round by round (A B B A ...).

Baseline, measured in the same run: with ``--baseline-tree PATH`` (a ``git worktree`` of an older
commit), the same batches with that checkout's `resolve`, and the ratio of the medians.

    .venv/bin/python bench/author_linking.py [--home DIR] [--batches 20] [--rounds 1]
                                             [--baseline-tree ../linking-base] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BATCH = 1000  # papers, as paperwire.ingest.upsert.Upserter writes them


def measure(batches: int) -> dict:
    """In a child whose cwd is the tree measured: milliseconds of `resolve` per batch."""
    sys.path.insert(0, os.getcwd())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "paperwire.settings")
    import django

    django.setup()
    from django.db import transaction

    from paperwire.papers.models import Paper
    from paperwire.people.linking import resolve
    from paperwire.people.models import Author, PaperAuthor

    ids = sorted(Paper.objects.values_list("pk", flat=True))
    starts = [round(i * (len(ids) - BATCH) / max(batches - 1, 1)) for i in range(batches)]
    seconds = []
    for n, start in enumerate([starts[-1], *starts]):
        batch = ids[start : start + BATCH]
        authors = set(PaperAuthor.objects.filter(paper_id__in=batch).values_list("author_id", flat=True))
        with transaction.atomic():
            started = time.perf_counter()
            resolve(authors)
            if n:  # the first one warms the caches
                seconds.append(time.perf_counter() - started)
            transaction.set_rollback(True)
    return {
        "papers": len(ids),
        "authors": Author.objects.count(),
        "matched": Author.objects.filter(same_as__isnull=False).count(),
        "ms": [s * 1000 for s in seconds],
    }


def run_tree(tree: Path, env: dict, batches: int) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--measure", str(batches)]
    result = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"measuring in {tree} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def summary(ms: list[float]) -> str:
    ordered = sorted(ms)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return f"median {statistics.median(ms):8.1f} ms, p90 {p90:8.1f} ms, max {ordered[-1]:8.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = os.environ.get("PAPERWIRE_SHARED_DATA", str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--data", type=Path, default=Path(default))
    parser.add_argument("--home", type=Path, help="a PAPERWIRE_HOME holding a corpus (default: the arXiv set)")
    parser.add_argument("--batches", type=int, default=20, help="batches of 1,000 papers measured")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each tree")
    parser.add_argument("--baseline-tree", type=Path, help="a checkout whose resolve is measured alike")
    parser.add_argument("--measure", type=int, help=argparse.SUPPRESS)  # the child's part
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    if args.baseline_tree and not (args.baseline_tree / "paperwire" / "__main__.py").is_file():
        sys.exit(f"--baseline-tree {args.baseline_tree}: not a Paperwire checkout")

    with tempfile.TemporaryDirectory() as scratch:
        home = args.home or Path(scratch)
        env = dict(os.environ, PAPERWIRE_HOME=str(home))
        env.setdefault("PAPERWIRE_SECRET_KEY", "bench-secret-key-0123456789-abcdefghijklm")
        python = [sys.executable, "-m", "paperwire"]
        # This tree's migrations (its indexes): the baseline reads the same database.
        subprocess.run([*python, "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        if args.home is None:
            files = sorted((args.data / "arxiv").glob("*.jsonl.gz"))
            if not files:
                sys.exit(f"no arxiv files under {args.data} (set PAPERWIRE_SHARED_DATA or --data)")
            started = time.perf_counter()
            subprocess.run([*python, "import", "--no-index", *map(str, files)], cwd=ROOT, env=env, check=True)
            print(f"imported the arXiv set in {time.perf_counter() - started:,.0f} s", file=sys.stderr)
        trees = [ROOT] + ([args.baseline_tree.resolve()] if args.baseline_tree else [])
        found: dict[Path, list[float]] = {tree: [] for tree in trees}
        facts = {}
        for round_number in range(args.rounds):
            for tree in trees if round_number % 2 == 0 else reversed(trees):
                facts = run_tree(tree, env, args.batches)
                found[tree] += facts["ms"]
    print(
        f"{facts['papers']:,} papers, {facts['authors']:,} authors ({facts['matched']:,} matched); "
        f"resolve of {args.batches} batches of {BATCH:,} papers, {args.rounds} round(s)"
    )
    for tree in trees:
        print(f"  {'this tree' if tree == ROOT else f'baseline tree {tree}':<40}{summary(found[tree])}")
    if len(trees) == 2:
        ratio = statistics.median(found[trees[1]]) / statistics.median(found[ROOT])
        print(f"  baseline / this tree, median: {ratio:.1f}x")


if __name__ == "__main__":
    main()
