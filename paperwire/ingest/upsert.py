"""The one idempotent write path from PaperRecords to Paper rows.

Policy when a paper is seen again (from any source, in any order):
- text fields (title, abstract, authors, categories, links, comment, doi, AI summary)
  take the newest non-empty value;
- ``published_at`` keeps the earliest value (arXiv v1);
- ``submitted_on_daily_at`` keeps the latest explicit value: a paper submitted to the
  daily feed again moves to that day, as it does on huggingface.co;
- ``base_upvotes`` keeps the highest count seen, ``num_comments`` likewise;
- the daily day is the UTC date of ``submitted_on_daily_at``, else of ``published_at``.
Importing the same data twice therefore changes nothing and reports 0 new, 0 updated.

Each paper's names are linked to their authors (``paperwire.people.linking``) in the
paper's own transaction; the authors of new names are created just before it.

Records are checked before they get here (``records.check_record``). Should the database still
refuse a batch (a value no check foresaw), the batch is written again one record at a time,
so that only the refused record is lost, named by its ``where``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass

from django.db import DataError, IntegrityError, transaction
from django.utils import timezone

from paperwire.core.bulk import insert_instances
from paperwire.ingest.records import OrganizationRecord, PaperRecord
from paperwire.papers.models import Organization, Paper, content_changed, refresh_upvotes
from paperwire.people.linking import ensure_authors, link_papers, names_of, resolve

TEXT_FIELDS = (
    "title",
    "abstract",
    "authors",
    "categories",
    "code_urls",
    "project_page",
    "comment",
    "doi",
    "ai_summary",
    "ai_keywords",
)
SAVED_FIELDS = (
    *TEXT_FIELDS,
    "github_stars",
    "published",
    "published_at",
    "submitted_on_daily_at",
    "daily_date",
    "organization",
    "organization_name",
    "submitter_name",
    "hf_submitter",
    "base_upvotes",
    "num_comments",
)


# What a record can make the database (or its driver, adapting a value) refuse. Other errors
# (a lost connection, a locked database) are no fault of one record and stop the import.
REFUSALS = (DataError, IntegrityError, ValueError, OverflowError)


@dataclass
class UpsertStats:
    new: int = 0
    updated: int = 0
    unchanged: int = 0


def _later(a, b):
    return b if a is None else a if b is None else max(a, b)


def _earlier(a, b):
    return b if a is None else a if b is None else min(a, b)


def apply_record(paper: Paper, record: PaperRecord, organization: Organization | None) -> None:
    """Merge ``record`` into ``paper`` following the module's policy."""
    for name in TEXT_FIELDS:
        value = getattr(record, name)
        if value:
            setattr(paper, name, value)
    if record.github_stars is not None:
        paper.github_stars = record.github_stars
    paper.published_at = _earlier(paper.published_at, record.published_at)
    paper.published = paper.published_at.date() if paper.published_at else None
    paper.submitted_on_daily_at = _later(paper.submitted_on_daily_at, record.submitted_on_daily_at)
    feed_time = paper.submitted_on_daily_at or paper.published_at
    paper.daily_date = feed_time.date() if feed_time else None
    if organization is not None:
        paper.organization = organization
        paper.organization_name = record.organization.fullname or record.organization.name
    if record.submitter_name and paper.submitter_id is None:
        paper.submitter_name = record.submitter_name
        paper.hf_submitter = record.hf_submitter
    paper.base_upvotes = max(paper.base_upvotes or 0, record.upvotes)
    paper.num_comments = max(paper.num_comments or 0, record.num_comments)


# What a write may change, read in one step (the organization by its id: no query).
_snapshot = operator.attrgetter(*("organization_id" if f == "organization" else f for f in SAVED_FIELDS))


