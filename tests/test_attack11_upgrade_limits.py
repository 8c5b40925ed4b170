"""Rate limits across an upgrade: what the previous release counted still counts.

The counters are shared by every process through the database, and during an upgrade (or a
rolling one, node after node) processes of the release and of this version count side by side:
both must name a counter the same way, or each grants its own quota (an attacker guessing an
account's password, or mailing an address, gets it twice)."""

import subprocess
import sys
import tarfile
import time

import pytest

from tests.conftest import ROOT, start_site, stop_site
from tests.test_login_limits import ROOT_PASSWORD, post_form
from tests.test_upgrade import RELEASE


@pytest.fixture
def release_code(tmp_path):
    """The previous release's own code (``git archive``), beside this one."""
    archive = tmp_path / "release.tar"
    made = subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(archive), RELEASE, "paperwire"], check=False)
    if made.returncode != 0:
        pytest.skip(f"the release {RELEASE} is not in this checkout's git history")
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "release", filter="data")
    return tmp_path / "release"


def test_login_guesses_counted_by_the_release_still_count_after_the_upgrade(tmp_path, database, release_code):
    # Day-long windows, aligned to UTC midnight: the test must not straddle one.
    if time.time() % 86400 > 86400 - 120:
        time.sleep(86400 - time.time() % 86400 + 1)
    limits = {"PAPERWIRE_RATE_LOGIN": "1000/86400", "PAPERWIRE_RATE_LOGIN_ACCOUNT": "20/86400"}
    site = start_site(tmp_path / "home", **limits, **database)
    try:
        create = (
            "from django.contrib.auth.models import User; "
            f"User.objects.create_user('root', 'root@example.org', '{ROOT_PASSWORD}')"
        )
        assert site.command("shell", "-c", create).returncode == 0
        # 20 wrong guesses at root's password, answered by a process of the release (the same
        # database, settings and secret key), as during a rolling upgrade.
        guesses = (
            "from django.contrib.auth import authenticate; from django.test import RequestFactory; "
            "from paperwire.ratelimit import RateLimited\n"
            "login = RequestFactory().post('/accounts/login')\n"
            "for n in range(20):\n"
            "    assert authenticate(login, username='root', password=f'guess {n}') is None\n"
            "try:\n"
            "    authenticate(login, username='root', password='guess 21')\n"
            "except RateLimited:\n"
            "    print('release: limited')\n"
        )
        release = subprocess.run(
            [sys.executable, "-m", "paperwire", "shell", "-c", guesses],
            cwd=release_code,
            env=site.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert release.returncode == 0, release.stderr
        assert "release: limited" in release.stdout

        # This version's server: the account's limit is spent, even with the right password.
        status, headers, body = post_form(
            site.url, "/accounts/login", {"username": "root", "password": ROOT_PASSWORD}, "127.0.0.1"
        )
        assert status == 429, body[:300]
        assert "Too many login attempts" in body and int(headers["Retry-After"]) > 0
    finally:
        stop_site(site)
