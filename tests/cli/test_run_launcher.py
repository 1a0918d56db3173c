"""The embedded run launcher forks each run worker from a warm fork server (orchestration/platform/run_workers.py)
instead of spawning a fresh interpreter that imports everything again (issue 12: 3.5 s of a 23 s upload → ready).

Real runs on a real SQLite instance: a one-op job in a file of the test's own, launched with
`instance.launch_run` as the run queue daemon does."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psutil
import pytest
import yaml
from dagster._core.definitions.reconstruct import ReconstructableJob

from orchestration.instance import EMBEDDED_DAGSTER_YAML
from orchestration.platform.launcher import LocalRunLauncher, worker_start
from orchestration.platform.run_workers import PRELOADED, fork_server

JOB_FILE = """\
import json, os, time
import dagster as dg

VERSION = {version}


@dg.op(config_schema={{"out": str, "seconds": float}})
def record(context):
    deadline = time.monotonic() + context.op_config["seconds"]
    while time.monotonic() < deadline:  # a long step, for the termination test
        time.sleep(0.05)
    with open(context.op_config["out"], "w") as out:
        json.dump({{"pid": os.getpid(), "ppid": os.getppid(), "version": VERSION}}, out)


@dg.job(executor_def=dg.in_process_executor)  # the step runs in the run worker itself
def recorder():
    record()
"""

FINISHED = (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    launcher = yaml.safe_load(EMBEDDED_DAGSTER_YAML)["run_launcher"]
    try:
        with dg.instance_for_test(overrides={"run_launcher": launcher}) as test_instance:
            assert isinstance(test_instance.run_launcher, LocalRunLauncher)
            yield test_instance
    finally:
        fork_server.stop()


def _status(pid: int) -> str | None:
    """The process's status, or None once it is gone (also when it goes while asked)."""
    try:
        return psutil.Process(pid).status()
    except psutil.NoSuchProcess:
        return None


def _write_job(path: Path, version: int) -> ReconstructableJob:
    path.write_text(JOB_FILE.format(version=version))
    return ReconstructableJob.for_file(str(path), "recorder")


def _launch(instance: dg.DagsterInstance, job: ReconstructableJob, out: Path, seconds: float = 0.0) -> str:
    run = instance.create_run_for_job(
        job_def=job.get_definition(),
        job_code_origin=job.get_python_origin(),
        run_config={"ops": {"record": {"config": {"out": str(out), "seconds": seconds}}}},
    )
    instance.launch_run(run.run_id, workspace=None)  # type: ignore[arg-type]  # the forked path needs none
    return run.run_id


def _wait_finished(instance: dg.DagsterInstance, run_id: str, timeout: float = 120) -> dg.DagsterRun:
    deadline = time.monotonic() + timeout
    while (run := instance.get_run_by_id(run_id)) is not None and run.status not in FINISHED:
        assert time.monotonic() < deadline, f"run {run_id} still {run.status} after {timeout} s"
        time.sleep(0.1)
    assert run is not None
    return run


def test_a_run_executes_in_a_forked_worker_and_a_code_change_reaches_the_next_run(instance, tmp_path: Path) -> None:
    job_file = tmp_path / "recorder_job.py"
    first = _launch(instance, _write_job(job_file, version=1), tmp_path / "first.json")
    assert _wait_finished(instance, first).status == dg.DagsterRunStatus.SUCCESS
    recorded = json.loads((tmp_path / "first.json").read_text())
    server = fork_server.pid
    assert server is not None and recorded["ppid"] == server  # forked by the fork server, not spawned
    assert recorded["pid"] not in (os.getpid(), server)
    assert worker_start(instance, first) is not None  # the pid the health check reads was logged
    assert worker_start(instance, first)[0] == recorded["pid"]

    # The fork server holds no project code: the next run imports the file as it is now.
    second = _launch(instance, _write_job(job_file, version=2), tmp_path / "second.json")
    assert _wait_finished(instance, second).status == dg.DagsterRunStatus.SUCCESS
    recorded = json.loads((tmp_path / "second.json").read_text())
    assert recorded["version"] == 2
    assert recorded["ppid"] == server  # the same fork server
    assert _status(recorded["pid"]) != psutil.STATUS_ZOMBIE


def test_terminating_a_run_interrupts_its_forked_worker(instance, tmp_path: Path) -> None:
    run_id = _launch(instance, _write_job(tmp_path / "recorder_job.py", version=1), tmp_path / "out.json", seconds=120)
    deadline = time.monotonic() + 60
    while (started := worker_start(instance, run_id)) is None or instance.get_run_by_id(
        run_id
    ).status != dg.DagsterRunStatus.STARTED:
        assert time.monotonic() < deadline, "the run did not start"
        time.sleep(0.1)
    assert instance.run_launcher.terminate(run_id) is True
    assert _wait_finished(instance, run_id, timeout=30).status == dg.DagsterRunStatus.CANCELED
    assert not (tmp_path / "out.json").exists()  # interrupted inside the step
    deadline = time.monotonic() + 10
    while _status(started[0]) not in (None, psutil.STATUS_ZOMBIE):
        assert time.monotonic() < deadline, "the worker did not exit"
        time.sleep(0.1)


def test_a_killed_fork_server_is_started_again_for_the_next_run(instance, tmp_path: Path) -> None:
    job = _write_job(tmp_path / "recorder_job.py", version=1)
    assert _wait_finished(instance, _launch(instance, job, tmp_path / "a.json")).status == dg.DagsterRunStatus.SUCCESS
    killed = fork_server.pid
    assert killed is not None
    os.kill(killed, signal.SIGKILL)
    psutil.Process(killed).wait(timeout=10)
    assert _wait_finished(instance, _launch(instance, job, tmp_path / "b.json")).status == dg.DagsterRunStatus.SUCCESS
    assert json.loads((tmp_path / "b.json").read_text())["ppid"] not in (None, killed)


def test_the_fork_server_preloads_every_library_the_code_location_imports() -> None:
    """After the fork server's imports, loading the code location imports no library package for the first time:
    a run worker only imports the project's own modules (which a code reload may change)."""
    script = textwrap.dedent(f"""
        import importlib, json, sys
        for name in {list(PRELOADED)!r}:
            importlib.import_module(name)
        before = {{name.split(".")[0] for name in sys.modules}}
        import orchestration.definitions
        print(json.dumps(sorted({{name.split(".")[0] for name in sys.modules}} - before)))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    first_imported = set(json.loads(result.stdout.splitlines()[-1]))
    project = {"orchestration", "pipeline", "assets", "resources", "sensors"}
    assert not first_imported - project, first_imported - project
