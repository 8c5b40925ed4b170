import logging
import threading

from django.conf import settings
from django.core.management.base import BaseCommand
from waitress import serve

from paperwire.search.indexer import update_indexes
from paperwire.wsgi import application

log = logging.getLogger(__name__)


def keep_indexes_fresh(stop: threading.Event) -> None:
    """Bring this node's index files up to date every PAPERWIRE_INDEX_INTERVAL seconds, so that
    papers written by any other node or worker are searchable here within that delay."""
    while not stop.wait(settings.INDEX_INTERVAL):
        try:
            report = update_indexes(show_progress=False)
            if report.indexed:
                log.info("indexed %s papers", report.indexed)
        except Exception:
            log.exception("updating the search indexes failed; trying again in %s s", settings.INDEX_INTERVAL)


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
        stop = threading.Event()
        if settings.INDEX_INTERVAL > 0:
            threading.Thread(target=keep_indexes_fresh, args=(stop,), name="index", daemon=True).start()
        self.stdout.write(f"Paperwire serving on http://{host}:{port}/")
        self.stdout.flush()
        try:
            serve(application, host=host, port=port, threads=threads, ident="paperwire")
        finally:
            stop.set()
