"""A scaled corpus for bench/scale.py: N papers in the Kaggle arXiv snapshot's format
(``arxiv-metadata-oai-snapshot.json``, one JSON object a line), remixed from the 74,728 real
papers of ../shared/data/arxiv. Deterministic: the same N gives the same bytes.

Every remixed paper is made from two real ones, its *sources* (a, b):
- a new arXiv id, months 2007-04 → 2026-05, the papers of a month growing 8.5 % a year (about
  4,900 a month in 2007, 20,000 in 2026 for 2.7 M in all); from 2015 on, the numbers of a month
  start at 50001, above those of the real papers of ../shared/data (whose ids stay free for the
  Hugging Face archive and for "a day's new papers");
- the first half of a's title and the second half of b's; the abstract's sentences taken in
  turn from a and b (so word statistics stay those of real abstracts);
- a's author list with the family names of about half its authors swapped for real family
  names drawn from the whole set (so name groups grow as a real corpus's do, not by copies);
- a's categories; a v1 date inside the id's month; a second version for one paper in four;
  ``update_date``, ``authors_parsed``, ``comments``, ``doi`` for some, as the snapshot has them.

The sources are written beside the corpus (``<corpus>.sources.npy``: two int32 indexes into
``real_papers()``'s order per paper), for the benchmark's synthetic vectors.

    .venv/bin/python bench/scale_corpus.py N OUTPUT.jsonl.gz [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import datetime as dt
import email.utils
import gzip
import json
import math
import random
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from common import shared_data_folder

FIRST_MONTH = (2007, 4)
LAST_MONTH = (2026, 5)
GROWTH = 0.085  # a year
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def real_papers(data: Path) -> list[dict]:
    """The real papers of ``data``/arxiv, in file then line order."""
    papers = []
    for path in sorted((data / "arxiv").glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            papers.extend(json.loads(line) for line in lines if line.strip())
    if not papers:
        raise SystemExit(f"no arXiv papers under {data / 'arxiv'}")
    return papers


def months() -> list[tuple[int, int]]:
    year, month = FIRST_MONTH
    found = []
    while (year, month) <= LAST_MONTH:
        found.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


def per_month(total: int) -> list[int]:
    """How many papers each month gets: growing by GROWTH a year, summing to ``total``."""
    span = months()
    weights = [math.exp(math.log1p(GROWTH) * i / 12) for i in range(len(span))]
    scale = total / sum(weights)
    counts = [int(w * scale) for w in weights]
    for i in range(total - sum(counts)):  # what rounding down left, to the latest months
        counts[-1 - i % len(counts)] += 1
    return counts


def new_id(year: int, month: int, number: int) -> str:
    yymm = f"{year % 100:02d}{month:02d}"
    if (year, month) >= (2015, 1):
        return f"{yymm}.{50000 + number:05d}"
    if number > 9999:
        raise SystemExit(f"{year}-{month:02d}: more than 9,999 papers in a month of 4-digit ids")
    return f"{yymm}.{number:04d}"


def split_name(name: str) -> tuple[str, str]:
    """(given names, family name) as the snapshot's ``authors_parsed`` would hold them."""
    parts = name.split()
    if len(parts) < 2:
        return "", name
    return " ".join(parts[:-1]), parts[-1]


def remix(index: int, a: dict, b: dict, families: list[str], rng: random.Random, when: dt.datetime) -> dict:
    words_a, words_b = a["title"].split(), b["title"].split()
    title = " ".join(words_a[: max(1, len(words_a) // 2)] + words_b[len(words_b) // 2 :])
    sentences_a = SENTENCE.split(" ".join(a["abstract"].split()))
    sentences_b = SENTENCE.split(" ".join(b["abstract"].split()))
    sentences = []
    for i in range(max(len(sentences_a), len(sentences_b))):
        source = sentences_a if i % 2 == 0 else sentences_b
        if i < len(source):
            sentences.append(source[i])
    abstract = " ".join(sentences)
    parsed = []
    for name in a.get("authors") or []:
        given, family = split_name(name)
        if rng.random() < 0.5:
            family = rng.choice(families)
        parsed.append([family, given, ""])
    shown = [" ".join(p for p in (given, family) if p) for family, given, _ in parsed]
    versions = [{"version": "v1", "created": email.utils.format_datetime(when, usegmt=True)}]
    updated = when
    if rng.random() < 0.25:
        updated = when + dt.timedelta(days=rng.randint(1, 120), hours=rng.randint(0, 23))
        versions.append({"version": "v2", "created": email.utils.format_datetime(updated, usegmt=True)})
    # The snapshot wraps abstracts at about 80 columns with a leading space, as arXiv's listing does.
    wrapped, line = [], ""
    for word in abstract.split():
        if line and len(line) + len(word) + 1 > 78:
            wrapped.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    wrapped.append(line)
    return {
        "submitter": shown[0] if shown else None,
        "authors": ", ".join(shown[:-1]) + (" and " if len(shown) > 1 else "") + (shown[-1] if shown else ""),
        "title": title,
        "comments": f"{rng.randint(4, 40)} pages, {rng.randint(1, 12)} figures" if rng.random() < 0.6 else None,
        "journal-ref": None,
        "doi": f"10.5555/scale.{index}" if rng.random() < 0.15 else None,
        "report-no": None,
        "categories": " ".join(a.get("categories") or ["cs.LG"]),
        "license": "http://creativecommons.org/licenses/by/4.0/",
        "abstract": "  " + "\n".join(wrapped) + "\n",
        "versions": versions,
        "update_date": updated.date().isoformat(),
        "authors_parsed": parsed,
    }


def generate(total: int, papers: list[dict], seed: int = 20261126) -> Iterator[tuple[dict, int, int]]:
    """(snapshot record, source a, source b) for ``total`` papers, month after month."""
    families = sorted({split_name(n)[1] for p in papers for n in (p.get("authors") or [])})
    rng = random.Random(seed)
    index = 0
    for (year, month), count in zip(months(), per_month(total), strict=True):
        start = dt.datetime(year, month, 1, tzinfo=dt.UTC)
        following = dt.datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=dt.UTC)
        seconds = int((following - start).total_seconds())
        moments = sorted(rng.randrange(seconds) for _ in range(count))
        for number, offset in enumerate(moments, start=1):
            a, b = rng.randrange(len(papers)), rng.randrange(len(papers))
            record = remix(index, papers[a], papers[b], families, rng, start + dt.timedelta(seconds=offset))
            yield {"id": new_id(year, month, number), **record}, a, b
            index += 1


def write_corpus(total: int, target: Path, data: Path) -> Path:
    """Write the corpus (and its sources) unless a complete one is there; returns ``target``."""
    sources_path = target.with_name(target.name + ".sources.npy")
    if target.exists() and sources_path.exists():
        return target
    papers = real_papers(data)
    sources = np.zeros((total, 2), dtype=np.int32)
    partial = target.with_name(target.name + ".partial")
    with gzip.open(partial, "wt", encoding="utf-8", compresslevel=3) as out:
        for i, (record, a, b) in enumerate(generate(total, papers)):
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            sources[i] = (a, b)
    np.save(sources_path, sources)
    partial.rename(target)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("papers", type=int)
    parser.add_argument("output", type=Path)
    parser.add_argument("--data", type=Path, default=shared_data_folder())
    args = parser.parse_args()
    print(write_corpus(args.papers, args.output, args.data))


if __name__ == "__main__":
    main()
