"""Clean shutdown (issue 19), with real processes: `videoai daemon` and `videoai dagster` are gone, every process
they started with them, within 10 s of SIGTERM or Ctrl-C (SIGINT to the terminal's process group), also with a
run in flight and after a backfill; the run in flight is marked failed with the reason and retried when the
daemon starts again (not left STARTED, not lost)."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import dagster as dg
import httpx
import psutil
import pytest
from dagster._core.storage.tags import RETRY_NUMBER_TAG

from benchmarks.support import API, api_server
from orchestration.definitions import build_definitions
from orchestration.instance import ensure_dagster_home
from orchestration.platform.launcher import worker_start
from orchestration.processes import free_port, wait_until_answers
from orchestration.reprocess import StaleAsset, launch_backfill
from pipeline import samples
from pipeline.db.session import engine_for, migrate
from pipeline.settings import Settings
from pipeline.storage import object_store_from_settings
from pipeline.uploads import UploadRules, ingest_file
from tests.e2e.support import sign_up_and_in, start_videoai, wait_for

pytestmark = pytest.mark.e2e

STOP_SECONDS = 10.0


def _stop_and_time(process: subprocess.Popen, how: str) -> tuple[float, list[str]]:
    """Signal as a person would (Ctrl-C: SIGINT to the terminal's process group; or SIGTERM to the command), and
    how long until it and every process under it at that moment are gone; the ones left after STOP_SECONDS + 20."""
    family = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
    assert len(family) > 3, [p.cmdline() for p in family]  # the daemon, the fork server, the run worker, ffmpeg...
    began = time.monotonic()
    if how == "ctrl-c":
        os.killpg(process.pid, signal.SIGINT)
    else:
        process.send_signal(signal.SIGTERM)
    process.wait(timeout=STOP_SECONDS + 20)
    left = family
    while left and time.monotonic() - began < STOP_SECONDS + 20:
        left = [p for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        time.sleep(0.05)
    elapsed = time.monotonic() - began
    names = [" ".join(p.cmdline()[:4]) for p in left]
    for straggler in left:
        straggler.kill()
    return elapsed, names


@pytest.fixture
def platform(make_settings, tmp_path):
    settings: Settings = make_settings()
    home = ensure_dagster_home(settings)
    env = {**os.environ, "VIDEOAI_HOME": str(settings.videoai_home), "DAGSTER_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    return settings, env


def test_the_daemon_stops_within_10_s_with_a_run_in_flight_which_is_marked_and_retried(platform, tmp_path):
    _settings, env = platform
    clip = samples.make_test_video(tmp_path / "long.mp4", 1920, 1080, 8.0)
    logs = [tmp_path / "daemon.log", tmp_path / "api.log"]
    with (
        api_server(env, free_port(), logs[1]) as api,
        httpx.Client(base_url=api.base + API, timeout=60) as client,
        dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance,
    ):
        sign_up_and_in(client, "stopper@example.com", "Stop Per")
        daemon = start_videoai(["daemon"], env, logs[0])
        try:
            with open(clip, "rb") as video_file:
                video_id = (
                    client.post(
                        "/videos/upload",
                        files={"file": ("long.mp4", video_file, "video/mp4")},
                        data={"title": "in flight at shutdown"},
                    )
                    .raise_for_status()
                    .json()["id"]
                )
            run = wait_for(
                "the run",
                lambda: next(iter(instance.get_runs(dg.RunsFilter(tags={"dagster/partition": str(video_id)}))), None),
                logs,
            )
            pid, _ = wait_for("the run worker", lambda: worker_start(instance, run.run_id), logs)
            wait_for(
                "ffmpeg", lambda: [p for p in psutil.Process(pid).children(recursive=True) if p.name() == "ffmpeg"] or None, logs
            )
            elapsed, left = _stop_and_time(daemon, "sigterm")
        finally:
            if daemon.poll() is None:
                daemon.kill()
        assert not left, left
        assert elapsed <= STOP_SECONDS, f"stopped in {elapsed:.1f} s"
        print(f"videoai daemon with a run in flight: every process gone {elapsed:.1f} s after SIGTERM")

        stopped = instance.get_run_by_id(run.run_id)
        assert stopped.status == dg.DagsterRunStatus.FAILURE  # marked at once, not left STARTED
        failure = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)[-1]
        assert "was stopped while this run was in progress" in (failure.message or ""), failure.message

        daemon = start_videoai(["daemon"], env, logs[0])  # the daemon again: the run is retried, the video gets ready
        try:
            wait_for(
                "the video to be ready after the restart",
                lambda: True if client.get(f"/videos/{video_id}").json()["status"] == "ready" else None,
                logs,
                240,
            )
            retries = [
                r
                for r in instance.get_runs(dg.RunsFilter(tags={"dagster/partition": str(video_id)}))
                if r.parent_run_id == run.run_id
            ]
            assert [r.tags.get(RETRY_NUMBER_TAG) for r in retries] == ["1"]
            elapsed, left = _stop_and_time(daemon, "ctrl-c")
            assert not left and elapsed <= STOP_SECONDS, (elapsed, left)
        finally:
            if daemon.poll() is None:
                daemon.kill()


def test_videoai_dagster_stops_within_10_s_after_a_backfill(platform, tmp_path, small_video_path):
    settings, env = platform
    port = free_port()
    logs = [tmp_path / "dagster.log"]
    migrate(settings.database.url)
    videos = [
        ingest_file(
            engine_for(settings.database.url),
            object_store_from_settings(settings.storage),
            small_video_path,
            UploadRules.from_settings(settings),
            title="backfilled",
        ).id
    ]  # one video is enough: what matters is that backfills ran, and one is in flight
    dagster = start_videoai(["dagster", "--port", str(port)], env, logs[0])
    try:
        wait_until_answers(
            f"http://127.0.0.1:{port}/server_info",
            dagster,
            "videoai dagster",
            logs[0],
            timeout=240,
            answered=lambda status: status == 200,
        )
        with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:

            def all_done() -> bool | None:
                runs = instance.get_runs(dg.RunsFilter(tags={"videoai/trigger": "object-store"}))
                return True if len(runs) == len(videos) and all(r.is_finished for r in runs) else None

            wait_for("the uploads' runs", all_done, logs, 300)
            graph = build_definitions(settings).resolve_asset_graph()
            first = launch_backfill(instance, graph, [StaleAsset(str(v), "transcript", ("test",)) for v in videos])
            wait_for(
                "the first backfill to end",
                lambda: True if instance.get_backfill(first).status.value.startswith("COMPLETED") else None,
                logs,
                300,
            )
            second = launch_backfill(
                instance,
                graph,
                [StaleAsset(str(v), a, ("test",)) for v in videos for a in ("transcript", "chunk_summaries", "video_summary")],
            )
            wait_for(
                "a run of the second backfill",
                lambda: next(
                    iter(
                        instance.get_runs(
                            dg.RunsFilter(tags={"dagster/backfill": second}, statuses=[dg.DagsterRunStatus.STARTED])
                        )
                    ),
                    None,
                ),
                logs,
            )
        elapsed, left = _stop_and_time(dagster, "ctrl-c")
    finally:
        if dagster.poll() is None:
            dagster.kill()
    assert not left, left
    assert elapsed <= STOP_SECONDS, f"stopped in {elapsed:.1f} s"
    print(f"videoai dagster after a backfill, another in flight: every process gone {elapsed:.1f} s after Ctrl-C")
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        in_flight = instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING]))
        assert in_flight == []  # marked, not left running forever
