"""The HNSW build: vectors added a second, and recall@10, by the graph's build effort.

`paperwire index` adds every vector to a usearch HNSW graph (f16, cosine, M = 16); at a million
papers and more this build bounds how long an index pass takes (about 1,200 vectors/s here with
expansion_add = 128). This bench builds the same graph over N vectors with several values of
expansion_add (the baseline, 128, in the same run), then measures recall@10 against an exact
scan (numpy) for held-out queries, asking the graph for 10 and for engine.CANDIDATES (100)
neighbours, as a search does.

The vectors are those of bench/scale.py's bench-only path: the real embeddings its run computed
(``real-vectors.npy`` in its --work folder, 20,000 papers embedded by the shipped model), and for
every other paper the renormalised mean of two of them plus Gaussian noise. Queries: other such
mixes, never in the graph. Synthetic, as in bench/scale.py: say so beside every figure.

    .venv/bin/python bench/ann_build.py --work DIR [--vectors 200000] [--expansion 128,64,32] [--dtype f16,i8]
        [--search-expansion 128,256]

``--dtype``: the stored scalar type of the graph's vectors (the shipped one first); each
expansion_add is built with each. ``--search-expansion``: the search effort (expansion_search)
each graph's recall is measured with; a search is a few milliseconds, a build is what is slow.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import setup_django

NOISE = 0.02  # as bench/scale.py


def synthetic(real: np.ndarray, count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pairs = rng.integers(0, len(real), size=(count, 2))
    out = real[pairs[:, 0]] + real[pairs[:, 1]]
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    out += rng.normal(0, NOISE, out.shape).astype(np.float32)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def recall(index, matrix: np.ndarray, queries: np.ndarray, asked: int) -> tuple[float, float]:
    """recall@10 of the graph's first 10 of ``asked`` neighbours, and the median milliseconds
    a search took."""
    found, took = [], []
    for query in queries:
        exact = set(np.argsort(-(matrix @ query))[:10].tolist())
        started = time.perf_counter()
        keys = index.search(query, asked).keys
        took.append((time.perf_counter() - started) * 1000)
        found.append(len(exact & {int(key) for key in keys[:10]}) / 10)
    return float(np.mean(found)), float(np.median(took))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, required=True, help="a bench/scale.py --work folder (real-vectors.npy)")
    parser.add_argument("--vectors", type=int, default=200_000)
    parser.add_argument("--expansion", default="128,64,32", help="expansion_add values; the first is the baseline")
    parser.add_argument("--dtype", default="f16", help="scalar types of the stored vectors; the first is the baseline")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument(
        "--search-expansion",
        default="",
        help="expansion_search values to measure recall with (default: the shipped one)",
    )
    args = parser.parse_args()
    source = args.work / "real-vectors.npy"
    if not source.exists():
        sys.exit(f"{source} is missing: run bench/scale.py --work {args.work} first (it embeds the real papers)")
    setup_django(Path(tempfile.mkdtemp(prefix="paperwire-ann-build-")))
    from paperwire.search import engine
    from paperwire.search.ann import Index
    from paperwire.search.index_files import new_vector_index

    real = np.load(source).astype(np.float32)
    matrix = np.concatenate([real, synthetic(real, max(0, args.vectors - len(real)), seed=1)])[: args.vectors]
    queries = synthetic(real, args.queries, seed=2)
    keys = np.arange(len(matrix), dtype=np.uint64)
    shipped = new_vector_index(matrix.shape[1])
    print(
        f"{len(matrix):,} vectors ({min(len(real), len(matrix)):,} real embeddings, the rest synthetic), "
        f"{args.queries} synthetic queries; shipped: M = {shipped.connectivity}, "
        f"expansion_add = {shipped.expansion_add}, expansion_search = {shipped.expansion_search}"
    )
    searches = [int(v) for v in args.search_expansion.split(",") if v] or [shipped.expansion_search]
    heading = ("dtype", 6), ("expansion_add", 14), ("build s", 9), ("vectors/s", 11), ("x baseline", 11)
    heading += (("expansion_search", 17), ("recall@10 k=10", 16), ("k=100", 8), ("ms a search k=100", 19))
    print("".join(f"{name:>{width}}" for name, width in heading))
    baseline = None
    variants = [(dtype, int(value)) for dtype in args.dtype.split(",") for value in args.expansion.split(",")]
    for dtype, expansion in variants:
        index = Index(
            ndim=matrix.shape[1],
            metric="cos",
            dtype=dtype,
            connectivity=shipped.connectivity,
            expansion_add=expansion,
            expansion_search=shipped.expansion_search,
        )
        started = time.perf_counter()
        index.add(keys, matrix)
        took = time.perf_counter() - started
        rate = len(matrix) / took
        baseline = baseline or rate
        built = f"{dtype:>6}{expansion:>14}{took:>9.1f}{rate:>11,.0f}{rate / baseline:>11.2f}"
        for search in searches:
            index.expansion_search = search
            (few, _), (many, took) = (recall(index, matrix, queries, k) for k in (10, engine.CANDIDATES))
            print(f"{built}{search:>17}{few:>16.3f}{many:>8.3f}{took:>19.2f}", flush=True)
            built = " " * len(built)


if __name__ == "__main__":
    main()