class Upserter:
    """Buffers records and writes them in batches, one transaction a batch.

    A crash loses at most the batch being written; running the import again finishes it.
    ``on_reject(where, reason)`` hears of records the database refused; without it, a refusal
    is raised.
    """

    def __init__(self, batch_size: int = 1000, on_reject: Callable[[str, str], None] | None = None) -> None:
        self.batch_size = batch_size
        self.on_reject = on_reject
        self.pending: list[PaperRecord] = []
        self.stats = UpsertStats()
        self._organizations: dict[tuple[str, str, str], Organization] = {}
        self._absorbed: dict[int, Organization] = {}

    def add(self, record: PaperRecord) -> None:
        self.pending.append(record)
        if len(self.pending) >= self.batch_size:
            self.flush()

    def _organization(self, record: OrganizationRecord | None) -> Organization | None:
        """The organization of a record, found by any spelling of its names (one query per
        organization and batch). Organizations that a record shows to be one are merged; papers
        of this batch that point at a merged one are moved in ``_repoint``."""
        if record is None:
            return None
        seen = (record.name, record.fullname, record.hf_id)
        if seen not in self._organizations:
            organization, absorbed = Organization.objects.find_or_create(
                record.name, record.fullname, record.avatar_url, record.hf_id
            )
            if absorbed:
                self._organizations = {k: o for k, o in self._organizations.items() if o.pk not in absorbed}
                self._absorbed.update(dict.fromkeys(absorbed, organization))
            self._organizations[seen] = organization
        return self._organizations[seen]

    def _repoint(self, papers) -> None:
        for paper in papers:
            while paper.organization_id in self._absorbed:
                paper.organization = self._absorbed[paper.organization_id]

    def flush(self) -> None:
        if not self.pending:
            return
        records, self.pending = self.pending, []
        try:
            self._write(records)
        except REFUSALS:
            if self.on_reject is None:
                raise
            for record in records:
                try:
                    self._write([record])
                except REFUSALS as error:
                    reason = " ".join(str(error).split())[:200]
                    self.on_reject(record.where or record.id, f"the database refused it: {reason}")

    def _write(self, records: list[PaperRecord]) -> None:
        """One transaction for the papers; if it fails, nothing of it stays."""
        # Organizations first, each in a short transaction of its own: the batch's transaction
        # then never holds a new organization's row while it waits for another importer's
        # (two imports meeting the same new names in another order would deadlock). They are
        # looked up afresh in every batch: another process may have merged some meanwhile.
        self._organizations, self._absorbed = {}, {}
        organizations = [self._organization(record.organization) for record in records]
        # Authors likewise: those of the names that are new to their papers, before the batch.
        author_ids = self._authors(records)
        with transaction.atomic():
            counts, touched, authors = self._write_batch(records, organizations, author_ids)
        # The names shown follow the spellings of the papers just written, in a transaction of
        # their own (like the organizations above), once the batch's rows are committed.
        if touched:
            with transaction.atomic():
                if Organization.objects.respell(touched):
                    content_changed()
        # Abbreviated names join a full one, or leave it, as the names now in the corpus say.
        if authors:
            with transaction.atomic():
                if resolve(authors):
                    content_changed()
        self.stats.new += counts.new
        self.stats.updated += counts.updated
        self.stats.unchanged += counts.unchanged

    def _authors(self, records: list[PaperRecord]) -> dict[str, int]:
        """The author ids (by name key) of the names of the records whose names differ from
        their paper's, created if new (``people.linking.ensure_authors``)."""
        stored = dict(Paper.objects.filter(pk__in=[r.id for r in records]).values_list("pk", "authors"))
        names = [name for r in records if r.authors and r.authors != stored.get(r.id) for name in r.authors]
        return ensure_authors(names) if names else {}

    def _write_batch(
        self, records: list[PaperRecord], organizations: list[Organization | None], author_ids: dict[str, int]
    ) -> tuple[UpsertStats, set[int], set[int]]:
        """Write the batch; its counts, the organizations whose papers it changed and the
        authors who gained or lost a paper."""
        existing = Paper.objects.in_bulk([r.id for r in records])
        before = {pid: _snapshot(p) for pid, p in existing.items()}
        authors_before = {pid: p.authors for pid, p in existing.items()}
        organizations_before = {pid: p.organization_id for pid, p in existing.items()}
        created: dict[str, Paper] = {}
        for record, organization in zip(records, organizations, strict=True):
            paper = existing.get(record.id) or created.get(record.id)
            if paper is None:
                paper = created[record.id] = Paper(id=record.id)
            apply_record(paper, record, organization)
        self._repoint([*existing.values(), *created.values()])
        for paper in created.values():
            paper.upvotes = paper.base_upvotes
        insert_instances(Paper, list(created.values()))
        changed = [p for pid, p in existing.items() if _snapshot(p) != before[pid]]
        if changed:
            now = timezone.now()
            for paper in changed:
                paper.updated_at = now  # bulk_update does not apply auto_now
            Paper.objects.bulk_update(changed, [*SAVED_FIELDS, "updated_at"])
            refresh_upvotes([p.pk for p in changed])  # bumps the content version
        elif created:
            content_changed()
        touched = {p.organization_id for p in [*created.values(), *changed]}
        touched |= {organizations_before[p.pk] for p in changed}
        renamed = [*created.values(), *(p for p in changed if p.authors != authors_before[p.pk])]
        names = {p.pk: names_of(p.authors) for p in renamed}
        authors = link_papers(names, author_ids, new=created) if renamed else set()
        stats = UpsertStats(new=len(created), updated=len(changed), unchanged=len(existing) - len(changed))
        return stats, touched - {None}, authors


def upsert_records(records) -> UpsertStats:
    upserter = Upserter()
    for record in records:
        upserter.add(record)
    upserter.flush()
    return upserter.stats
