"""A malformed setting stops every command with one line naming the variable, never a traceback."""

import os
import re
import runpy
import socket
import subprocess
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import paperwire_env, run_paperwire

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = ROOT / "paperwire" / "settings.py"
DOCUMENTED = sorted(set(re.findall(r"^\| `([A-Z_]+)` \|", (ROOT / "docs/configuration.md").read_text(), re.M)))

# For every documented variable, a value that is wrong for it (or None: any text is valid).
MALFORMED = {
    "PAPERWIRE_HOME": "/dev/null/paperwire",
    "DATABASE_URL": "postgres://paperwire:pw@db:port/paperwire",
    "PAPERWIRE_BASE_URL": "papers.example.org",
    "PAPERWIRE_ALLOWED_HOSTS": None,
    "PAPERWIRE_SECRET_KEY": None,
    "PAPERWIRE_DEBUG": "maybe",
    "PAPERWIRE_EMAIL_URL": "smtp://mail.example.org:twentyfive",
    "PAPERWIRE_EMAIL_FROM": "Paperwire <papers>",
    "PAPERWIRE_EMAIL_TIMEOUT": "0",
    "PAPERWIRE_WEB_OUTSIDE_TIMEOUT": "3s",
    "PAPERWIRE_SUBMISSION_MAX_ATTEMPTS": "0",
    "PAPERWIRE_HF_ENDPOINT": "huggingface.co",
    "PAPERWIRE_ARXIV_API_URL": "ftp://export.arxiv.org/api/query",
    "PAPERWIRE_ARXIV_INTERVAL": "3s",
    "PAPERWIRE_ARXIV_CATEGORIES": "cs.AI OR all:x",
    "PAPERWIRE_HTTP_TIMEOUT": "-1",
    "PAPERWIRE_HTTP_RETRIES": "four",
    "PAPERWIRE_SUBMISSIONS_PER_DAY": "1.5",
    "PAPERWIRE_RATE_VOTE": "60 per minute",
    "PAPERWIRE_RATE_SUBMIT": "10/",
    "PAPERWIRE_RATE_CLAIM": "ten/3600",
    "PAPERWIRE_RATE_FOLLOW": "60/-1",
    "PAPERWIRE_RATE_PROFILE": "20",
    "PAPERWIRE_RATE_SIGNUP": "5/0",
    "PAPERWIRE_RATE_LOGIN": "ten/300",
    "PAPERWIRE_RATE_PASSWORD_RESET": "5",
    "PAPERWIRE_RATE_SEARCH": "-1/60",
    "PAPERWIRE_RATE_API": "600/60s",
    "PAPERWIRE_RATE_SUBSCRIBE": "10/1h",
    "PAPERWIRE_RATE_SUBSCRIBE_ADDRESS": "3/day",
    "PAPERWIRE_RATE_LOGIN_ACCOUNT": "20/-900",
    "PAPERWIRE_RATE_PASSWORD_RESET_ADDRESS": "3.5/3600",
    "PAPERWIRE_RATE_VERIFY_RESEND": "/3600",
    "PAPERWIRE_RATE_VERIFY_ADDRESS": "5 / 86400 / 2",
    "PAPERWIRE_RATE_LINK": "30/hour",
    "PAPERWIRE_COMMENT_EDIT_MINUTES": "an hour",
    "PAPERWIRE_NEW_ACCOUNT_HOURS": "-1",
    "PAPERWIRE_RATE_COMMENT": "10/600/",
    "PAPERWIRE_RATE_COMMENT_NEW": "3 a minute",
    "PAPERWIRE_RATE_COMMENT_EDIT": "30/0",
    "PAPERWIRE_RATE_COMMENT_EDIT_NEW": "x/600",
    "PAPERWIRE_RATE_COMMENT_VOTE": "60/86401",
    "PAPERWIRE_RATE_COMMENT_VOTE_NEW": "1000001/60",
    "PAPERWIRE_RATE_COMMENT_REPORT": "10",
    "PAPERWIRE_RATE_COMMENT_REPORT_NEW": "/",
    "PAPERWIRE_RATE_API_TOKEN": "10/0",
    "PAPERWIRE_EMBEDDING_MODEL": None,
    "PAPERWIRE_MODEL_DIR": None,
    "PAPERWIRE_EMBEDDING_THREADS": "0",
    "PAPERWIRE_INDEX_INTERVAL": "nan",
    "PAPERWIRE_PAGE_CACHE_SECONDS": "1m",
    "PAPERWIRE_PAGE_CACHE_ENTRIES": "0",
    "PAPERWIRE_INDEX_BATCH": "-5",
    "PAPERWIRE_SQLITE_CACHE_MIB": "1",
    "PAPERWIRE_EMBED_LEASE_SECONDS": "1",
    "PAPERWIRE_EMBED_PHASE_SECONDS": "0",
    "PAPERWIRE_NODE_NAME": "two words",
    "PAPERWIRE_PROGRESS_SECONDS": "soon",
    "PAPERWIRE_SEARCH_RELOAD_SECONDS": "soon",
    "PAPERWIRE_DIGEST_TOP_PAPERS": "ten",
    "PAPERWIRE_DIGEST_TOPIC_PAPERS": "5.0",
    "PAPERWIRE_DIGEST_FOLLOWED_PAPERS": "101",
    "PAPERWIRE_DIGEST_TOPIC_THRESHOLD": "2",
    "PAPERWIRE_DIGEST_BOUNCE_LIMIT": "0",
    "PAPERWIRE_DIGEST_MAX_ATTEMPTS": "many",
    "PAPERWIRE_DIGEST_LEASE_MINUTES": "15m",
    "PAPERWIRE_DIGEST_CONFIRM_DAYS": "inf",
    "PAPERWIRE_NOTIFY_INTERVAL_MINUTES": "0",
    "PAPERWIRE_DIGEST_HOUR": "24",
    "PAPERWIRE_DIGEST_WEEKLY_DAY": "8",
    "PAPERWIRE_WORKER_INGEST": "hf-daily pubmed",
    "PAPERWIRE_WORKER_INTERVAL": "abc",
    "PAPERWIRE_LOG_LEVEL": "LOUD",
    "PAPERWIRE_LOG_FORMAT": "xml",
}


