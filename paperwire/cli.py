"""The ``paperwire`` command: Django's management commands plus Paperwire's own.

Commands that touch the database apply pending migrations first, so that a fresh
PAPERWIRE_HOME works with any command.
"""

from __future__ import annotations

import os
import sys

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


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "paperwire.settings")
    import django
    from django.core.management import execute_from_command_line

    django.setup()
    command = argv[1] if len(argv) > 1 else "help"
    if not command.startswith("-") and command not in NO_AUTO_MIGRATE:
        ensure_migrated()
    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
