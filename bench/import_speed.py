"""Import speed and peak memory for the arXiv set of ../shared/data (or, with ``--source hf_daily``,
the Hugging Face archive: 580 daily responses), beside baselines.

Measured: `paperwire import --no-index` of the same files into a fresh PAPERWIRE_HOME (all
new), then the same command again (nothing changes), each a child process whose peak resident
memory is read from the kernel. ``--index`` also times `paperwire index` after the first import
(the search indexes with every embedding); bench/search_speed.py measures it beside the model.

Baselines, measured in the same run:
- the same files only decompressed and parsed (json.loads of every line, or of every file of
  the Hugging Face archive), in this process;
- with ``--baseline-tree PATH``, the same measurement with the code of another checkout (a
  ``git worktree`` of an older commit, say): its figures and the ratio to them. Runs alternate
  between the two trees, in the order A B B A A B ..., so that a machine busier for a while
  weighs on both alike; figures are the median of ``--rounds`` runs each, with their range.

- with ``--baseline-env NAME=VALUE`` (repeatable), this tree run with those settings in its
  environment (``PAPERWIRE_SQLITE_CACHE_MIB=2``: SQLite's own default page cache), alternated
  the same way.

``--files`` imports those files instead (a bench/scale.py corpus, say: the cost of an import
grows with the size of the database's indexes, which a small set does not show).

    .venv/bin/python bench/import_speed.py [--data ../shared/data] [--rounds 3]
                                           [--baseline-tree ../perf-base | --baseline-env N=V]
                                           [--source hf_daily] [--files F.jsonl.gz ...] [--index]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Runs:
    """The measurements of one tree, one entry a round."""

    tree: Path
    env: dict[str, str] = field(default_factory=dict)  # settings of this variant
    import_seconds: list[float] = field(default_factory=list)
    reimport_seconds: list[float] = field(default_factory=list)
    index_seconds: list[float] = field(default_factory=list)
    index_summaries: list[str] = field(default_factory=list)
    import_cpu: list[float] = field(default_factory=list)
    reimport_cpu: list[float] = field(default_factory=list)
    peak_mib: list[float] = field(default_factory=list)
    db_mib: list[float] = field(default_factory=list)
    summaries: list[str] = field(default_factory=list)


@dataclass
class Child:
    seconds: float  # wall clock
    cpu_seconds: float  # user + system: what other processes on the machine change least
    output: str
    peak_mib: float


SOURCES = {"arxiv": "*.jsonl.gz", "hf_daily": "*.json"}  # folder of --data: its files

MEASURES = (  # label, wall-clock and CPU seconds of Runs
    ("import, all new", "import_seconds", "import_cpu"),
    ("import again, all unchanged", "reimport_seconds", "reimport_cpu"),
)


def run_child(command: list[str], env: dict[str, str], cwd: Path) -> Child:
    """What one child process took; exits if it fails."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(child.pid, 0)  # the child's own rusage, not all children's
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if child.returncode != 0:
            sys.exit(f"{' '.join(command[2:])} in {cwd} failed ({child.returncode}):\n{err.read()}")
        return Child(seconds, usage.ru_utime + usage.ru_stime, out.read().strip(), usage.ru_maxrss / 1024)


def measure(runs: Runs, files: list[Path], index: bool = False) -> None:
    """One round for one tree: a fresh home, the import (then `paperwire index`), the import again."""
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, PAPERWIRE_HOME=home, PAPERWIRE_SECRET_KEY="bench-secret-key-0123456789-abcdefghijklm")
        env.update(runs.env)
        env.pop("DATABASE_URL", None)
        python = [sys.executable, "-m", "paperwire"]
        run_child([*python, "migrate", "-v0"], env, runs.tree)
        import_command = [*python, "import", "--no-index", *map(str, files)]
        first = run_child(import_command, env, runs.tree)
        if index:
            indexed = run_child([*python, "index"], env, runs.tree)
            runs.index_seconds.append(indexed.seconds)
            runs.index_summaries.append(indexed.output)
        again = run_child(import_command, env, runs.tree)
        runs.import_seconds.append(first.seconds)
        runs.import_cpu.append(first.cpu_seconds)
        runs.reimport_seconds.append(again.seconds)
        runs.reimport_cpu.append(again.cpu_seconds)
        runs.peak_mib.extend([first.peak_mib, again.peak_mib])
        runs.summaries.extend([first.output, again.output])
        runs.db_mib.append((Path(home) / "paperwire.sqlite3").stat().st_size / 2**20)


