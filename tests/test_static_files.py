"""The collected static files damaged under a real `paperwire serve`: pages keep rendering (with
the package's files), a collected copy that cannot be read is a 404, /healthz says degraded with
the reason, the log says it once; the next start collects them again."""

import json
import os
import re
import shutil
import signal
import time

import pytest

from tests.conftest import DEMO, paperwire_env, run_paperwire, start_site, stop_site

PAGES = ["/", "/papers/trending", "/papers/2403.01767", "/orgs", "/search?q=attention", "/no/such/page"]
PLAIN_CSS = '<link rel="stylesheet" href="/static/paperwire/paperwire.css">'
PLAIN_JS = '<script src="/static/paperwire/paperwire.js" defer></script>'
HASHED_CSS = re.compile(r'<link rel="stylesheet" href="/static/paperwire/paperwire\.[0-9a-f]{12}\.css">')


@pytest.fixture
def home(tmp_path):
    home = tmp_path / "served"
    home.mkdir()
    result = run_paperwire("import", str(DEMO), env=paperwire_env(home))
    assert result.returncode == 0, result.stderr
    return home


@pytest.fixture
def site(home):
    site = start_site(home)
    yield site
    stop_site(site)


def fresh(site, path: str) -> tuple[int, str]:
    """GET ``path`` past the page cache (a query of its own)."""
    status, body = site.get(path + ("&" if "?" in path else "?") + f"fresh={time.monotonic_ns()}")
    return status, body.decode()


def manifest(home) -> dict[str, str]:
    return json.loads((home / "static" / "staticfiles.json").read_text())["paths"]


def health(site) -> dict:
    status, body = site.get("/healthz")
    assert status == 200
    return json.loads(body)


def stop_and_read_log(site) -> str:
    stop_site(site)
    return site.process.stdout.read()


def reload_workers(site) -> None:
    """SIGHUP: gunicorn starts new web workers (as after a crash or a timeout), without `serve`
    collecting anything; they must start and serve whatever the folder holds."""
    before = health(site)
    site.process.send_signal(signal.SIGHUP)
    time.sleep(3)  # the old workers finish, the new ones answer
    assert health(site)["database"] == before["database"] == "ok"


def assert_pages_render_with_the_package_files(site) -> None:
    for path in PAGES:
        status, html = fresh(site, path)
        assert status == (404 if path == "/no/such/page" else 200), (path, status, html[:300])
        assert PLAIN_CSS in html and PLAIN_JS in html, path
    for plain, marker in (("paperwire.css", b".vote"), ("paperwire.js", b"addEventListener")):
        status, headers, body = site.fetch(f"/static/paperwire/{plain}")
        assert status == 200 and marker in body, plain


def test_deleting_the_static_folder_while_serving(site, home):
    css = manifest(home)["paperwire/paperwire.css"]
    status, html = fresh(site, "/")
    assert HASHED_CSS.search(html)
    assert health(site)["static"]["status"] == "ok"

    shutil.rmtree(home / "static")
    assert_pages_render_with_the_package_files(site)
    status, headers, body = site.fetch(f"/static/{css}")  # a page loaded before links it
    assert status == 404 and b"There is nothing at this address" in body
    report = health(site)
    assert report["status"] == "degraded"
    assert report["static"] == {"status": "damaged", "reason": f"the folder {home / 'static'} is missing"}
    assert report["reason"] == f"static files: the folder {home / 'static'} is missing"
    for _ in range(5):
        assert fresh(site, "/papers/trending")[0] == 200
        assert site.fetch(f"/static/{css}")[0] == 404

    reload_workers(site)  # new workers start without the folder
    assert_pages_render_with_the_package_files(site)
    log = stop_and_read_log(site)
    assert "Traceback" not in log and " ERROR " not in log, log
    problems = [line.split(" ", 2)[2] for line in log.splitlines() if "static files:" in line]  # no timestamp
    # once per process: the first worker, and the one that replaced it
    assert problems == 2 * [
        f"WARNING paperwire.static: static files: the folder {home / 'static'} is missing; pages link the files "
        "of the package until `paperwire serve` collects them again at its next start"
    ], log

    again = start_site(home)  # the next start collects them again
    try:
        assert health(again)["static"]["status"] == "ok" and health(again)["status"] == "ok"
        assert HASHED_CSS.search(fresh(again, "/")[1])
    finally:
        stop_site(again)


