"""The embedded run launcher: Dagster's DefaultRunLauncher, with a health check of its run workers.

Dagster's run monitoring fails a STARTED run whose worker is gone, but only when the run
launcher can say whether the worker lives; the DefaultRunLauncher cannot (only the
Kubernetes, ECS and Docker launchers can), so a run whose worker was killed (`kill -9`,
out of memory, a reboot) stayed STARTED forever and its video `transcribing` (issue 13).
This launcher answers from the pid the worker logs when it starts ("Started process for
run (pid: N)"): the run monitoring daemon then fails the run (every
`run_monitoring.poll_interval_seconds`), and run retries launch it again.
"""

from __future__ import annotations

import dagster as dg
import psutil
from dagster._core.events import DagsterEventType
from dagster._core.launcher import CheckRunHealthResult, DefaultRunLauncher, WorkerStatus
from dagster._core.storage.dagster_run import DagsterRun

STARTED_MESSAGE = "Started process for run"
# A pid is reused only after its process died; a process created this long after the worker
# logged its start is another one.
PID_REUSE_SLACK_SECONDS = 5.0


class LocalRunLauncher(DefaultRunLauncher):
    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        started = worker_start(self._instance, run.run_id)
        if started is None:  # the worker has not logged its pid yet: nothing says it is gone
            return CheckRunHealthResult(WorkerStatus.RUNNING, "no worker pid logged yet")
        pid, logged_at = started
        if worker_alive(pid, logged_at):
            return CheckRunHealthResult(WorkerStatus.RUNNING, run_worker_id=str(pid))
        return CheckRunHealthResult(WorkerStatus.FAILED, f"The run worker process (pid {pid}) died without finishing "
                                                         "the run (killed or out of memory).", run_worker_id=str(pid))


def worker_start(instance: dg.DagsterInstance, run_id: str) -> tuple[int, float] | None:
    """The pid the run's worker logged when it started (its latest start), and when it logged it."""
    for record in reversed(instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT)):
        data = record.dagster_event.engine_event_data if record.dagster_event else None
        pid = data.metadata.get("pid") if data is not None else None
        if pid is not None and STARTED_MESSAGE in (record.message or ""):
            text = str(getattr(pid, "value", pid))
            return (int(text), record.timestamp) if text.isdigit() else None
    return None


def worker_alive(pid: int, logged_at: float) -> bool:
    """Whether the worker `pid` that logged its start at `logged_at` still runs; a zombie (killed,
    not yet reaped by its parent) or a later process under the same pid counts as dead."""
    try:
        process = psutil.Process(pid)
        return process.status() != psutil.STATUS_ZOMBIE and process.create_time() <= logged_at + PID_REUSE_SLACK_SECONDS
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:  # another user's process: it runs
        return True
