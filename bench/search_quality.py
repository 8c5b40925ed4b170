"""Search quality on SciFact (BEIR): nDCG@10 and recall@100 for each mode, through the site's code.

The 5,183 SciFact abstracts are imported with Paperwire's importer into a fresh
PAPERWIRE_HOME, indexed with `paperwire index`'s code, and every query goes through
`paperwire.search.engine.search`, the function behind /search, the API and the CLI.
Lexical (BM25) is the baseline of the ratios.

    .venv/bin/python bench/search_quality.py [--split test] [--tune] [--rrf-sweep] [--home DIR]

--tune also sweeps the fusion parameters on the train split and prints the best ones;
the defaults in engine.py were chosen that way. --rrf-sweep prints reciprocal rank fusion on
the evaluated split (--split) at each k, with the semantic weight tuned on train (0.8) and
plain (1.0): what the tuned RRF would give with another k. SciFact: Wadden et al., 2020
(claims CC BY 4.0, abstracts ODC-By 1.0).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

from common import scifact_jsonl, setup_django, shared_data_folder

RRF_KS = (1, 2, 5, 10, 30, 60)
RRF_WEIGHTS = (0.8, 1.0)  # tuned on train; plain RRF


def load_split(folder: Path, split: str) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    judgments: dict[str, dict[str, int]] = {}
    for number, line in enumerate((folder / f"qrels_{split}.tsv").read_text().splitlines()):
        parts = line.split("\t")
        if number == 0 and not parts[-1].strip().isdigit():
            continue
        judgments.setdefault(parts[0], {})[f"scifact-{parts[1]}"] = int(parts[2])
    queries = {}
    for line in (folder / f"queries_{split}.jsonl").read_text().splitlines():
        query = json.loads(line)
        if query["_id"] in judgments:
            queries[query["_id"]] = query["text"]
    return queries, judgments


def ndcg_at(ranked: list[str], relevant: dict[str, int], k: int = 10) -> float:
    dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(v / math.log2(i + 2) for i, v in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: list[str], relevant: dict[str, int], k: int = 100) -> float:
    wanted = {d for d, v in relevant.items() if v > 0}
    return len(wanted & set(ranked[:k])) / len(wanted) if wanted else 0.0


def evaluate(engine, queries, judgments, mode: str, fusion: str = "score") -> tuple[float, float, float]:
    ndcg = recall = 0.0
    started = time.perf_counter()
    for query_id, text in queries.items():
        ranked = [h.paper.id for h in engine.search(text, mode=mode, limit=100, fusion=fusion, snippets=False).hits]
        ndcg += ndcg_at(ranked, judgments[query_id])
        recall += recall_at(ranked, judgments[query_id])
    per_query_ms = (time.perf_counter() - started) / len(queries) * 1000
    return ndcg / len(queries), recall / len(queries), per_query_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=shared_data_folder())
    parser.add_argument("--split", default="test")
    parser.add_argument("--tune", action="store_true", help="sweep the fusion parameters on the train split")
    parser.add_argument("--rrf-sweep", action="store_true", help="RRF at each k on --split (weights 0.8 and 1.0)")
    parser.add_argument("--home", type=Path, help="reuse this PAPERWIRE_HOME (default: a temporary one)")
    args = parser.parse_args()
    folder = args.data / "scifact"
    if not (folder / "corpus.jsonl").exists():
        sys.exit(f"SciFact is not under {folder} (set PAPERWIRE_SHARED_DATA or --data)")

    home = args.home or Path(tempfile.mkdtemp(prefix="paperwire-scifact-"))
    setup_django(home)
    from paperwire.ingest.importer import import_files
    from paperwire.search import engine
    from paperwire.search.updating import update_indexes

    corpus = scifact_jsonl(folder, home / "scifact.jsonl")
    started = time.perf_counter()
    print(import_files([corpus], progress=False).summary())
    report = update_indexes()
    print(f"{report.summary()} in {time.perf_counter() - started:.0f} s")

    if args.tune:
        queries, judgments = load_split(folder, "train")
        print("\ntuning on train:")
        for alpha in (0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7):
            engine.ALPHA = alpha
            print(f"  score fusion alpha={alpha:<5} nDCG@10 {evaluate(engine, queries, judgments, 'hybrid')[0]:.4f}")
        for k in (1, 2, 5, 10, 30, 60):
            for weight in (0.8, 1.0, 1.2):
                engine.RRF_K, engine.RRF_SEMANTIC_WEIGHT = k, weight
                ndcg = evaluate(engine, queries, judgments, "hybrid", "rrf")[0]
                print(f"  rrf k={k:<3} semantic weight={weight:<4} nDCG@10 {ndcg:.4f}")
        import importlib

        importlib.reload(engine)

    queries, judgments = load_split(folder, args.split)
    print(f"\nSciFact {args.split}: {len(queries)} queries")
    print(f"{'mode':<26}{'nDCG@10':>9}{'recall@100':>12}{'ms/query':>10}{'vs BM25':>9}")
    baseline = None
    for label, mode, fusion in (
        ("lexical (BM25)", "lexical", "score"),
        ("semantic (MiniLM int8)", "semantic", "score"),
        (f"hybrid rrf (k={engine.RRF_K})", "hybrid", "rrf"),
        (f"hybrid score (a={engine.ALPHA})", "hybrid", "score"),
    ):
        ndcg, recall, ms = evaluate(engine, queries, judgments, mode, fusion)
        baseline = baseline or ndcg
        print(f"{label:<26}{ndcg:>9.4f}{recall:>12.4f}{ms:>10.1f}{ndcg / baseline:>8.3f}x")

    if args.rrf_sweep:
        tuned = (engine.RRF_K, engine.RRF_SEMANTIC_WEIGHT)
        print(f"\nhybrid rrf on SciFact {args.split}, nDCG@10 (recall@100) at each k; the default is k={tuned[0]}")
        print(f"{'k':<6}" + "".join(f"{f'semantic weight {w}':>28}" for w in RRF_WEIGHTS))
        for k in RRF_KS:
            cells = []
            for weight in RRF_WEIGHTS:
                engine.RRF_K, engine.RRF_SEMANTIC_WEIGHT = k, weight
                ndcg, recall, _ = evaluate(engine, queries, judgments, "hybrid", "rrf")
                cells.append(f"{ndcg:.4f} ({recall:.4f})")
            print(f"{k:<6}" + "".join(f"{cell:>28}" for cell in cells))
        engine.RRF_K, engine.RRF_SEMANTIC_WEIGHT = tuned


if __name__ == "__main__":
    main()
