"""What a digest holds: the new papers of the period by what the subscriber's account follows,
the period's most upvoted papers and, per topic, its best new matches.

The followed papers are those of the account that verified the subscription's address and still
has it (``accounts.models.verified_owner``): an address nobody verified gets no such section.

A topic matches a paper of the period when the cosine similarity of their embeddings is at
least DIGEST_TOPIC_THRESHOLD; matches are ranked like hybrid search (``search.Among``).
Without the model, a topic matches the papers BM25 finds. No paper is shown twice to the
same subscriber, across all their digests.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings

from paperwire import search
from paperwire.accounts.models import verified_owner
from paperwire.digests.models import ShownPaper, Subscriber
from paperwire.papers import ranking
from paperwire.papers.models import Paper
from paperwire.papers.periods import Period, parse_period, period_containing
from paperwire.people.following import followed_papers, reasons_for

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
    following: list[Paper] = field(default_factory=list)  # each with ``reasons`` (people.following)

    @property
    def papers(self) -> list[Paper]:
        return self.following + self.top + [p for section in self.topics for p in section.papers]

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
        self._among = search.Among(self.by_id)

    def topic_matches(self, topic: str) -> list[str]:
        """Paper ids of the period matching ``topic``, best first (search.Among)."""
        key = " ".join(topic.lower().split())
        if key not in self._matches:
            self._matches[key] = self._among.matching(topic, settings.DIGEST_TOPIC_THRESHOLD)
        return self._matches[key]


def build_digest(subscriber: Subscriber, papers: PeriodPapers) -> Digest:
    """The digest ``subscriber`` gets for the period of ``papers``, leaving out what they saw before."""
    shown = set(ShownPaper.objects.filter(subscriber=subscriber).values_list("paper_id", flat=True))
    digest = Digest(subscriber, papers.period)
    used = set(shown)
    account = verified_owner(subscriber.email)
    if account is not None and account.is_active:
        period_ids = ranking.papers_in(papers.period.period).values("pk")
        new = followed_papers(account).filter(pk__in=period_ids).exclude(pk__in=used).select_related("organization")
        digest.following = list(new[: settings.DIGEST_FOLLOWED_PAPERS])
        reasons = reasons_for(account, digest.following)
        for paper in digest.following:
            paper.reasons = reasons.get(paper.pk, [])
            used.add(paper.pk)
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
