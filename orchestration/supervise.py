"""`videoai dagster` and `videoai daemon` stop within STOP_SECONDS of Ctrl-C or SIGTERM, always.

Each runs Dagster (`dg dev`, or the daemon) as a child in a session of its own, and waits. On SIGINT,
SIGTERM or SIGHUP it asks the child to stop (SIGINT: what Ctrl-C would have sent it), gives Dagster's
own shutdown GRACE_SECONDS, then kills every process still left: the run workers (forked by the run
launcher's fork server, they would go on with their runs for minutes), their ffmpeg, code servers,
and whatever the child's shutdown was still waiting for. `dg dev` alone took 17 s to stop while idle
on the loaded 2-core machine, and once, after backfills, over 90 s.

Runs in flight are not lost: a run whose worker was killed is marked failed right away, with the
reason, and Dagster's run retries launch it again when the daemon next starts (a run being canceled is
marked canceled). The supervisor is the child subreaper of everything under it (Linux), so a process
whose parent exited first is still found; the child dies with the supervisor (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psutil

log = logging.getLogger(__name__)

STOP_SECONDS = 10.0
GRACE_SECONDS = 3.0
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


def _prctl(option: int, value: int) -> None:
    with contextlib.suppress(OSError, AttributeError):  # not Linux: the group and the snapshot still find them
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


def _die_with_parent() -> None:
    _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def run_supervised(command: Sequence[str], what: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> int:
    """Run `command` until it exits or this process is asked to stop; then stop it and everything it
    started within STOP_SECONDS, and mark the runs that were in flight. Returns the exit code."""
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    # Marking runs must not wait for Dagster's imports or the instance's storage: both are ready beforehand.
    instance = _InstanceOpener()
    received: list[int] = []
    for signo in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signo, lambda signo, _frame: received.append(signo))
    child = subprocess.Popen(list(command), env=env, cwd=cwd, start_new_session=True, preexec_fn=_die_with_parent)
    while not received and child.poll() is None:
        time.sleep(0.1)
        _reap_orphans(child.pid)
    asked = time.monotonic()
    if received:
        log.info("%s: %s received, stopping", what, signal.Signals(received[0]).name)
        instance.open()
        family = _descendants()
        _signal(child.pid, signal.SIGINT)
        try:
            child.wait(timeout=GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop within %.0f s: killing it", what, GRACE_SECONDS)
        family = _descendants() | family
    else:
        family = _descendants()
    killing = time.monotonic()
    killed = _kill_all(child, family)
    marking = time.monotonic()
    marked = mark_interrupted_runs(instance.get(), f"`{what}` was stopped while this run was in progress")
    log.info(
        "%s stopped in %.1f s (Dagster's own shutdown %.1f s, %d leftover process(es) killed in %.1f s, "
        "%d run(s) in flight marked in %.1f s)",
        what,
        time.monotonic() - asked,
        killing - asked,
        killed,
        marking - killing,
        marked,
        time.monotonic() - marking,
    )
    return child.returncode if not received else 0


def exit_now(code: int) -> None:
    """Exit without the interpreter's teardown of Dagster's modules and threads (seconds on a loaded machine):
    after `run_supervised` nothing is left to clean up."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code)


class _InstanceOpener:
    """The Dagster instance (DAGSTER_HOME), imported at once and opened in the background when asked."""

    def __init__(self) -> None:
        self._instance: Any = None
        self._ready = threading.Event()
        threading.Thread(target=self._import, daemon=True).start()

    @staticmethod
    def _import() -> None:
        import dagster  # noqa: F401

    def open(self) -> None:
        threading.Thread(target=self._open, daemon=True).start()

    def _open(self) -> None:
        try:
            import dagster as dg

            if os.environ.get("DAGSTER_HOME"):
                self._instance = dg.DagsterInstance.get()
        except Exception:
            log.warning("could not open the Dagster instance to mark the runs in flight", exc_info=True)
        finally:
            self._ready.set()

    def get(self) -> Any:
        if not self._ready.is_set():
            self._open()
        return self._instance


def _descendants() -> set[psutil.Process]:
    try:
        return set(psutil.Process().children(recursive=True))
    except psutil.Error:
        return set()


def _signal(pid: int, signo: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signo)


def _kill_all(child: subprocess.Popen, family: set[psutil.Process]) -> int:
    """SIGKILL the child's process group and every process found under this one; reap them all."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGKILL)
    killed = 0
    for process in family:
        if _alive(process):
            with contextlib.suppress(psutil.Error):
                process.kill()
                killed += 1
    child.wait()
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:  # SIGKILL is not refused: this is the kernel tearing them down
        _reap_orphans(child.pid)
        if not any(_alive(p) for p in family):
            break
        time.sleep(0.05)
    return killed


def _alive(process: psutil.Process) -> bool:
    """Running, and not a zombie (which is gone but for its exit status, reaped by its parent or by us)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _reap_orphans(child_pid: int) -> None:
    """Collect the exit status of orphans this subreaper inherited (never the child's: Popen waits for it)."""
    for process in psutil.Process().children():
        try:
            if process.pid != child_pid and process.status() == psutil.STATUS_ZOMBIE:
                os.waitpid(process.pid, os.WNOHANG)
        except (psutil.Error, ChildProcessError):
            pass


def mark_interrupted_runs(instance: Any, reason: str) -> int:
    """Mark failed every run of `instance` whose worker the embedded run launcher started and that is gone
    (canceled, for a run being canceled); Dagster's run retries launch the failed ones again. Returns how many."""
    import dagster as dg

    from orchestration.platform.launcher import LocalRunLauncher, worker_alive, worker_start

    if instance is None or not isinstance(instance.run_launcher, LocalRunLauncher):
        return 0  # workers elsewhere (a code server, Kubernetes): run monitoring answers for them
    marked = 0
    for run in instance.get_runs(
        dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING])
    ):
        started = worker_start(instance, run.run_id)
        if started is not None and worker_alive(*started):
            continue
        if run.status == dg.DagsterRunStatus.CANCELING:
            instance.report_run_canceled(run, message=f"{reason}; it was being canceled.")
        else:
            instance.report_run_failed(
                run, message=f"{reason}: its worker was stopped. Run retries launch it again when the daemon starts."
            )
        marked += 1
    return marked