def load_settings(**variables: str) -> dict:
    """Run paperwire/settings.py with ``variables`` set, in a fresh home and working folder."""
    saved, cwd = dict(os.environ), os.getcwd()
    with tempfile.TemporaryDirectory() as folder:
        os.environ.pop("DATABASE_URL", None)
        os.environ.update({"PAPERWIRE_HOME": str(Path(folder) / "home"), **variables})
        os.chdir(folder)
        try:
            return runpy.run_path(str(SETTINGS))
        finally:
            os.chdir(cwd)
            os.environ.clear()
            os.environ.update(saved)


def test_every_documented_variable_is_checked():
    assert DOCUMENTED and sorted(MALFORMED) == DOCUMENTED


@pytest.mark.parametrize("name", [n for n, v in MALFORMED.items() if v is not None])
def test_a_malformed_value_is_one_line_naming_the_variable(name):
    with pytest.raises(ImproperlyConfigured) as error:
        load_settings(**{name: MALFORMED[name]})
    message = str(error.value)
    assert message.startswith(f"{name}={MALFORMED[name]!r} is not valid: expected ") and "\n" not in message


def test_well_formed_values_are_read():
    values = load_settings(
        PAPERWIRE_WORKER_INTERVAL="60",
        PAPERWIRE_DEBUG="off",
        PAPERWIRE_LOG_LEVEL="info",
        PAPERWIRE_EMAIL_URL="smtps://u:p@mail.example.org",
        PAPERWIRE_BASE_URL="https://papers.example.org/",
        PAPERWIRE_ALLOWED_HOSTS="internal.example, 10.0.0.5",
    )
    assert (values["WORKER_INTERVAL"], values["DEBUG"], values["LOGGING"]["root"]["level"]) == (60, False, "INFO")
    assert (values["EMAIL_HOST"], values["EMAIL_PORT"], values["BASE_URL"]) == (
        "mail.example.org",
        465,
        "https://papers.example.org",
    )
    assert values["ALLOWED_HOSTS"] == [
        "papers.example.org",
        "127.0.0.1",
        "localhost",
        "[::1]",
        "internal.example",
        "10.0.0.5",
    ]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from([n for n in DOCUMENTED if n not in ("PAPERWIRE_HOME", "PAPERWIRE_MODEL_DIR")]),
    value=st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=40),
)
def test_any_value_is_read_or_refused_with_its_name(name, value):
    try:
        load_settings(**{name: value})
    except ImproperlyConfigured as error:
        assert str(error).startswith(f"{name}=")