def parse_only(files: list[Path]) -> tuple[int, float]:
    started = time.perf_counter()
    records = 0
    for path in files:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                for line in f:
                    json.loads(line)
                    records += 1
        else:  # a Hugging Face daily response: a list of items, or {"data": [...]}
            document = json.loads(path.read_bytes())
            records += len(document.get("data", []) if isinstance(document, dict) else document)
    return records, time.perf_counter() - started


def rate(records: int, seconds: list[float]) -> str:
    """Median papers/s and the range over the runs."""
    rates = sorted(records / s for s in seconds)
    spread = f"[{rates[0]:,.0f}–{rates[-1]:,.0f}]" if len(rates) > 1 else ""
    return f"{statistics.median(rates):>7,.0f} {spread:<15}"


def ratio(ours: list[float], theirs: list[float]) -> str:
    """How many times the baseline's papers/s: of the medians, and the range of round by round."""
    paired = sorted(t / o for o, t in zip(ours, theirs, strict=True))
    return f"{statistics.median(theirs) / statistics.median(ours):5.3f}x [{paired[0]:.3f}–{paired[-1]:.3f}]"


def name(runs: Runs) -> str:
    settings = " ".join(f"{key}={value}" for key, value in runs.env.items())
    return f"tree {runs.tree}" + (f" with {settings}" if settings else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = os.environ.get("PAPERWIRE_SHARED_DATA", str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--data", type=Path, default=Path(default))
    parser.add_argument("--rounds", type=int, default=1, help="runs of each tree (median and range)")
    parser.add_argument("--baseline-tree", type=Path, help="a checkout whose import is measured alike, alternated")
    parser.add_argument("--source", choices=SOURCES, default="arxiv", help="which folder of --data to import")
    parser.add_argument("--index", action="store_true", help="also time `paperwire index` (embeddings) after it")
    parser.add_argument(
        "--baseline-env", action="append", default=[], help="NAME=VALUE: the baseline is this tree so set"
    )
    parser.add_argument("--files", type=Path, nargs="+", help="import these files instead of --source's")
    args = parser.parse_args()
    files = args.files or sorted((args.data / args.source).glob(SOURCES[args.source]))
    if not files:
        sys.exit(f"no {args.source} files under {args.data / args.source} (set PAPERWIRE_SHARED_DATA or --data)")
    if args.baseline_tree and not (args.baseline_tree / "paperwire" / "__main__.py").is_file():
        sys.exit(f"--baseline-tree {args.baseline_tree}: not a Paperwire checkout")

    if args.baseline_tree and args.baseline_env:
        sys.exit("--baseline-tree or --baseline-env, not both")
    if any("=" not in setting for setting in args.baseline_env):
        sys.exit("--baseline-env takes NAME=VALUE")
    this = Runs(ROOT)
    trees = [this] + ([Runs(args.baseline_tree.resolve())] if args.baseline_tree else [])
    if args.baseline_env:
        trees.append(Runs(ROOT, dict(setting.split("=", 1) for setting in args.baseline_env)))
    parse_seconds = []
    for round_number in range(args.rounds):
        records, seconds = parse_only(files)
        parse_seconds.append(seconds)
        for runs in trees if round_number % 2 == 0 else reversed(trees):
            measure(runs, files, args.index)
            print(f"round {round_number + 1}/{args.rounds} {name(runs)}: {runs.summaries[-1]}", file=sys.stderr)

    print(f"{records:,} records, {args.rounds} run(s) of each tree: median [range], in papers/s")
    print(f"{'':<32}{'wall clock':<24}CPU time (user + system)")
    print(f"{'baseline: parse only':<32}{rate(records, parse_seconds)}")
    for runs in trees:
        print("this tree" if runs is this else f"baseline: {name(runs)}")
        for label, wall, cpu in MEASURES:
            print(f"  {label:<30}{rate(records, getattr(runs, wall))}  {rate(records, getattr(runs, cpu))}")
        print(f"    {runs.summaries[0]}; again: {runs.summaries[1]}")
        if runs.index_seconds:
            seconds = statistics.median(runs.index_seconds)
            print(f"  {'paperwire index after it':<30}{seconds:,.0f} s: {runs.index_summaries[0]}")
        print(f"    peak memory {max(runs.peak_mib):,.0f} MiB, database {statistics.median(runs.db_mib):,.0f} MiB")
    if len(trees) == 2:
        base = trees[1]
        print("this tree / baseline, papers/s: ratio of the medians [round by round]")
        for label, wall, cpu in MEASURES:
            walls, cpus = ratio(getattr(this, wall), getattr(base, wall)), ratio(getattr(this, cpu), getattr(base, cpu))
            print(f"  {label:<30}{walls:<24}{cpus}")


if __name__ == "__main__":
    main()
