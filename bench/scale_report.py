"""docs/scale.md's table and plot from the figures bench/scale.py wrote, one JSON file a step.

    .venv/bin/python bench/scale_report.py STEP.json... [--svg docs/scale.svg]

Prints a Markdown table (one column a step, smallest corpus first: the growth reads left to
right; each p95 beside its target) and writes an SVG plot of every request's p95 against the
number of papers (log scale), with the targets as lines. The prose around the table in
docs/scale.md is written by hand from these figures.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

SEARCH_TARGET_MS = 50  # hybrid search, p95, through HTTP
PAGE_TARGET_MS = 100  # every other page and API call


def target(label: str) -> int:
    return SEARCH_TARGET_MS if label.startswith("search, hybrid") else PAGE_TARGET_MS


def step_name(figures: dict) -> str:
    papers = f"{figures['papers']:,}"
    return f"{papers} ({'remixed' if figures['papers_asked'] else 'real'})"


def rows(steps: list[dict]) -> list[tuple[str, list[str]]]:
    def get(figures: dict, *path, unit: str = "", digits: int = 0) -> str:
        value = figures
        for key in path:
            if not isinstance(value, dict) or key not in value:
                return "–"
            value = value[key]
        return f"{value:,.{digits}f}{unit}" if isinstance(value, int | float) else str(value)

    table = [
        ("measured (date, commit)", [measured(s) for s in steps]),
        ("vectors", [s["vectors"] for s in steps]),
        ("import: seconds", [get(s, "import", "seconds", unit=" s") for s in steps]),
        ("import: papers/s", [get(s, "import", "papers_per_second") for s in steps]),
        ("import: peak memory", [get(s, "import", "peak_mib", unit=" MiB") for s in steps]),
        ("database size (after index)", [get(s, "index", "database_mib", unit=" MiB") for s in steps]),
        ("index (lexical + HNSW): seconds", [get(s, "index", "seconds", unit=" s") for s in steps]),
        ("index: peak memory", [get(s, "index", "peak_mib", unit=" MiB") for s in steps]),
        ("lexical index on disk", [get(s, "index", "lexical_mib", unit=" MiB") for s in steps]),
        ("HNSW index on disk", [get(s, "index", "vectors_mib", unit=" MiB") for s in steps]),
        ("first update after the import", [get(s, "update_after_import", "seconds", unit=" s") for s in steps]),
        ("`serve`: first answer", [get(s, "serve_first_answer_seconds", unit=" s", digits=1) for s in steps]),
        ("server memory at rest, RSS / PSS", [memory(s, "memory_at_rest") for s in steps]),
        ("server memory under load, RSS / PSS", [memory(s, "memory_under_load") for s in steps]),
        (
            "largest process under load (RSS)",
            [get(s, "memory_under_load", "largest_process_rss_mib", unit=" MiB") for s in steps],
        ),
    ]
    labels = list(dict.fromkeys(label for s in steps for label in s.get("requests", {})))
    for label in labels:
        cells = []
        for s in steps:
            figure = s.get("requests", {}).get(label)
            if not figure:
                cells.append("–")
                continue
            mark = "" if figure["p95_ms"] <= target(label) else " ✗"
            cells.append(f"{figure['p50_ms']:.0f} / {figure['p95_ms']:.0f} ms{mark}")
        table.append((f"{label}: p50 / p95 (target p95 ≤ {target(label)} ms)", cells))
    table += [
        ("a day's 1,000 new papers, with embeddings", [get(s, "day", "seconds", unit=" s") for s in steps]),
        ("`index --rebuild`", [get(s, "rebuild", "seconds", unit=" s") for s in steps]),
        ("digest, 10,000 subscribers", [get(s, "digest", "seconds", unit=" s") for s in steps]),
        ("the whole step, in one run", [whole_step(s) for s in steps]),
        ("requests measured a kind", [get(s, "requests_per_kind") for s in steps]),
    ]
    return table


def measured(figures: dict) -> str:
    machine = figures.get("machine", {})
    when = ", ".join(dict.fromkeys(filter(None, [machine.get("date", "–"), *figures.get("resumed", [])])))
    return f"{when}, {machine['commit']}" if machine.get("commit") else when


def whole_step(figures: dict) -> str:
    if "step_minutes" in figures:
        return f"{figures['step_minutes']:,.1f} min"
    if figures.get("resumed"):
        return f"– (resumed: measured in {len(figures['resumed']) + 1} runs)"
    return "–"


def memory(figures: dict, key: str) -> str:
    found = figures.get(key)
    return f"{found['rss_mib']:,} / {found['pss_mib']:,} MiB" if found else "–"


def markdown(steps: list[dict]) -> str:
    head = "| | " + " | ".join(step_name(s) for s in steps) + " |"
    lines = [head, "|---" * (len(steps) + 1) + "|"]
    lines += [f"| {label} | " + " | ".join(cells) + " |" for label, cells in rows(steps)]
    return "\n".join(lines) + "\n"


def svg(steps: list[dict]) -> str:
    """p95 of each kind of request against the number of papers, both axes logarithmic."""
    width, height, left, bottom, top, right = 760, 420, 60, 40, 20, 230
    xs = [s["papers"] for s in steps]
    labels = list(dict.fromkeys(label for s in steps for label in s.get("requests", {})))
    values = [s["requests"][label]["p95_ms"] for s in steps for label in labels if label in s.get("requests", {})]
    if not values:
        return ""
    x_low, x_high = math.log10(min(xs) * 0.8), math.log10(max(xs) * 1.25 if max(xs) > min(xs) else min(xs) * 10)
    y_low, y_high = math.log10(max(1.0, min(values) * 0.8)), math.log10(max(max(values), PAGE_TARGET_MS) * 1.3)

    def x(papers: float) -> float:
        return left + (math.log10(papers) - x_low) / (x_high - x_low) * (width - left - right)

    def y(ms: float) -> float:
        return height - bottom - (math.log10(ms) - y_low) / (y_high - y_low) * (height - top - bottom)

    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
        f'font-size="11" role="img" aria-label="p95 latency of each request against the number of papers">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="black"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="black"/>',
    ]
    for papers in xs:
        parts.append(f'<text x="{x(papers):.1f}" y="{height - bottom + 15}" text-anchor="middle">{papers:,}</text>')
    for ms in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000):
        if y_low <= math.log10(ms) <= y_high:
            parts.append(f'<text x="{left - 6}" y="{y(ms) + 4:.1f}" text-anchor="end">{ms} ms</text>')
            parts.append(f'<line x1="{left}" y1="{y(ms):.1f}" x2="{width - right}" y2="{y(ms):.1f}" stroke="#eee"/>')
    for ms, name in ((SEARCH_TARGET_MS, "hybrid search target"), (PAGE_TARGET_MS, "page and API target")):
        parts.append(
            f'<line x1="{left}" y1="{y(ms):.1f}" x2="{width - right}" y2="{y(ms):.1f}" stroke="#999" '
            f'stroke-dasharray="4 3"/><text x="{left + 4}" y="{y(ms) - 4:.1f}" fill="#666">{name} ({ms} ms)</text>'
        )
    for n, label in enumerate(labels):
        colour = palette[n % len(palette)]
        dash = "" if n < len(palette) else ' stroke-dasharray="6 2"'
        points = [(x(s["papers"]), y(s["requests"][label]["p95_ms"])) for s in steps if label in s.get("requests", {})]
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.5"{dash}/>')
        # A mark at each step: a line needs two steps, one step alone is a point.
        parts += [f'<circle cx="{px:.1f}" cy="{py:.1f}" r="2.5" fill="{colour}"/>' for px, py in points]
        legend_y = top + 14 + n * 14
        parts.append(
            f'<line x1="{width - right + 4}" y1="{legend_y + 120}" x2="{width - right + 24}" y2="{legend_y + 120}" '
            f'stroke="{colour}" stroke-width="2"{dash}/>'
            f'<text x="{width - right + 28}" y="{legend_y + 124}">{label}</text>'
        )
    parts.append(
        f'<text x="{left + (width - left - right) / 2}" y="{height - 6}" text-anchor="middle">papers (log scale); '
        "p95 in ms (log scale)</text></svg>"
    )
    return "\n".join(parts) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("steps", type=Path, nargs="+")
    parser.add_argument("--svg", type=Path)
    args = parser.parse_args()
    steps = sorted((json.loads(p.read_text()) for p in args.steps), key=lambda s: s["papers"])
    print(markdown(steps))
    if args.svg:
        args.svg.write_text(svg(steps))


if __name__ == "__main__":
    main()
