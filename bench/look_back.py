"""The first index update after an import, with the look-back record and without it, in one run.

    .venv/bin/python bench/look_back.py [--papers 100000] [--work DIR]

Every index run reads again the rows stamped in the 5 minutes before its watermark
(``WATERMARK_SLACK``); after an import, the import's last minutes. paperwire/search/look_back.py
lets a run pass over those the last run wrote as they are. This imports ``--papers`` remixed
papers (bench/scale_corpus.py) with ``--no-index`` into a fresh home on SQLite, stores their
bench-only vectors (scale.store_vectors: real and synthetic, as bench/scale.py), builds the
index (``paperwire index``: one pass, whose record names every paper of its look-back), keeps a
copy of the index folder, then times ``paperwire index`` from that same state twice: with the
record (the papers passed over) and with the record deleted (every paper of the look-back
written again: what every update did before the record). Each is run ``--runs`` times, the two
alternating, from the copy each time; the medians and their ratio are printed (JSON with
``--output``). An import of 100,000 papers takes under 5 minutes here: all of it is read again.
Needs the shared data (../shared/data, or PAPERWIRE_SHARED_DATA).
The home (``W/look-back-N``) keeps the copy (``index.kept``) for a closer look, e.g. with py-spy.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
from pathlib import Path

import scale
from common import ROOT, shared_data_folder
from scale_corpus import real_papers


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--papers", type=int, default=100_000, help="remixed papers imported")
    parser.add_argument(
        "--work", type=Path, default=ROOT / ".cache" / "scale", help="corpora and real embeddings, as bench/scale.py's"
    )
    parser.add_argument("--runs", type=int, default=3, help="updates timed each way, alternating")
    parser.add_argument("--output", type=Path, help="the figures as JSON")
    parser.add_argument("--real-vectors", type=int, default=20_000, help="as bench/scale.py")
    args = parser.parse_args()
    scale.LAUNCHER = scale.Launcher()
    args.work.mkdir(parents=True, exist_ok=True)
    data = shared_data_folder()
    papers = real_papers(data)
    (args.work / "arxiv-ids.json").write_text(json.dumps([p["id"] for p in papers]))  # as scale.py
    scale.real_vectors(args.work, args.real_vectors)
    corpus = scale.remixed_corpus(args.work, args.papers, data)
    home = args.work / f"look-back-{args.papers}"
    shutil.rmtree(home, ignore_errors=True)
    env = scale.environment(home)
    scale.run(env, "migrate", "-v0")
    imported = scale.run(env, "import", "--no-index", str(corpus))
    stored = scale.store_vectors({**env, "BENCH_WORK": str(args.work), "BENCH_CORPUS": str(corpus)})
    built = scale.run(env, "index")
    print(f"import {imported.seconds:.0f} s, {stored:,} vectors (bench-only), index {built.seconds:.0f} s", flush=True)
    kept = home / "index.kept"
    shutil.copytree(home / "index", kept)
    times: dict[str, list[float]] = {"with the record": [], "without it (before)": []}
    summaries = {}
    for _ in range(args.runs):
        for label in times:
            shutil.rmtree(home / "index")
            shutil.copytree(kept, home / "index")
            if label != "with the record":
                (home / "index" / "look-back.json").unlink()
            child = scale.run(env, "index")
            times[label].append(child.seconds)
            summaries[label] = child.output.strip().splitlines()[-1]
            print(f"  {label:<22} {child.seconds:7.1f} s   {summaries[label]}", flush=True)
    medians = {label: statistics.median(values) for label, values in times.items()}
    ratio = medians["without it (before)"] / medians["with the record"]
    figures = {
        "papers": args.papers,
        "machine": scale.machine(),
        "import_seconds": round(imported.seconds, 1),
        "index_pass_seconds": round(built.seconds, 1),
        "update_seconds_median": {label: round(value, 1) for label, value in medians.items()},
        "summaries": summaries,
        "ratio": round(ratio, 2),
    }
    print(json.dumps(figures), flush=True)
    if args.output:
        args.output.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    sys.exit(main())
