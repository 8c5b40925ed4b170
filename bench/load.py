"""Load: `paperwire serve --workers 2` driven by wrk on loopback, SQLite and PostgreSQL side by side.

Serves the 74,728-paper arXiv set plus the Hugging Face archive (../shared/data/arxiv and
hf_daily) and drives it from a second process (wrk, Debian's package) over a mix of feed pages,
paper pages, API calls and searches, each run bounded in time. For each database it prints
requests/s, p50/p99 latency, errors and the page-cache hit rate for:
- the mix with the page cache on (the default), beside the same mix with the cache off
  (PAPERWIRE_PAGE_CACHE_SECONDS=0) as the baseline, with the ratio: two servers, runs
  alternated, median of --rounds each;
- the mix under light load (2 connections, one per worker), where latency is not queueing;
- each kind of request on its own, cache on.
URLs are drawn with Zipf popularity (a few pages very often, a long tail rarely) from the
feeds of every archived day, week and month, 5,000 papers and 1,026 queries.

    .venv/bin/python bench/load.py [--duration 10] [--rounds 3] [--connections 16] [--threads 4]
                                   [--database-url URL] [--only sqlite|postgresql]

PostgreSQL: DATABASE_URL (or --database-url) names a server and a role that may create
databases; the benchmark creates and drops its own database `paperwire_load`. Search runs
lexical only (PAPERWIRE_EMBEDDING_MODEL=none): computing 84k embeddings takes ~30 min on 2
cores, and the cost of hybrid queries is measured by bench/search_speed.py. Rate limits are
raised so that the one client wrk is stays under them (their counters are still written).
About 9 minutes in all.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from common import ROOT, TOPICS, free_port, shared_data_folder

KINDS = {"feeds": 25, "papers": 30, "api": 25, "search": 20}  # share of the mix, in %
WORKERS = 2

LUA = r"""
local paths = {PATHS}
local counter = 0
hits, misses = 0, 0  -- globals: done() reads them from each thread
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  counter = tonumber(args[1]) + id * 7919  -- each run and thread starts elsewhere in the list
end

function request()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % #paths) + 1])
end

function response(status, headers, body)
  local cache = headers["X-Cache"]
  if cache == "hit" then hits = hits + 1 elseif cache == "miss" then misses = misses + 1 end
end

function done(summary, latency, requests)
  local h, m = 0, 0
  for _, thread in ipairs(threads) do
    h = h + thread:get("hits")
    m = m + thread:get("misses")
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "seconds": %.3f, "p50_ms": %.2f, "p99_ms": %.2f, "status_errors": %d, ' ..
    '"socket_errors": %d, "hits": %d, "misses": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.status, e.connect + e.read + e.write + e.timeout, h, m))