def test_a_command_with_a_malformed_setting_prints_one_line(tmp_path):
    env = paperwire_env(tmp_path / "home", PAPERWIRE_WORKER_INTERVAL="abc")
    for command in (["check"], ["worker", "--once"]):
        result = run_paperwire(*command, env=env)
        assert result.returncode == 1
        assert result.stderr == (
            "paperwire: PAPERWIRE_WORKER_INTERVAL='abc' is not valid: expected an integer from 0 to 86,400\n"
        )


@pytest.mark.parametrize(
    ("written", "origin"),
    [
        ("https://Papers.Example.org", "https://papers.example.org"),
        ("HTTPS://papers.example.org:443/", "https://papers.example.org"),
        ("http://papers.example.org:80", "http://papers.example.org"),
        ("http://127.0.0.1:8123", "http://127.0.0.1:8123"),
        ("https://[::1]:8443/paperwire/", "https://[::1]:8443/paperwire"),
    ],
)
def test_the_base_url_is_read_in_the_spelling_browsers_send(written, origin):
    """Browsers send Origin in lower case without the default port; a BASE_URL written otherwise
    made Django's CSRF origin check refuse every form."""
    loaded = load_settings(PAPERWIRE_BASE_URL=written)
    assert loaded["BASE_URL"] == origin
    assert loaded["CSRF_TRUSTED_ORIGINS"] == [origin]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PAPERWIRE_WEB_OUTSIDE_TIMEOUT", "1e300"),
        ("PAPERWIRE_HTTP_TIMEOUT", "1e300"),
        ("PAPERWIRE_EMAIL_TIMEOUT", "1e9"),
    ],
)
def test_a_timeout_too_large_for_a_socket_is_refused_at_start(name, value):
    """1e300 seconds passed the start-up check and then made /subscribe and sign-up answer 500
    (OverflowError in the socket's timeout)."""
    with pytest.raises(ImproperlyConfigured, match=name):
        load_settings(**{name: value})


# --- numbers: ASCII digits only, within a documented range ----------------------------------------

CONFIGURATION = (ROOT / "docs/configuration.md").read_text()
# Every number's range, as docs/configuration.md states it: "(from LOW to HIGH)" in its row.
RANGES = {
    name: (Decimal(low.replace(",", "")), Decimal(high.replace(",", "")))
    for name, low, high in re.findall(
        r"^\| `([A-Z_]+)` \|.*\(from (-?[0-9.,]+) to ([0-9.,]+)\) \|", CONFIGURATION, re.M
    )
}
WHOLE = r"-?[0-9]+"
DECIMAL = r"-?[0-9]+(\.[0-9]+)?"
DECIMALS = {
    "PAPERWIRE_EMAIL_TIMEOUT",
    "PAPERWIRE_WEB_OUTSIDE_TIMEOUT",
    "PAPERWIRE_HTTP_TIMEOUT",
    "PAPERWIRE_ARXIV_INTERVAL",
    "PAPERWIRE_INDEX_INTERVAL",
    "PAPERWIRE_PROGRESS_SECONDS",
    "PAPERWIRE_SEARCH_RELOAD_SECONDS",
    "PAPERWIRE_DIGEST_TOPIC_THRESHOLD",
}
RATES = [name for name in DOCUMENTED if name.startswith("PAPERWIRE_RATE_")]
RATE_COUNT, RATE_SECONDS = (Decimal(0), Decimal(1_000_000)), (Decimal(1), Decimal(86_400))
SPACE = " \t\r\n"  # around a value (env files, CRLF lines); no other whitespace
# Text that Python's int() or float() read as a number although it is not one in ASCII digits,
# and others near the line.
NOT_ASCII_NUMBERS = [
    "²",
    "²/60",
    "١٢٣",
    "۳",
    "０",
    "1_000",
    "1e3",
    "1E3",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "Infinity",
    "+5",
    "0x10",
    "\u200912",
    "12\u00a0",
    "\u300012",
    "12\x1c",
    "1.",
    ".5",
    "1.5.1",
    "--1",
    "",
    " ",
    "9" * 5000,
]


