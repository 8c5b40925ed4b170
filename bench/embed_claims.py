"""Embedding shared through claims on PostgreSQL: the model's own rate, one `paperwire index`,
two at once on one database; papers/s of each beside the model's rate in the same run.

N arXiv papers of ../shared/data (title + abstract, as indexed) are imported with --no-index
into a fresh PostgreSQL database for each run (the server DATABASE_URL names; the database is
created beside it and dropped at the end), then:

- (a) the model alone, in this process (Embedder.embed on the texts, no database): with the
  texts in their order in batches of 32 (padded to each batch's longest), then as `paperwire
  index` runs them (tokenized once, batches of similar token length), each with 1 and 2 ONNX
  Runtime threads (PAPERWIRE_EMBEDDING_THREADS);
- (b) one `paperwire index` process (2 threads): its whole run (start, embedding, index pass),
  and its embedding phase alone;
- (c) two `paperwire index` processes at once on the same database, each with its own
  PAPERWIRE_HOME (two nodes), 1 thread each and then 2 threads each: the combined rate (papers
  over the time until both ended), each one's share, and each one's claiming overhead (seconds
  spent claiming and renewing, and storing and releasing, against seconds in the model);
  checked: every paper has its vector, no claim is left, no paper was embedded by both (the ids
  each process logs as it embeds, at PAPERWIRE_LOG_LEVEL=DEBUG).

The CPU model and its vector extensions are printed beside the figures (int8 kernels differ
with AVX2, AVX-512, VNNI and AMX). The package ships one model (int8 ONNX): there is no other
variant to compare here.

    DATABASE_URL=postgres://user:pw@127.0.0.1/name .venv/bin/python bench/embed_claims.py [--papers 2000]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

from common import ROOT, setup_django, shared_data_folder

EXTENSIONS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_tile", "amx_int8")
PHASE = re.compile(
    r"embedded (\d+) papers in \d+ batches in ([\d.]+) s: ([\d.]+) s embedding, ([\d.]+) s claiming, "
    r"([\d.]+) s storing"
)
EMBEDDED = re.compile(r"paperwire\.search\.claims: embedded \d+ papers: (.*)$", re.M)


def cpu() -> str:
    text = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.*)$", text, re.M)
    flags = set(re.search(r"^flags\s*:\s*(.*)$", text, re.M).group(1).split())
    found = [name for name in EXTENSIONS if name in flags]
    missing = [name for name in EXTENSIONS if name not in flags]
    return (
        f"{model.group(1) if model else 'unknown CPU'}, {os.cpu_count()} cores; "
        f"vector extensions: {', '.join(found) or 'none'} (not: {', '.join(missing) or '-'})"
    )


def records(data: Path, count: int) -> list[dict]:
    found = []
    for path in sorted((data / "arxiv").glob("*.jsonl.gz")):
        with gzip.open(path, "rt") as file:
            for line in file:
                record = json.loads(line)
                found.append({"id": record["id"], "title": record["title"], "abstract": record["abstract"]})
                if len(found) == count:
                    return found
    return found


class Server:
    """Fresh databases on the PostgreSQL server of ``url``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.base = url.rsplit("/", 1)[0]
        self.made: list[str] = []

    def fresh(self) -> str:
        import psycopg

        name = f"pw_embed_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(f"{self.base}/postgres", autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        self.made.append(name)
        return f"{self.base}/{name}"

    def count(self, url: str, sql: str) -> int:
        import psycopg

        with psycopg.connect(url) as connection:
            return connection.execute(sql).fetchone()[0]

    def drop_all(self) -> None:
        import psycopg

        with psycopg.connect(f"{self.base}/postgres", autocommit=True) as connection:
            for name in self.made:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def child_env(home: Path, url: str, threads: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(
        {
            "PAPERWIRE_HOME": str(home),
            "DATABASE_URL": url,
            "PAPERWIRE_EMBEDDING_THREADS": str(threads),
            "PAPERWIRE_LOG_LEVEL": "DEBUG",
            "PAPERWIRE_PROGRESS_SECONDS": "3600",
            "PAPERWIRE_SECRET_KEY": "bench-secret-key-0123456789-abcdefghijklmnop",
        }
    )
    env.setdefault("PAPERWIRE_MODEL_DIR", str(ROOT / ".cache" / "models"))
    return env


def paperwire(*args: str, env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "paperwire", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=log.open("w"),
        text=True,
    )


def database_with_papers(server: Server, source: Path, work: Path) -> str:
    url = server.fresh()
    done = subprocess.run(
        [sys.executable, "-m", "paperwire", "import", "--no-index", str(source)],
        env=child_env(work / f"import-{uuid.uuid4().hex[:6]}", url, 1),
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return url


def run_nodes(server: Server, source: Path, work: Path, papers: int, threads: int, count: int) -> dict:
    """``count`` `paperwire index` processes at once on a fresh database: what each did."""
    url = database_with_papers(server, source, work)
    logs = [work / f"node-{count}x{threads}-{n}.log" for n in range(count)]
    started = time.perf_counter()
    processes = [
        paperwire("index", env=child_env(work / f"home-{count}x{threads}-{n}", url, threads), log=logs[n])
        for n in range(count)
    ]
    ended = []
    for process in processes:
        process.wait()
        ended.append(time.perf_counter() - started)
        if process.returncode != 0:
            raise SystemExit(f"paperwire index failed: {process.stderr}")
    wall = max(ended)
    nodes = []
    ids: Counter = Counter()
    for log, seconds in zip(logs, ended, strict=True):
        text = log.read_text()
        phase = PHASE.search(text)
        embedded, elapsed, embedding, claiming, storing = (
            (int(phase.group(1)), *map(float, phase.groups()[1:])) if phase else (0, 0.0, 0.0, 0.0, 0.0)
        )
        ids.update(i for line in EMBEDDED.findall(text) for i in line.split())
        nodes.append(
            {
                "embedded": embedded,
                "elapsed": elapsed,
                "embedding": embedding,
                "claiming": claiming,
                "storing": storing,
                "wall": seconds,
            }
        )
    vectors = server.count(url, "SELECT count(*) FROM search_papervector")
    claims = server.count(url, "SELECT count(*) FROM search_embeddingclaim")
    twice = sum(1 for n in ids.values() if n > 1)
    return {"wall": wall, "nodes": nodes, "vectors": vectors, "claims": claims, "twice": twice, "ids": len(ids)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=shared_data_folder())
    parser.add_argument("--papers", type=int, default=2000)
    args = parser.parse_args()
    server_url = os.environ.get("DATABASE_URL", "")
    if not server_url.startswith("postgres"):
        raise SystemExit("DATABASE_URL must name a PostgreSQL database (the bench creates its own beside it)")
    work = Path(tempfile.mkdtemp(prefix="paperwire-embed-claims-"))
    os.environ.pop("DATABASE_URL")  # this process embeds with no database of the server's
    setup_django(work / "home")
    from django.conf import settings

    from paperwire.search.embedder import SHIPPED, Embedder, embedding_text

    papers = records(args.data, args.papers)
    source = work / "papers.jsonl"
    source.write_text("".join(json.dumps(p) + "\n" for p in papers))
    texts = [embedding_text(p["title"], p["abstract"]) for p in papers]
    print(cpu())
    print(f"{len(papers)} arXiv papers; load average {os.getloadavg()[0]:.1f} at the start", flush=True)

    model_rates = {}
    for threads in (1, 2):
        settings.EMBEDDING_THREADS = threads
        embedder = Embedder(SHIPPED)
        embedder.load()
        embedder.embed(texts[:32])  # warm up
        started = time.perf_counter()
        for start in range(0, len(texts), 32):
            embedder.embed(texts[start : start + 32])
        model_rates[("in order", threads)] = len(texts) / (time.perf_counter() - started)
        started = time.perf_counter()
        embedder.embed(texts)
        model_rates[("by length", threads)] = len(texts) / (time.perf_counter() - started)
    baseline = model_rates[("by length", 2)]

    def row(name: str, rate: float, more: str = "") -> None:
        print(f"  {name:58} {rate:7.1f} papers/s  {rate / baseline:5.2f}x{more}", flush=True)

    print("(a) the model alone (Embedder.embed, no database); baseline: by token length, 2 threads")
    for (order, threads), rate in model_rates.items():
        row(f"batches of 32 {'in the texts order' if order == 'in order' else 'by token length'}, {threads} thr", rate)

    server = Server(server_url)
    try:
        one = run_nodes(server, source, work, len(papers), threads=2, count=1)
        node = one["nodes"][0]
        print("(b) one `paperwire index` (2 threads) on PostgreSQL")
        row("whole run (start-up, embedding, index pass)", len(papers) / one["wall"])
        row("embedding phase", node["embedded"] / node["elapsed"], overhead(node))
        for threads in (1, 2):
            two = run_nodes(server, source, work, len(papers), threads=threads, count=2)
            print(f"(c) two `paperwire index` at once on one PostgreSQL database, {threads} thread(s) each")
            row("combined: papers / time until both ended", len(papers) / two["wall"])
            for n, node in enumerate(two["nodes"], start=1):
                row(
                    f"process {n}: {node['embedded']} papers, embedding phase",
                    node["embedded"] / node["elapsed"],
                    overhead(node),
                )
            ok = two["vectors"] == len(papers) and two["claims"] == 0 and two["twice"] == 0
            print(
                f"  check: {two['vectors']} vectors for {len(papers)} papers, {two['claims']} claims left, "
                f"{two['twice']} papers embedded by both, {sum(n['embedded'] for n in two['nodes'])} embeddings "
                f"computed: {'ok' if ok and two['ids'] == len(papers) else 'WRONG'}",
                flush=True,
            )
    finally:
        server.drop_all()
        shutil.rmtree(work, ignore_errors=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


def overhead(node: dict) -> str:
    spent = node["claiming"] + node["storing"]
    share = spent / node["embedding"] if node["embedding"] else 0.0
    return (
        f"  (claiming {node['claiming']:.2f} s + storing {node['storing']:.2f} s = {share:.1%} of "
        f"{node['embedding']:.1f} s in the model)"
    )


if __name__ == "__main__":
    sys.exit(main())
