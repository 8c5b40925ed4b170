"""Scale: one step of the corpus-size ladder (80k real papers, 100k, 1M, 2.7M), measured end to end.

    .venv/bin/python bench/scale.py --papers N [--work DIR] [--output FILE.json] [--requests 100]

``--papers 0`` is the baseline: the 74,728 real arXiv papers of ../shared/data (less the 1,000
held out as "a day's new papers", below). ``--papers N`` is N papers remixed from them in the
Kaggle snapshot's format (bench/scale_corpus.py says how). Each step also imports the Hugging
Face archive (9,877 real papers with their upvotes and organizations: trending and the upvote
sort need votes), into a fresh PAPERWIRE_HOME on SQLite, with the shipped embedding model.

What it measures, in order (each a child process, as a user would run it):
1. ``paperwire import --no-index`` of the corpus: seconds, papers/s, peak memory (the child's
   own rusage), database size.
2. Vectors, through a **bench-only path** (``store_vectors`` below, not a Paperwire command):
   embedding N abstracts takes hours here (about 26 papers/s on this AVX2-only machine), so
   each paper gets a vector written into the database as ``paperwire index`` would store it.
   The first ``--real-vectors`` papers of the arXiv set (20,000 by default) get their real
   embedding, computed once by the shipped model and kept in the work folder; every other paper
   a **synthetic vector**: the mean of two real ones plus Gaussian noise (sigma 0.02 a
   dimension), renormalised; for a remixed paper, of its two source papers' (``vector_source``).
   Every figure says so. Queries are always embedded by the real model, in the server.
3. ``paperwire index``: the lexical index and the HNSW index from the stored vectors (no
   embedding): seconds, peak memory, size on disk. Then, at least 5 minutes after the import
   ended (waiting if need be), the first update: it reads again the papers stamped in the 5
   minutes before the pass began (``WATERMARK_SLACK``) and writes those changed since.
4. ``paperwire serve --workers 2`` with the page cache off (every request computed): memory
   at rest; then, per kind of request, ``--requests`` requests from 2 clients at once, each URL
   (each query) asked once, after a warm-up of other URLs: p50 and p95 in ms; memory under load.
5. A day's 1,000 new real papers (``paperwire import`` with their index update: embeddings by
   the real model included), while nothing else runs.
6. ``paperwire index --rebuild``.
7. ``paperwire digest send --frequency weekly`` of the corpus's last week to 10,000 subscribers
   with 3 topics each, to an SMTP server on loopback that keeps nothing (common.SmtpSink).

Figures go to ``--output`` (JSON, written again as each is measured: a step stopped part way
keeps them) and stdout; bench/scale_report.py turns several steps into
docs/scale.md. The work folder keeps corpora and the real embeddings between runs (a step's
home is made again each run). ``--resume --output FILE`` goes on with a step cut short (the
2.7M step takes some hours): the phases whose figures FILE holds are kept, the first one
missing is run again from its start on the step's home (the import into a new home, the
vectors all stored again, the index built from nothing); a digest cut short would be measured
on the subscribers not yet sent, and a day's import cut short is not undone, so those two are
best let finish. FILE then lists the dates it was resumed on.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import hashlib
import http.client
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import numpy as np
from common import ROOT, TOPICS, SmtpSink, free_port, shared_data_folder
from scale_corpus import real_papers, write_corpus

DAY_PAPERS = 1000
SUBSCRIBERS = 10_000
NOISE = 0.02
NOISE_ROWS = 65_536  # rows of the seeded noise table (two make a paper's noise)
SECRET = "bench-secret-key-0123456789-abcdefghijklmnop"


# ---------------------------------------------------------------------------- child processes


class Child:
    def __init__(self, seconds: float, peak_mib: float, output: str) -> None:
        self.seconds, self.peak_mib, self.output = seconds, peak_mib, output


LAUNCHER_CODE = r"""
import ctypes, json, os, signal, subprocess, sys, tempfile, time
child = None
def stop(signum, frame):  # the benchmark stopped (or gone): so is the command it measures
    if child is not None and child.poll() is None:
        child.terminate()
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
    os._exit(128 + signum)
signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
try:  # Linux: SIGTERM to this launcher when the benchmark dies, however (PR_SET_PDEATHSIG)
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)
except (OSError, AttributeError):
    pass
