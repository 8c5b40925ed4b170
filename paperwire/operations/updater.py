"""`paperwire serve`'s index updater: the child process that builds the search indexes and keeps
them fresh (`paperwire index --every`), started again whenever it stops while the site serves,
and what /healthz says about it.

The updater is the process most likely to be killed: it holds the most memory (the vector index
while it grows) and runs longest. Killed by the kernel's out-of-memory killer, by an operator,
or ended by a fault, it used to stay dead while the site answered `ok` and its index fell
behind for ever. Now a thread of `serve` (the gunicorn arbiter's process) waits on it and starts
it again: 5 s after it stopped, twice as long after each stop that came sooner than 10 minutes
after its start (at most 5 minutes apart), 5 s again after a run of 10 minutes or more. Each
stop is logged (logger ``paperwire.serve``) with its cause.

The cause ("killed by SIGKILL": the out-of-memory killer) must survive gunicorn's arbiter, which
reaps every child of the process (``waitpid(-1)``) and throws away the status of those that are
not its workers: the watching thread waits without reaping (``waitid`` with ``WNOWAIT``), and the
arbiter (``serve.PaperwireArbiter``) reaps the updater by its pid, keeping its status, before
it reaps anything else.

The web workers read the updater's state from memory shared with `serve` (it is created before
gunicorn forks them): /healthz says `degraded` from the moment the updater stops until it runs
again, with the cause and when it starts again.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import logging
import math
import multiprocessing
import os
import shutil
import signal
import subprocess
import threading
import time

FIRST_DELAY = 5.0
LONGEST_DELAY = 300.0
STEADY = 600.0  # a run this long resets the delay
STOP_WAIT = 30.0

# The states, as held in shared memory.
NOT_RUN, RUNNING, WAITING, FINISHED = 0, 1, 2, 3
FIELDS = {name: slot for slot, name in enumerate(("state", "pid", "since", "restarts", "exit", "next"))}

_current: Updater | None = None  # the updater of this `serve` (and of its forked workers)
log = logging.getLogger("paperwire.serve")


def stopped_how(code: int | None) -> str:
    """A child's end in words: "killed by SIGKILL", "exit status 1"."""
    if code is None:
        return "for no known reason"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


