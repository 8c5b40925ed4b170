"""The ``paperwire`` command: Django's management commands plus Paperwire's own.

Commands that touch the database apply pending migrations first, so that a fresh
PAPERWIRE_HOME works with any command.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from paperwire.private import restrict_new_files, secure_home

# Commands that need no database, or manage migrations themselves.
NO_AUTO_MIGRATE = {
    "migrate",
    "makemigrations",
    "help",
    "version",
    "check",
    "showmigrations",
    "sqlmigrate",
    "shell",
    "dbshell",
    "collectstatic",
    "test",
    "squashmigrations",
    "diffsettings",
}


def ensure_migrated() -> None:
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        call_command("migrate", interactive=False, verbosity=0)


def secure_home_of(settings) -> None:
    database = settings.DATABASES["default"]
    sqlite = Path(database["NAME"]) if database["ENGINE"].endswith("sqlite3") else None
    secure_home(Path(settings.PAPERWIRE_HOME), sqlite)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "paperwire.settings")
    import django
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    restrict_new_files()  # before the settings create PAPERWIRE_HOME and the secret key
    try:
        django.setup()  # reads the settings: a malformed variable stops here
        secure_home_of(settings)
        command = argv[1] if len(argv) > 1 else "help"
        if not command.startswith("-") and command not in NO_AUTO_MIGRATE:
            ensure_migrated()
        execute_from_command_line(argv)
    except ImproperlyConfigured as error:
        # A configuration mistake, not a bug: its one line, naming the variable, is the whole story.
        sys.stderr.write(f"paperwire: {error}\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
