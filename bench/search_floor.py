"""Calibrating the semantic relevance floor (engine.SEMANTIC_FLOOR) on real data.

A semantic neighbour less similar to the query than the floor is not a result. This prints,
for the papers of PAPERWIRE_HOME:
- the cosine of the nearest paper for real queries (research topics, the first words of
  titles, SciFact's test claims when SciFact is there) and for gibberish (random letters,
  keyboard runs, made-up syllables; seeded), and for each floor the share of gibberish that
  would still find something against the share of real queries that keep at least one
  semantic result;
- with SciFact imported (the default for a new home; --scifact for an existing one), nDCG@10
  and recall@100 on the test split, hybrid and semantic, at each floor: the baseline is no
  floor, in the same run.

    .venv/bin/python bench/search_floor.py [--home DIR] [--scifact]

The HF archive instance: --home /path/to/a/copy (it is only read).
"""

from __future__ import annotations

import argparse
import random
import string
import sys
import tempfile
from pathlib import Path

from common import TOPICS, scifact_jsonl, setup_django, shared_data_folder
from search_quality import load_split, ndcg_at, recall_at

FLOORS = (0.0, 0.3, 0.35, 0.4, 0.45, 0.5)


def gibberish(count: int, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    letters = string.ascii_lowercase

    def word() -> str:
        return "".join(rng.choice(letters) for _ in range(rng.randint(3, 12)))

    def syllables() -> str:
        return "".join(rng.choice(["ka", "lo", "mi", "zu", "pre", "tor", "qua", "vex", "nib", "dro"]) for _ in range(3))

    def keyboard() -> str:
        row = rng.choice(["qwertyuiop", "asdfghjkl", "zxcvbnm"])
        start = rng.randint(0, len(row) - 4)
        return row[start : start + rng.randint(3, len(row) - start)]

    makers = [word, lambda: f"{word()} {word()}", lambda: " ".join(word() for _ in range(3)), syllables, keyboard]
    return ["zzzzqqqxx", "asdkjh qwpoe"] + [rng.choice(makers)() for _ in range(count - 2)]


def percentiles(values: list[float]) -> str:
    ordered = sorted(values)

    def at(share: float) -> float:
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    shares = "  ".join(f"p{round(share * 100)} {at(share):.3f}" for share in (0.1, 0.5, 0.9, 0.99))
    return f"min {ordered[0]:.3f}  {shares}  max {ordered[-1]:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=shared_data_folder())
    parser.add_argument("--home", type=Path, help="PAPERWIRE_HOME to use (default: a new one with SciFact)")
    parser.add_argument("--scifact", action="store_true", help="import SciFact into --home and evaluate on it")
    parser.add_argument("--gibberish", type=int, default=500)
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="paperwire-floor-"))
    setup_django(home)
    from paperwire.papers.models import Paper
    from paperwire.search import engine
    from paperwire.search.updating import update_indexes

    folder = args.data / "scifact"
    if args.scifact or not args.home:
        if not (folder / "corpus.jsonl").exists():
            sys.exit(f"SciFact is not under {folder}")
        from paperwire.ingest.importer import import_files

        print(import_files([scifact_jsonl(folder, home / "scifact.jsonl")], progress=False).summary())
        print(update_indexes().summary())

    embedder, vectors = engine.OpenIndexes.get().semantic()
    titles = list(Paper.objects.order_by("id").values_list("title", flat=True)[:: max(Paper.objects.count() // 200, 1)])
    real = {
        "research topics": TOPICS,
        "first 4 words of titles": [" ".join(t.split()[:4]) for t in titles],
        "first 2 words of titles": [" ".join(t.split()[:2]) for t in titles],
    }
    if Paper.objects.filter(pk__startswith="scifact-").exists():
        real["SciFact claims (test)"] = list(load_split(folder, "test")[0].values())
    noise = gibberish(args.gibberish)
    nearest = {}
    for name, queries in [*real.items(), ("gibberish", noise)]:
        nearest[name] = [vectors.search(v, 1)[0][1] for v in embedder.embed(queries)]
        print(f"{name:<26} n={len(queries):<4} nearest cosine  {percentiles(nearest[name])}")
    print("\nshare with a semantic result:   " + "".join(f"floor {f:<6}" for f in FLOORS))
    for name, values in nearest.items():
        shares = [sum(v >= f for v in values) / len(values) for f in FLOORS]
        print(f"  {name:<28}" + "".join(f"{s:<12.3f}" for s in shares))
    worst = sorted(zip(nearest["gibberish"], noise, strict=True), reverse=True)[:5]
    print("  closest gibberish: " + ", ".join(f"{q!r} {c:.3f}" for c, q in worst))

    if not Paper.objects.filter(pk__startswith="scifact-").exists():
        return
    queries, judgments = load_split(folder, "test")
    relevant = []
    for query_id, text in queries.items():
        vector = embedder.embed([text])[0]
        keys = dict(Paper.objects.filter(pk__in=list(judgments[query_id])).values_list("vector__id", "pk"))
        for stored in vectors.vectors([k for k in keys if k]).values():
            relevant.append(float(stored @ vector))
    print(f"\nSciFact test: cosine of a claim and a paper judged relevant  {percentiles(relevant)}")
    for floor in FLOORS:
        print(f"  share of relevant pairs below {floor:<5} {sum(c < floor for c in relevant) / len(relevant):.3f}")
    print(f"\nSciFact test ({len(queries)} queries), baseline: no floor")
    header = f"{'hybrid nDCG@10':>16}{'recall@100':>12}{'semantic nDCG@10':>18}{'recall@100':>12}"
    print(f"{'floor':<8}{header}{'vs none':>9}")
    baseline = None
    for floor in FLOORS:
        engine.SEMANTIC_FLOOR = floor
        row = []
        for mode in ("hybrid", "semantic"):
            ndcg = recall = 0.0
            for query_id, text in queries.items():
                ranked = [h.paper.id for h in engine.search(text, mode=mode, limit=100, snippets=False).hits]
                ndcg += ndcg_at(ranked, judgments[query_id])
                recall += recall_at(ranked, judgments[query_id])
            row += [ndcg / len(queries), recall / len(queries)]
        baseline = baseline or row[0]
        print(f"{floor:<8}{row[0]:>16.4f}{row[1]:>12.4f}{row[2]:>18.4f}{row[3]:>12.4f}{row[0] / baseline:>8.3f}x")


if __name__ == "__main__":
    main()
