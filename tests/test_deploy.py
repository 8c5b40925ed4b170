"""The deployment files (deploy/) name real commands, options and settings.

Docker has no engine on these machines, so the Compose file cannot be started here; what can
be checked is that every command line in it and in the systemd units is accepted by the
command's own parser, and that the settings they pass are ones Paperwire reads.
"""

import re
import secrets
import shlex
from pathlib import Path

import dj_database_url
import pytest
import yaml
from django.core.management import load_command_class

from tests.conftest import ROOT, paperwire_env, run_paperwire

DEPLOY = ROOT / "deploy"
COMMAND_APPS = {"serve": "paperwire.operations", "worker": "paperwire.operations"}


def settings_read() -> set[str]:
    return set(re.findall(r"PAPERWIRE_[A-Z_]+", (ROOT / "paperwire" / "settings.py").read_text())) | {"DATABASE_URL"}


def accepts(command_line: str) -> None:
    """``paperwire <command> <options>``, parsed by the command's own argparse parser."""
    words = shlex.split(command_line)
    assert Path(words[0]).name == "paperwire", command_line
    name, options = words[1], words[2:]
    command = load_command_class(COMMAND_APPS[name], name)
    command.create_parser("paperwire", name).parse_args(options)  # CommandError on an unknown option


def env_example() -> dict[str, str]:
    lines = (DEPLOY / "env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))


def test_the_compose_file_runs_web_worker_postgresql_and_a_relay():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"db", "smtp", "web", "worker"}
    assert services["db"]["image"].startswith("postgres:")
    for name in ("web", "worker"):
        accepts(services[name]["command"])
        environment = services[name]["environment"]
        assert set(environment) <= settings_read(), name
        url = dj_database_url.parse(environment["DATABASE_URL"].replace("${POSTGRES_PASSWORD}", "secret"))
        assert (url["ENGINE"], url["HOST"], url["NAME"]) == ("django.db.backends.postgresql", "db", "paperwire")
        assert environment["PAPERWIRE_EMAIL_URL"].startswith("smtp://smtp:")
    assert services["worker"]["command"] == "paperwire worker"
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    assert (ROOT / services["web"]["build"]["dockerfile"]).exists()


@pytest.mark.parametrize("unit", ["paperwire-web.service", "paperwire-worker.service"])
def test_the_systemd_units_start_real_commands(unit):
    text = (DEPLOY / unit).read_text()
    accepts(re.search(r"^ExecStart=(.+)$", text, re.M)[1])
    assert "EnvironmentFile=/etc/paperwire/env" in text
    assert f"ReadWritePaths={env_example()['PAPERWIRE_HOME']}" in text


def test_the_example_environment_passes_the_deployment_checks(tmp_path):
    example = env_example()
    assert set(example) <= settings_read()
    example.update(
        PAPERWIRE_HOME=str(tmp_path / "home"),
        PAPERWIRE_SECRET_KEY=secrets.token_urlsafe(50),  # the example's placeholder is not a secret
        DATABASE_URL=f"sqlite:///{tmp_path / 'check.sqlite3'}",
    )
    result = run_paperwire("check", "--deploy", "--fail-level", "WARNING", env=paperwire_env(tmp_path, **example))
    assert result.returncode == 0, result.stderr
    weak = run_paperwire(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env=paperwire_env(tmp_path, **{**example, "PAPERWIRE_DEBUG": "1"}),
    )
    assert weak.returncode != 0 and "DEBUG" in weak.stderr  # the check does look
