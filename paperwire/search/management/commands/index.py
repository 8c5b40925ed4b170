import logging
import os
import signal
import time

from django.core.management.base import BaseCommand, CommandError

from paperwire.core import argtypes
from paperwire.search.embedder import ModelUnavailable
from paperwire.search.updating import embed_only, update_indexes

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Bring the search indexes up to date with the database (--rebuild: from scratch)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--rebuild",
            action="store_true",
            help="build the index files again from the database (into new files, swapped in when whole: "
            "search answers from the old ones meanwhile)",
        )
        parser.add_argument(
            "--every",
            type=argtypes.seconds(86_400),
            metavar="SECONDS",
            help="keep running, updating every SECONDS, until SIGTERM",
        )
        parser.add_argument(
            "--embed-only",
            action="store_true",
            help="only compute and store the embeddings papers need, sharing the work with every other worker "
            "of the database; the index files are left alone",
        )

    def handle(self, *args, rebuild, every, embed_only, **options):
        if embed_only and rebuild:
            raise CommandError("--embed-only computes embeddings only: it rebuilds no index")
        self.embed_only = embed_only
        if every is None:
            try:
                self.stdout.write(self.run_once(rebuild).summary())
            except OSError as error:  # a full disk, a read-only folder...: one clear line, no traceback
                raise CommandError(failure(error)) from error
            except ModelUnavailable as error:  # only with --embed-only: an index pass goes on without it
                raise CommandError(f"no embeddings can be computed: {error}") from error
            return
        self.update(rebuild=rebuild)
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
        parent = os.getppid()
        while not stopping:
            deadline = time.monotonic() + every
            while not stopping and time.monotonic() < deadline:
                time.sleep(0.2)
                if os.getppid() != parent:  # the process that started us is gone: so are we
                    stopping.append(True)
            if stopping:
                break
            self.update()

    def run_once(self, rebuild: bool = False, show_progress: bool | None = None):
        if self.embed_only:
            return embed_only(show_progress=show_progress)
        return update_indexes(rebuild=rebuild, show_progress=show_progress)

    def update(self, rebuild: bool = False) -> None:
        """One update of the loop: a failure is logged, and the next one tries again."""
        try:
            report = self.run_once(rebuild, show_progress=False)
            if report.indexed or report.embedded:
                self.stdout.write(report.summary())
        except OSError as error:
            log.error("%s; trying again at the next update", failure(error))
        except Exception:
            log.exception("updating the search indexes failed; trying again at the next update")


def failure(error: OSError) -> str:
    where = f" ({error.filename})" if error.filename else ""
    return (
        f"updating the search indexes failed: {error.strerror or error}{where}; the index files were left as they "
        "were (search answers from them, or from a fallback where they are damaged)"
    )
