from django.core.management.base import BaseCommand

from paperwire.search.indexer import update_indexes


class Command(BaseCommand):
    help = "Bring the search indexes up to date with the database (--rebuild: from scratch)."

    def add_arguments(self, parser):
        parser.add_argument("--rebuild", action="store_true", help="delete the index files and build them again")

    def handle(self, *args, rebuild, **options):
        report = update_indexes(rebuild=rebuild)
        self.stdout.write(report.summary())