@pytest.mark.parametrize(
    "damage",
    ["truncated", "binary", "a list", "a directory"],
)
def test_a_damaged_manifest(site, home, damage):
    path = home / "static" / "staticfiles.json"
    if damage == "truncated":
        path.write_text(path.read_text()[:100])
    elif damage == "binary":
        path.write_bytes(b"\xff\xfe\x00garbage")
    elif damage == "a list":
        path.write_text("[]")
    else:
        path.unlink()
        path.mkdir()
    reason = {
        "truncated": "staticfiles.json is damaged (truncated or overwritten: not JSON)",
        "binary": "staticfiles.json is damaged (not text)",
        "a list": "staticfiles.json is damaged (not a manifest of collectstatic)",
        "a directory": "staticfiles.json is a directory",
    }[damage]
    assert health(site)["reason"] == f"static files: {reason}"
    reload_workers(site)  # new workers read the manifest as they start
    assert_pages_render_with_the_package_files(site)
    assert health(site)["static"] == {"status": "damaged", "reason": reason}
    log = stop_and_read_log(site)
    assert "Traceback" not in log and " ERROR " not in log, log
    assert (
        [line for line in log.splitlines() if "static files:" in line][0]
        .split("static files: ")[1]
        .startswith(reason + "; pages link the files of the package")
    )
    again = start_site(home)
    try:
        assert health(again)["status"] == "ok"
        assert HASHED_CSS.search(fresh(again, "/")[1])
    finally:
        stop_site(again)


def test_collected_files_that_cannot_be_read(site, home):
    """One replaced by a directory, one by a symbolic link to itself (which no one, not even
    root, can read), one by a FIFO (which would make a reader wait forever)."""
    paths = manifest(home)
    css, js, icon = paths["paperwire/paperwire.css"], paths["paperwire/paperwire.js"], paths["admin/img/search.svg"]
    static = home / "static"
    for name in (css, js, icon):
        (static / name).unlink()
    (static / css).mkdir()
    (static / js).symlink_to(static / js)
    os.mkfifo(static / icon)

    assert_pages_render_with_the_package_files(site)
    for name in (css, js, icon):
        status, headers, body = site.fetch(f"/static/{name}")
        assert status == 404 and b"There is nothing at this address" in body, (name, status)
    reasons = sorted(  # in the order of their names
        [
            f"{icon} is not a regular file",
            f"{css} is a directory",
            f"{js} cannot be read (Too many levels of symbolic links)",
        ]
    )
    assert health(site)["static"] == {"status": "damaged", "reason": "; ".join(reasons)}

    reload_workers(site)  # WhiteNoise lists the folder as a worker starts: none of it may stop it
    assert_pages_render_with_the_package_files(site)
    assert site.fetch(f"/static/{css}")[0] == 404
    log = stop_and_read_log(site)
    assert "Traceback" not in log and " ERROR " not in log, log
    for reason in reasons:
        assert 1 <= sum(reason in line for line in log.splitlines()) <= 2, (reason, log)

    again = start_site(home)  # collects into a fresh folder: whatever was there is replaced
    try:
        assert health(again)["status"] == "ok"
        assert not (static / css).is_dir() and not (static / js).is_symlink()
        status, html = fresh(again, "/")
        assert f'href="/static/{css}"' in html
        assert again.fetch(f"/static/{css}")[0] == 200
    finally:
        stop_site(again)


def test_serve_starts_whatever_the_folder_holds(home):
    """What made `collectstatic` itself fail at start: a directory where it copies a file, a
    damaged manifest, a file in the place of the folder."""
    first = start_site(home)
    stop_site(first)
    static = home / "static"
    (static / "paperwire" / "paperwire.css").unlink()
    (static / "paperwire" / "paperwire.css").mkdir()
    (static / "staticfiles.json").write_text('{"paths": {"paperwire/pape')
    site = start_site(home)
    try:
        assert health(site)["status"] == "ok"
        assert HASHED_CSS.search(fresh(site, "/")[1])
    finally:
        stop_site(site)
    shutil.rmtree(static)
    static.write_text("not a folder")
    site = start_site(home)
    try:
        assert health(site)["status"] == "ok"
        assert HASHED_CSS.search(fresh(site, "/")[1])
        assert not [p for p in home.iterdir() if p.name.startswith(".static")]  # nothing left behind
    finally:
        stop_site(site)


