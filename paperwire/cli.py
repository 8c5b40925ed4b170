"""The ``paperwire`` command: Django's management commands plus Paperwire's own.

Commands that touch the database apply pending migrations first, so that a fresh
PAPERWIRE_HOME works with any command.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from paperwire.core.private import restrict_new_files, secure_home

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


# Commands that run without the database; every other one connects first, so that a
# database it cannot reach is one line naming it, before the command does anything.
NO_DATABASE = {
    "help",
    "version",
    "check",
    "diffsettings",
    "collectstatic",
    "makemigrations",
    "squashmigrations",
    "test",
    "startapp",
    "startproject",
    "sendtestemail",
}
HELP_OPTIONS = {"-h", "--help", "--version"}


def one_line(error: BaseException, limit: int = 500) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def database_named(settings) -> str:
    """Which database, in words, without its password."""
    database = settings.DATABASES["default"]
    source = "DATABASE_URL" if os.environ.get("DATABASE_URL") else "PAPERWIRE_HOME"
    if database["ENGINE"].endswith("sqlite3"):
        return f"{source}: SQLite {database['NAME']}"
    where = f"{database.get('HOST') or 'localhost'}:{database.get('PORT') or 5432}"
    return f"{source}: PostgreSQL database {database['NAME']!r} at {where} as {database.get('USER')!r}"


class Unreachable(Exception):
    """The database does not answer; the message says which and why, in one line."""


def check_database(settings) -> None:
    from django.db import DatabaseError, connection

    try:
        connection.ensure_connection()
    except DatabaseError as error:
        raise Unreachable(f"cannot connect to the database ({database_named(settings)}): {one_line(error)}") from None


def one_line_usage_errors() -> None:
    """argparse answers a bad option with the command's whole usage, then the error; the contract
    is one line on stderr (docs/cli.md). Django builds every command's parser, Paperwire's and its
    own, from CommandParser: its error, when a person typed the command, becomes that line."""
    from django.core.management.base import CommandError, CommandParser

    def error(parser: CommandParser, message: str) -> None:
        if not parser.called_from_command_line:
            raise CommandError(f"Error: {message}")  # call_command's behaviour, unchanged
        parser.exit(2, f"{parser.prog}: error: {message} (see {parser.prog} --help)\n")

    CommandParser.error = error


def fail(message: str, status: int = 1) -> None:
    sys.stderr.write(f"paperwire: {message}\n")
    sys.exit(status)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    if not argv or Path(argv[0]).name == "__main__.py":  # `python -m paperwire`: usage says "paperwire"
        argv[:1] = ["paperwire"]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "paperwire.settings")
    import django
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line
    from django.db import DatabaseError

    restrict_new_files()  # before the settings create PAPERWIRE_HOME and the secret key
    try:
        django.setup()  # reads the settings: a malformed variable stops here
        secure_home_of(settings)
        one_line_usage_errors()
        command = argv[1] if len(argv) > 1 else "help"
        asks_help = command.startswith("-") or HELP_OPTIONS & set(argv[2:])
        if not asks_help and command not in NO_DATABASE:
            check_database(settings)
            if command not in NO_AUTO_MIGRATE:
                ensure_migrated()
        execute_from_command_line(argv)
    except ImproperlyConfigured as error:
        # A configuration mistake, not a bug: its one line, naming the variable, is the whole story.
        fail(str(error))
    except Unreachable as error:
        fail(str(error))
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except (DatabaseError, OSError) as error:
        # The database or the system failed the command (a lost connection, a full disk): not a
        # bug of Paperwire, and its message says what happened.
        if "--traceback" in argv:
            raise
        fail(f"{type(error).__name__}: {one_line(error)}")
    except Exception as error:
        if "--traceback" in argv:
            raise
        fail(f"unexpected error: {type(error).__name__}: {one_line(error)} (run again with --traceback for where)")


if __name__ == "__main__":
    main()
