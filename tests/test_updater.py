"""`serve`'s index updater (paperwire/operations/updater.py), in this process: how it ended is
kept however its end is reaped. (tests/test_serve_start.py kills the updater of a live site.)"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from paperwire.operations import updater as updaters
from paperwire.operations.updater import Updater, updater_health

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


@pytest.fixture
def slow_watcher(monkeypatch):
    """The watching thread comes late to its child's end, as on a loaded machine: the arbiter
    (here the test's own thread) reaps first."""
    real = os.waitid

    def late(*args):
        time.sleep(1)
        return real(*args)

    monkeypatch.setattr(updaters.os, "waitid", late)
    monkeypatch.setattr(updaters, "FIRST_DELAY", 60.0)  # not started again within the test
    monkeypatch.setattr(updaters, "_current", None)
    started = []
    yield started
    for updater in started:
        updater.stop()


def zombie(pid: int) -> None:
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
        assert time.monotonic() < deadline
        time.sleep(0.01)


def stopped(updater) -> dict:
    deadline = time.monotonic() + 10
    while (health := updater_health())["status"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    return health


def killed(slow_watcher) -> tuple[Updater, int]:
    """An updater started, its process SIGKILLed and not reaped yet: the updater and its pid."""
    updater = Updater(SLEEPER)
    updater.start()
    slow_watcher.append(updater)
    pid = updater.process.pid
    os.kill(pid, signal.SIGKILL)
    zombie(pid)
    return updater, pid


def test_the_cause_survives_the_arbiter_reaping_first(slow_watcher):
    updater, pid = killed(slow_watcher)
    updater.reap()  # what PaperwireArbiter.reap_workers does before gunicorn's waitpid(-1)
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped: the watching thread will find it gone
    health = stopped(updater)
    assert health["status"] == "restarting" and "(killed by SIGKILL)" in health["reason"], health


def test_a_cause_lost_to_another_reaper_is_said_unknown_not_a_clean_exit(slow_watcher):
    updater, pid = killed(slow_watcher)
    assert os.waitpid(pid, 0)[0] == pid  # gunicorn's waitpid(-1), had the arbiter not reaped it first
    health = stopped(updater)
    assert "(for no known reason)" in health["reason"] and "exit status" not in health["reason"], health


def test_an_updater_that_runs_once_is_finished_not_restarted(monkeypatch):
    monkeypatch.setattr(updaters, "_current", None)
    updater = Updater([sys.executable, "-c", "raise SystemExit(3)"], repeating=False)
    updater.start()
    health = stopped(updater)
    assert (health["status"], health["exit"]) == ("finished", "exit status 3")
    time.sleep(0.2)
    assert updater.process.returncode == 3 and updater_health()["status"] == "finished"
