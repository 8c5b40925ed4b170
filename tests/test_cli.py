"""Every command refuses a bad value, an unreachable database or a port it cannot listen on with
one line on stderr and a non-zero exit, never a traceback (docs/cli.md).

The real `paperwire` runs as a subprocess: what a person at a terminal sees is what is checked.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.parse

import pytest

from tests.conftest import ROOT, paperwire_env

TODAY = "today"  # placeholder in expected messages, see expected()
# Were a value accepted, nothing would reach the outside world nor keep running for long.
OFFLINE = {
    "PAPERWIRE_HF_ENDPOINT": "http://127.0.0.1:9",
    "PAPERWIRE_ARXIV_API_URL": "http://127.0.0.1:9/api/query",
    "PAPERWIRE_HTTP_RETRIES": "0",
    "PAPERWIRE_ARXIV_INTERVAL": "0",
    "PAPERWIRE_INDEX_INTERVAL": "0",
}


def run_cli(*args: str, env: dict, timeout: float = 45) -> subprocess.CompletedProcess:
    """`paperwire <args>`; a run still going after ``timeout`` (a server that did start) is
    stopped, with its children, and fails the test."""
    process = subprocess.Popen(
        [sys.executable, "-m", "paperwire", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        pytest.fail(f"`paperwire {' '.join(args)}` still ran after {timeout} s: {out[-500:]} {err[-500:]}")
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def assert_one_line_error(result: subprocess.CompletedProcess, fragment: str) -> str:
    assert result.returncode != 0, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.endswith("\n") and result.stderr.count("\n") == 1, result.stderr
    assert fragment in result.stderr, result.stderr
    return result.stderr


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A migrated home, shared by the cases (none of which changes it)."""
    env = paperwire_env(tmp_path_factory.mktemp("cli-home"), **OFFLINE)
    assert run_cli("migrate", "-v", "0", env=env).returncode == 0
    return env


@pytest.fixture(scope="module")
def taken_port():
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


ONE_TO_64 = "expected an integer from 1 to 64"
PORT = "expected a port, an integer from 1 to 65535"
SECONDS = "expected a number of seconds above 0 and at most 86,400"
DAY = "expected a day, YYYY-MM-DD"

