"""HNSW recall@10 against brute force, by kind of query, and the time to embed one query.

For the papers of PAPERWIRE_HOME, each query is embedded with the model search uses, and its
nearest papers in the vector index that searches read (usearch HNSW, f16, M = 16, the efforts
of index_files.EXPANSION_ADD and EXPANSION_SEARCH: engine.Indexes) are compared with its 10
nearest by an exact scan of every stored vector
(numpy, the baseline). Recall@10 is printed twice: asking the index for 10 neighbours, and the
first 10 of the engine.CANDIDATES (100) a search asks for. Queries, as bench/search_speed.py
draws them:
- SciFact claims (the test split; one sentence each);
- the first four words of the titles of the home's papers (seeded);
- their mix, half of each.

    .venv/bin/python bench/ann_recall.py [--home DIR] [--queries 300]

Without --home, the SciFact abstracts are imported and indexed into a temporary home (a few
minutes on 2 cores: their embeddings). With --home, the indexes are brought up to date first
(nothing is written when they are; work on a copy of an instance that matters).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import scifact_jsonl, setup_django, shared_data_folder


def exact_neighbours(matrix, keys, vector, count: int = 10) -> set[int]:
    import numpy as np

    return set(keys[np.argsort(-(matrix @ vector))[:count]].tolist())


def recall_at_10(index, matrix, keys, vectors, asked: int = 10) -> float:
    """Mean share of the 10 exact nearest papers among the first 10 of ``asked`` the index returns."""
    found = []
    for vector in vectors:
        approximate = {key for key, _ in index.search(vector, asked)[:10]}
        found.append(len(exact_neighbours(matrix, keys, vector) & approximate) / 10)
    return statistics.mean(found)


def stored_vectors():
    """(keys, matrix): every stored vector, float32, one row a paper."""
    import numpy as np

    from paperwire.search.models import PaperVector

    rows = list(PaperVector.objects.values_list("pk", "vector").iterator())
    keys = np.array([key for key, _ in rows])
    matrix = np.stack([np.frombuffer(bytes(vector), dtype="<f2") for _, vector in rows]).astype(np.float32)
    return keys, matrix


def query_kinds(data: Path, count: int, seed: int = 7) -> dict[str, list[str]]:
    from paperwire.papers.models import Paper

    claims = [json.loads(line)["text"] for line in (data / "scifact" / "queries_test.jsonl").read_text().splitlines()]
    ids = sorted(Paper.objects.values_list("id", flat=True))
    chosen = random.Random(seed).sample(ids, min(count, len(ids)))
    titles = dict(Paper.objects.filter(id__in=chosen).values_list("id", "title"))
    words = [" ".join(titles[pid].split()[:4]) for pid in chosen]
    mix = claims[: count // 2] + words[: count - count // 2]
    return {"SciFact claims": claims[:count], "first 4 words of titles": words, "mix, half of each": mix}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=shared_data_folder())
    parser.add_argument("--home", type=Path, help="an instance with embeddings (default: SciFact in a temporary home)")
    parser.add_argument("--queries", type=int, default=300, help="queries of each kind")
    args = parser.parse_args()
    if not (args.data / "scifact" / "queries_test.jsonl").exists():
        sys.exit(f"SciFact is not under {args.data / 'scifact'} (set PAPERWIRE_SHARED_DATA or --data)")
    home = args.home or Path(tempfile.mkdtemp(prefix="paperwire-ann-"))
    setup_django(home)
    from paperwire.papers.models import Paper
    from paperwire.search import engine
    from paperwire.search.updating import update_indexes

    if args.home is None:
        from paperwire.ingest.importer import import_files

        print(import_files([scifact_jsonl(args.data / "scifact", home / "scifact.jsonl")], progress=False).summary())
    print(update_indexes(show_progress=False).summary())
    embedder, index = engine.OpenIndexes.get().semantic()
    keys, matrix = stored_vectors()
    print(f"PAPERWIRE_HOME {home}: {Paper.objects.count():,} papers, {len(keys):,} vectors ({embedder.name})")
    asked = f"first 10 of k={engine.CANDIDATES}"
    print(f"{'queries':<28}{'n':>5}{'recall@10, k=10':>17}{asked:>20}{'embed p50 ms':>14}")
    embedder.embed(["a warm-up query"])
    for kind, queries in query_kinds(args.data, args.queries).items():
        vectors, times = [], []
        for query in queries:
            started = time.perf_counter()
            vectors.append(embedder.embed([query])[0])
            times.append((time.perf_counter() - started) * 1000)
        print(
            f"{kind:<28}{len(queries):>5}{recall_at_10(index, matrix, keys, vectors):>17.3f}"
            f"{recall_at_10(index, matrix, keys, vectors, engine.CANDIDATES):>20.3f}{statistics.median(times):>14.1f}"
        )


if __name__ == "__main__":
    main()
