from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from paperwire import ingest
from paperwire.core import argtypes
from paperwire.ingest import complete_pending_submissions
from paperwire.search import update_indexes


class Command(BaseCommand):
    help = (
        "Fetch new papers from Hugging Face's daily papers API or the arXiv API, "
        "or the papers of submissions arXiv was too slow for."
    )

    def add_arguments(self, parser):
        subcommands = parser.add_subparsers(dest="source", required=True, metavar="{hf-daily,arxiv,submissions}")
        hf = subcommands.add_parser("hf-daily", help="Hugging Face /api/daily_papers, one request a day")
        hf.add_argument("--no-index", action="store_true", help="leave the search indexes for `paperwire index`")
        when = hf.add_mutually_exclusive_group()
        when.add_argument("--date", type=argtypes.day, help="one day, YYYY-MM-DD")
        when.add_argument("--since", type=argtypes.day, help="every day from this one to today, YYYY-MM-DD")
        arxiv = subcommands.add_parser("arxiv", help="the newest submissions of arXiv categories")
        arxiv.add_argument("--category", type=argtypes.arxiv_category, action="append", dest="categories", metavar="C")
        arxiv.add_argument("--since", type=argtypes.day, help="papers first published on or after this day, YYYY-MM-DD")
        arxiv.add_argument("--no-index", action="store_true", help="leave the search indexes for `paperwire index`")
        pending = subcommands.add_parser(
            "submissions", help="the arXiv metadata of submissions still waiting for it, then put them on the feed"
        )
        pending.add_argument("--no-index", action="store_true", help="leave the search indexes for `paperwire index`")

    def handle(self, *args, source, **options):
        today = timezone.now().date()
        if source == "submissions":
            self.complete_submissions(index=not options["no_index"])
            return
        if source == "hf-daily":
            if options["date"]:
                days = [options["date"]]
            elif options["since"]:
                days = ingest.days_between(options["since"], today)
            else:
                days = ingest.hf_daily_resume_days(today)
            report = ingest.hf_daily(days)
        else:
            categories = options["categories"] or settings.ARXIV_CATEGORIES
            since = options["since"] or ingest.arxiv_resume_since(categories, today)
            report = ingest.arxiv_listing(categories, since)
        for where, reason in report.rejected[:100]:
            self.stderr.write(f"rejected {where}: {reason}")
        for failure in report.failures:
            self.stderr.write(f"failed: {failure}")
        if not options["no_index"]:
            self.stdout.write(update_indexes().summary())
        self.stdout.write(report.summary())
        if report.failures:
            raise CommandError(f"{len(report.failures)} request(s) failed; run the command again to retry them")

    def complete_submissions(self, index: bool) -> None:
        report = complete_pending_submissions()
        if index and report.featured:
            self.stdout.write(update_indexes().summary())
        self.stdout.write(report.summary())
        if report.failures:
            raise CommandError(
                f"arXiv did not answer ({report.failures[0]}); the submissions stay pending for the next run"
            )
