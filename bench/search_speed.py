"""Search speed at ~80k papers: the arXiv set plus SciFact, indexed with embeddings.

Reports, each beside a baseline measured in the same run:
- embedding throughput of the model alone vs `paperwire index` over all papers (the import
  with embeddings), with the ratio;
- index build time, index files' sizes, peak memory;
- search latency p50/p95 per mode, in-process and through HTTP (`paperwire serve`), against
  brute-force baselines (numpy over every vector; SQL LIKE scan over every abstract);
- ANN recall@10 against the brute-force neighbours, for the mix of queries and for each kind
  (bench/ann_recall.py measures it alone on any instance); exact titles and arXiv ids ranked first.

    .venv/bin/python bench/search_speed.py [--home DIR] [--queries 200]

Takes about 30 minutes on 2 cores, nearly all of it computing 80k embeddings; with --home
pointing at a finished run it only measures searches.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from ann_recall import recall_at_10, stored_vectors
from common import ROOT, scifact_jsonl, setup_django, shared_data_folder


def percentiles(samples_ms: list[float]) -> str:
    ordered = sorted(samples_ms)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"p50 {statistics.median(ordered):7.2f} ms   p95 {p95:7.2f} ms"


def timed(function, inputs) -> list[float]:
    samples = []
    for item in inputs:
        started = time.perf_counter()
        function(item)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=shared_data_folder())
    parser.add_argument("--home", type=Path, help="PAPERWIRE_HOME to build in or reuse (default: temporary)")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    arxiv_files = sorted((args.data / "arxiv").glob("*.jsonl.gz"))
    scifact = args.data / "scifact"
    if not arxiv_files or not (scifact / "corpus.jsonl").exists():
        sys.exit(f"the arXiv set and SciFact are needed under {args.data}")

    home = args.home or Path(tempfile.mkdtemp(prefix="paperwire-speed-"))
    setup_django(home)
    import numpy as np

    from paperwire.ingest.importer import import_files
    from paperwire.papers.models import Paper
    from paperwire.search import engine
    from paperwire.search.embedder import embedding_text, get_embedder
    from paperwire.search.updating import update_indexes

    print(f"PAPERWIRE_HOME {home}")

    # -- the model alone -------------------------------------------------------------------
    sample = []
    with gzip.open(arxiv_files[0], "rt") as f:
        for line in f:
            record = json.loads(line)
            sample.append(embedding_text(record["title"], record["abstract"]))
            if len(sample) == 1024:
                break
    embedder = get_embedder()
    embedder.embed(sample[:32])
    started = time.perf_counter()
    embedder.embed(sample)
    model_rate = len(sample) / (time.perf_counter() - started)
    print(f"model alone (1,024 arXiv abstracts)      {model_rate:8.1f} papers/s")

    # -- import and index --------------------------------------------------------------------
    corpus = scifact_jsonl(scifact, home / "scifact.jsonl")
    started = time.perf_counter()
    print(import_files([*arxiv_files, corpus]).summary(), f"in {time.perf_counter() - started:.0f} s")
    total = Paper.objects.count()
    started = time.perf_counter()
    report = update_indexes()
    seconds = time.perf_counter() - started
    print(report.summary(), f"in {seconds:.0f} s")
    if report.embedded:
        rate = report.embedded / seconds
        print(
            f"index with embeddings ({report.embedded:,} papers)   {rate:8.1f} papers/s"
            f"   = model throughput / {model_rate / rate:.2f}"
        )
    index_folder = home / "index"
    print(
        f"lexical index {folder_size(index_folder / 'lexical') / 2**20:7.1f} MiB   "
        f"vector index {folder_size(index_folder / 'vectors.usearch') / 2**20:7.1f} MiB   "
        f"peak memory of this process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:7.0f} MiB"
    )

    # -- queries -------------------------------------------------------------------------------
    rng = random.Random(7)
    claims = [json.loads(line)["text"] for line in (scifact / "queries_test.jsonl").read_text().splitlines()]
    papers = list(Paper.objects.order_by("?").values_list("id", "title")[: args.queries])
    topics = [" ".join(title.split()[:4]) for _, title in papers]
    queries = (claims[: args.queries // 2] + topics)[: args.queries]
    rng.shuffle(queries)
    for query in queries[:20]:
        engine.search(query)  # warm up
    print(f"\nin-process, {len(queries)} queries, 10 results with snippets:")
    for mode in engine.MODES:
        print(f"  {mode:<9} {percentiles(timed(lambda q, m=mode: engine.search(q, mode=m), queries))}")

    keys, matrix = stored_vectors()
    query_vectors = embedder.embed(queries)
    ann = engine.OpenIndexes.get().vector_index(embedder.dimensions)
    recall = recall_at_10(ann, matrix, keys, query_vectors[:100])
    print(
        f"  baseline: brute-force cosine over {len(keys):,} vectors (numpy)  "
        f"{percentiles(timed(lambda v: np.argsort(-(matrix @ v))[:10], query_vectors))}"
    )
    print(
        f"  HNSW alone                                      "
        f"{percentiles(timed(lambda v: ann.search(v, 10), query_vectors))}"
        f"   recall@10 vs brute force {recall:.3f}"
    )
    claim_set = set(claims)
    for kind, wanted in (("SciFact claims", True), ("first 4 words of titles", False)):
        vectors = [v for q, v in zip(queries, query_vectors, strict=True) if (q in claim_set) == wanted][:100]
        print(f"    recall@10 vs brute force, {kind:<24} {recall_at_10(ann, matrix, keys, vectors):.3f}")
    words = [q.split()[0] for q in topics[:50]]
    like = timed(lambda w: list(Paper.objects.filter(abstract__icontains=w).values_list("id", flat=True)[:10]), words)
    print(f"  baseline: SQL LIKE scan, one word                       {percentiles(like)}")
    print(f"  (ann {len(keys):,} vectors; lexical {total:,} papers)")

    pinned_titles = sum(
        engine.search(title, limit=1, snippets=False).hits[0].paper.id == pid for pid, title in papers[:50]
    )
    arxiv_papers = [pid for pid, _ in papers if not pid.startswith("scifact-")][:50]
    pinned_ids = sum(engine.search(f"{pid}v2", limit=1, snippets=False).hits[0].paper.id == pid for pid in arxiv_papers)
    print(
        f"  exact title first: {pinned_titles}/50   arXiv id (with a version) first: {pinned_ids}/{len(arxiv_papers)}"
    )

    # -- through HTTP ----------------------------------------------------------------------------
    port = 8765
    server = subprocess.Popen(
        [sys.executable, "-m", "paperwire", "serve", "--port", str(port)],
        cwd=ROOT,
        env=dict(os.environ, PAPERWIRE_RATE_API="1000000/60", PAPERWIRE_RATE_SEARCH="1000000/60"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2).read()
                break
            except OSError:
                time.sleep(0.2)

        def fetch(path: str) -> None:
            with urllib.request.urlopen(base + path, timeout=30) as response:
                response.read()

        for query in queries[:20]:
            fetch("/api/papers/search?" + urllib.parse.urlencode({"q": query, "limit": 10}))
        print(f"\nthrough HTTP (paperwire serve, warm), {len(queries)} sequential queries:")
        for mode in engine.MODES:
            samples = timed(
                lambda q, m=mode: fetch(
                    "/api/papers/search?" + urllib.parse.urlencode({"q": q, "limit": 10, "mode": m})
                ),
                queries,
            )
            print(f"  GET /api/papers/search  {mode:<9} {percentiles(samples)}")
        samples = timed(lambda q: fetch("/search?" + urllib.parse.urlencode({"q": q})), queries)
        print(f"  GET /search (HTML page) hybrid    {percentiles(samples)}")
        samples = timed(lambda q: fetch("/healthz"), queries)
        print(f"  baseline: GET /healthz            {percentiles(samples)}")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