end
"""


def paperwire(env: dict, *args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "paperwire", *args], env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def serve_options(threads: int) -> list[str]:
    return ["--workers", str(WORKERS), "--threads", str(threads)]


class Server:
    def __init__(self, env: dict, threads: int, **extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**env, **extra, "PAPERWIRE_BASE_URL": self.url}
        command = [sys.executable, "-m", "paperwire", "serve", "--port", str(self.port), *serve_options(threads)]
        self.process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                sys.exit("paperwire serve exited")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        sys.exit("paperwire serve did not answer /healthz")

    def memory_mib(self) -> float:
        """Resident memory of the server and its children (workers, indexer), in MiB."""
        pids = [str(self.process.pid)]
        pids += subprocess.run(["pgrep", "-P", pids[0]], capture_output=True, text=True).stdout.split()
        return (
            sum(int(Path(f"/proc/{pid}/statm").read_text().split()[1]) for pid in pids)
            * os.sysconf("SC_PAGE_SIZE")
            / 2**20
        )

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def drive(url: str, paths: list[str], seconds: int, connections: int, folder: Path, start: int = 0) -> dict:
    script = folder / "mix.lua"
    script.write_text(LUA.replace("{PATHS}", "{" + ",".join(json.dumps(p) for p in paths) + "}"))
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(script), url]
    command += ["--", str(start)]
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"wrk failed: {run.stderr or run.stdout}")
    output = run.stdout
    line = next(line for line in output.splitlines() if line.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    result["rps"] = result["requests"] / result["seconds"]
    result["errors"] = result["status_errors"] + result["socket_errors"]
    served = result["hits"] + result["misses"]
    result["hit_rate"] = result["hits"] / served if served else 0.0
    return result


def url_pools(data: Path, rng: random.Random) -> dict[str, list[str]]:
    """The distinct URLs of each kind, drawn from the data the server holds, most popular first."""
    days = sorted(p.stem for p in (data / "hf_daily").glob("*.json"))
    hf_ids, titles = [], []
    for day in days:
        response = json.loads((data / "hf_daily" / f"{day}.json").read_text())
        for item in response if isinstance(response, list) else []:
            if not isinstance(item, dict) or not isinstance(item.get("paper"), dict):
                continue  # the archive's odd shapes (items as strings): the importer reads them, we need not
            hf_ids.append(item["paper"]["id"])
            titles.append(item["paper"]["title"])
    arxiv_ids = []
    for file in sorted((data / "arxiv").glob("*.jsonl.gz")):
        with gzip.open(file, "rt") as lines:
            arxiv_ids += [json.loads(line)["id"] for _, line in zip(range(300), lines, strict=False)]
    weeks = sorted({"{}-W{:02d}".format(*dt.date.fromisoformat(d).isocalendar()[:2]) for d in days})
    papers = rng.sample(hf_ids, 2500) + rng.sample(arxiv_ids, 2500)
    queries = TOPICS + [" ".join(title.split()[:4]) for title in rng.sample(titles, 1000)]
    pools = {
        "feeds": ["/", "/papers/trending"]
        + [f"/papers/date/{d}" for d in days]
        + [f"/papers/week/{w}" for w in weeks]
        + [f"/papers/month/{m}" for m in sorted({d[:7] for d in days})],
        "papers": [f"/papers/{pid}" for pid in papers],
        "api": ["/api/daily_papers"]
        + [f"/api/daily_papers?date={d}" for d in days]
        + [f"/api/papers/{pid}" for pid in papers[::2]],
        "search": [f"/api/papers/search?{urllib.parse.urlencode({'q': q})}" for q in queries]
        + [f"/search?{urllib.parse.urlencode({'q': q})}" for q in queries],
    }
    for urls in pools.values():  # popularity order; the first of each (home, latest) stays the most popular
        tail = urls[1:]
        rng.shuffle(tail)
        urls[1:] = tail
    return pools


def zipf_stream(pool: list[str], rng: random.Random, size: int) -> list[str]:
    """Requests as readers make them: a few pages very often, a long tail rarely (Zipf, s = 1)."""
    return rng.choices(pool, weights=[1 / rank for rank in range(1, len(pool) + 1)], k=size)


def mixed_stream(pools: dict[str, list[str]], rng: random.Random, size: int = 20_000) -> list[str]:
    kinds = rng.choices(list(KINDS), weights=list(KINDS.values()), k=size)
    streams = {kind: iter(zipf_stream(pools[kind], rng, size)) for kind in KINDS}
    return [next(streams[kind]) for kind in kinds]


def postgres_database(server_url: str) -> str:
    """A fresh database `paperwire_load` on the server of ``server_url``."""
    import psycopg

    admin = server_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute("DROP DATABASE IF EXISTS paperwire_load WITH (FORCE)")
        connection.execute("CREATE DATABASE paperwire_load")
    return server_url.rsplit("/", 1)[0] + "/paperwire_load"


def median_run(runs: list[dict]) -> dict:
    """The run with the median requests/s (the machine is shared: single runs wander), with the
    errors of every run."""
    chosen = dict(sorted(runs, key=lambda r: r["rps"])[len(runs) // 2])
    chosen["errors"] = sum(r["errors"] for r in runs)
    return chosen


def run_database(name: str, env: dict, data: Path, pools: dict[str, list[str]], args, folder: Path) -> dict:
    print(f"\n== {name}")
    inputs = [*sorted((data / "arxiv").glob("*.jsonl.gz")), *sorted((data / "hf_daily").glob("*.json"))]
    paperwire(env, "migrate", "-v0")
    seconds = paperwire(env, "import", "--no-index", *map(str, inputs))
    print(f"import: arXiv set + HF archive in {seconds:.0f} s")
    print(f"index (lexical): {paperwire(env, 'index'):.0f} s")
    mix = mixed_stream(pools, random.Random(1))
    servers = {
        "cache off": Server(env, args.threads, PAPERWIRE_PAGE_CACHE_SECONDS="0"),
        "cache on": Server(env, args.threads),
    }
    samples: dict[str, list[dict]] = {label: [] for label in servers}
    try:
        for server in servers.values():  # warm up: indexes opened, connections made, popular pages cached
            drive(server.url, mixed_stream(pools, random.Random(2), 5000), 5, args.connections, folder)
        for round in range(args.rounds):  # alternated, so that both see the same machine
            for label, server in servers.items():
                samples[label].append(drive(server.url, mix, args.duration, args.connections, folder, round * 5000))
        results = {label: median_run(runs) for label, runs in samples.items()}
        # One connection per worker: the latency of a request that does not queue.
        results["light load"] = drive(servers["cache on"].url, mix, args.duration, 2, folder, 40_000)
        for kind in KINDS:
            stream = zipf_stream(pools[kind], random.Random(3), 10_000)
            results[kind] = drive(servers["cache on"].url, stream, args.duration, args.connections, folder)
        results["cache on"]["memory_mib"] = servers["cache on"].memory_mib()
    finally:
        for server in servers.values():
            server.stop()
    print(f"{'run':<10} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'cache hits':>10}")
    for label, r in results.items():
        hits = f"{r['hit_rate']:.0%}" if r["hits"] + r["misses"] else "-"
        print(f"{label:<10} {r['rps']:8.0f} {r['p50_ms']:8.1f} {r['p99_ms']:8.1f} {r['errors']:7d} {hits:>10}")
    ratio = results["cache on"]["rps"] / results["cache off"]["rps"]
    print(f"mix, cache on / cache off: {ratio:.2f}× the requests/s (median of {args.rounds} alternated runs each)")
    print(f"server memory (2 workers + indexer) after the runs: {results['cache on']['memory_mib']:.0f} MiB")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=shared_data_folder())
    parser.add_argument("--duration", type=int, default=10, help="seconds of each measured run")
    parser.add_argument("--rounds", type=int, default=3, help="mixed runs per cache setting (median)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=4, help="threads per web worker (serve's default: 4)")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    if not list((args.data / "arxiv").glob("*.jsonl.gz")) or not (args.data / "hf_daily").is_dir():
        sys.exit(f"the arXiv set and the Hugging Face archive are needed under {args.data}")
    if args.only != "sqlite" and not args.database_url.startswith("postgres"):
        sys.exit("PostgreSQL: set DATABASE_URL or --database-url (or run --only sqlite)")

    pools = url_pools(args.data, random.Random(7))
    folder = Path(tempfile.mkdtemp(prefix="paperwire-load-"))
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    base.update(
        {
            "PAPERWIRE_SECRET_KEY": "bench-secret-key-0123456789-abcdefghijklmnop",
            "PAPERWIRE_EMBEDDING_MODEL": "none",
            "PAPERWIRE_INDEX_INTERVAL": "0",
            "PAPERWIRE_RATE_API": "1000000/60",
            "PAPERWIRE_RATE_SEARCH": "1000000/60",
        }
    )
    print(f"wrk: 2 threads, {args.connections} connections, {args.duration} s per mixed run, on loopback")
    distinct = sum(map(len, pools.values()))
    serve = " ".join(serve_options(args.threads))
    print(f"server: paperwire serve {serve}; mix {KINDS} over {distinct} distinct URLs, Zipf popularity")
    runs = {}
    try:
        if args.only in (None, "sqlite"):
            env = {**base, "PAPERWIRE_HOME": str(folder / "sqlite")}
            runs["SQLite"] = run_database("SQLite", env, args.data, pools, args, folder)
        if args.only in (None, "postgresql"):
            database = postgres_database(args.database_url)
            env = {**base, "PAPERWIRE_HOME": str(folder / "postgresql"), "DATABASE_URL": database}
            runs["PostgreSQL"] = run_database("PostgreSQL", env, args.data, pools, args, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if len(runs) == 2:
        print("\n== side by side (req/s, p50/p99 ms, errors)")
        for label in runs["SQLite"]:
            cells = [
                f"{r[label]['rps']:6.0f}  {r[label]['p50_ms']:5.1f}/{r[label]['p99_ms']:6.1f}  {r[label]['errors']}"
                for r in runs.values()
            ]
            print(f"{label:<10} SQLite {cells[0]:<28} PostgreSQL {cells[1]}")
    errors = sum(r["errors"] for db in runs.values() for r in db.values())
    print(f"\nerrors in all runs: {errors}")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