if os.getppid() != int(sys.argv[1]):  # it died before that took effect
    stop(signal.SIGTERM, None)
for line in sys.stdin:
    asked = json.loads(line)
    with tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        child = subprocess.Popen(asked["command"], env=asked["env"], stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        out.seek(0)
        answer = {"seconds": seconds, "peak_mib": usage.ru_maxrss / 1024,
                  "code": os.waitstatus_to_exitcode(status), "output": out.read()}
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()
"""


class Launcher:
    """A small Python process (no site, no numpy), started before this one reads the real
    papers, that starts the measured children: the kernel counts into a child's peak memory the
    memory of the process that forked it (kept across exec, vfork or not), which here would be
    hundreds of MiB of the benchmark's own; the launcher's is about 10 MiB. One JSON line a
    command, one back. The benchmark stopped by a signal, or killed, the launcher stops the
    command it runs and exits."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-S", "-c", LAUNCHER_CODE, str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def run(self, command: list[str], env: dict) -> tuple[float, float, int, str]:
        self.process.stdin.write(json.dumps({"command": command, "env": env}) + "\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        return answer["seconds"], answer["peak_mib"], answer["code"], answer["output"]


LAUNCHER: Launcher | None = None


def run(env: dict, *args: str) -> Child:
    """``paperwire ARGS`` as a child, started by the launcher; its wall-clock seconds and its own
    peak resident memory (plus at most the launcher's ~10 MiB)."""
    seconds, peak_mib, code, output = LAUNCHER.run([sys.executable, "-P", "-m", "paperwire", *args], env)
    if code != 0:
        sys.exit(f"paperwire {' '.join(args)} failed ({code}):\n{output[-3000:]}")
    return Child(seconds, peak_mib, output)


def environment(home: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")}
    env.update(
        PAPERWIRE_HOME=str(home),
        PAPERWIRE_SECRET_KEY=SECRET,
        PAPERWIRE_MODEL_DIR=str(ROOT / ".cache" / "models"),
        PAPERWIRE_PAGE_CACHE_SECONDS="0",
        PAPERWIRE_RATE_API="1000000/60",
        PAPERWIRE_RATE_SEARCH="1000000/60",
        PYTHONPATH=str(ROOT),
        **extra,
    )
    return env


def size_mib(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 2**20
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


# ---------------------------------------------------------------------------- inputs


def day_papers(data: Path, papers: list[dict]) -> list[dict]:
    """A day's new papers: 1,000 real papers of the last full month of the set that the Hugging
    Face archive does not hold (so they are new to every step's database)."""
    archive_ids = set()
    for path in (data / "hf_daily").glob("*.json"):
        try:
            items = json.loads(path.read_text())
        except ValueError:
            continue
        items = items.get("data", []) if isinstance(items, dict) else items
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("paper"), dict):
                archive_ids.add(item["paper"].get("id"))
    june = [p for p in papers if p["id"].startswith("2606.") and p["id"] not in archive_ids]
    return june[-DAY_PAPERS:]


def queries(papers: list[dict], count: int, rng: random.Random) -> list[str]:
    """Distinct queries as readers type them: the digest topics, then 2 to 4 words of real titles."""
    found = list(TOPICS)
    seen = set(found)
    while len(found) < count:
        words = rng.choice(papers)["title"].split()
        start = rng.randrange(max(1, len(words) - 2))
        query = " ".join(words[start : start + rng.randint(2, 4)]).strip(":,.;()")
        if query and query.lower() not in seen:
            seen.add(query.lower())
            found.append(query)
    rng.shuffle(found)
    return found


# ---------------------------------------------------------------------------- vectors


def real_vectors(work: Path, count: int) -> int:
    """The real embeddings of the first ``count`` papers of the arXiv set (real_papers' order),
    computed by the shipped model in a child process and kept in the work folder
    (``real-ids.json``, ``real-vectors.npy``: float16), added to what is there already, saved
    every few thousand (an interrupted run keeps them). Returns how many there are. About 26
    papers/s on this 2-core AVX2 machine: the whole set would take most of an hour, which is why
    the benchmark embeds a part of it and makes up the rest (``vector_source``)."""
    code = r"""
import json, os, sys
from pathlib import Path
import django
django.setup()
import numpy as np
from paperwire.ingest.formats import from_jsonl
from paperwire.search.embedder import embedding_text, get_embedder
sys.path.insert(0, os.environ["BENCH_DIR"])
from scale_corpus import real_papers
from common import shared_data_folder
work, count = Path(os.environ["BENCH_WORK"]), int(os.environ["BENCH_COUNT"])
ids_file, vectors_file = work / "real-ids.json", work / "real-vectors.npy"
ids = json.loads(ids_file.read_text()) if ids_file.exists() else []
vectors = [np.load(vectors_file)] if ids else []
done = set(ids)
todo = [p for p in real_papers(shared_data_folder())[:count] if p["id"] not in done]
embedder = get_embedder()
for start in range(0, len(todo), 2000):
    records = [from_jsonl(p) for p in todo[start : start + 2000]]
    vectors.append(embedder.embed([embedding_text(r.title, r.abstract) for r in records]).astype("<f2"))
    ids += [r.id for r in records]
    np.save(vectors_file.with_suffix(".tmp.npy"), np.concatenate(vectors))
    Path(str(ids_file) + ".tmp").write_text(json.dumps(ids))
    os.replace(vectors_file.with_suffix(".tmp.npy"), vectors_file)
    os.replace(str(ids_file) + ".tmp", ids_file)
    print(f"{len(ids)} real embeddings", flush=True)
"""
    ids_file = work / "real-ids.json"
    have = real_embeddings_held(work)
    if have < count:
        print(
            f"embedding {count - have:,} real papers with the shipped model, once for this work folder: "
            f"about {(count - have) / 26 / 60:.0f} minutes at 26 papers/s (--real-vectors sets how many) ...",
            flush=True,
        )
        env = {
            **environment(work / "home-embed"),
            "BENCH_DIR": str(Path(__file__).parent),
            "BENCH_WORK": str(work),
            "BENCH_COUNT": str(count),
            "DJANGO_SETTINGS_MODULE": "paperwire.settings",
        }
        subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True)
    return len(json.loads(ids_file.read_text()))


def remixed_corpus(work: Path, papers: int, data: Path) -> Path:
    """The corpus of ``papers`` remixed papers in ``work`` (written when missing), with the list
    of its ids that ``vector_source`` reads. ``work/arxiv-ids.json`` is written by the caller."""
    corpus = write_corpus(papers, work / f"corpus-{papers}.jsonl.gz", data)
    ids_file = Path(str(corpus) + ".ids.json")
    if not ids_file.exists():
        with gzip.open(corpus, "rt") as lines:
            ids_file.write_text(json.dumps([json.loads(line)["id"] for line in lines]))
    return corpus


def real_embeddings_held(work: Path) -> int:
    ids_file = work / "real-ids.json"
    return len(json.loads(ids_file.read_text())) if ids_file.exists() else 0


def store_vectors(env: dict) -> int:
    """The bench-only path: every paper of the home in ``env`` without a vector gets one from
    ``vector_source`` (below), stored as `paperwire index` stores a computed one (model name,
    text hash, float16), so that the index reuses it and embeds nothing; each dated as its
    paper was last changed."""
    code = r"""
import os, sys
sys.path.insert(0, os.environ["BENCH_DIR"])
import django
django.setup()
from django.db import connection, transaction
from paperwire.papers.models import Paper
from paperwire.search.embedder import get_embedder, text_hash
from paperwire.search.models import PaperVector
import scale
vectors_of = scale.vector_source(os.environ["BENCH_WORK"], os.environ.get("BENCH_CORPUS"))
model = get_embedder().name
# Each dated as its paper was last changed, as if computed the moment the paper came in (as a
# site's updater embeds what an import brings, over its hours): not older than its paper (every
# index run would then check every paper's text against its vector), and not all within the 5
# minutes before the index pass began (the first update after it would read them all again).
table = connection.ops.quote_name(PaperVector._meta.db_table)
insert = (f"INSERT INTO {table} (paper_id, model, text_hash, vector, updated_at, source_updated_at) "
          "VALUES (%s, %s, %s, %s, %s, %s)")
stored, last = 0, ""
while True:
    batch = list(Paper.objects.filter(id__gt=last, vector__isnull=True).order_by("id")
                 .values_list("id", "title", "abstract", "updated_at")[:20000])
    if not batch:
        break
    vectors = vectors_of([b[0] for b in batch]).astype("<f2")
    stamp = connection.ops.adapt_datetimefield_value
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(insert, [(pid, model, text_hash(t, a), v.tobytes(), stamp(changed), stamp(changed))
                                    for (pid, t, a, changed), v in zip(batch, vectors)])
    stored += len(batch)
    last = batch[-1][0]
print(stored)
"""
    env = {**env, "BENCH_DIR": str(Path(__file__).parent), "DJANGO_SETTINGS_MODULE": "paperwire.settings"}
    child = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True)
    if child.returncode:
        sys.exit(f"storing vectors failed:\n{child.stderr[-3000:]}")
    return int(child.stdout.split()[-1])


def vector_source(work: str, corpus: str | None):
    """``ids -> vectors`` for the bench-only path. The papers embedded by ``real_vectors`` get
    their real embedding. Every other real paper (of the arXiv set or the archive) a synthetic
    one: the mean of two embedded papers' embeddings (chosen by a hash of its id) plus Gaussian
    noise (NOISE a dimension), renormalised. A remixed paper of ``corpus``: the same of the
    vectors of its two source papers. Deterministic, and computed a batch at a time: the noise
    of a paper is the sum of two rows (chosen by a hash of its id) of one seeded table."""
    work_path = Path(work)
    embedded = np.load(work_path / "real-vectors.npy").astype(np.float32)
    known = {pid: i for i, pid in enumerate(json.loads((work_path / "real-ids.json").read_text()))}
    table = np.random.default_rng(20070401).normal(0, NOISE / np.sqrt(2), (NOISE_ROWS, embedded.shape[1]))
    table = table.astype(np.float32)

    def hashed(pid: str) -> tuple[int, ...]:
        digest = hashlib.blake2b(pid.encode(), digest_size=16).digest()
        return tuple(int.from_bytes(digest[i : i + 4], "little") for i in (0, 4, 8, 12))

    def mixed(first: np.ndarray, second: np.ndarray, noise: np.ndarray) -> np.ndarray:
        """Rows: the renormalised mean of ``first`` and ``second`` plus the rows ``noise``
        (pairs of row numbers of the table), renormalised."""
        blend = first + second
        blend /= np.linalg.norm(blend, axis=-1, keepdims=True)
        blend += table[noise[:, 0] % NOISE_ROWS] + table[noise[:, 1] % NOISE_ROWS]
        return blend / np.linalg.norm(blend, axis=-1, keepdims=True)

    def of_real(pids: list[str]) -> np.ndarray:
        """The vectors of real papers: theirs if embedded, else made up from two that are."""
        out = np.empty((len(pids), embedded.shape[1]), dtype=np.float32)
        rows = np.array([known.get(pid, -1) for pid in pids], dtype=np.int64)
        real = rows >= 0
        out[real] = embedded[rows[real]]
        if (~real).any():
            made = np.array([hashed(pid) for pid, r in zip(pids, real, strict=True) if not r], dtype=np.int64)
            n = len(embedded)
            out[~real] = mixed(embedded[made[:, 0] % n], embedded[made[:, 1] % n], made[:, 2:])
        return out

    sources, positions, order = None, {}, []
    if corpus:
        order = json.loads((work_path / "arxiv-ids.json").read_text())  # real_papers' order
        sources = np.load(corpus + ".sources.npy")
        positions = {pid: n for n, pid in enumerate(json.loads(Path(corpus + ".ids.json").read_text()))}

    def vectors_of(ids: list[str]) -> np.ndarray:
        out = np.zeros((len(ids), embedded.shape[1]), dtype=np.float32)
        remixed = np.array([pid in positions for pid in ids], dtype=bool)
        if (~remixed).any():
            out[~remixed] = of_real([pid for pid, r in zip(ids, remixed, strict=True) if not r])
        if remixed.any():
            at = np.array([positions[pid] for pid, r in zip(ids, remixed, strict=True) if r], dtype=np.int64)
            pair = sources[at]
            first = of_real([order[a] for a in pair[:, 0]])
            second = of_real([order[b] for b in pair[:, 1]])
            noise = np.stack([at * 2654435761 % (1 << 32), at * 40503 + 12345], axis=1)
            out[remixed] = mixed(first, second, noise)
        return out

    return vectors_of


# ---------------------------------------------------------------------------- the server


def tree_memory(pid: int) -> dict:
    """RSS and PSS (MiB) of a process and its children, from /proc (PSS shares mapped files fairly)."""
    pids = [pid]
    for child in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split():
        pids.append(int(child))
    rss = pss = 0.0
    workers = []
    for p in pids:
        try:
            fields = dict(line.split(":", 1) for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines()[1:])
        except OSError:
            continue
        r, s = int(fields["Rss"].split()[0]) / 1024, int(fields["Pss"].split()[0]) / 1024
        rss, pss = rss + r, pss + s
        workers.append(r)
    return {"rss_mib": round(rss), "pss_mib": round(pss), "largest_process_rss_mib": round(max(workers or [0]))}


class Server:
    def __init__(self, env: dict) -> None:
        self.port = free_port()
        env = {**env, "PAPERWIRE_BASE_URL": f"http://127.0.0.1:{self.port}"}
        command = [sys.executable, "-m", "paperwire", "serve", "--port", str(self.port), "--workers", "2"]
        self.started = time.monotonic()
        self.process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
        self.first_answer = None
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                sys.exit("paperwire serve exited")
            try:
                status, _ = self.get("/healthz")
                if status == 200:
                    self.first_answer = time.monotonic() - self.started
                    return
            except OSError:
                time.sleep(0.2)
        sys.exit("paperwire serve did not answer /healthz")

    def get(self, path: str, connection: http.client.HTTPConnection | None = None) -> tuple[int, bytes]:
        own = connection is None
        connection = connection or http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            if own:
                connection.close()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def timed_requests(server: Server, paths: list[str], clients: int = 2) -> list[float]:
    """Each path asked once, by ``clients`` threads at once (one keep-alive connection each): ms."""
    times: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    queue = list(reversed(paths))

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        while True:
            with lock:
                if not queue:
                    break
                path = queue.pop()
            started = time.perf_counter()
            try:
                status, _ = server.get(path, connection)
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
                status = repr(error)
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                if status == 200:
                    times.append(elapsed)
                else:
                    failures.append(f"{status} {path}")
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        sys.exit(f"{len(failures)} requests failed, e.g. {failures[:3]}")
    return times


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


class Figures(dict):
    """The step's figures, written to ``path`` (when given) as each is added: a step stopped
    part way keeps what it measured."""

    def __init__(self, path: Path | None) -> None:
        super().__init__()
        self.path = path

    def __setitem__(self, key, value) -> None:
        super().__setitem__(key, value)
        self.save()

    def __ior__(self, other):
        super().update(other)
        self.save()
        return self

    def save(self) -> None:
        if self.path is not None:
            partial = self.path.with_name(self.path.name + ".tmp")
            partial.write_text(json.dumps(self, indent=1))
            partial.replace(self.path)


def request_kinds(paper_ids: list[str], days: list[str], words: list[str], categories: list[str]) -> dict:
    """Per kind of request, a function giving the n-th URL (each different)."""
    q = lambda n, **more: urllib.parse.urlencode({"q": words[n % len(words)], "limit": 10, **more})  # noqa: E731

    def week(n: int) -> str:
        year, number, _ = dt.date.fromisoformat(days[n % len(days)]).isocalendar()
        return f"{year}-W{number:02d}"

    def date_range(n: int) -> dict:
        start = dt.date.fromisoformat(days[(n * 37) % len(days)])
        return {"from": start.isoformat(), "to": (start + dt.timedelta(days=90)).isoformat()}

    return {
        "search, hybrid (API)": lambda n: f"/api/papers/search?{q(n)}",
        "search, lexical (API)": lambda n: f"/api/papers/search?{q(n, mode='lexical')}",
        "search, semantic (API)": lambda n: f"/api/papers/search?{q(n, mode='semantic')}",
        "search by date (API)": lambda n: f"/api/papers/search?{q(n, sort='date')}",
        "search by upvotes (API)": lambda n: f"/api/papers/search?{q(n, sort='upvotes')}",
        "search, date range (API)": lambda n: f"/api/papers/search?{q(n, **date_range(n))}",
        "search, category (API)": lambda n: f"/api/papers/search?{q(n, category=categories[n % len(categories)])}",
        "search page": lambda n: f"/search?{urllib.parse.urlencode({'q': words[n % len(words)]})}",
        "paper page (with related)": lambda n: f"/papers/{paper_ids[n % len(paper_ids)]}",
        "day page": lambda n: f"/papers/date/{days[n % len(days)]}",
        "week page": lambda n: f"/papers/week/{week(n)}",
        "month page": lambda n: f"/papers/month/{days[n % len(days)][:7]}",
        "trending": lambda n: "/papers/trending",
        "daily API": lambda n: f"/api/daily_papers?date={days[n % len(days)]}",
    }


# ---------------------------------------------------------------------------- the digest


def digest_run(env: dict, home: Path, week_day: str) -> dict:
    # Sent to a sink (common.SmtpSink): aiosmtpd took about 10 ms a digest-sized message, here
    # in the benchmark's own process, as much as Paperwire's work for it.
    sink = SmtpSink()
    port = sink.port
    try:
        code = r"""
import os, random, sys
sys.path.insert(0, os.environ["BENCH_DIR"])
import django
django.setup()
from common import TOPICS
from django.utils import timezone
from paperwire.digests.models import Subscriber
rng, now = random.Random(1), timezone.now()
Subscriber.objects.bulk_create([
    Subscriber(email=f"reader{n}@example.org", frequency="weekly", state=Subscriber.CONFIRMED, confirmed_at=now,
               topics="\n".join(rng.sample(TOPICS, 3)))
    for n in range(int(os.environ["BENCH_SUBSCRIBERS"]))], batch_size=2000, ignore_conflicts=True)
"""
        extra = {
            "BENCH_DIR": str(Path(__file__).parent),
            "BENCH_SUBSCRIBERS": str(SUBSCRIBERS),
            "DJANGO_SETTINGS_MODULE": "paperwire.settings",
        }
        subprocess.run([sys.executable, "-c", code], env={**env, **extra}, cwd=ROOT, check=True)
        mail_env = {**env, "PAPERWIRE_EMAIL_URL": f"smtp://127.0.0.1:{port}"}
        child = run(mail_env, "digest", "send", "--frequency", "weekly", "--date", week_day)
        return {
            "seconds": round(child.seconds, 1),
            "sent": sink.count,
            "mean_message_kb": round(sink.received / max(sink.count, 1) / 1000, 1),
            "smtp_server": "a sink on loopback (bench/common.py SmtpSink)",
            "peak_mib": round(child.peak_mib),
            "summary": child.output.strip().splitlines()[-1] if child.output.strip() else "",
        }
    finally:
        sink.stop()


# ---------------------------------------------------------------------------- the step


def machine() -> dict:
    flags = set()
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name") and not model:
            model = line.split(":", 1)[1].strip()
        if line.startswith("flags") and not flags:
            flags = set(line.split(":", 1)[1].split())
    wanted = ["avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8"]
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "vector_extensions": [f for f in wanted if f in flags],
        "memory_gib": round(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30),
        "python": platform.python_version(),
        "date": dt.date.today().isoformat(),
        "commit": commit(),
    }


