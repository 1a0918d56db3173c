"""The embedded run launcher: run workers forked from a warm process, with a health check.

Launching: a run of this interpreter's code is executed by a worker forked from the fork server
(orchestration/platform/run_workers.py), which has the libraries imported, so the run's first step does not
wait for a fresh interpreter's imports. A run of code in another Python environment (a workspace entry
with its own `executable_path`) is launched as Dagster's DefaultRunLauncher does, through its code server.

Health: Dagster's run monitoring fails a STARTED run whose worker is gone, but only when the run
launcher can say whether the worker lives; the DefaultRunLauncher cannot (only the
Kubernetes, ECS and Docker launchers can), so a run whose worker was killed (`kill -9`,
out of memory, a reboot) would stay STARTED forever and its video `transcribing`.
This launcher answers from the pid the worker logs when it starts ("Started process for
run (pid: N)"): the run monitoring daemon then fails the run (every
`run_monitoring.poll_interval_seconds`), and run retries launch it again.

Private: the run launcher interface beyond the public `DefaultRunLauncher` (`LaunchRunContext`,
`CheckRunHealthResult`, `WorkerStatus`), the arguments of `dagster api execute_run` (`ExecuteRunArgs`) and
the tag that marks a run started by a code server (`GRPC_INFO_TAG`).

Public replacement: `DefaultRunLauncher` (no health check: a killed worker's run stays STARTED; run
monitoring's `max_runtime_seconds` tag bounds it) or a container launcher (`dagster-k8s`, `dagster-docker`),
which checks its workers' health. Slow run starts are dagster-io/dagster#26194.
"""

from __future__ import annotations

import os
import signal
import sys

import dagster as dg
import psutil
from dagster import DagsterEventType, DagsterRun, DefaultRunLauncher, serialize_value
from dagster._core.launcher import CheckRunHealthResult, LaunchRunContext, WorkerStatus
from dagster._core.storage.tags import GRPC_INFO_TAG
from dagster._grpc.types import ExecuteRunArgs

from orchestration.platform.run_workers import fork_server

STARTED_MESSAGE = "Started process for run"
# A pid is reused only after its process died; a process created this long after the worker
# logged its start is another one.
PID_REUSE_SLACK_SECONDS = 5.0


class LocalRunLauncher(DefaultRunLauncher):
    def launch_run(self, context: LaunchRunContext) -> None:
        run = context.dagster_run
        origin = run.job_code_origin
        if origin is None or not _this_interpreter(origin.repository_origin.executable_path):
            super().launch_run(context)
            return
        fork_server.fork_worker(
            serialize_value(
                ExecuteRunArgs(
                    job_origin=origin, run_id=run.run_id, instance_ref=self._instance.get_ref(), set_exit_code_on_failure=True
                )
            )
        )

    def terminate(self, run_id: str) -> bool:
        """Interrupt a forked worker with SIGTERM, as the container launchers stop theirs (a worker started by a
        code server is asked through it)."""
        run = self._instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            return False
        if GRPC_INFO_TAG in run.tags:
            return super().terminate(run_id)
        self._instance.report_run_canceling(run)
        started = worker_start(self._instance, run_id)
        if started is None or not worker_alive(*started):
            self._instance.report_engine_event(
                "The run worker could not be found to terminate it (it has not logged its pid yet, or it has exited).",
                run,
                cls=self.__class__,
            )
            return False
        os.kill(started[0], signal.SIGTERM)
        return True

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
        return CheckRunHealthResult(
            WorkerStatus.FAILED,
            f"The run worker process (pid {pid}) died without finishing the run (killed or out of memory).",
            run_worker_id=str(pid),
        )


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


def _this_interpreter(executable: str | None) -> bool:
    return executable is None or os.path.realpath(executable) == os.path.realpath(sys.executable)
