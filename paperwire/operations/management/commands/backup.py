import datetime as dt
import os
import sqlite3
from contextlib import closing
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from paperwire.core.private import private_file


class Command(BaseCommand):
    help = "A consistent copy of the SQLite database, taken while the site runs (PostgreSQL: use pg_dump)."

    def add_arguments(self, parser):
        parser.add_argument("--output", type=Path, help="file to write (default: PAPERWIRE_HOME/backups/...)")

    def handle(self, *args, output, **options):
        if connection.vendor != "sqlite":
            raise CommandError(
                "this database is PostgreSQL: back it up with pg_dump, e.g. "
                'pg_dump --format=custom --file=paperwire.dump "$DATABASE_URL" '
                '(restore with pg_restore --clean --dbname "$DATABASE_URL" paperwire.dump); '
                "the search indexes need no backup: `paperwire index --rebuild` recreates them"
            )
        source_path = Path(settings.DATABASES["default"]["NAME"])
        if output is None:
            stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
            output = Path(settings.PAPERWIRE_HOME) / "backups" / f"paperwire-{stamp}.sqlite3"
        if output.exists():
            raise CommandError(f"{output} exists already")
        partial = output.with_name(output.name + ".partial")
        try:
            output.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            partial.unlink(missing_ok=True)  # left by a run that was killed
            os.close(private_file(partial))  # password hashes and addresses: readable by the owner only
        except OSError as error:
            raise CommandError(f"cannot write {output}: {error.strerror or error}") from None
        # SQLite's online backup API copies a consistent snapshot while others keep writing.
        with closing(sqlite3.connect(source_path, timeout=30)) as source, closing(sqlite3.connect(partial)) as target:
            source.backup(target, pages=4096)
            # One self-contained file: the copy leaves WAL mode, so no -wal/-shm files stay beside it.
            target.execute("PRAGMA journal_mode=DELETE")
            check = target.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            partial.unlink()
            raise CommandError(f"the copy failed its integrity check: {check}")
        partial.rename(output)
        self.stdout.write(f"backed up {source_path} to {output} ({output.stat().st_size / 2**20:.1f} MiB)")
