"""PAPERWIRE_HOME holds password hashes and addresses: its files are 0600 and its folders 0700."""

import os
import stat

from tests.conftest import DEMO, paperwire_env, run_paperwire, start_site, stop_site


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def private_files(home) -> dict[str, int]:
    """Every database, WAL, backup and key file under ``home``, with its mode."""
    found = {}
    for folder, _, names in os.walk(home):
        for name in names:
            if ".sqlite3" in name or name == "secret_key":
                found[os.path.relpath(os.path.join(folder, name), home)] = mode(os.path.join(folder, name))
    return found


def test_real_commands_create_private_files(tmp_path):
    home = tmp_path / "home"
    env = paperwire_env(home)
    env.pop("PAPERWIRE_SECRET_KEY")  # so the generated key file is made too
    for command in (["migrate"], ["import", "--no-index", str(DEMO)], ["backup"]):
        result = run_paperwire(*command, env=env)
        assert result.returncode == 0, result.stderr
    assert mode(home) == 0o700 and mode(home / "backups") == 0o700
    files = private_files(home)
    assert {"paperwire.sqlite3", "secret_key"} <= set(files) and any(f.startswith("backups/") for f in files)
    assert files == {name: 0o600 for name in files}
    assert [name for name in files if name.endswith(("-wal", "-shm"))] == []  # none left beside a backup

    # While a paperwire process holds the database open: its WAL and shared-memory files.
    code = (
        "from django.db import connection; import os, stat; connection.ensure_connection(); "
        "[print(n, oct(stat.S_IMODE(os.stat(n).st_mode))) for n in sorted(os.listdir('.')) if '.sqlite3-' in n]"
    )
    result = run_paperwire("shell", "-v", "0", "-c", f"import os; os.chdir({str(home)!r}); {code}", env=env)
    assert result.stdout.split() == ["paperwire.sqlite3-shm", "0o600", "paperwire.sqlite3-wal", "0o600"]

    site = start_site(home, PAPERWIRE_SECRET_KEY="")
    try:
        assert site.get("/api/daily_papers?limit=1")[0] == 200  # a write: the API's rate counter
        files = private_files(home)
        assert files == {name: 0o600 for name in files} and mode(home / "static") == 0o700
    finally:
        stop_site(site)


def test_an_existing_home_left_readable_is_made_private(tmp_path):
    home = tmp_path / "home"
    env = paperwire_env(home)
    assert run_paperwire("migrate", env=env).returncode == 0
    output = tmp_path / "elsewhere" / "copy.sqlite3"
    assert run_paperwire("backup", "--output", str(output), env=env).returncode == 0
    assert mode(output) == 0o600  # a backup written anywhere
    home.chmod(0o755)
    (home / "paperwire.sqlite3").chmod(0o644)
    assert run_paperwire("check", env=env).returncode == 0
    assert (mode(home), mode(home / "paperwire.sqlite3")) == (0o700, 0o600)
