"""What a newcomer waits for and gets: `pip install .` and `make run` from a fresh clone.

For each git ref given (default: HEAD; `--ref main --ref HEAD` gives a before/after in one run),
in a temporary folder:
1. a fresh clone, a new venv and `pip install .`: its time, the venv's size on disk, and
   whether torch, transformers, sentence_transformers and onnx can be imported there;
2. another fresh clone and `make run` on a free port: the seconds until `/` answers 200
   (venv, install, migrate, demo import with its index, serve), and that .venv's size.

Uses the pip cache as it is: run it twice for warm-cache figures. Everything it starts is
stopped, and the folder removed, before it exits.

    python bench/fresh_install.py [--ref main] [--ref HEAD] [--repo .]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = ("torch", "transformers", "sentence_transformers", "onnx")
RUN_TIMEOUT = 900


def size_mb(path: Path) -> float:
    """Disk usage, like `du -s`."""
    usage = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True, check=True).stdout
    return int(usage.split()[0]) / 1024


def clone(repo: Path, commit: str, target: Path) -> None:
    subprocess.run(["git", "clone", "-q", "--no-checkout", str(repo), str(target)], check=True)
    subprocess.run(["git", "-C", str(target), "checkout", "-q", commit], check=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def pip_install(repo: Path, commit: str, work: Path) -> dict:
    tree, venv = work / "pip-clone", work / "pip-venv"
    clone(repo, commit, tree)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    started = time.perf_counter()
    subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "."], cwd=tree, check=True)
    seconds = time.perf_counter() - started
    importable = {}
    for module in MODULES:
        result = subprocess.run([str(venv / "bin" / "python"), "-c", f"import {module}"], capture_output=True)
        importable[module] = result.returncode == 0
    return {"seconds": seconds, "size": size_mb(venv), "importable": importable}


def make_run(repo: Path, commit: str, work: Path) -> dict:
    tree = work / "run-clone"
    clone(repo, commit, tree)
    port = free_port()
    env = {**os.environ, "PAPERWIRE_HOME": str(work / "home")}
    env.pop("VIRTUAL_ENV", None)
    log = (work / "make-run.log").open("w")
    started = time.perf_counter()
    process = subprocess.Popen(
        ["make", "run", f"PORT={port}"],
        cwd=tree,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    seconds = None
    try:
        while time.perf_counter() - started < RUN_TIMEOUT and process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                    if response.status == 200:
                        seconds = time.perf_counter() - started
                        break
            except OSError:
                time.sleep(0.5)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
    if seconds is None:
        sys.exit(f"make run served no page: see {work / 'make-run.log'}")
    return {"seconds": seconds, "size": size_mb(tree / ".venv")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ref", action="append", help="a git ref of --repo (repeatable; default HEAD)")
    parser.add_argument("--repo", type=Path, default=ROOT)
    args = parser.parse_args()
    rows = []
    for ref in args.ref or ["HEAD"]:
        commit = subprocess.run(
            ["git", "-C", str(args.repo), "rev-parse", ref], capture_output=True, text=True, check=True
        ).stdout.strip()
        with tempfile.TemporaryDirectory(prefix="paperwire-fresh-") as folder:
            work = Path(folder)
            installed = pip_install(args.repo, commit, work)
            served = make_run(args.repo, commit, work)
        rows.append((ref, commit[:9], installed, served, os.getloadavg()[0]))
    header = f"{'ref':10} {'commit':9} {'pip install .':>14} {'venv':>9}  {'make run to a page':>18} {'.venv':>9}"
    print(f"{header}  importable")
    for ref, commit, installed, served, load in rows:
        found = ", ".join(m for m, ok in installed["importable"].items() if ok) or "none of " + "/".join(MODULES)
        print(
            f"{ref:10} {commit:9} {installed['seconds']:12.0f} s {installed['size']:6.0f} MB  "
            f"{served['seconds']:16.0f} s {served['size']:6.0f} MB  {found}  (load {load:.1f})"
        )


if __name__ == "__main__":
    main()
