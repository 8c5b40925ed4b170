"""A malformed setting stops every command with one line naming the variable, never a traceback."""

import os
import re
import runpy
import tempfile
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
    "PAPERWIRE_ARXIV_CATEGORIES": None,
    "PAPERWIRE_HTTP_TIMEOUT": "-1",
    "PAPERWIRE_HTTP_RETRIES": "four",
    "PAPERWIRE_SUBMISSIONS_PER_DAY": "1.5",
    "PAPERWIRE_RATE_VOTE": "60 per minute",
    "PAPERWIRE_RATE_SUBMIT": "10/",
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
    "PAPERWIRE_EMBEDDING_MODEL": None,
    "PAPERWIRE_MODEL_DIR": None,
    "PAPERWIRE_EMBEDDING_THREADS": "0",
    "PAPERWIRE_INDEX_INTERVAL": "nan",
    "PAPERWIRE_PAGE_CACHE_SECONDS": "1m",
    "PAPERWIRE_PAGE_CACHE_ENTRIES": "0",
    "PAPERWIRE_INDEX_BATCH": "-5",
    "PAPERWIRE_PROGRESS_SECONDS": "soon",
    "PAPERWIRE_SEARCH_RELOAD_SECONDS": "soon",
    "PAPERWIRE_DIGEST_TOP_PAPERS": "ten",
    "PAPERWIRE_DIGEST_TOPIC_PAPERS": "5.0",
    "PAPERWIRE_DIGEST_TOPIC_THRESHOLD": "2",
    "PAPERWIRE_DIGEST_BOUNCE_LIMIT": "0",
    "PAPERWIRE_DIGEST_MAX_ATTEMPTS": "many",
    "PAPERWIRE_DIGEST_LEASE_MINUTES": "15m",
    "PAPERWIRE_DIGEST_CONFIRM_DAYS": "inf",
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
            "paperwire: PAPERWIRE_WORKER_INTERVAL='abc' is not valid: expected an integer of at least 0\n"
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
