"""Import speed and peak memory for the arXiv set of ../shared/data, beside a baseline.

Baseline: the same files only decompressed and parsed (json.loads of every line), in this
process. Measured: `paperwire import --no-index` of the same files into a fresh
PAPERWIRE_HOME, as a child process whose peak resident memory is read from the kernel
(ru_maxrss). Indexing with embeddings is measured by bench/search_speed.py.

    .venv/bin/python bench/import_speed.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = os.environ.get("PAPERWIRE_SHARED_DATA", str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--data", type=Path, default=Path(default))
    args = parser.parse_args()
    files = sorted((args.data / "arxiv").glob("*.jsonl.gz"))
    if not files:
        sys.exit(f"no arXiv files under {args.data / 'arxiv'} (set PAPERWIRE_SHARED_DATA or --data)")

    started = time.perf_counter()
    records = 0
    for path in files:
        with gzip.open(path, "rb") as f:
            for line in f:
                json.loads(line)
                records += 1
    parse_seconds = time.perf_counter() - started

    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, PAPERWIRE_HOME=home, PAPERWIRE_SECRET_KEY="bench-secret-key-0123456789-abcdefghijklm")
        subprocess.run([sys.executable, "-m", "paperwire", "migrate", "-v0"], env=env, check=True, cwd=ROOT)
        import_command = [sys.executable, "-m", "paperwire", "import", "--no-index", *map(str, files)]
        started = time.perf_counter()
        result = subprocess.run(import_command, env=env, cwd=ROOT, capture_output=True, text=True, check=True)
        import_seconds = time.perf_counter() - started
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        again = time.perf_counter()
        rerun = subprocess.run(import_command, env=env, cwd=ROOT, capture_output=True, text=True, check=True)
        rerun_seconds = time.perf_counter() - again
        db_mib = (Path(home) / "paperwire.sqlite3").stat().st_size / 2**20

    print(f"records                      {records:>10,}")
    print(f"baseline: parse only         {records / parse_seconds:>10,.0f} papers/s  ({parse_seconds:.1f} s)")
    print(
        f"paperwire import             {records / import_seconds:>10,.0f} papers/s  ({import_seconds:.1f} s)"
        f"  = {import_seconds / parse_seconds:.1f}x the parse time"
    )
    print(f"  {result.stdout.strip()}")
    print(
        f"re-import (all unchanged)    {records / rerun_seconds:>10,.0f} papers/s  ({rerun_seconds:.1f} s)"
        f"  {rerun.stdout.strip()}"
    )
    print(f"peak memory of the importer  {peak_mib:>10,.0f} MiB")
    print(f"database size                {db_mib:>10,.0f} MiB")


if __name__ == "__main__":
    main()
