"""Every measured figure of the docs says where it comes from, and what it names exists.

docs/benchmarks.md ends with an inventory, "Where every figure comes from": one row a figure or
table, the doc and section it is in, and the command that prints it (a bench/ script with its
options, or a test run with -s), or "by hand" with a date and how, or "derived" from what. These
tests read that table and every `python bench/...` command written anywhere in the docs, and fail
when a script, an option or a test they name is not there, so that the inventory cannot rot
silently. They run no benchmark: a script's options are read from its `--help`.
"""

from __future__ import annotations

import functools
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
INVENTORY = "## Where every figure comes from"
BENCH_COMMAND = re.compile(r"python bench/([\w-]+\.py)([^`]*)")
TEST_COMMAND = re.compile(r"pytest -s (tests/[\w/]+\.py)::(\w+)")
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
BY_HAND = re.compile(r"\bby hand, (\d{4}-\d{2}-\d{2})\b[^|]*:\s*\S")


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def inventory_rows(text: str) -> list[list[str]]:
    """The cells of each row of the inventory table (header and rule left out)."""
    _, found, rest = text.partition(INVENTORY)
    assert found, f"docs/benchmarks.md has no section {INVENTORY!r}"
    rows = []
    for line in rest.splitlines():
        if line.startswith("## "):
            break
        if line.startswith("|") and not re.match(r"\|\s*-", line):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows[1:]


@functools.cache
def options_of(script: str) -> frozenset[str]:
    """The options a bench script's argparse accepts, from the usage of its --help (nothing runs)."""
    result = subprocess.run(
        [sys.executable, f"bench/{script}", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, f"bench/{script} --help failed:\n{result.stderr}"
    usage = result.stdout.split("\n\n", 1)[0]
    return frozenset(OPTION.findall(usage))


def bench_problems(command: str) -> list[str]:
    """What is missing for a `python bench/NAME.py OPTIONS` command to run as written."""
    problems = []
    for script, arguments in BENCH_COMMAND.findall(command):
        if not (ROOT / "bench" / script).is_file():
            problems.append(f"bench/{script} does not exist")
            continue
        missing = sorted(set(OPTION.findall(arguments)) - options_of(script))
        if missing:
            problems.append(f"bench/{script} has no option {', '.join(missing)}")
    return problems


def test_problems_are_found():
    assert bench_problems("python bench/search_quality.py --rrf-sweep --split test") == []
    assert bench_problems("python bench/nowhere.py --tune") == ["bench/nowhere.py does not exist"]
    assert bench_problems("python bench/search_quality.py [--no-such-option N]") == [
        "bench/search_quality.py has no option --no-such-option"
    ]
    row = "by hand, 2026-11-26: `time paperwire import ...` into an empty home"
    assert BY_HAND.search(row) and not BY_HAND.search("by hand") and not BY_HAND.search("by hand, 2026-11-26")
    text = f"# Benchmarks\n{INVENTORY}\n| figure | where | from |\n|---|---|---|\n| 1 s | a | b |\n## Next\n| x |\n"
    assert inventory_rows(text) == [["1 s", "a", "b"]]


def test_every_row_of_the_inventory_says_where_its_figure_comes_from():
    rows = inventory_rows((ROOT / "docs/benchmarks.md").read_text())
    assert len(rows) > 30
    problems = []
    for figure, where, source in rows:
        commands = re.findall(r"`([^`]+)`", source)
        scripted = [c for c in commands if BENCH_COMMAND.search(c) or TEST_COMMAND.search(c)]
        if not (scripted or BY_HAND.search(source) or source.startswith("derived")):
            problems.append(f"{figure}: no bench command, test, 'by hand, <date>: <how>' or 'derived'")
        if not re.search(r"\]\([^)]+\)", where):
            problems.append(f"{figure}: 'where' links no doc")
        for command in scripted:
            problems += [f"{figure}: {p}" for p in bench_problems(command)]
            for path, name in TEST_COMMAND.findall(command):
                test_file = ROOT / path
                if not test_file.is_file() or not re.search(rf"^def {name}\(", test_file.read_text(), re.M):
                    problems.append(f"{figure}: {path} has no test {name}")
    assert problems == []


def test_every_bench_script_is_in_the_inventory():
    text = (ROOT / "docs/benchmarks.md").read_text().partition(INVENTORY)[2]
    scripts = sorted(p.name for p in (ROOT / "bench").glob("*.py") if p.name != "common.py")
    assert scripts and [s for s in scripts if f"python bench/{s}" not in text] == []


@pytest.mark.parametrize("document", documents(), ids=lambda p: p.name)
def test_every_bench_command_in_the_docs_names_a_script_and_options_that_exist(document):
    text = document.read_text()
    problems = [f"bench/{name} does not exist" for name in re.findall(r"\bbench/([\w-]+\.py)", text)]
    problems = [p for p in problems if not (ROOT / p.split()[0]).is_file()]
    for code in re.findall(r"`([^`\n]+)`", text):
        problems += bench_problems(code)
    assert problems == []
