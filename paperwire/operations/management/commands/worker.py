"""`paperwire worker`: complete pending submissions, ingest, index and send notifications and digests on a schedule
until stopped (SIGTERM, Ctrl-C)."""

import logging
import signal
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from paperwire.search import update_indexes

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Run the schedule: fetch the papers of pending submissions, ingest the configured sources, "
        "update the indexes, send due notification mails and digests."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="run one cycle and exit")

    def handle(self, *args, once, **options):
        self.stopping = False
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        self.stdout.write(f"worker started; a cycle every {settings.WORKER_INTERVAL} s")
        self.stdout.flush()
        while not self.stopping:
            self.cycle()
            if once:
                break
            deadline = time.monotonic() + settings.WORKER_INTERVAL
            while not self.stopping and time.monotonic() < deadline:
                time.sleep(0.2)
        self.stdout.write("worker stopped")

    def stop(self, signum, frame):
        self.stopping = True

    def step(self, name: str, *command: str) -> None:
        """Run one step; a failing step is logged and the others still run."""
        if self.stopping:
            return
        try:
            if command:
                call_command(*command, stdout=self.stdout, stderr=self.stderr)
            else:
                self.stdout.write(update_indexes().summary())
        except (CommandError, OSError) as error:
            self.stderr.write(f"{name} failed: {error}")
        except Exception:
            log.exception("%s failed", name)
            self.stderr.write(f"{name} failed; see the log")

    def cycle(self) -> None:
        self.step("pending submissions", "ingest", "submissions", "--no-index")
        for source in settings.WORKER_INGEST:
            self.step(f"ingest {source}", "ingest", source, "--no-index")
        self.step("index")
        self.step("notifications", "digest", "notify")
        now = timezone.now()
        if now.hour >= settings.DIGEST_HOUR:
            self.step("daily digest", "digest", "send", "--frequency", "daily")
            if now.isoweekday() == settings.DIGEST_WEEKLY_DAY:
                self.step("weekly digest", "digest", "send", "--frequency", "weekly")
        self.stdout.flush()
