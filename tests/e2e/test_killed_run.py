"""Issue 13, defect 3, end to end: a run whose worker is killed with SIGKILL in the middle of a transcode is failed,
retried by run retries, and its video reaches `ready`; its temp work stayed under SCRATCH_DIR (the run used to
stay STARTED, the video `transcribing` forever, and its ladder in /tmp).

Two ways to die: only the run worker, or every Dagster process at once, then a restart. In both, the daemon's
run monitoring asks the run launcher (orchestration/platform/launcher.py) whether the worker lives, and fails the run."""

from __future__ import annotations

import os
import signal
import tempfile
from contextlib import ExitStack
from pathlib import Path

import dagster as dg
import httpx
import psutil
import pytest
import yaml
from dagster._core.storage.tags import RETRY_NUMBER_TAG

from benchmarks.support import API, api_server, dagster_daemon
from orchestration.instance import ensure_dagster_home
from orchestration.platform.launcher import worker_start
from orchestration.processes import free_port
from pipeline import samples
from tests.e2e.support import sign_up_and_in, wait_for

pytestmark = pytest.mark.e2e

LADDER_PREFIX = "videoai-ladder-"


@pytest.mark.parametrize("killed", ["the run worker", "every Dagster process"])
def test_a_run_killed_mid_transcode_is_failed_retried_and_its_video_reaches_ready(killed, make_settings, tmp_path):
    # Long enough that the kill lands inside the ladder encode (every rung from 1080p down) on an idle machine too,
    # short enough to redo.
    clip = samples.make_test_video(tmp_path / "clip.mp4", 1920, 1080, 8.0)
    settings = make_settings()
    home = ensure_dagster_home(settings)
    config = yaml.safe_load((home / "dagster.yaml").read_text())
    config["run_monitoring"]["poll_interval_seconds"] = 1  # 5 s in the shipped config
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "VIDEOAI_HOME": str(settings.videoai_home), "DAGSTER_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    scratch = settings.storage.scratch_dir
    assert scratch is not None
    system_tmp = Path(tempfile.gettempdir())
    ladders_in_tmp_before = set(system_tmp.glob(LADDER_PREFIX + "*"))
    logs = [tmp_path / "daemon.log", tmp_path / "api.log"]

    with (
        api_server(env, free_port(), logs[1]) as api,
        ExitStack() as daemons,
        dg.DagsterInstance.from_config(str(home)) as instance,
        httpx.Client(base_url=api.base + API, timeout=30) as client,
    ):
        daemon = daemons.enter_context(dagster_daemon(env, logs[0]))
        sign_up_and_in(client, "killer@example.com", "Kill Nine")
        with open(clip, "rb") as video_file:
            uploaded = client.post(
                "/videos/upload", files={"file": ("clip.mp4", video_file, "video/mp4")}, data={"title": "killed mid-transcode"}
            )
        video_id = uploaded.raise_for_status().json()["id"]

        def runs() -> list[dg.DagsterRun]:
            return instance.get_runs(dg.RunsFilter(tags={"dagster/partition": str(video_id)}), ascending=True)

        first = wait_for("the video's run", lambda: next(iter(runs()), None), logs)
        # Inside the transcode: ffmpeg is writing the ladder under SCRATCH_DIR.
        ladder = wait_for("the run's ladder encode", lambda: next(scratch.glob(LADDER_PREFIX + "*/*"), None), logs)
        assert instance.get_run_by_id(first.run_id).status == dg.DagsterRunStatus.STARTED
        pid, _ = wait_for("the worker's pid", lambda: worker_start(instance, first.run_id), logs)
        assert pid in {p.pid for p in psutil.Process(daemon.pid).children(recursive=True)}  # the daemon's run worker
        wait_for(
            "the worker's ffmpeg",
            lambda: [p for p in psutil.Process(pid).children(recursive=True) if p.name() == "ffmpeg"] or None,
            logs,
            every=0.05,
        )
        statuses = [client.get(f"/videos/{video_id}").raise_for_status().json()["status"]]
        if killed == "the run worker":
            os.kill(pid, signal.SIGKILL)
        else:
            for process in [psutil.Process(daemon.pid), *psutil.Process(daemon.pid).children(recursive=True)]:
                process.send_signal(signal.SIGKILL)
            daemon.wait(timeout=10)
            daemons.enter_context(dagster_daemon(env, logs[0]))  # the restart

        def video_ready() -> bool | None:
            status = client.get(f"/videos/{video_id}").raise_for_status().json()["status"]
            if status != statuses[-1]:
                statuses.append(status)
            return True if status == "ready" else None

        wait_for("the video to be ready after the retry", video_ready, logs, timeout=180)
        assert instance.get_run_by_id(first.run_id).status == dg.DagsterRunStatus.FAILURE
        # Run monitoring failed it, from the launcher's health check (in both cases: no code server watches the worker).
        failure = instance.all_logs(first.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)[-1]
        assert f"pid {pid}) died" in (failure.message or ""), failure.message
        retry = wait_for(
            "the retry run to succeed",
            lambda: next(
                (r for r in runs() if r.parent_run_id == first.run_id and r.status == dg.DagsterRunStatus.SUCCESS), None
            ),
            logs,
        )
        assert retry.tags.get(RETRY_NUMBER_TAG) == "1"  # launched by run retries, not by hand
        assert len(runs()) == 2
        step_starts = instance.all_logs(first.run_id, of_type=dg.DagsterEventType.STEP_SUCCESS)
        assert "video_variants" not in {e.step_key for e in step_starts}  # it was killed inside the transcode
        assert "failed" not in statuses, statuses  # no flash of `failed` while the retry was coming

    # The killed run's temp work is under SCRATCH_DIR (pruned there), none in the system temp dir.
    assert ladder.parent.parent == scratch
    assert set(system_tmp.glob(LADDER_PREFIX + "*")) == ladders_in_tmp_before
