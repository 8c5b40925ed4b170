"""`paperwire serve`: gunicorn with threaded workers, plus a child process building, repairing and
updating the search indexes in the background."""

import os
import subprocess
import sys

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connections
from gunicorn.app.base import BaseApplication

from paperwire.serving import MAX_REQUEST_LINE, JsonErrorWorker
from paperwire.siteurl import serve_on
from paperwire.staticstorage import collect_static

INDEXER_NICENESS = 10


def lower_priority() -> None:
    os.nice(INDEXER_NICENESS)


class PaperwireServer(BaseApplication):
    def __init__(self, options: dict) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        # In each worker, after the fork and after collectstatic: WhiteNoise lists the
        # collected files when the application is built.
        from paperwire.wsgi import application

        return application


class Command(BaseCommand):
    help = "Serve the site and the API."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=1, help="processes (default 1)")
        parser.add_argument("--threads", type=int, default=4, help="threads per process (default 4)")

    def handle(self, *args, host, port, workers, threads, **options):
        # The index files are derived from the database. A child process brings them up to date
        # (builds them, or rebuilds whatever is missing or damaged) while the site already
        # serves, then keeps them fresh; /healthz says "degraded" until they are whole. This
        # process forks the web workers, so it must hold no model runtime threads, index
        # handles nor database connection.
        self.stdout.flush()
        collect_static()  # unless PAPERWIRE_HOME/static holds them already
        connections.close_all()
        command = [sys.executable, "-m", "paperwire", "index"]
        if settings.INDEX_INTERVAL > 0:
            command += ["--every", str(settings.INDEX_INTERVAL)]
        # At a lower CPU priority: on a small machine, a long catch-up (embeddings) must not slow
        # the pages down, nor the start-up of the workers.
        indexer = subprocess.Popen(command, stdout=subprocess.DEVNULL, preexec_fn=lower_priority)
        # Links in pages, feeds and mail follow the address served on unless PAPERWIRE_BASE_URL
        # names the public one; the workers forked below inherit it.
        address = serve_on(host, port)
        self.stdout.write(f"Paperwire serving on {address}/ ({workers} × {threads} threads)")
        self.stdout.flush()
        try:
            PaperwireServer(
                {
                    "bind": f"{host}:{port}",
                    "workers": max(workers, 1),
                    "threads": max(threads, 1),
                    "worker_class": JsonErrorWorker,  # gthread, with JSON 414 and 431
                    "limit_request_line": MAX_REQUEST_LINE,
                    "timeout": 60,
                    "graceful_timeout": 10,
                    "accesslog": None,
                    "errorlog": "-",
                    "loglevel": "warning",
                    "proc_name": "paperwire",
                }
            ).run()
        finally:
            indexer.terminate()
            try:
                indexer.wait(timeout=30)
            except subprocess.TimeoutExpired:  # in a long rebuild: safe to stop, it swaps files in whole
                indexer.kill()
                indexer.wait()