def commit() -> str:
    """The code measured: the checkout's commit, "+" when it has uncommitted changes ("" outside git)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True)
    except OSError:
        return ""
    return head.stdout.strip() + ("+" if dirty.stdout.strip() else "") if head.returncode == 0 else ""


def main() -> None:
    global LAUNCHER
    # SIGTERM as Ctrl-C: the server stopped on the way out, the launcher's command with it.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(f"stopped by signal {signum}"))
    LAUNCHER = Launcher()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--papers", type=int, required=True, help="0: the real papers (the baseline)")
    parser.add_argument("--work", type=Path, default=ROOT / ".cache" / "scale")
    parser.add_argument("--output", type=Path)
    parser.add_argument("--requests", type=int, default=100, help="requests measured per kind")
    parser.add_argument("--skip", default="", help="comma-separated: day, rebuild, digest")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="go on from the figures in --output and the step's home: the phases measured are kept, "
        "the first one not measured is run again from its start",
    )
    parser.add_argument(
        "--real-vectors", type=int, default=20_000, help="real papers embedded by the model (the rest is synthetic)"
    )
    args = parser.parse_args()
    data = shared_data_folder()
    skip = set(filter(None, args.skip.split(",")))
    args.work.mkdir(parents=True, exist_ok=True)
    figures = Figures(args.output)
    if args.resume:
        if args.output is None or not args.output.exists():
            sys.exit("--resume goes on from the figures of --output: give the file of the step cut short")
        figures |= json.loads(args.output.read_text())
        if figures.get("papers_asked") != args.papers:
            sys.exit(f"{args.output} holds a step of {figures.get('papers_asked')} papers, not {args.papers}")
        recorded, would = figures.get("real_embeddings"), max(real_embeddings_held(args.work), args.real_vectors)
        if recorded is not None and recorded != would:  # its phases would not share their vectors
            sys.exit(
                f"{args.output} was measured with {recorded:,} real embeddings, this run would use {would:,}: "
                f"resume with --real-vectors {recorded} and the same --work"
            )
        figures.setdefault("resumed", []).append(machine()["date"])
        figures.save()
    else:
        figures |= {
            "papers_asked": args.papers,
            "machine": machine(),
            "vectors": "synthetic",
            "began_at": round(time.time(), 1),
        }
    print(json.dumps(figures["machine"]), flush=True)

    papers = real_papers(data)
    (args.work / "arxiv-ids.json").write_text(json.dumps([p["id"] for p in papers]))
    figures["real_embeddings"] = real_vectors(args.work, args.real_vectors)
    figures["vectors"] = f"real embeddings of {figures['real_embeddings']:,} papers, synthetic for the rest"
    held = day_papers(data, papers)
    held_ids = {p["id"] for p in held}
    day_file = args.work / "day.jsonl"
    day_file.write_text("".join(json.dumps({**p, "published": "2026-06-30"}) + "\n" for p in held))

    if args.papers:
        corpus = remixed_corpus(args.work, args.papers, data)
        inputs = [corpus]
    else:
        corpus = args.work / "real-less-day.jsonl.gz"
        if not corpus.exists():
            with gzip.open(corpus, "wt") as out:
                out.writelines(json.dumps(p) + "\n" for p in papers if p["id"] not in held_ids)
        inputs = [corpus]
    inputs += sorted((data / "hf_daily").glob("*.json"))

    home = args.work / f"home-{args.papers}"
    env = environment(home)
    bench_env = {**env, "BENCH_WORK": str(args.work)}
    if args.papers:
        bench_env["BENCH_CORPUS"] = str(corpus)
    import sqlite3

    if "import" not in figures:  # (a resumed step whose import was cut short imports again)
        shutil.rmtree(home, ignore_errors=True)
        run(env, "migrate", "-v0")
        import_began = time.time()
        child = run(env, "import", "--no-index", *map(str, inputs))
        db = sqlite3.connect(home / "paperwire.sqlite3")
        count = db.execute("SELECT count(*) FROM papers_paper").fetchone()[0]
        db.close()
        figures["papers"] = count
        figures["import"] = {
            "seconds": round(child.seconds, 1),
            "papers_per_second": round(count / child.seconds),
            "peak_mib": round(child.peak_mib),
            "database_mib": round(size_mib(home / "paperwire.sqlite3")),
            "began_at": round(import_began, 1),
            "ended_at": round(time.time(), 1),
        }
        print(f"{count:,} papers; import: {figures['import']}", flush=True)

    if "vectors_stored" not in figures:
        db = sqlite3.connect(home / "paperwire.sqlite3")
        db.execute("DELETE FROM search_papervector")  # a run cut short is measured again whole
        db.commit()
        db.close()
        started = time.perf_counter()
        stored = store_vectors(bench_env)
        figures["vectors_stored"] = {"count": stored, "seconds": round(time.perf_counter() - started, 1)}
        print(f"bench-only vectors ({figures['vectors']}): {figures['vectors_stored']}", flush=True)

    if "index" not in figures:
        shutil.rmtree(home / "index", ignore_errors=True)  # built whole, not resumed: that is the figure
        child = run(env, "index")
        figures["index"] = {
            "seconds": round(child.seconds, 1),
            "peak_mib": round(child.peak_mib),
            "lexical_mib": round(size_mib(home / "index" / "lexical")),
            "vectors_mib": round(size_mib(home / "index" / "vectors.usearch")),
            "database_mib": round(size_mib(home / "paperwire.sqlite3")),
            "summary": child.output.strip().splitlines()[-1],
        }
        print(f"index: {figures['index']}", flush=True)

    # Each update reads again the rows changed in the 5 minutes before the last one began
    # (WATERMARK_SLACK: rows of a slower transaction): the first update at least 5 minutes after
    # the import reads the import's last minutes once more, as a site's indexer would, and
    # writes those the index pass did not write as they are (look_back.py: none, unless a row
    # came late). Measured here, so that neither the server's measurements nor the day's papers
    # pay for it.
    if "update_after_import" not in figures:
        wait = figures["import"]["ended_at"] + 5 * 60 + 10 - time.time()
        if wait > 0:
            print(f"waiting {wait:.0f} s: the next update looks 5 minutes back", flush=True)
            time.sleep(wait)
        child = run(env, "index")
        figures["update_after_import"] = {
            "seconds": round(child.seconds, 1),
            "summary": child.output.strip().splitlines()[-1],
        }
        print(f"first update 5 minutes after the import: {figures['update_after_import']}", flush=True)

    if "requests" not in figures:  # the server and its requests, measured together
        rng = random.Random(args.papers)
        db = sqlite3.connect(home / "paperwire.sqlite3")
        sample_ids = [r[0] for r in db.execute("SELECT id FROM papers_paper ORDER BY random() LIMIT 5000")]
        days = [
            r[0]
            for r in db.execute(
                "SELECT DISTINCT date(published_at) FROM papers_paper WHERE published_at >= '2008-01-01' ORDER BY 1"
            )
        ]
        categories = ["cs.CL", "cs.CV", "cs.LG", "cs.AI", "cs.RO", "cs.IR", "stat.ML", "cs.CR"]
        db.close()
        words = queries(papers, 50 * args.requests, rng)
        rng.shuffle(days)
        kinds = request_kinds(sample_ids, days, words, categories)

        server = Server(env)
        figures["serve_first_answer_seconds"] = round(server.first_answer, 1)
        try:
            time.sleep(3)
            figures["memory_at_rest"] = tree_memory(server.process.pid)
            requests: dict = {}
            load_memory = []
            offset = 0
            for label, url in kinds.items():
                warm = [url(offset + n) for n in range(10)]
                timed_requests(server, warm)
                paths = [url(offset + 10 + n) for n in range(args.requests)]
                offset += 10 + args.requests
                times = timed_requests(server, paths)
                load_memory.append(tree_memory(server.process.pid))
                requests[label] = {"p50_ms": round(percentile(times, 50), 1), "p95_ms": round(percentile(times, 95), 1)}
                print(
                    f"  {label:<28} p50 {requests[label]['p50_ms']:7.1f} ms   p95 {requests[label]['p95_ms']:7.1f} ms",
                    flush=True,
                )
            figures["requests"] = requests
            figures["requests_per_kind"] = args.requests
            figures["memory_under_load"] = max(load_memory, key=lambda m: m["rss_mib"])
            print(f"memory at rest {figures['memory_at_rest']}, under load {figures['memory_under_load']}", flush=True)
        finally:
            server.stop()

    if "day" not in skip and "day" not in figures:
        child = run(env, "import", str(day_file))
        figures["day"] = {
            "papers": len(held),
            "seconds": round(child.seconds, 1),
            "peak_mib": round(child.peak_mib),
            "summary": " | ".join(line for line in child.output.strip().splitlines()[-2:]),
        }
        print(f"a day's {len(held)} new papers with their embeddings: {figures['day']}", flush=True)
    if "rebuild" not in skip and "rebuild" not in figures:
        child = run(env, "index", "--rebuild")
        figures["rebuild"] = {"seconds": round(child.seconds, 1), "peak_mib": round(child.peak_mib)}
        print(f"index --rebuild: {figures['rebuild']}", flush=True)
    if "digest" not in skip and "digest" not in figures:
        figures["digest"] = digest_run(env, home, "2026-05-27")
        print(f"digest: {figures['digest']}", flush=True)

    if "began_at" in figures and "resumed" not in figures and not skip and "step_minutes" not in figures:
        # The whole step in one run, from before its corpus was written to the digest's end.
        figures["step_minutes"] = round((time.time() - figures["began_at"]) / 60, 1)
        print(f"the whole step: {figures['step_minutes']} minutes", flush=True)
    print(json.dumps(figures))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # the measured command and the server got the same Ctrl-C
        sys.exit("stopped by Ctrl-C: --resume goes on from the figures kept in --output")
