"""What a digest holds: the period's most upvoted papers and, per topic, its best new matches.

A topic matches a paper of the period when the cosine similarity of their embeddings is at
least DIGEST_TOPIC_THRESHOLD; matches are ranked like hybrid search (BM25 within the
period's papers and the embedding similarity, each divided by its best, half and half).
Without the model, a topic matches the papers BM25 finds. No paper is shown twice to the
same subscriber, across all their digests.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings

from paperwire.digests.models import ShownPaper, Subscriber
from paperwire.papers import ranking
from paperwire.papers.models import Paper
from paperwire.papers.periods import Period, parse_period, period_containing
from paperwire.search.embedder import ModelUnavailable, get_embedder
from paperwire.search.engine import ALPHA, Indexes, normalise
from paperwire.search.models import PaperVector
from paperwire.search.text import parse_query

KINDS = {"daily": "date", "weekly": "week"}


@dataclass(frozen=True)
class DigestPeriod:
    frequency: str  # daily or weekly
    period: Period

    @property
    def key(self) -> str:
        return f"{self.frequency}:{self.period.slug}"

    @property
    def label(self) -> str:
        return self.period.label

    @property
    def title(self) -> str:
        """The digest's subject and heading."""
        if self.frequency == "daily":
            return f"Daily Papers for {self.label}"
        return f"Papers of the week: {self.label}"

    @classmethod
    def containing(cls, frequency: str, day: dt.date) -> DigestPeriod:
        return cls(frequency, period_containing(KINDS[frequency], day))

    @classmethod
    def last_complete(cls, frequency: str, today: dt.date) -> DigestPeriod:
        """Yesterday, or the ISO week before the current one (UTC)."""
        current = period_containing(KINDS[frequency], today)
        return cls(frequency, period_containing(KINDS[frequency], current.start - dt.timedelta(days=1)))

    @classmethod
    def from_key(cls, key: str) -> DigestPeriod:
        frequency, slug = key.split(":", 1)
        return cls(frequency, parse_period(KINDS[frequency], slug))


@dataclass
class TopicSection:
    topic: str
    papers: list[Paper] = field(default_factory=list)


@dataclass
class Digest:
    subscriber: Subscriber
    period: DigestPeriod
    top: list[Paper] = field(default_factory=list)
    topics: list[TopicSection] = field(default_factory=list)

    @property
    def papers(self) -> list[Paper]:
        return self.top + [p for section in self.topics for p in section.papers]

    @property
    def empty(self) -> bool:
        return not self.papers


class PeriodPapers:
    """The papers of one period, and topic matches among them, computed once per run."""

    def __init__(self, period: DigestPeriod) -> None:
        self.period = period
        self.ranked = list(ranking.papers_in(period.period)[: settings.DIGEST_CANDIDATES])
        self.by_id = {p.id: p for p in self.ranked}
        self._matches: dict[str, list[str]] = {}
        self._vectors: tuple[list[str], np.ndarray] | None = None

    def vectors(self) -> tuple[list[str], np.ndarray]:
        if self._vectors is None:
            rows = PaperVector.objects.filter(paper_id__in=list(self.by_id)).values_list("paper_id", "vector")
            ids = [pid for pid, _ in rows]
            matrix = (
                np.stack([np.frombuffer(bytes(v), dtype="<f2") for _, v in rows]).astype(np.float32)
                if ids
                else np.zeros((0, 1), dtype=np.float32)
            )
            self._vectors = (ids, matrix)
        return self._vectors

    def topic_matches(self, topic: str) -> list[str]:
        """Paper ids of the period matching ``topic``, best first."""
        key = " ".join(topic.lower().split())
        if key not in self._matches:
            self._matches[key] = self._match(topic)
        return self._matches[key]

    def _match(self, topic: str) -> list[str]:
        if not self.by_id:
            return []
        parsed = parse_query(topic)
        lexical = self._lexical_scores(parsed)
        try:
            embedder = get_embedder()
        except ModelUnavailable:
            return sorted(lexical, key=lambda pid: -lexical[pid])
        ids, matrix = self.vectors()
        if not ids:
            return sorted(lexical, key=lambda pid: -lexical[pid])
        similarity = dict(zip(ids, (matrix @ embedder.embed([parsed.text or topic])[0]).tolist(), strict=True))
        kept = [pid for pid, s in similarity.items() if s >= settings.DIGEST_TOPIC_THRESHOLD]
        best_lexical = normalise(list(lexical.values()))
        best_semantic = normalise([similarity[pid] for pid in kept])
        score = {
            pid: ALPHA * lexical.get(pid, 0.0) / best_lexical + (1 - ALPHA) * similarity[pid] / best_semantic
            for pid in kept
        }
        return sorted(kept, key=lambda pid: (-score[pid], pid))

    def _lexical_scores(self, parsed) -> dict[str, float]:
        hits = Indexes.get().lexical.search(parsed, len(self.by_id), ids=self.by_id)
        return {hit.paper_id: hit.score for hit in hits}


def build_digest(subscriber: Subscriber, papers: PeriodPapers) -> Digest:
    """The digest ``subscriber`` gets for the period of ``papers``, leaving out what they saw before."""
    shown = set(ShownPaper.objects.filter(subscriber=subscriber).values_list("paper_id", flat=True))
    digest = Digest(subscriber, papers.period)
    used = set(shown)
    for paper in papers.ranked:
        if len(digest.top) >= settings.DIGEST_TOP_PAPERS:
            break
        if paper.id not in used:
            digest.top.append(paper)
            used.add(paper.id)
    for topic in subscriber.topic_list:
        section = TopicSection(topic)
        for paper_id in papers.topic_matches(topic):
            if len(section.papers) >= settings.DIGEST_TOPIC_PAPERS:
                break
            if paper_id not in used:
                section.papers.append(papers.by_id[paper_id])
                used.add(paper_id)
        if section.papers:
            digest.topics.append(section)
    return digest
