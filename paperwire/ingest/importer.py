"""``paperwire import``: stream files of any supported format into the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from django.db import connection

from paperwire.core.progress import progress as progress_bar
from paperwire.ingest.reading import Opened, ReadingFailed, Unreadable, read_files
from paperwire.ingest.upsert import Upserter, UpsertStats
from paperwire.papers.models import Organization, Paper
from paperwire.people.models import Author, PaperAuthor

MAX_KEPT_REJECTIONS = 1000


@dataclass
class ImportReport:
    stats: UpsertStats = field(default_factory=UpsertStats)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    rejected_count: int = 0

    def reject(self, where: str, reason: str) -> None:
        # Keep the first ones to show; a file of a million bad lines must not fill memory.
        self.rejected_count += 1
        if len(self.rejected) < MAX_KEPT_REJECTIONS:
            self.rejected.append((where, reason))

    def summary(self) -> str:
        return f"imported {self.stats.new} new, {self.stats.updated} updated, {self.rejected_count} rejected"


def import_files(paths: list[Path], fmt: str = "auto", progress: bool | None = None) -> ImportReport:
    """Import every file; a file that cannot be read is reported and the others go on."""
    report = ImportReport()
    upserter = Upserter(on_reject=report.reject)
    statistics = Statistics()
    report.stats = upserter.stats
    sizes = [p.stat().st_size if p.is_file() else 0 for p in paths]
    total = sum(sizes)
    reading = [0]  # the file being read, for the progress lines

    def detail() -> str:
        stats = upserter.stats
        records = stats.new + stats.updated + stats.unchanged + report.rejected_count
        where = f"file {reading[0]} of {len(paths)}, " if len(paths) > 1 else ""
        return f"{where}{records:,} records ({report.rejected_count:,} rejected)"

    with progress_bar(total=total, unit="B", unit_scale=True, show=progress, desc="import", detail=detail) as bar:
        done = 0  # the bytes of the files before the one being read
        events = read_files(paths, fmt, total)
        while True:
            try:
                event = next(events, None)
            except ReadingFailed:
                upserter.flush()  # what was read before the failure is kept
                raise
            if event is None:
                break
            if isinstance(event, Opened):
                done = sum(sizes[: event.number - 1])
                reading[0] = event.number
                bar.update(done - bar.n)
            elif isinstance(event, Unreadable):
                report.unreadable.append(event.path)
                report.reject(event.path, event.error)
            else:
                for item in event.items:
                    if item.record is not None:
                        upserter.add(item.record)
                        if upserter.stats.new + upserter.stats.updated >= statistics.due:
                            statistics.renew(upserter.stats.new + upserter.stats.updated)
                    else:
                        report.reject(item.where, item.error)
                bar.update(done + min(event.position, sizes[reading[0] - 1]) - bar.n)
        bar.update(total - bar.n)
        upserter.flush()
    statistics.finish(report.stats.new + report.stats.updated)
    return report


ANALYZE_AFTER = 1000  # papers written by one import: the planner's statistics are renewed


class Statistics:
    """PostgreSQL plans with the statistics of the tables as they were when last analyzed
    (autovacuum renews them a minute or more later, and never inside one transaction): the
    import's own queries (the authors' groups) and the pages right after it, planned for tables
    a tenth of their size, took seconds to minutes a query while the Hugging Face archive was
    imported. An import renews them itself, with ANALYZE of the tables it fills, once it has
    written ANALYZE_AFTER papers, again each time that count doubles, and at its end: a few
    times in all, some tens of milliseconds each. SQLite keeps no statistics unless asked."""

    def __init__(self) -> None:
        self.due = ANALYZE_AFTER if connection.vendor == "postgresql" else float("inf")
        self.done_at = 0

    def renew(self, written: int) -> None:
        tables = (Paper, Organization, Author, PaperAuthor)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE " + ", ".join(connection.ops.quote_name(m._meta.db_table) for m in tables))
        self.done_at, self.due = written, 2 * written

    def finish(self, written: int) -> None:
        if written >= ANALYZE_AFTER and written != self.done_at and self.due != float("inf"):
            self.renew(written)