BAD_VALUES = [
    # serve
    (["serve", "--port", "99999"], f"paperwire serve: error: argument --port: invalid value '99999': {PORT}"),
    (["serve", "--port", "0"], f"argument --port: invalid value '0': {PORT}"),
    (["serve", "--port", "-1"], f"argument --port: invalid value '-1': {PORT}"),
    (["serve", "--port", "http"], f"argument --port: invalid value 'http': {PORT}"),
    (["serve", "--port", "٨٠٠٠"], f"argument --port: invalid value '٨٠٠٠': {PORT}"),
    (["serve", "--port", " 8000"], f"argument --port: invalid value ' 8000': {PORT}"),
    (["serve", "--port", ""], f"argument --port: invalid value '': {PORT}"),
    (["serve", "--port", "80.5"], f"argument --port: invalid value '80.5': {PORT}"),
    (["serve", "--host", ""], "argument --host: invalid value '': expected a host name or IP address"),
    (["serve", "--host", "no host"], "argument --host: invalid value 'no host': expected a host name or IP address"),
    (
        ["serve", "--host", "nosuchhost.invalid", "--port", "8123"],
        "CommandError: cannot listen on nosuchhost.invalid:8123",
    ),
    (["serve", "--host", "999.1.1.1", "--port", "8123"], "CommandError: cannot listen on 999.1.1.1:8123"),
    (["serve", "--host", "192.0.2.1", "--port", "8123"], "CommandError: cannot listen on 192.0.2.1:8123"),
    (["serve", "--workers", "0"], f"argument --workers: invalid value '0': {ONE_TO_64}"),
    (["serve", "--workers", "-3"], f"argument --workers: invalid value '-3': {ONE_TO_64}"),
    (["serve", "--threads", "100000"], f"argument --threads: invalid value '100000': {ONE_TO_64}"),
    (["serve", "--threads", "4.0"], f"argument --threads: invalid value '4.0': {ONE_TO_64}"),
    # import
    (["import"], "paperwire import: error: the following arguments are required: PATH"),
    (["import", "x.jsonl", "--format", "xml"], "argument --format: invalid choice: 'xml'"),
    # ingest
    (["ingest"], "paperwire ingest: error: the following arguments are required: {hf-daily,arxiv,submissions}"),
    (["ingest", "rss"], "argument {hf-daily,arxiv,submissions}: invalid choice: 'rss'"),
    (
        ["ingest", "hf-daily", "--date", "9999-12-31"],
        f"argument --date: invalid value '9999-12-31': {DAY}, not after {TODAY}",
    ),
    (
        ["ingest", "hf-daily", "--date", "2999-01-01"],
        f"argument --date: invalid value '2999-01-01': {DAY}, not after {TODAY}",
    ),
    (
        ["ingest", "hf-daily", "--since", "0001-01-01"],
        f"argument --since: invalid value '0001-01-01': {DAY}, from 1900-01-01",
    ),
    (
        ["ingest", "hf-daily", "--date", "2025-02-30"],
        f"argument --date: invalid value '2025-02-30': {DAY} (no such day)",
    ),
    (["ingest", "hf-daily", "--date", "20250101"], f"argument --date: invalid value '20250101': {DAY}"),
    (["ingest", "hf-daily", "--date", "2025-W01-1"], f"argument --date: invalid value '2025-W01-1': {DAY}"),
    (["ingest", "hf-daily", "--date", "٢٠٢٥-٠١-٠١"], f"argument --date: invalid value '٢٠٢٥-٠١-٠١': {DAY}"),
    (
        ["ingest", "hf-daily", "--date", "2025-07-01", "--since", "2025-07-01"],
        "argument --since: not allowed with argument --date",
    ),
    (
        ["ingest", "arxiv", "--since", "9999-12-31"],
        f"argument --since: invalid value '9999-12-31': {DAY}, not after {TODAY}",
    ),
    (
        ["ingest", "arxiv", "--category", "cs AI"],
        "argument --category: invalid value 'cs AI': expected an arXiv category such as cs.AI or hep-th",
    ),
    (["ingest", "arxiv", "--category", ""], "argument --category: invalid value '': expected an arXiv category"),
    (["ingest", "arxiv", "--category", "cs.AI OR all:x"], "argument --category: invalid value 'cs.AI OR all:x'"),
    # index
    (["index", "--every", "0"], f"argument --every: invalid value '0': {SECONDS}"),
    (["index", "--every", "-5"], f"argument --every: invalid value '-5': {SECONDS}"),
    (["index", "--every", "nan"], f"argument --every: invalid value 'nan': {SECONDS}"),
    (["index", "--every", "inf"], f"argument --every: invalid value 'inf': {SECONDS}"),
    (["index", "--every", "1e400"], f"argument --every: invalid value '1e400': {SECONDS}"),
    (["index", "--every", "86401"], f"argument --every: invalid value '86401': {SECONDS}"),
    (["index", "--every", "soon"], f"argument --every: invalid value 'soon': {SECONDS}"),
    # search
    (["search"], "paperwire search: error: the following arguments are required: query"),
    (["search", "x", "--limit", "0"], "argument --limit: invalid value '0': expected an integer from 1 to 1,000"),
    (["search", "x", "--limit", "1001"], "argument --limit: invalid value '1001': expected an integer from 1 to 1,000"),
    (["search", "x", "--limit", "٥"], "argument --limit: invalid value '٥': expected an integer from 1 to 1,000"),
    (["search", "x", "--limit", "1_0"], "argument --limit: invalid value '1_0': expected an integer from 1 to 1,000"),
    (["search", "x", "--mode", "fast"], "argument --mode: invalid choice: 'fast'"),
    # digest
    (["digest"], "paperwire digest: error: the following arguments are required: {send,notify}"),
    (
        ["digest", "send", "--date", "9999-12-31"],
        f"argument --date: invalid value '9999-12-31': {DAY}, not after {TODAY}",
    ),
    (
        ["digest", "send", "--date", "0001-01-01"],
        f"argument --date: invalid value '0001-01-01': {DAY}, from 1900-01-01",
    ),
    (["digest", "send", "--date", "2025-02-29"], f"argument --date: invalid value '2025-02-29': {DAY} (no such day)"),
    (["digest", "send", "--date", "20250101"], f"argument --date: invalid value '20250101': {DAY}"),
    (["digest", "send", "--date", "2025-7-1"], f"argument --date: invalid value '2025-7-1': {DAY}"),
    (["digest", "send", "--frequency", "hourly"], "argument --frequency: invalid choice: 'hourly'"),
    # worker, backup
    (["worker", "--once", "--every", "5"], "paperwire worker: error: unrecognized arguments: --every 5"),
    (["backup", "--output", "/dev/null/paperwire.sqlite3"], "CommandError: cannot write /dev/null/paperwire.sqlite3: "),
    (["backup", "--output", "/"], "CommandError: / exists already"),
    # Django's own commands keep their one-line errors
    (["migrate", "nosuchapp"], "CommandError: No installed app with label 'nosuchapp'."),
    (["createsuperuser", "--noinput"], "CommandError: You must use --username with --noinput."),
    (["changepassword", "nobody"], "CommandError: user 'nobody' does not exist"),
    (["showmigrations", "--database", "other"], "paperwire showmigrations: error: argument --database: invalid choice"),
]


