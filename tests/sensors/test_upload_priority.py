"""New uploads first: with a backfill of many videos queued, a new upload's run leaves the queue first.

Dagster's own daemons decide: the backfill daemon queues the backfill's runs, the sensor
daemon ticks the real upload sensor, and the queued run coordinator daemon dequeues under
the embedded instance's dagster.yaml (the file `videoai dagster` writes). The run launcher
only records launches, so "started" is the order the queue released runs in.
"""

from __future__ import annotations

import itertools
import logging
import time

import dagster as dg
import pytest
import yaml
from dagster._core.storage.dagster_run import DagsterRunStatus
from dagster._core.test_utils import freeze_time
from dagster._daemon.sensor import execute_sensor_iteration

from orchestration.definitions import build_definitions
from orchestration.instance import EMBEDDED_DAGSTER_YAML
from orchestration.reprocess import StaleAsset, launch_backfill
from tests.fixtures.daemon import backfill_daemon_iteration, daemon_workspace, run_queue_iteration
from tests.fixtures.pipeline import platform_from_environment

RECORDING_LAUNCHER = {"module": "dagster._core.test_utils", "class": "MockedRunLauncher"}
BACKLOG = 12


@pytest.fixture
def platform(tmp_path, monkeypatch):
    config = {**yaml.safe_load(EMBEDDED_DAGSTER_YAML), "run_launcher": RECORDING_LAUNCHER}
    with platform_from_environment(tmp_path, monkeypatch, config) as platform:
        yield platform


_TICKS = itertools.count(1)


def _sensor_tick(workspace) -> None:
    # Each tick a minute after the last, past the sensor's minimum interval, without waiting for it.
    with freeze_time(time.time() + 60 * next(_TICKS)):
        list(execute_sensor_iteration(workspace, logging.getLogger("tests.sensor"), None, None))


def _finish(instance: dg.DagsterInstance, run_id: str) -> None:
    instance.report_run_canceled(instance.get_run_by_id(run_id))  # a finished run frees its slot


def test_new_uploads_leave_the_queue_before_a_queued_backfill(platform, small_video_path):
    instance = platform.instance
    # Videos of the archive (a partition whose video is gone would be removed, its runs cancelled).
    backlog = [str(platform.register(small_video_path, title=f"archived {i}")) for i in range(BACKLOG)]
    instance.add_dynamic_partitions("videos", backlog)
    graph = build_definitions(platform.settings).resolve_asset_graph()
    launch_backfill(instance, graph, [StaleAsset(p, "transcript", ("test",)) for p in backlog])
    launched = instance.run_launcher.queue  # the runs the queue released, in order

    def tag_of(run) -> str:
        return "upload" if run.tags.get("videoai/trigger") else "backfill"

    with daemon_workspace(instance) as workspace:
        backfill_daemon_iteration(workspace)
        queued = instance.get_runs(filters=dg.RunsFilter(statuses=[DagsterRunStatus.QUEUED]))
        assert len(queued) == BACKLOG  # the whole backfill waits in the queue
        # Each backfill run has its video's title from the moment it is queued (the backfill's tags are shared).
        titles = {r.tags["dagster/partition"]: r.tags.get("videoai/title") for r in queued}
        assert titles == {key: f"archived {i}" for i, key in enumerate(backlog)}

        first = platform.register(small_video_path, title="fresh upload A")
        _sensor_tick(workspace)
        run_queue_iteration(workspace)
        # Two slots: the upload takes one; backfills may hold only one of them.
        assert sorted(tag_of(r) for r in launched()) == ["backfill", "upload"], [r.tags for r in launched()]
        assert next(r for r in launched() if tag_of(r) == "upload").tags["dagster/partition"] == str(first)

        # Another upload arrives while both slots are busy; then the backfill's run finishes.
        second = platform.register(small_video_path, title="fresh upload B")
        _sensor_tick(workspace)
        _finish(instance, next(r.run_id for r in launched() if tag_of(r) == "backfill"))
        run_queue_iteration(workspace)
        # The freed slot goes to the newer upload, not to the backfill's older queued runs.
        assert [tag_of(r) for r in launched()][2:] == ["upload"]
        assert launched()[2].tags["dagster/partition"] == str(second)

        # With the uploads done, the backfill goes on, one run at a time.
        for run in launched():
            _finish(instance, run.run_id)
        run_queue_iteration(workspace)
        assert [tag_of(r) for r in launched()][3:] == ["backfill"]
    assert len(instance.get_runs(filters=dg.RunsFilter(statuses=[DagsterRunStatus.QUEUED]))) == BACKLOG - 2
