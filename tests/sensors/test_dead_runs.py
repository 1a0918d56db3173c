"""Issue 13, defect 3: a run whose worker was killed is failed by run monitoring (then retried), not left
STARTED forever. The end-to-end version, with a real daemon and `kill -9`, is tests/e2e/test_killed_run.py."""

from __future__ import annotations

import logging
import subprocess
import time
import uuid

import dagster as dg
import yaml
from dagster._core.events import EngineEventData
from dagster._core.launcher import WorkerStatus
from dagster._core.storage.dagster_run import DagsterRun
from dagster._core.storage.tags import WILL_RETRY_TAG
from dagster._daemon.monitoring.run_monitoring import monitor_started_run

from orchestration.instance import EMBEDDED_DAGSTER_YAML
from orchestration.platform.launcher import LocalRunLauncher, worker_alive, worker_start


def _embedded_instance():
    config = yaml.safe_load(EMBEDDED_DAGSTER_YAML)
    return dg.instance_for_test(overrides={k: config[k] for k in ("run_launcher", "run_monitoring", "run_retries")})


def _started_run(instance: dg.DagsterInstance, pid: int) -> DagsterRun:
    run = instance.add_run(DagsterRun(job_name="video_pipeline", run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.STARTED))
    instance.report_engine_event(f"Started process for run (pid: {pid}).", run, EngineEventData.in_process(pid))
    return run


def test_run_monitoring_fails_a_run_whose_worker_was_killed_and_leaves_a_live_one_alone() -> None:
    killed = subprocess.Popen(["sleep", "60"])
    alive = subprocess.Popen(["sleep", "60"])
    try:
        killed.kill()  # SIGKILL: the worker gets no chance to report anything
        killed.wait(timeout=10)
        with _embedded_instance() as instance:
            assert isinstance(instance.run_launcher, LocalRunLauncher)
            dead_run, live_run = _started_run(instance, killed.pid), _started_run(instance, alive.pid)
            assert worker_start(instance, dead_run.run_id)[0] == killed.pid

            for record in instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
                monitor_started_run(instance, None, record, logging.getLogger(__name__))  # type: ignore[arg-type]

            failed = instance.get_run_by_id(dead_run.run_id)
            assert failed.status == dg.DagsterRunStatus.FAILURE
            assert failed.tags[WILL_RETRY_TAG] == "true"  # run retries launch it again
            assert instance.get_run_by_id(live_run.run_id).status == dg.DagsterRunStatus.STARTED
    finally:
        alive.kill()
        alive.wait(timeout=10)


def test_a_run_whose_worker_has_not_logged_its_pid_is_not_failed() -> None:
    with _embedded_instance() as instance:
        run = instance.add_run(
            DagsterRun(job_name="video_pipeline", run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.STARTED)
        )
        assert instance.run_launcher.check_run_worker_health(run).status == WorkerStatus.RUNNING


def test_a_zombie_or_a_reused_pid_counts_as_dead() -> None:
    child = subprocess.Popen(["true"])
    try:
        deadline = time.monotonic() + 10
        while worker_alive(child.pid, time.time()) and time.monotonic() < deadline:  # exited, not reaped: a zombie
            time.sleep(0.05)
        assert not worker_alive(child.pid, time.time())
    finally:
        child.wait(timeout=10)
    live = subprocess.Popen(["sleep", "60"])
    try:
        assert worker_alive(live.pid, time.time())
        assert not worker_alive(live.pid, time.time() - 3600)  # the worker that logged this pid an hour ago is gone
    finally:
        live.kill()
        live.wait(timeout=10)


def test_the_embedded_instance_retries_crashed_runs_with_a_limit() -> None:
    config = yaml.safe_load(EMBEDDED_DAGSTER_YAML)
    assert config["run_monitoring"]["enabled"] is True
    assert config["run_retries"] == {"enabled": True, "max_retries": 2, "retry_on_asset_or_op_failure": False}
    with _embedded_instance() as instance:
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
        assert instance.run_monitoring_enabled and instance.run_monitoring_max_resume_run_attempts == 0
