"""`paperwire serve` starts its indexer as a child process: that child runs Paperwire's own code,
whatever folder the command was started from. `python -m` puts the current folder first on the
module path, so a file there named like a module of Python's (``http.py`` in /tmp, say) was
imported instead (the indexer died, the index was never built; and it ran that file's code)."""

import json
import socket
import subprocess
import sys
import time
import urllib.request

from tests.conftest import ROOT, LiveSite, free_port, paperwire_env, run_paperwire, stop_site

DEMO = ROOT / "paperwire" / "demo" / "attention_papers.jsonl"


def test_serve_builds_its_index_when_started_from_a_folder_with_a_module_named_like_pythons(tmp_path):
    home = tmp_path / "home"
    env = paperwire_env(home)
    assert run_paperwire("import", str(DEMO), "--no-index", env=env).returncode == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "http.py").write_text("raise SystemExit('the http.py of the current folder was imported')\n")
    port = free_port()
    # As the `paperwire` console script runs it: the current folder is not on the module path.
    env = {**env, "PYTHONPATH": str(ROOT), "PAPERWIRE_BASE_URL": f"http://127.0.0.1:{port}"}
    process = subprocess.Popen(
        [sys.executable, "-P", "-m", "paperwire", "serve", "--port", str(port)],
        cwd=elsewhere,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    site = LiveSite(f"http://127.0.0.1:{port}", home, env, process)
    try:
        health = {}
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and health.get("status") != "ok":
            assert process.poll() is None, process.stdout.read()
            try:
                with urllib.request.urlopen(f"{site.url}/healthz", timeout=10) as answer:
                    health = json.loads(answer.read())
            except OSError:
                pass
            time.sleep(0.5)
        assert health.get("status") == "ok", health
        assert health["index"]["papers"] == 41 and health["index"]["vectors"] == 41
    finally:
        stop_site(site)
    assert "http.py of the current folder" not in process.stdout.read()


def test_a_ctrl_c_right_after_the_start_stops_serve_and_its_indexer_cleanly(tmp_path):
    """A Ctrl-C in the terminal reaches every process of its group: the indexer, still starting
    Python, died of it with "Fatal Python error: init_import_site" and a traceback. It is not in
    the terminal's group: `serve` stops it."""
    import os
    import signal

    home = tmp_path / "home"
    env = paperwire_env(home)
    assert run_paperwire("import", str(DEMO), "--no-index", env=env).returncode == 0
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "paperwire", "serve", "--port", str(port)],
        cwd=ROOT,
        env={**env, "PAPERWIRE_BASE_URL": f"http://127.0.0.1:{port}"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own group, as a terminal's foreground job
    )
    said = []
    for line in process.stdout:  # the indexer is started just before this line
        said.append(line)
        if line.startswith("Paperwire serving on"):
            break
    indexers = []
    deadline = time.monotonic() + 30
    while not indexers and time.monotonic() < deadline:
        indexers = [int(p) for p in os.listdir("/proc") if p.isdigit() and _is_indexer(p, home)]
        time.sleep(0.05)
    assert len(indexers) == 1, said
    # Not in the group a terminal's Ctrl-C reaches: however early it comes, the indexer never gets it.
    assert os.getpgid(indexers[0]) != os.getpgid(process.pid)
    os.killpg(process.pid, signal.SIGINT)  # what a Ctrl-C does
    rest, _ = process.communicate(timeout=60)
    output = "".join(said) + rest
    assert "Fatal Python error" not in output and "Traceback" not in output, output
    assert process.returncode in (0, 130), output  # stopped by gunicorn, or "interrupted"
    assert not any(p.isdigit() and _is_indexer(p, home) for p in os.listdir("/proc"))  # stopped with serve


def _is_indexer(pid: str, home) -> bool:
    return str(home).encode() in _environ(pid) and b"paperwire\x00index" in _cmdline(pid)


def _environ(pid: str) -> bytes:
    try:
        with open(f"/proc/{pid}/environ", "rb") as file:
            return file.read()
    except OSError:
        return b""


def _cmdline(pid: str) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            return file.read()
    except OSError:
        return b""


def test_a_worker_is_quit_by_the_arbiter_once_and_quietly(tmp_path):
    """A Ctrl-C reaches the arbiter and each worker; the arbiter then quits its workers with
    SIGQUIT. A worker that handled both exited inside its own exit, once in a while, and printed
    "Exception ignored in sys.unraisablehook" and a traceback on the terminal (CI, 2026-11-28).
    A worker ignores the terminal's SIGINT and quits once however many SIGQUITs come."""
    import os
    import signal

    home = tmp_path / "home"
    env = paperwire_env(home)
    assert run_paperwire("import", str(DEMO), "--no-index", env=env).returncode == 0
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "paperwire", "serve", "--port", str(port), "--workers", "1"],
        cwd=ROOT,
        env={**env, "PAPERWIRE_BASE_URL": f"http://127.0.0.1:{port}"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    said = []
    try:
        for line in process.stdout:
            said.append(line)
            if line.startswith("Paperwire serving on"):
                break

        def workers():
            children = open(f"/proc/{process.pid}/task/{process.pid}/children").read().split()
            return [int(p) for p in children if not _is_indexer(p, home)]

        def answer():
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=30) as response:
                return response.status

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the line comes before gunicorn listens
            try:
                assert answer() == 200
                break
            except OSError:
                time.sleep(0.2)
        (worker,) = workers()
        os.kill(worker, signal.SIGINT)  # the worker's share of a Ctrl-C: the arbiter's decides
        time.sleep(1)
        assert workers() == [worker] and answer() == 200

        def replaced(old: int) -> int:
            """The worker the arbiter started for ``old``, once ``old`` quit: within 30 s, half
            gunicorn's worker timeout (60 s), after which the arbiter would have killed it."""
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and workers() in ([old], []):
                time.sleep(0.1)
            (new,) = workers()
            assert new != old and answer() == 200
            return new

        # A client that sends half a request and nothing more holds one of the worker's threads:
        # Python's exit waited for it until gunicorn's timeout killed the worker (60 s unanswered).
        silent = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
        silent[0].sendall(b"GET /healthz HTTP/1.1\r\nHost: a\r\n")
        time.sleep(0.5)
        os.kill(worker, signal.SIGQUIT)
        replacement = replaced(worker)
        silent[1].sendall(b"GET /healthz HTTP/1.1\r\nHost: a\r\n")
        time.sleep(0.5)
        os.kill(replacement, signal.SIGQUIT)
        os.kill(replacement, signal.SIGQUIT)  # a second one while the first one's exit is under way
        replaced(replacement)
    finally:
        for connection in locals().get("silent", []):
            connection.close()
        os.killpg(process.pid, signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    output = "".join(said) + rest
    assert "Traceback" not in output and "Exception ignored" not in output, output
    assert process.returncode in (0, 130), output
