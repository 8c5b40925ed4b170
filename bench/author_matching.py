"""How Paperwire's author matching does on real names: the arXiv set of ../shared/data (74,728
papers), read with the very rules the site uses (paperwire/people/names.py).

Each name becomes an authors_parsed-style pair (family name, given names) and a key; spellings
with one key are one author (case, accents, spacing), and abbreviated names ("Y. LeCun") join
the one full name nothing contradicts. Printed:

- how often each rule merges: spellings per key, abbreviated names, merges, and the
  abbreviations left alone (no full name, or a contradiction);
- the precision of the merges, judged by the rule of docs/community.md: a merge is *supported*
  when the two names share a co-author (another author's key on a paper of each), and
  *contradicted* when one paper lists both names (two people); category overlap is printed as
  weaker evidence. Precision is given as supported / (supported + contradicted), and as a lower
  bound, supported / all;
- the same figures for a naive rule (an abbreviation joins the most frequent full name with its
  family name and first initial, contradictions ignored), as a baseline;
- with ``--sample-file`` (default: bench/author_matching_sample.json), the precision over a
  hand-checked random sample of the merges: each entry a merge with the evidence shown to the
  checker and a verdict ("same", "different" or "unsure"). ``--write-sample N`` draws a new
  sample (seeded) with empty verdicts, for a person to fill in.

    python bench/author_matching.py [--data ../shared/data] [--write-sample 50]
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from paperwire.people.names import Entry, candidates, merge_targets, parse, signature  # noqa: E402

SAMPLE = ROOT / "bench" / "author_matching_sample.json"


def read_papers(folder: Path) -> list[dict]:
    papers = []
    for path in sorted(folder.glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            for line in lines:
                record = json.loads(line)
                names = [n for n in record.get("authors") or [] if isinstance(n, str)]
                papers.append({"id": record["id"], "title": record["title"], "names": names,
                               "categories": record.get("categories") or []})  # fmt: skip
    return papers


class Corpus:
    """The names of the papers, read once: keys, spellings, papers and co-authors of each key."""

    def __init__(self, papers: list[dict]) -> None:
        self.papers = papers
        self.parsed = {}
        self.spellings: dict[str, Counter] = defaultdict(Counter)
        self.papers_of: dict[str, list[int]] = defaultdict(list)
        for index, paper in enumerate(papers):
            keys = []
            for name in paper["names"]:
                if name not in self.parsed:
                    self.parsed[name] = parse(name)
                key = self.parsed[name].key
                if key:
                    self.spellings[key][name] += 1
                    keys.append(key)
            paper["keys"] = keys
            for key in set(keys):
                self.papers_of[key].append(index)
        self.name_of = {key: spellings.most_common(1)[0][0] for key, spellings in self.spellings.items()}
        self.signatures = {}
        for index, paper in enumerate(papers):
            found = [self.parsed[self.name_of[key]] for key in paper["keys"]]
            self.signatures[index] = {signature(n.family, n.initials, n.key) for n in found}

    def signature_of(self, key: str) -> str:
        name = self.parsed[self.name_of[key]]
        return signature(name.family, name.initials, name.key)

    def coauthor_signatures(self, key: str) -> set[str]:
        return {s for i in self.papers_of[key] for s in self.signatures[i]} - {self.signature_of(key)}

    def entry(self, key: str) -> Entry:
        name = self.parsed[self.name_of[key]]
        return Entry(key, name.family, name.initials, name.abbreviated)

    def coauthors(self, key: str) -> set[str]:
        return {k for i in self.papers_of[key] for k in self.papers[i]["keys"]} - {key}

    def categories(self, key: str) -> set[str]:
        return {c for i in self.papers_of[key] for c in self.papers[i]["categories"]}

    def judge(self, short: str, full: str) -> str:
        """'contradicted' (one paper lists both), 'supported' (a shared co-author, compared by
        family name and first initial as the rule compares them), 'categories' (only a shared
        category) or 'unknown'."""
        if set(self.papers_of[short]) & set(self.papers_of[full]):
            return "contradicted"
        if self.coauthor_signatures(short) & self.coauthor_signatures(full):
            return "supported"
        if self.categories(short) & self.categories(full):
            return "categories"
        return "unknown"


def naive_targets(corpus: Corpus) -> dict[str, str]:
    """The baseline: an abbreviation joins the full name of its family and first initial with
    the most papers, whatever else has that initial."""
    best: dict[tuple[str, str], str] = {}
    for key in corpus.spellings:
        entry = corpus.entry(key)
        if entry.family and entry.initials and not entry.abbreviated:
            group = (entry.family, entry.initials[0])
            if group not in best or len(corpus.papers_of[key]) > len(corpus.papers_of[best[group]]):
                best[group] = key
    targets = {}
    for key in corpus.spellings:
        entry = corpus.entry(key)
        if entry.abbreviated and (entry.family, entry.initials[0]) in best:
            targets[key] = best[(entry.family, entry.initials[0])]
    return targets


def evidence_lines(corpus: Corpus, targets: dict[str, str], label: str) -> list[str]:
    verdicts = Counter(corpus.judge(short, full) for short, full in targets.items())
    share = verdicts["supported"] / len(targets) if targets else 0
    return [
        f"{label}: {len(targets):,} merges; refuted (one paper lists both names) {verdicts['contradicted']:,}; "
        f"a shared co-author {verdicts['supported']:,} ({share:.1%}), only a shared category "
        f"{verdicts['categories']:,}, nothing {verdicts['unknown']:,}"
    ]


def sample_entry(corpus: Corpus, short: str, full: str) -> dict:
    def side(key: str) -> dict:
        return {
            "name": corpus.name_of[key],
            "papers": [corpus.papers[i]["title"][:120] for i in corpus.papers_of[key][:3]],
            "categories": sorted(corpus.categories(key))[:8],
            "coauthors": sorted(corpus.name_of[k] for k in list(corpus.coauthors(key))[:6]),
        }

    shared = {k for k in corpus.coauthors(short) | corpus.coauthors(full)}
    shared = {
        k
        for k in shared
        if corpus.signature_of(k) in corpus.coauthor_signatures(short) & corpus.coauthor_signatures(full)
    }
    return {
        "short": side(short),
        "full": side(full),
        "shared_coauthors": sorted(corpus.name_of[k] for k in shared)[:6],
        "rule": corpus.judge(short, full),
        "verdict": "",
        "why": "",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data", help="the shared data folder")
    parser.add_argument("--sample-file", type=Path, default=SAMPLE, help="the hand-checked sample (JSON)")
    parser.add_argument("--write-sample", type=int, metavar="N", help="draw N merges for a person to check")
    parser.add_argument("--seed", type=int, default=12, help="the seed of the sample")
    args = parser.parse_args()

    started = time.perf_counter()
    papers = read_papers(args.data / "arxiv")
    corpus = Corpus(papers)
    seconds = time.perf_counter() - started
    occurrences = sum(len(p["keys"]) for p in papers)
    keys = corpus.spellings
    print(f"arXiv set: {len(papers):,} papers, {occurrences:,} names, {len(corpus.parsed):,} spellings "
          f"({seconds:.1f} s to read and parse)")  # fmt: skip
    parsed = [corpus.parsed[name] for name in corpus.parsed]
    print(
        f"authors_parsed-style pairs: {sum(bool(p.family) for p in parsed):,} with a family name, "
        f"{sum(bool(p.given) for p in parsed):,} with given names, {sum(p.abbreviated for p in parsed):,} abbreviated"
    )

    # 1. Spellings with one key (case, accents, spacing, "Family, Given").
    multi = {k: s for k, s in keys.items() if len(s) > 1}
    print(f"\nkeys (authors before the initials rule): {len(keys):,}")
    print(
        f"  keys written more than one way: {len(multi):,} ({sum(len(s) for s in multi.values()):,} spellings, "
        f"{sum(len(s) for s in multi.values()) - len(multi):,} merged into another spelling)"
    )
    pairs_of_spellings = {}
    for key, spellings in multi.items():
        (first, _), (second, _) = spellings.most_common(2)
        pairs_of_spellings[key] = (first, second)
    print(f"  e.g. {', '.join(' = '.join(p) for p in list(pairs_of_spellings.values())[:4])}")

    # 2. Abbreviations and the initials rule.
    entries = [corpus.entry(k) for k in keys]
    abbreviated = [e for e in entries if e.abbreviated]
    pairs = candidates(entries)
    everyone = Counter(corpus.signature_of(k) for k in keys)
    carriers = lambda found: {sig: everyone[sig] for sig in found}  # noqa: E731
    targets = merge_targets(entries, corpus.papers_of, corpus.signatures, carriers)
    any_coauthor = merge_targets(entries, corpus.papers_of, corpus.signatures, carriers, unambiguous=None)
    families: dict[tuple[str, str], list[Entry]] = defaultdict(list)
    for e in entries:
        if e.family and e.initials:
            families[(e.family, e.initials[0])].append(e)
    left = Counter()
    for e in abbreviated:
        if e.id in targets:
            continue
        full = [g for g in families[(e.family, e.initials[0])] if not g.abbreviated]
        if not full:
            left["no full name with that family name and initial"] += 1
        elif e.id not in pairs:
            left["a contradiction (another full name, or an abbreviation that fits none)"] += 1
        elif set(corpus.papers_of[e.id]) & set(corpus.papers_of[pairs[e.id]]):
            left["one paper lists both names"] += 1
        elif e.id in any_coauthor:
            left["their shared co-authors are ambiguous"] += 1
        else:
            left["no shared co-author"] += 1
    papers_moved = sum(len(corpus.papers_of[k]) for k in targets)
    print(f"\nabbreviated authors: {len(abbreviated):,} ({len(abbreviated) / len(keys):.1%} of authors)")
    print(f"  nothing contradicts joining a full name (rule 1): {len(pairs):,}")
    print(
        f"  merged into a full name (rules 1-3): {len(targets):,} ({len(targets) / max(len(abbreviated), 1):.1%} of "
        f"them, {papers_moved:,} papers)"
    )
    for reason, count in left.most_common():
        print(f"  left alone, {reason}: {count:,}")
    for short, full in sorted(any_coauthor.items()):
        if short not in targets:
            shared = corpus.coauthor_signatures(short) & corpus.coauthor_signatures(full)
            carried = ", ".join(f"{sig} by {everyone[sig]:,}" for sig in sorted(shared))
            print(
                f"    {corpus.name_of[short]} / {corpus.name_of[full]}: shared co-authors carried by many ({carried})"
            )
    print(f"authors shown (pages): {len(keys) - len(targets):,}")

    print("\nevidence read from the corpus (a shared co-author, by family name and initial, supports; one paper")
    print("listing both names refutes). Rule 3 asks for a shared co-author: for its merges, only the hand check below")
    print("measures precision.")
    print(f"  spellings with one key: {len(multi):,} keys; ", end="")
    verdicts = Counter()
    for key in multi:
        # Do the papers of the two most used spellings share a co-author, or list both?
        a, b = pairs_of_spellings[key]
        papers_a = [i for i in corpus.papers_of[key] if a in papers[i]["names"]]
        papers_b = [i for i in corpus.papers_of[key] if b in papers[i]["names"]]
        if set(papers_a) & set(papers_b):
            verdicts["contradicted"] += 1
            continue
        co_a = {s for i in papers_a for s in corpus.signatures[i]} - {corpus.signature_of(key)}
        co_b = {s for i in papers_b for s in corpus.signatures[i]} - {corpus.signature_of(key)}
        verdicts["supported" if co_a & co_b else "unknown"] += 1
    judged = verdicts["supported"] + verdicts["contradicted"]
    print(
        f"supported {verdicts['supported']:,}, contradicted {verdicts['contradicted']:,}, no evidence "
        f"{verdicts['unknown']:,}; precision where the evidence decides: "
        f"{verdicts['supported'] / max(judged, 1):.1%}"
    )
    for line in evidence_lines(corpus, targets, "  Paperwire's rule (1-3)"):
        print(line)
    for line in evidence_lines(corpus, any_coauthor, "  rules 1-3 counting any shared co-author"):
        print(line)
    for line in evidence_lines(corpus, pairs, "  rule 1 alone (nothing contradicts)"):
        print(line)
    for line in evidence_lines(corpus, naive_targets(corpus), "  baseline: initials, contradictions ignored"):
        print(line)

    sets = {"merges": targets, "any shared co-author": any_coauthor, "rule 1 alone": pairs}
    if args.write_sample:
        sample = []
        for name, chosen in sets.items():
            drawn = random.Random(args.seed).sample(sorted(chosen.items()), min(args.write_sample, len(chosen)))
            sample += [{"set": name, **sample_entry(corpus, short, full)} for short, full in drawn]
        args.sample_file.write_text(json.dumps(sample, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        print(f"\nwrote {len(sample)} merges to {args.sample_file} for a person to check")
        return
    if args.sample_file.exists():
        sample = json.loads(args.sample_file.read_text(encoding="utf-8"))
        print(f"\nhand-checked sample ({args.sample_file.name}, verdicts by a person reading titles and co-authors)")
        for name, chosen in sets.items():
            current = {(corpus.name_of[s], corpus.name_of[f]) for s, f in chosen.items()}
            drawn = [e for e in sample if e["set"] == name]
            still = [e for e in drawn if (e["short"]["name"], e["full"]["name"]) in current]
            counts = Counter(e["verdict"] for e in still)
            decided = counts["same"] + counts["different"]
            line = (
                f"  {name}: {len(drawn)} drawn of {len(chosen):,}, {len(still)} still made; same person "
                f"{counts['same']}, different {counts['different']}, unsure {counts['unsure']}"
            )
            if decided:
                line += f"; precision {counts['same'] / decided:.1%} ({counts['same']}/{decided} decided)"
            print(line)


if __name__ == "__main__":
    main()