class Updater:
    """The updater process of one `serve`: ``start`` it, then ``stop`` it as `serve` ends.
    ``repeating``: it is meant to run until stopped (`--every`); otherwise it runs once and is
    not started again."""

    def __init__(self, command: list[str], *, niceness: int = 0, repeating: bool = True, **options) -> None:
        nice = shutil.which("nice") if niceness else None
        # `nice` execs the command (the same process): no Python code runs between fork and exec,
        # which a thread's restart could not make safe (subprocess's preexec_fn).
        self.command = [nice, "-n", str(niceness), *command] if nice else list(command)
        self.options = options
        self.repeating = repeating
        self.process: subprocess.Popen | None = None
        self.owner = os.getpid()
        self.shared = multiprocessing.Array(ctypes.c_double, len(FIELDS))
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._ended: dict[int, int] = {}  # pid -> exit code, of the updaters the arbiter reaped

    def start(self) -> None:
        """Starts the process and the thread that watches it; and makes this the updater /healthz
        reports on in this process and the workers it forks."""
        global _current
        _current = self
        self.owner = os.getpid()  # gunicorn forks its workers from this process: they must not stop it
        self._spawn(restarts=0)
        threading.Thread(target=self._watch, name="index updater", daemon=True).start()

    def stop(self) -> None:
        """Stops the process (SIGTERM, SIGKILL after STOP_WAIT seconds: in a long rebuild it is
        safe to stop, it swaps files in whole); it is not started again."""
        if os.getpid() != self.owner:  # a web worker leaving (its SystemExit runs serve's `finally`)
            return
        with self._lock:
            self._stopping.set()
            process = self.process
        if process is None:
            return
        process.terminate()
        if process.poll() is None:  # (never signal a pid that may have been reaped and reused)
            try:
                os.kill(process.pid, signal.SIGCONT)  # a stopped process (SIGSTOP) would never take the SIGTERM
            except OSError:
                pass
        try:
            process.wait(timeout=STOP_WAIT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def reap(self) -> None:
        """Reap the updater if it has ended, keeping its exit code: what the arbiter calls before
        its ``waitpid(-1)`` would reap it and lose the code."""
        process = self.process
        if process is None or process.returncode is not None:
            return
        try:
            pid, status = os.waitpid(process.pid, os.WNOHANG)
        except ChildProcessError:  # reaped already (by the watching thread)
            return
        if pid:
            self._ended[pid] = os.waitstatus_to_exitcode(status)

    def _wait_for(self, process: subprocess.Popen) -> int | None:
        """Until ``process`` ends: its exit code (negative: the signal), None when not known."""
        code = None
        try:
            info = os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)  # not reaped yet
            if info is not None:
                killed = info.si_code in (os.CLD_KILLED, os.CLD_DUMPED)
                code = -info.si_status if killed else info.si_status
        except ChildProcessError:  # the arbiter reaped it first
            pass
        process.wait()  # reaps it (or finds it reaped)
        return code if code is not None else self._ended.pop(process.pid, None)

    def _spawn(self, restarts: int) -> None:
        self.process = subprocess.Popen(self.command, **self.options)
        self._record(state=RUNNING, pid=self.process.pid, since=time.time(), restarts=restarts)

    def _record(self, **values: float) -> None:
        with self.shared.get_lock():
            for name, value in values.items():
                self.shared[FIELDS[name]] = value

    def _watch(self) -> None:
        delay, restarts = FIRST_DELAY, 0
        while True:
            process, started = self.process, time.monotonic()
            code = self._wait_for(process)
            exit_code = math.nan if code is None else code
            if self._stopping.is_set():
                return
            if not self.repeating:
                self._record(state=FINISHED, exit=exit_code, since=time.time())
                return
            if time.monotonic() - started >= STEADY:
                delay = FIRST_DELAY
            self._record(state=WAITING, exit=exit_code, since=time.time(), next=time.time() + delay)
            log.warning(
                "the index updater (pid %s) stopped (%s); starting it again in %.0f s",
                process.pid,
                stopped_how(code),
                delay,
            )
            while True:
                if self._stopping.wait(delay):
                    return
                restarts += 1
                with self._lock:
                    if self._stopping.is_set():
                        return
                    try:
                        self._spawn(restarts)
                        break
                    except OSError as error:  # no memory or processes left for a fork: later
                        log.error("cannot start the index updater: %s", error)
                delay = min(delay * 2, LONGEST_DELAY)
                self._record(next=time.time() + delay)
            delay = min(delay * 2, LONGEST_DELAY)


def process_state(pid: int) -> str:
    """The state letter of ``pid`` in /proc ("R", "S", "T" stopped...; "" when unknown)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            return file.read().rsplit(b")", 1)[1].split()[0].decode()
    except (OSError, IndexError):
        return ""


def current() -> Updater | None:
    """The updater of this `serve` (None outside it)."""
    return _current


def updater_health() -> dict:
    """What /healthz says of the updater: ``status`` ``running`` (``pid``, ``since``,
    ``restarts``), ``restarting`` (it stopped: ``reason``, ``restarts``), ``paused`` (stopped by
    SIGSTOP: ``reason``, ``pid``), ``finished`` (it ran
    once, PAPERWIRE_INDEX_INTERVAL=0) or ``not run`` (outside `paperwire serve`)."""
    updater = _current
    if updater is None:
        return {"status": "not run"}
    with updater.shared.get_lock():
        state, pid, since, restarts, code, next_start = updater.shared[:]
    when = dt.datetime.fromtimestamp(since, dt.UTC).isoformat() if since else None
    if state == RUNNING:
        if process_state(int(pid)) in ("T", "t"):  # SIGSTOP, or a debugger: alive, doing nothing
            reason = f"the index updater (pid {int(pid)}) is stopped (SIGSTOP); updates wait until it is continued"
            return {"status": "paused", "reason": reason, "pid": int(pid), "restarts": int(restarts)}
        return {"status": "running", "pid": int(pid), "since": when, "restarts": int(restarts)}
    how = stopped_how(None if math.isnan(code) else int(code))
    if state == WAITING:
        seconds = max(0, math.ceil(next_start - time.time()))
        reason = f"the index updater stopped at {when} ({how}); starting it again in {seconds} s"
        return {"status": "restarting", "reason": reason, "restarts": int(restarts)}
    if state == FINISHED:
        return {"status": "finished", "since": when, "exit": how}
    return {"status": "not run"}
