"""PAPERWIRE_EMAIL_URL and PAPERWIRE_BASE_URL: every malformed value stops the start with one line
naming the variable (round 3: ?starttls=yes turned STARTTLS off without a word; smtps:// with
?starttls=1 passed `paperwire check` and crashed `digest send`; a base URL with a space, a query
or a fragment made broken links in every mail)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from tests.conftest import paperwire_env, run_paperwire
from tests.test_settings import load_settings

EMAIL_EXPECTED = (
    "smtp://user:password@host:port (smtps:// for TLS from the start, or smtp:// with ?starttls=1 for "
    "STARTTLS; starttls is 1, true, yes, on, 0, false, no or off) or console://"
)


@pytest.mark.parametrize(
    ("url", "tls"),
    [
        ("smtp://u:p@relay:587?starttls=1", True),
        ("smtp://u:p@relay:587?starttls=true", True),
        ("smtp://u:p@relay:587?starttls=yes", True),
        ("smtp://u:p@relay:587?starttls=on", True),
        ("smtp://u:p@relay:587?starttls=TRUE", True),
        ("smtp://u:p@relay:587?starttls=0", False),
        ("smtp://u:p@relay:587?starttls=off", False),
        ("smtp://u:p@relay:587", False),
        ("smtp://relay", False),
    ],
)
def test_starttls_is_read_like_every_yes_or_no_setting(url, tls):
    loaded = load_settings(PAPERWIRE_EMAIL_URL=url)
    assert (loaded["EMAIL_USE_TLS"], loaded["EMAIL_USE_SSL"], loaded["EMAIL_HOST"]) == (tls, False, "relay")


@pytest.mark.parametrize(
    "url",
    [
        "smtp://u:p@relay:587?starttls=maybe",
        "smtp://u:p@relay:587?starttls=",
        "smtp://u:p@relay:587?starttls=1&starttls=0",
        "smtp://u:p@relay:587?tls=1",
        "smtp://u:p@relay:587?starttls=1&x=y",
        "smtps://u:p@relay:465?starttls=1",
        "smtps://u:p@relay?starttls=yes",
        "smtp://relay:587/path",
        "smtp://relay:587#frag",
        "smtp://re lay:587",
        "smtp://relay:587?starttls=1#x",
    ],
)
def test_a_malformed_mail_url_is_one_line_and_hides_the_password(url):
    with pytest.raises(ImproperlyConfigured) as error:
        load_settings(PAPERWIRE_EMAIL_URL=url)
    shown = url.replace("u:p@", "u:***@")
    assert str(error.value) == f"PAPERWIRE_EMAIL_URL={shown!r} is not valid: expected {EMAIL_EXPECTED}"


BASE_EXPECTED = "an http:// or https:// URL with a host name, and no spaces, user name, query or fragment"


@pytest.mark.parametrize(
    "url",
    [
        "http://exa mple.com",
        "https://example.com/p?x=1#y",
        "https://example.com/p?x=1",
        "https://example.com/#y",
        "https://example.com/a b",
        "https://example.com/\x7fx",
        "https://user:pw@example.com",
        "https://exa_mple..com",
        "https://-example.com",
        "https://ex%41mple.com",
        "https://bücher.example",
    ],
)
def test_a_malformed_base_url_is_one_line(url):
    with pytest.raises(ImproperlyConfigured) as error:
        load_settings(PAPERWIRE_BASE_URL=url)
    shown = url.replace("user:pw@", "user:***@")
    assert str(error.value) == f"PAPERWIRE_BASE_URL={shown!r} is not valid: expected {BASE_EXPECTED}"


@pytest.mark.parametrize(
    "url",
    [
        "https://papers.example.org",
        "https://papers.example.org/sub/path/",
        "http://10.0.0.5:8000",
        "https://[::1]:8443",
    ],
)
def test_a_well_formed_base_url_is_read(url):
    assert load_settings(PAPERWIRE_BASE_URL=url)["BASE_URL"] == url.rstrip("/")


@pytest.mark.parametrize(
    ("name", "value", "line"),
    [
        (
            "PAPERWIRE_EMAIL_URL",
            "smtps://u:secret@relay:465?starttls=1",
            f"PAPERWIRE_EMAIL_URL='smtps://u:***@relay:465?starttls=1' is not valid: expected {EMAIL_EXPECTED}",
        ),
        (
            "PAPERWIRE_EMAIL_URL",
            "smtp://u:secret@relay:587?starttls=maybe",
            f"PAPERWIRE_EMAIL_URL='smtp://u:***@relay:587?starttls=maybe' is not valid: expected {EMAIL_EXPECTED}",
        ),
        (
            "PAPERWIRE_BASE_URL",
            "https://example.com/p?x=1#y",
            f"PAPERWIRE_BASE_URL='https://example.com/p?x=1#y' is not valid: expected {BASE_EXPECTED}",
        ),
    ],
)
def test_check_and_digest_send_refuse_a_malformed_mail_setting_at_start(tmp_path, name, value, line):
    env = paperwire_env(tmp_path / "site", **{name: value})
    for command in (["check"], ["digest", "send", "--date", "2026-08-19"]):
        result = run_paperwire(*command, env=env)
        assert (result.returncode, result.stdout, result.stderr) == (1, "", f"paperwire: {line}\n"), command


def test_servers_paperwire_connects_to_may_have_underscores_the_site_may_not():
    loaded = load_settings(PAPERWIRE_EMAIL_URL="smtp://mail_relay:25", PAPERWIRE_HF_ENDPOINT="http://fake_hf:8080")
    assert (loaded["EMAIL_HOST"], loaded["HF_ENDPOINT"]) == ("mail_relay", "http://fake_hf:8080")
    with pytest.raises(ImproperlyConfigured):
        load_settings(PAPERWIRE_BASE_URL="https://my_site.example")
