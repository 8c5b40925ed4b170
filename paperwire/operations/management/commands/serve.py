"""`paperwire serve`: gunicorn with threaded workers, plus a child process building, repairing and
updating the search indexes in the background."""

import os
import socket
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter

import paperwire
from paperwire.core import argtypes
from paperwire.core.siteurl import serve_on
from paperwire.operations import updater as updaters
from paperwire.operations.serving import MAX_REQUEST_LINE, JsonErrorWorker
from paperwire.operations.staticstorage import collect
from paperwire.operations.updater import Updater

MAX_PROCESSES = MAX_THREADS = 64
INDEXER_NICENESS = 10


class PaperwireArbiter(Arbiter):
    """gunicorn's arbiter, which reaps the index updater by its pid before reaping anything else:
    its ``waitpid(-1)`` would claim it and throw away how it ended (updater.py)."""

    def reap_workers(self):
        if (updater := updaters.current()) is not None:
            updater.reap()
        super().reap_workers()


class PaperwireServer(BaseApplication):
    def __init__(self, options: dict) -> None:
        self.options = options
        super().__init__()

    def run(self):
        try:
            PaperwireArbiter(self).run()
        except RuntimeError as error:  # as BaseApplication.run
            print(f"\nError: {error}\n", file=sys.stderr, flush=True)
            sys.exit(1)

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        # In each worker, after the fork and after collectstatic: WhiteNoise lists the
        # collected files when the application is built. (What paperwire/wsgi.py builds for other
        # WSGI servers; this process has set up Django and restricted new files already.)
        from django.core.wsgi import get_wsgi_application

        return get_wsgi_application()


class Command(BaseCommand):
    help = "Serve the site and the API."

    def add_arguments(self, parser):
        parser.add_argument(
            "--host", type=argtypes.host, default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
        )
        parser.add_argument("--port", type=argtypes.port, default=8000, help="port to listen on (default 8000)")
        parser.add_argument(
            "--workers", type=argtypes.integer(1, MAX_PROCESSES), default=1, help="processes (default 1)"
        )
        parser.add_argument(
            "--threads", type=argtypes.integer(1, MAX_THREADS), default=4, help="threads per process (default 4)"
        )

    def handle(self, *args, host, port, workers, threads, **options):
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        check_listening(host, port, address)
        # The index files are derived from the database. A child process brings them up to date
        # (builds them, or rebuilds whatever is missing or damaged) while the site already
        # serves, then keeps them fresh; /healthz says "degraded" until they are whole. This
        # process forks the web workers, so it must hold no model runtime threads, index
        # handles nor database connection.
        self.stdout.flush()
        # Into a fresh folder swapped in whole, unless the folder holds, whole, what the same
        # sources gave last time: whatever happened to the copies is repaired at the next start.
        # Should it fail (logged), pages link the package's files (/healthz: degraded).
        collect()
        connections.close_all()
        # This process's own Paperwire, and never a module of the current folder (`-m` would put
        # it first on the module path: an `http.py` there was imported, and run, by the child).
        package_root = str(Path(paperwire.__file__).resolve().parent.parent)
        path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH", "")) if p)
        command = [sys.executable, "-P", "-m", "paperwire", "index"]
        if settings.INDEX_INTERVAL > 0:
            command += ["--every", f"{settings.INDEX_INTERVAL:f}"]  # plain digits, as --every reads them
        # At a lower CPU priority: on a small machine, a long catch-up (embeddings) must not slow
        # the pages down, nor the start-up of the workers. Started again should it stop
        # (updater.py), and reported by /healthz.
        updater = Updater(
            command,
            niceness=INDEXER_NICENESS,
            repeating=settings.INDEX_INTERVAL > 0,
            stdout=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": path},
            # Not in the terminal's process group: a Ctrl-C stops `serve`, which stops it (below),
            # rather than reaching it half-started. It also stops once orphaned (index --every).
            start_new_session=True,
        )
        updater.start()
        # Links in pages, feeds and mail follow the address served on unless PAPERWIRE_BASE_URL
        # names the public one; the workers forked below inherit it.
        url = serve_on(host, port)
        self.stdout.write(f"Paperwire serving on {url}/ ({workers} × {threads} threads)")
        self.stdout.flush()
        try:
            PaperwireServer(
                {
                    "bind": address,
                    "workers": workers,
                    "threads": threads,
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
            updater.stop()


def check_listening(host: str, port: int, address: str) -> None:
    """Refuse, in one line, an address gunicorn could not listen on (an unknown host, one not of
    this machine, a port in use or reserved) before anything starts: gunicorn would retry for
    five seconds, then exit with a page of log lines."""
    try:
        family, kind, protocol, _, where = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, protocol) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn does
            probe.bind(where)
    except OSError as error:  # socket.gaierror included
        raise CommandError(f"cannot listen on {address}: {error.strerror or error}") from None
