"""Issue 13, defect 3: a run whose worker was killed is failed (then retried), not left STARTED forever."""

from __future__ import annotations

import subprocess
import uuid

import dagster as dg
import yaml
from dagster._core.events import EngineEventData
from dagster._core.storage.dagster_run import DagsterRun

from orchestration.instance import EMBEDDED_DAGSTER_YAML
from sensors.dead_runs import dead_run_sensor, fail_dead_runs, process_alive, worker_pid


def _started_run(instance: dg.DagsterInstance, pid: int) -> DagsterRun:
    run = instance.add_run(DagsterRun(job_name="video_pipeline", run_id=str(uuid.uuid4()),
                                      status=dg.DagsterRunStatus.STARTED))
    instance.report_engine_event(f"Started process for run (pid: {pid}).", run, EngineEventData.in_process(pid))
    return run


def test_a_started_run_whose_worker_was_killed_is_failed_and_a_live_one_is_left_alone() -> None:
    killed = subprocess.Popen(["sleep", "60"])
    alive = subprocess.Popen(["sleep", "60"])
    try:
        killed.kill()  # SIGKILL: the worker gets no chance to report anything
        killed.wait(timeout=10)
        with dg.instance_for_test() as instance:
            dead_run, live_run = _started_run(instance, killed.pid), _started_run(instance, alive.pid)
            assert worker_pid(instance, dead_run.run_id) == killed.pid
            assert not process_alive(killed.pid) and process_alive(alive.pid)

            result = dead_run_sensor(dg.build_sensor_context(instance=instance))
            assert isinstance(result, dg.SkipReason)
            assert instance.get_run_by_id(dead_run.run_id).status == dg.DagsterRunStatus.FAILURE
            assert instance.get_run_by_id(live_run.run_id).status == dg.DagsterRunStatus.STARTED
            assert fail_dead_runs(instance) == []  # once failed, it is not reported again
    finally:
        alive.kill()
        alive.wait(timeout=10)


def test_a_zombie_worker_counts_as_dead() -> None:
    child = subprocess.Popen(["true"])
    try:
        import time

        deadline = time.monotonic() + 10
        while process_alive(child.pid) and time.monotonic() < deadline:  # exited, not yet reaped: a zombie
            time.sleep(0.05)
        assert not process_alive(child.pid)
    finally:
        child.wait(timeout=10)


def test_the_embedded_instance_retries_crashed_runs_with_a_limit() -> None:
    config = yaml.safe_load(EMBEDDED_DAGSTER_YAML)
    assert config["run_monitoring"]["enabled"] is True
    assert config["run_retries"] == {"enabled": True, "max_retries": 2, "retry_on_asset_or_op_failure": False}
    with dg.instance_for_test(overrides={k: config[k] for k in ("run_monitoring", "run_retries")}) as instance:
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
        assert instance.run_monitoring_enabled