def expected(fragment: str) -> str:
    if TODAY not in fragment:
        return fragment
    import datetime as dt

    return fragment.replace(TODAY, dt.datetime.now(dt.UTC).date().isoformat())


@pytest.mark.parametrize(("args", "fragment"), BAD_VALUES, ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_a_bad_value_is_one_line_and_a_non_zero_exit(env, args, fragment):
    result = run_cli(*args, env=env)
    assert_one_line_error(result, expected(fragment))
    assert result.stdout == ""


def test_a_port_in_use_is_one_line(env, taken_port):
    result = run_cli("serve", "--port", str(taken_port), env=env)
    message = assert_one_line_error(result, f"CommandError: cannot listen on 127.0.0.1:{taken_port}: ")
    assert "in use" in message


# --- an unreachable database ---------------------------------------------------------------------

COMMANDS = [
    ["serve", "--port", "8123"],
    ["import", str(ROOT / "paperwire" / "demo" / "attention_papers.jsonl")],
    ["ingest", "submissions"],
    ["ingest", "hf-daily", "--date", "2025-07-21"],
    ["index"],
    ["search", "attention"],
    ["digest", "send", "--dry-run"],
    ["worker", "--once"],
    ["migrate"],
    ["showmigrations"],
    ["createsuperuser", "--noinput", "--username", "root", "--email", "root@example.org"],
    ["changepassword", "root"],
]


def postgres_url() -> urllib.parse.SplitResult:
    url = os.environ.get("DATABASE_URL", "postgres://paperwire:paperwire@127.0.0.1:5432/paperwire")
    return urllib.parse.urlsplit(url)


def unreachable(kind: str) -> tuple[str, str]:
    """A DATABASE_URL that cannot be used, and what the error says of it."""
    url = postgres_url()
    user, host, port, name = url.username or "paperwire", url.hostname, url.port or 5432, url.path.lstrip("/")
    with socket.create_server(("127.0.0.1", 0)) as probe:
        closed_port = probe.getsockname()[1]  # nothing listens there once closed
    return {
        "closed port": (f"postgres://{user}:secret-pw-123@127.0.0.1:{closed_port}/{name}", "Connection refused"),
        "wrong password": (f"postgres://{user}:secret-pw-123@{host}:{port}/{name}", "password authentication failed"),
        "unknown host": (f"postgres://{user}:secret-pw-123@nosuchhost.invalid:5432/{name}", "nosuchhost.invalid"),
        "no such database": (f"postgres://{url.username}:{url.password}@{host}:{port}/pw_missing_db", "pw_missing_db"),
        "sqlite folder missing": ("sqlite:////nonexistent/folder/paperwire.sqlite3", "unable to open database file"),
    }[kind]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_an_unreachable_database_is_one_line_for_every_command(tmp_path, command):
    url, reason = unreachable("closed port")
    result = run_cli(*command, env=paperwire_env(tmp_path / "home", DATABASE_URL=url, **OFFLINE))
    message = assert_one_line_error(result, "paperwire: cannot connect to the database (DATABASE_URL: ")
    assert reason in message and "secret-pw-123" not in message
    assert result.returncode == 1


@pytest.mark.parametrize(
    "kind",
    [
        "closed port",
        pytest.param("wrong password", marks=pytest.mark.postgres_server),
        "unknown host",
        pytest.param("no such database", marks=pytest.mark.postgres_server),
        "sqlite folder missing",
    ],
)
def test_each_way_a_database_is_unreachable_is_one_line(tmp_path, kind):
    url, reason = unreachable(kind)
    for command in (["index"], ["migrate"]):
        result = run_cli(*command, env=paperwire_env(tmp_path / "home", DATABASE_URL=url, **OFFLINE))
        message = assert_one_line_error(result, "paperwire: cannot connect to the database (DATABASE_URL: ")
        assert reason in message and "secret-pw-123" not in message
