"""The generated secret key (PAPERWIRE_HOME/secret_key): made whole or not at all, the same for
racing first starts, and a damaged one refused at start with one line saying what to do."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT, free_port, paperwire_env, run_paperwire, start_paperwire


def env_without_key(home):
    env = paperwire_env(home)
    del env["PAPERWIRE_SECRET_KEY"]  # generated once and kept in PAPERWIRE_HOME
    return env


DAMAGED = {
    "empty": b"",  # a crash between create and write, or a first start that lost a race
    "blank": b" \n\n",
    "binary": b"\xff\xfe\x00\x81garbage\xc3",
    "short": b"abc\n",
    "spaces inside": b"a key with spaces that is long enough to pass the length test\n",
}


@pytest.mark.parametrize("content", DAMAGED.values(), ids=DAMAGED.keys())
def test_a_damaged_key_file_stops_every_command_with_one_line(tmp_path, content):
    home = tmp_path / "site"
    home.mkdir()
    (home / "secret_key").write_bytes(content)
    env = env_without_key(home)
    for command in (["check"], ["digest", "send"], ["search", "attention"]):
        result = run_paperwire(*command, env=env)
        assert result.returncode == 1, (command, result.stdout, result.stderr)
        path = home / "secret_key"
        assert result.stderr == (
            f"paperwire: {path} holds no usable secret key (it must be at least 32 printable characters "
            f"with no spaces): delete it to have a new one generated at the next start (sessions and links "
            f"signed with the old key stop working), or set PAPERWIRE_SECRET_KEY\n"
        ), command
        assert "unexpected error" not in result.stderr and "serving" not in result.stdout
    assert (home / "secret_key").read_bytes() == content  # nothing overwritten: the owner decides


def test_a_key_written_by_hand_with_a_newline_is_read(tmp_path):
    home = tmp_path / "site"
    home.mkdir()
    (home / "secret_key").write_text("k" * 10 + "0123456789abcdefghijKLMNOPQRST-_\n")
    result = run_paperwire("check", env=env_without_key(home))
    assert result.returncode == 0, result.stderr


KEY_OF = (
    "import os, django; os.environ['DJANGO_SETTINGS_MODULE'] = 'paperwire.settings'; "
    "from django.conf import settings; print(settings.SECRET_KEY)"
)


def test_racing_first_starts_agree_on_one_whole_key(tmp_path):
    for attempt in range(3):
        home = tmp_path / f"site{attempt}"
        env = env_without_key(home)
        starts = [
            subprocess.Popen([sys.executable, "-c", KEY_OF], env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
            for _ in range(6)
        ]
        keys = {start.communicate(timeout=120)[0].strip() for start in starts}
        assert all(start.returncode == 0 for start in starts)
        assert keys == {(home / "secret_key").read_text()}
        assert len(keys.pop()) >= 50
        assert sorted(p.name for p in home.iterdir() if "secret" in p.name) == ["secret_key"]  # no temp file left
        assert (home / "secret_key").stat().st_mode & 0o077 == 0


def test_a_site_with_an_empty_key_file_does_not_start_serving(tmp_path):
    home = tmp_path / "site"
    home.mkdir()
    (home / "secret_key").write_bytes(b"")
    process = start_paperwire("serve", "--port", str(free_port()), env=env_without_key(home))
    try:
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:  # it served (the defect): stop it, then fail
            process.kill()
            process.wait()
    assert process.returncode == 1 and "holds no usable secret key" in stderr and "serving" not in stdout + stderr
