"""Dead run workers: a run whose process was killed is failed, so the daemon retries it.

Dagster's run monitoring asks the run launcher whether a run's worker is alive, but
the embedded setup's DefaultRunLauncher cannot answer (only the Kubernetes, ECS and
Docker launchers can), so a run whose worker died (`kill -9`, OOM, a reboot) stayed
STARTED forever and its video `transcribing` (issue 13). This sensor is that health
check for local run workers: the worker logs its pid when it starts ("Started process
for run (pid: N)"); a STARTED run whose pid no longer runs is reported failed. Run
retries (orchestration/instance.py: `run_retries`, crash failures only, with a limit)
then launch it again.

Not where the run launcher can check its workers itself (Kubernetes, ECS, Docker):
Dagster's own run monitoring covers those.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

MAX_RUNS_PER_TICK = 200


def worker_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    """The pid the run's worker logged when it started (its latest start, after a resume)."""
    events = instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)
    for record in reversed(events):
        data = record.dagster_event.engine_event_data if record.dagster_event else None
        pid = data.metadata.get("pid") if data is not None else None
        if pid is not None and "Started process for run" in (record.message or ""):
            text = str(getattr(pid, "value", pid))
            return int(text) if text.isdigit() else None
    return None


def process_alive(pid: int) -> bool:
    """Whether `pid` runs; a zombie (killed, not yet reaped by its parent) counts as dead."""
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():
        try:
            return stat.read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
        except (OSError, IndexError):
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fail_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Report every STARTED run whose worker process is gone as failed; returns their ids."""
    if instance.run_launcher.supports_check_run_worker_health:
        return []
    failed = []
    records = instance.get_run_records(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]),
                                       limit=MAX_RUNS_PER_TICK)
    for record in records:
        run = record.dagster_run
        pid = worker_pid(instance, run.run_id)
        if pid is None or process_alive(pid):
            continue
        current = instance.get_run_by_id(run.run_id)
        if current is None or current.status != dg.DagsterRunStatus.STARTED:  # it ended meanwhile
            continue
        instance.report_run_failed(current, f"The run worker process (pid {pid}) died without finishing the run "
                                            "(killed or out of memory); the run is retried if retries remain.")
        failed.append(run.run_id)
    return failed


@dg.sensor(name="dead_run_sensor", minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Fails runs whose local worker process died, so that run retries start them again.")
def dead_run_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    failed = fail_dead_runs(context.instance)
    if failed:
        context.log.warning("failed %d run(s) whose worker died: %s", len(failed), ", ".join(failed))
    return dg.SkipReason(f"{len(failed)} dead run(s) failed" if failed else "every started run's worker is alive")