def is_number(text: str, pattern: str, low: Decimal, high: Decimal) -> bool:
    text = text.strip(SPACE)
    return re.fullmatch(pattern, text) is not None and low <= Decimal(text) <= high


def is_rate(text: str) -> bool:
    count, slash, seconds = text.partition("/")
    return bool(slash) and is_number(count, "[0-9]+", *RATE_COUNT) and is_number(seconds, "[0-9]+", *RATE_SECONDS)


def test_every_number_states_its_range():
    numbers = [n for n, v in MALFORMED.items() if n not in RATES and v is not None and n not in NOT_NUMBERS]
    assert sorted(RANGES) == sorted(numbers)
    assert "`count/seconds`: a count from 0 to 1,000,000 in a window of 1 to 86,400 seconds" in " ".join(
        CONFIGURATION.split()
    )
    read = load_settings()["NUMBER_RANGES"]
    assert {name: (Decimal(str(low)), Decimal(str(high))) for name, (_, low, high) in read.items()} == RANGES
    assert {name for name, (kind, _, _) in read.items() if kind is float} == DECIMALS


NOT_NUMBERS = {
    "PAPERWIRE_HOME",
    "DATABASE_URL",
    "PAPERWIRE_BASE_URL",
    "PAPERWIRE_DEBUG",
    "PAPERWIRE_EMAIL_URL",
    "PAPERWIRE_EMAIL_FROM",
    "PAPERWIRE_HF_ENDPOINT",
    "PAPERWIRE_ARXIV_API_URL",
    "PAPERWIRE_WORKER_INGEST",
    "PAPERWIRE_LOG_LEVEL",
    "PAPERWIRE_LOG_FORMAT",
    "PAPERWIRE_ARXIV_CATEGORIES",
    "PAPERWIRE_NODE_NAME",
}


VALUES = st.one_of(
    st.integers(-100, 2_000_000).map(str),
    st.floats().map(str),
    st.decimals(-2, 100_000, places=2).map(str),
    st.text(st.sampled_from("0123456789.-+_eE /\t\u00a0²١٣۳０naif"), max_size=9),
    st.sampled_from(NOT_ASCII_NUMBERS),
    st.tuples(st.integers(-5, 2_000_000), st.integers(-5, 100_000)).map("{0[0]}/{0[1]}".format),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(RANGES) + RATES), value=VALUES)
