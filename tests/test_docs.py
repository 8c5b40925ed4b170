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
