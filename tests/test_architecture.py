"""The floors of docs/architecture.md, read from the code: an import that runs back up, an import
between two apps of one floor in a direction the floor does not allow, or an import of a middle
floor's module past its public interface fails here. Every import counts, also the ones inside
functions, since they are as much a dependency as the ones at the top."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "paperwire"

# Bottom to top. The project's own modules (settings, urls, wsgi, cli) wire everything together
# above the last floor.
FLOORS = [
    {"core"},
    {"papers", "accounts"},
    {"discussions", "people"},
    {"ingest", "search"},
    {"digests"},
    {"operations"},
    {"api"},
    {"web"},
]
PROJECT = {"settings", "urls", "wsgi", "cli", "__main__", "__init__"}
# Imports allowed between two apps of one floor (importer, imported): one way only.
ACROSS = {("accounts", "papers")}
# Packages that the floors above use only through their package's names (their __init__.py).
INTERFACES = {"search", "ingest"}

FLOOR = {app: level for level, apps in enumerate(FLOORS) for app in apps} | dict.fromkeys(PROJECT, len(FLOORS))


def unit_of(path: Path) -> str:
    """The app of a file under paperwire/ (or the project module's name)."""
    first = path.relative_to(PACKAGE).parts[0]
    return first.removesuffix(".py")


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import of a paperwire module in a file; ``from paperwire.x import y``
    counts as importing paperwire.x.y when y is a module, else paperwire.x."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.startswith("paperwire")]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.startswith("paperwire"):
                for alias in node.names:
                    candidate = f"{node.module}.{alias.name}"
                    parts = candidate.split(".")[1:]
                    is_module = (PACKAGE.joinpath(*parts).with_suffix(".py")).exists() or PACKAGE.joinpath(
                        *parts
                    ).is_dir()
                    found.append((node.lineno, candidate if is_module else node.module))
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}:{node.lineno}: a relative import; write it absolute")
    return found


def sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts)


def file_violations(path: Path, here: str) -> list[str]:
    """What in the file ``path`` of the app ``here`` breaks the floors."""
    found = []
    for line, module in imports(path):
        parts = module.split(".")
        if len(parts) < 2:
            continue
        there = parts[1]
        where = f"{path.name}:{line} ({here}) imports {module}"
        if there == here or {here, there} <= PROJECT:
            continue
        if there not in FLOOR:
            found.append(f"{where}: {there} is on no floor (tests/test_architecture.py, docs/architecture.md)")
        elif here not in FLOOR:
            found.append(f"{where}: {here} is on no floor")
        elif FLOOR[there] > FLOOR[here]:
            found.append(f"{where}: an import from floor {FLOOR[here]} up to floor {FLOOR[there]}")
        elif FLOOR[there] == FLOOR[here] and (here, there) not in ACROSS:
            found.append(f"{where}: {here} and {there} share a floor; only {sorted(ACROSS)} may import across")
        elif there in INTERFACES and len(parts) > 2:
            found.append(f"{where}: past the public interface of paperwire.{there} (its __init__.py)")
    return found


def violations() -> list[str]:
    return [v for path in sources() for v in file_violations(path, unit_of(path))]


def test_imports_run_down_the_floors_and_through_public_interfaces():
    assert violations() == []


def test_every_app_is_on_a_floor_and_installed_in_that_order():
    from django.conf import settings

    apps = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists())
    assert sorted(a for floor in FLOORS for a in floor) == apps
    installed = [a.removeprefix("paperwire.") for a in settings.INSTALLED_APPS if a.startswith("paperwire.")]
    assert sorted(installed) == apps
    assert [FLOOR[a] for a in installed] == sorted(FLOOR[a] for a in installed)


def test_the_public_interfaces_name_what_they_load():
    import importlib

    for name in INTERFACES:
        package = importlib.import_module(f"paperwire.{name}")
        for public in package.PUBLIC:
            assert getattr(package, public) is not None, (name, public)
        with pytest.raises(AttributeError):
            package.no_such_name  # noqa: B018


@pytest.mark.parametrize(
    "here, source, message",
    [
        ("digests", "from paperwire.web.papers import voted_ids\n", "up to floor 7"),
        ("digests", "import paperwire.api.views\n", "up to floor 6"),
        ("ingest", "from paperwire.search import update_indexes\n", "share a floor"),
        ("papers", "from paperwire.accounts.models import VerifiedEmail\n", "share a floor"),
        ("digests", "def f():\n    from paperwire.search.engine import search\n", "past the public interface"),
        ("api", "from paperwire.ingest.formats import FORMATS\n", "past the public interface"),
        ("web", "from paperwire import urls\n", "up to floor 8"),
        ("papers", "from paperwire.discussions.models import Comment\n", "up to floor 2"),
    ],
)
def test_the_check_sees_an_import_that_runs_back_up(tmp_path, here, source, message):
    probe = tmp_path / "probe.py"
    probe.write_text(source)
    found = file_violations(probe, here)
    assert len(found) == 1 and message in found[0], found


def test_imports_down_the_floors_and_through_interfaces_pass(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from paperwire.search import search\nfrom paperwire.papers.models import Paper\nimport paperwire.core.limits\n"
    )
    assert file_violations(probe, "digests") == []


def test_the_architecture_document_names_every_app():
    text = (PACKAGE.parent / "docs" / "architecture.md").read_text()
    for app in FLOOR:
        if app not in PROJECT:
            assert f"`{app}`" in text, app
