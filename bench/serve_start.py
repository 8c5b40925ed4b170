"""Start-up: seconds from `paperwire serve` to its first answers, on a copy of an instance.

    .venv/bin/python bench/serve_start.py PAPERWIRE_HOME [--rounds 5] [--code DIR ...]

Each round copies PAPERWIRE_HOME (read-only for the benchmark) to a temporary folder and starts
`paperwire serve` on it twice: as a site starts after an import (no collected static files yet,
its index behind: the watermark set back, so the child re-reads every paper) and as it starts
again (static files collected, index whole). It prints, per case, the median over the rounds of
the seconds until the port accepts connections, until `/` answers 200 and until `/healthz` says
`ok` with nothing pending. ``--code``: several checkouts to compare (each runs its own
`python -m paperwire`), rounds alternated between them so that the machine's load weighs alike.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from common import free_port


def timeline(code: Path, home: Path, limit: float = 300) -> dict[str, float]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")}
    env.update(PAPERWIRE_HOME=str(home), PAPERWIRE_BASE_URL="")
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "paperwire", "serve", "--port", str(port)],
        cwd=code,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    seen: dict[str, float] = {}
    try:
        while time.monotonic() - started < limit and "healthy" not in seen:
            if "port" not in seen:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    seen["port"] = time.monotonic() - started
                except OSError:
                    time.sleep(0.02)
                    continue
            try:
                if "home page" not in seen:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=60) as response:
                        response.read()
                    seen["home page"] = time.monotonic() - started
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=60) as response:
                    health = json.loads(response.read())
                if health["status"] == "ok" and not health.get("pending") and health["index"]["status"] == "ok":
                    seen["healthy"] = time.monotonic() - started
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.1)
    finally:
        process.send_signal(2)
        process.wait(60)
    return seen


def as_just_imported(home: Path) -> None:
    shutil.rmtree(home / "static", ignore_errors=True)
    state = home / "index" / "state.json"
    data = json.loads(state.read_text())
    data["watermark"] = "2000-01-01T00:00:00+00:00"
    state.write_text(json.dumps(data))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("home", type=Path)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--code", type=Path, action="append", help="a checkout (default: this one)")
    args = parser.parse_args()
    codes = args.code or [Path(__file__).resolve().parent.parent]
    results: dict[tuple[str, str], dict[str, list[float]]] = {}
    for _ in range(args.rounds):
        for code in codes:
            with tempfile.TemporaryDirectory(prefix="paperwire-start-") as folder:
                home = Path(folder) / "home"
                shutil.copytree(args.home, home, symlinks=True)
                as_just_imported(home)
                for case in ("after an import", "started again"):
                    for name, seconds in timeline(code, home).items():
                        results.setdefault((str(code), case), {}).setdefault(name, []).append(seconds)
    for (code, case), marks in results.items():
        medians = ", ".join(f"{name} {statistics.median(values):.1f} s" for name, values in marks.items())
        print(f"{code} | {case}: {medians} (median of {len(next(iter(marks.values())))})")


if __name__ == "__main__":
    main()