def test_a_number_is_read_only_in_ascii_digits_within_its_range(name, value):
    """int() and float() also read other scripts' digits, '1_000', ' 12 ', 'nan' and 'inf': a value
    the docs do not allow is refused at start, naming the variable, never read at run time."""
    if name in RATES:
        allowed = is_rate(value)
    else:
        allowed = is_number(value, DECIMAL if name in DECIMALS else WHOLE, *RANGES[name])
    try:
        load_settings(**{name: value})
    except ImproperlyConfigured as error:
        assert not allowed, (name, value, str(error))
        assert str(error).startswith(f"{name}={value.strip(SPACE)!r} is not valid: expected ")
    else:
        assert allowed or not value.strip(SPACE), (name, value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PAPERWIRE_RATE_API", "²/60"),
        ("PAPERWIRE_RATE_VOTE", "60/²"),
        ("PAPERWIRE_RATE_SEARCH", "١٢٠/60"),
        ("PAPERWIRE_RATE_LOGIN", "10/999999999"),
        ("PAPERWIRE_EMBEDDING_THREADS", "100000"),
        ("PAPERWIRE_EMBEDDING_THREADS", "٤"),
        ("PAPERWIRE_INDEX_BATCH", "1_000"),
        ("PAPERWIRE_WORKER_INTERVAL", "99999999999999999999"),
        ("PAPERWIRE_ARXIV_INTERVAL", "1e300"),
        ("PAPERWIRE_INDEX_INTERVAL", "inf"),
        ("PAPERWIRE_HTTP_RETRIES", "1000000"),
        ("PAPERWIRE_PAGE_CACHE_SECONDS", "1e9"),
    ],
)
def test_values_int_or_float_would_read_are_refused_at_start(name, value):
    with pytest.raises(ImproperlyConfigured, match=f"^{name}="):
        load_settings(**{name: value})


def test_numbers_are_read_as_written():
    values = load_settings(
        PAPERWIRE_WORKER_INTERVAL=" 60\r\n",
        PAPERWIRE_DIGEST_TOPIC_THRESHOLD="-0.5",
        PAPERWIRE_RATE_API=" 600 / 60 ",
        PAPERWIRE_EMBEDDING_THREADS="007",
    )
    assert (values["WORKER_INTERVAL"], values["DIGEST_TOPIC_THRESHOLD"]) == (60, -0.5)
    assert (values["RATE_LIMITS"]["api"], values["EMBEDDING_THREADS"]) == ("600/60", 7)


COMMANDS = [
    ["serve"],
    ["import", "/nonexistent.jsonl"],
    ["ingest", "hf-daily", "--date", "2025-07-21"],
    ["ingest", "submissions"],
    ["index"],
    ["search", "x"],
    ["digest", "send", "--dry-run"],
    ["worker", "--once"],
    ["backup"],
    ["migrate"],
    ["createsuperuser", "--noinput", "--username", "x", "--email", "x@example.org"],
    ["check"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_every_command_refuses_a_bad_number_at_start(tmp_path, command):
    """Before it does anything (no database created, no port opened, nothing fetched)."""
    home = tmp_path / "home"
    # Were the value accepted, nothing would reach the outside nor keep running.
    unreachable = {"PAPERWIRE_HF_ENDPOINT": "http://127.0.0.1:9", "PAPERWIRE_HTTP_RETRIES": "0"}
    with socket.create_server(("127.0.0.1", 0)) as taken:
        if command[0] == "serve":
            command = ["serve", "--port", str(taken.getsockname()[1])]
        result = run_paperwire(*command, env=paperwire_env(home, PAPERWIRE_RATE_API="²/60", **unreachable))
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "paperwire: PAPERWIRE_RATE_API='²/60' is not valid: expected " + RATE_RULE + "\n"
    assert not (home / "paperwire.sqlite3").exists()


RATE_RULE = "<count>/<seconds>, e.g. 60/60: a count from 0 to 1,000,000 in a window of 1 to 86,400 seconds"


def test_sqlite_connections_keep_the_configured_page_cache(tmp_path):
    """Each SQLite connection of a command gets PAPERWIRE_SQLITE_CACHE_MIB of page cache (SQLite's
    own default is 2 MiB), as PRAGMA cache_size reports it (negative: KiB)."""
    code = "from django.db import connection; print(connection.cursor().execute('PRAGMA cache_size').fetchone()[0])"
    for variables, expected in (({}, -64 * 1024), ({"PAPERWIRE_SQLITE_CACHE_MIB": "300"}, -300 * 1024)):
        env = paperwire_env(tmp_path / "home", **variables)
        result = subprocess.run(
            [sys.executable, "-m", "paperwire", "shell", "-c", code],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert int(result.stdout.split()[-1]) == expected
