from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from paperwire.ingest import FORMATS, ReadingFailed, import_files
from paperwire.search import update_indexes

MAX_LISTED = 100


class Command(BaseCommand):
    help = "Import papers from JSONL, Hugging Face daily-papers responses or the Kaggle arXiv snapshot."

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", type=Path, metavar="PATH")
        parser.add_argument("--format", choices=("auto", *FORMATS), default="auto")
        parser.add_argument("--no-index", action="store_true", help="leave the search indexes for `paperwire index`")

    def handle(self, *args, paths, format, no_index, **options):
        try:
            report = import_files(paths, format)
        except ReadingFailed as error:  # what was written stays; importing again goes on from it
            raise CommandError(
                f"{error}\nThe records read before it are imported; once the cause is dealt with, running "
                "the same import again goes on from them."
            ) from None
        for where, reason in report.rejected[:MAX_LISTED]:
            self.stderr.write(f"rejected {where}: {reason}")
        if report.rejected_count > MAX_LISTED:
            self.stderr.write(f"... and {report.rejected_count - MAX_LISTED} more rejected records")
        if not no_index:
            # The rows are in: say so before the index update, which may take long (embeddings).
            # stdout ends with the import's summary, as ever; this line goes to stderr.
            self.stderr.write(f"{report.summary()}; updating the search index (Ctrl-C leaves them imported)")
            self.stdout.write(update_indexes().summary())
        if report.stats.unchanged:  # (stdout's last line stays the summary of the contract)
            self.stderr.write(f"{report.stats.unchanged} records unchanged: imported before as they are")
        self.stdout.write(report.summary())
        if report.unreadable:
            raise CommandError(f"could not import {len(report.unreadable)} file(s): {', '.join(report.unreadable)}")
