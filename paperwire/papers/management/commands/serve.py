import logging

from django.core.management.base import BaseCommand
from waitress import serve

from paperwire.search.indexer import update_indexes
from paperwire.wsgi import application


class Command(BaseCommand):
    help = "Serve the site and the API."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--threads", type=int, default=8)

    def handle(self, *args, host, port, threads, **options):
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)
        # The index files are derived from the database: bring them up to date before serving.
        self.stdout.write(update_indexes().summary())
        self.stdout.write(f"Paperwire serving on http://{host}:{port}/")
        self.stdout.flush()
        serve(application, host=host, port=port, threads=threads, ident="paperwire")
