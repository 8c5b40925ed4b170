"""The docs keep up with the code: every setting and command is documented."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_environment_variable_is_documented():
    read = set(re.findall(r'"((?:PAPERWIRE_[A-Z_]+)|DATABASE_URL)"', (ROOT / "paperwire/settings.py").read_text()))
    documented = (ROOT / "docs/configuration.md").read_text()
    assert read, "settings.py reads no variables?"
    assert [name for name in sorted(read) if f"`{name}`" not in documented] == []


def test_every_command_is_documented():
    commands = {p.stem for p in ROOT.glob("paperwire/*/management/commands/*.py") if p.stem != "__init__"}
    documented = (ROOT / "docs/cli.md").read_text()
    assert commands >= {"import", "ingest", "serve"}
    assert [c for c in sorted(commands) if f"`paperwire {c}" not in documented] == []


# [text](target) in markdown, outside code spans; a target with a scheme goes elsewhere.
MARKDOWN_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def documents() -> list[Path]:
    return [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]


def anchors_of(document: Path) -> set[str]:
    """The anchors GitHub gives the headings of a markdown file: lower case, punctuation out,
    spaces to hyphens."""
    found = set()
    in_code = False
    for line in document.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if in_code or not line.startswith("#"):
            continue
        title = line.lstrip("#").strip().lower()
        found.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return found


def relative_links(document: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", document.read_text(), flags=re.S)
    text = re.sub(r"`[^`\n]*`", "", text)
    return [t for t in MARKDOWN_LINK.findall(text) if not re.match(r"[a-z][a-z0-9+.-]*:", t)]


def test_every_relative_link_of_the_docs_leads_to_a_file_of_the_repository():
    """A clone holds README.md and docs/ alone: a link out of it (../shared/DESIGN.md) or to a
    file or heading that is not there is a dead end for the reader."""
    broken = []
    for document in documents():
        for target in relative_links(document):
            path, _, anchor = target.partition("#")
            resolved = (document.parent / path).resolve() if path else document
            if not resolved.is_relative_to(ROOT) or not resolved.exists():
                broken.append(f"{document.relative_to(ROOT)}: {target} (no such file in the repository)")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors_of(resolved):
                broken.append(f"{document.relative_to(ROOT)}: {target} (no such heading)")
    assert broken == []


def test_the_link_checker_sees_a_broken_link(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# A title\nSee [the design](../shared/DESIGN.md), [x](#a-title), `[not](a-link)`.\n")
    assert relative_links(page) == ["../shared/DESIGN.md", "#a-title"]
    assert anchors_of(page) == {"a-title"}


# Code the docs name: a path under paperwire/ (`paperwire/search/model/`) or a dotted name
# (`paperwire.core.limits.bucket`), in backticks. Modules move between floors
# (docs/architecture.md); a name left behind sends the reader to nothing.
CODE_PATH = re.compile(r"`(paperwire/[\w./-]*)`")
# (`paperwire.js`, `paperwire.sqlite3` are file names.)
DOTTED_NAME = re.compile(r"`(paperwire(?:\.\w+)+)(?<!\.js)(?<!\.css)(?<!\.sqlite3)`")


def missing_code_names(text: str) -> list[str]:
    import importlib

    missing = [path for path in CODE_PATH.findall(text) if not (ROOT / path).exists()]
    for dotted in DOTTED_NAME.findall(text):
        module, attributes = dotted, []
        while module:
            try:
                value = importlib.import_module(module)
                break
            except ModuleNotFoundError:
                module, _, last = module.rpartition(".")
                attributes.insert(0, last)
        try:
            for attribute in attributes:
                value = getattr(value, attribute)
        except AttributeError:
            missing.append(dotted)
    return missing


def test_every_module_and_name_the_docs_give_exists():
    """README.md and docs/ (not the CHANGELOG, which tells of earlier layouts)."""
    missing = []
    for document in documents():
        if document.name != "CHANGELOG.md":
            missing += [f"{document.relative_to(ROOT)}: {name}" for name in missing_code_names(document.read_text())]
    assert missing == []


def test_the_architecture_names_only_modules_its_apps_have():
    """The lists of modules inside an app ("Inside `search`: `engine` (...), ...")."""
    text = (ROOT / "docs/architecture.md").read_text()
    missing = []
    for app, listing in re.findall(r"^Inside `(\w+)`:(.*?)(?:\n\n|\Z)", text, flags=re.M | re.S):
        listing = re.sub(r"\([^()]*\)", "", listing)  # what each is, in brackets, names other things
        for name in re.findall(r"`(\w+)/?`", listing):
            folder = ROOT / "paperwire" / app
            if not ((folder / f"{name}.py").exists() or (folder / name).is_dir()):
                missing.append(f"{app}.{name}")
    assert missing == []


def test_the_code_name_check_sees_a_name_that_is_not_there():
    text = (
        "`paperwire/core/limits.py`, `paperwire/nowhere.py`, `paperwire.core.limits.bucket`, "
        "`paperwire.core.limits.gone`, `paperwire.nowhere.x`, `paperwire.js`"
    )
    assert missing_code_names(text) == ["paperwire/nowhere.py", "paperwire.core.limits.gone", "paperwire.nowhere.x"]