@pytest.mark.django_db
def test_a_collection_that_fails_keeps_the_folder_and_says_why(settings, tmp_path, monkeypatch, client):
    """In-process: `serve`'s collection step when a file of the package cannot be read (here a
    symbolic link to itself). The folder stays as it was, nothing is left behind, and /healthz
    says why; the site still serves (from the package)."""
    from paperwire.operations import staticstorage

    monkeypatch.setattr(staticstorage, "collected", False)  # module state that `collect` sets
    monkeypatch.setattr(staticstorage, "collect_failure", None)
    package = tmp_path / "package"
    package.mkdir()
    (package / "loop.css").symlink_to(package / "loop.css")
    settings.STATICFILES_DIRS = [*settings.STATICFILES_DIRS, package]
    settings.STATIC_ROOT = tmp_path / "collected" / "static"
    settings.STATIC_ROOT.mkdir(parents=True)
    (settings.STATIC_ROOT / "kept.txt").write_text("from the last start")

    problem = staticstorage.collect()
    assert problem == f"could not be collected into {settings.STATIC_ROOT} (Too many levels of symbolic links)"
    assert [p.name for p in settings.STATIC_ROOT.parent.iterdir()] == ["static"]
    assert (settings.STATIC_ROOT / "kept.txt").read_text() == "from the last start"
    body = client.get("/healthz").json()
    assert body["static"] == {"status": "damaged", "reason": problem}
    assert body["reason"].endswith(f"static files: {problem}")
    assert PLAIN_CSS in client.get("/papers/trending").content.decode()

    (package / "loop.css").unlink()
    (package / "fine.css").write_text("body {}")
    assert staticstorage.collect() is None
    assert (settings.STATIC_ROOT / "fine.css").exists() and not (settings.STATIC_ROOT / "kept.txt").exists()
    assert [p.name for p in settings.STATIC_ROOT.parent.iterdir()] == ["static"]
    assert client.get("/healthz").json()["static"]["status"] == "ok"


@pytest.mark.django_db
def test_a_start_skips_the_collection_only_for_the_folder_as_collected(settings, tmp_path, monkeypatch, client):
    """In-process: `serve`'s collection step, which a start skips when the folder holds what the
    last collection wrote from the same sources. It never keeps what a fresh collection would
    repair: a file written over in place (same size, still a regular file), a file added, a
    changed source are collected again into a fresh folder; the record itself is not served."""
    from paperwire.operations import staticstorage

    monkeypatch.setattr(staticstorage, "collected", False)
    monkeypatch.setattr(staticstorage, "collect_failure", None)
    package = tmp_path / "package"
    package.mkdir()
    (package / "site.css").write_text("body { color: teal }")
    settings.STATICFILES_DIRS = [*settings.STATICFILES_DIRS, package]
    root = settings.STATIC_ROOT = tmp_path / "served" / "static"
    root.parent.mkdir()

    def collect() -> tuple[bool, dict[str, str]]:
        """Whether a collection ran (a fresh folder took the place of the old), the manifest."""
        before = root.stat().st_ino if root.exists() else None
        assert staticstorage.collect() is None
        assert [p.name for p in root.parent.iterdir()] == ["static"]  # nothing left behind
        return root.stat().st_ino != before, manifest(root.parent)

    ran, paths = collect()
    assert ran
    assert collect() == (False, paths)  # the same sources, the folder as collected: kept

    css = root / paths["site.css"]
    css.write_bytes(b"x" * css.stat().st_size)
    assert collect() == (True, paths)
    assert css.read_text() == "body { color: teal }"

    (root / "added.html").write_text("<p>not collected</p>")
    assert collect() == (True, paths)
    assert not (root / "added.html").exists()

    (package / "site.css").write_text("body { color: navy }")
    ran, changed = collect()
    assert ran and changed["site.css"] != paths["site.css"]
    assert (root / changed["site.css"]).read_text() == "body { color: navy }"

    assert client.get(f"/static/{changed['site.css']}").status_code == 200
    assert client.get(f"/static/{staticstorage.RECORD}").status_code == 404
