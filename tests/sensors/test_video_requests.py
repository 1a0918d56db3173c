"""The pipeline's side of deletions and retries (orchestration/video_requests.py), tick by tick on a real instance:
a queued run of a deleted video leaves the queue and then its partition goes; a partition an open backfill
targets stays until the backfill ends (Dagster would fail the whole backfill); a partition whose video is
gone without any request is found; a retry becomes one titled run."""

from __future__ import annotations

import itertools
import logging
import time
import uuid
from collections.abc import Iterator

import dagster as dg
import pytest
import yaml
from dagster._core.execution.backfill import BulkActionStatus
from dagster._core.test_utils import freeze_time
from dagster._daemon.sensor import execute_sensor_iteration
from sqlalchemy import select

from orchestration.definitions import build_definitions, build_resources
from orchestration.instance import EMBEDDED_DAGSTER_YAML
from orchestration.reprocess import StaleAsset, launch_backfill
from orchestration.video_requests import REQUEST_TAG, video_requests_sensor
from pipeline.db.models import Video, VideoRequest, VideoStatus
from pipeline.db.session import engine_for, migrate, session_scope
from pipeline.db.videos import delete_video
from pipeline.lifecycle import request_retry
from pipeline.settings import Settings
from pipeline.storage import object_store_from_settings
from tests.fixtures.daemon import daemon_workspace
from tests.fixtures.pipeline import platform_from_environment

QUEUED_COORDINATOR = {"module": "dagster._core.run_coordinator", "class": "QueuedRunCoordinator"}
RECORDING_LAUNCHER = {"module": "dagster._core.test_utils", "class": "MockedRunLauncher"}
_TICKS = itertools.count(1)


def _daemon_tick(workspace) -> None:
    """One pass of Dagster's sensor daemon, a minute after the last (past every sensor's minimum interval)."""
    with freeze_time(time.time() + 60 * next(_TICKS)):
        list(execute_sensor_iteration(workspace, logging.getLogger("tests.sensor"), None, None))


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test(overrides={"run_coordinator": QUEUED_COORDINATOR}) as instance:
        yield instance


def _tick(instance: dg.DagsterInstance, settings: Settings, cursor: str | None = None) -> dg.SensorResult | dg.SkipReason:
    resources = build_resources(settings)
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={key: resources[key] for key in ("database", "object_store", "search_index")}
    ) as context:
        return video_requests_sensor(context)


def _video(settings: Settings, title: str, status: VideoStatus = VideoStatus.READY) -> int:
    store = object_store_from_settings(settings.storage)
    with session_scope(engine_for(settings.database.url)) as session:
        video = Video(title=title, status=status.value, source_key=f"uploads/20260101T000000000000Z-{uuid.uuid4().hex}.mp4")
        session.add(video)
        session.flush()
        store.put_bytes(f"videos/{video.id}/thumbnail.jpg", b"jpeg")
        return video.id


def _requests(settings: Settings, video_id: int) -> list[VideoRequest]:
    with session_scope(engine_for(settings.database.url)) as session:
        return list(session.scalars(select(VideoRequest).where(VideoRequest.video_id == video_id)))


def _delete(settings: Settings, video_id: int) -> None:
    with session_scope(engine_for(settings.database.url)) as session:
        assert delete_video(session, object_store_from_settings(settings.storage), video_id, reason="test")


def test_a_deleted_videos_queued_run_leaves_the_queue_then_its_partition_goes(tmp_path, monkeypatch, small_video_path):
    """With Dagster's daemons: the upload sensor queues the video's run (the queue is full), the video is deleted,
    and the request sensor's ticks cancel the queued run, then remove the partition."""
    config = {**yaml.safe_load(EMBEDDED_DAGSTER_YAML), "run_launcher": RECORDING_LAUNCHER}
    config["concurrency"]["runs"]["max_concurrent_runs"] = 0  # nothing leaves the queue
    with platform_from_environment(tmp_path, monkeypatch, config) as platform:
        monkeypatch.setenv("UPLOAD_SENSOR_WAIT_SECONDS", "0")
        video_id = platform.register(small_video_path, title="queued, then deleted")
        with daemon_workspace(platform.instance) as workspace:
            _daemon_tick(workspace)
            [run] = platform.instance.get_runs(dg.RunsFilter(tags={"dagster/partition": str(video_id)}))
            assert run.status == dg.DagsterRunStatus.QUEUED and run.tags["videoai/title"] == "queued, then deleted"
            _delete(platform.settings, video_id)
            assert not (platform.settings.storage.directory / "videos" / str(video_id)).exists()  # the API's pass

            _daemon_tick(workspace)
            assert platform.instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.CANCELED
            _daemon_tick(workspace)  # the run had been in progress when the first tick began
            assert not platform.instance.has_dynamic_partition("videos", str(video_id))
        [request] = _requests(platform.settings, video_id)
        assert request.kind == "delete" and request.done_at is not None and "partition removed" in (request.outcome or "")
        assert platform.instance.get_runs(dg.RunsFilter(tags={"dagster/partition": str(video_id)})) == [
            platform.instance.get_run_by_id(run.run_id)
        ]  # and no other run


def test_a_partition_an_open_backfill_targets_stays_until_the_backfill_ends(settings, instance):
    migrate(settings.database.url)
    kept, deleted = _video(settings, "kept"), _video(settings, "deleted during a backfill")
    instance.add_dynamic_partitions("videos", [str(kept), str(deleted)])
    graph = build_definitions(settings).resolve_asset_graph()
    backfill_id = launch_backfill(instance, graph, [StaleAsset(str(v), "transcript", ("test",)) for v in (kept, deleted)])
    _delete(settings, deleted)

    _tick(instance, settings)
    assert instance.has_dynamic_partition("videos", str(deleted))  # removing it would fail the whole backfill
    assert _requests(settings, deleted)[0].done_at is None
    backfill = instance.get_backfill(backfill_id)
    instance.update_backfill(backfill.with_status(BulkActionStatus.COMPLETED_FAILED))
    _tick(instance, settings)
    assert not instance.has_dynamic_partition("videos", str(deleted))
    assert instance.has_dynamic_partition("videos", str(kept))
    assert _requests(settings, deleted)[0].done_at is not None


def test_a_partition_whose_video_is_gone_without_a_request_is_found_and_removed(settings, instance):
    migrate(settings.database.url)
    alive = _video(settings, "alive")
    instance.add_dynamic_partitions("videos", [str(alive), "9999"])  # 9999: deleted before deletions were handed over
    cursor = None
    for _ in range(2):
        result = _tick(instance, settings, cursor)
        cursor = result.cursor if isinstance(result, dg.SensorResult) else None
    assert instance.get_dynamic_partitions("videos") == [str(alive)]
    assert [(r.kind, r.reason, r.done_at is not None) for r in _requests(settings, 9999)] == [
        ("delete", "its video no longer exists", True)
    ]


def test_a_retried_video_gets_one_titled_run(settings, instance):
    migrate(settings.database.url)
    video_id = _video(settings, "failed once", VideoStatus.FAILED)
    instance.add_dynamic_partitions("videos", [str(video_id)])
    with session_scope(engine_for(settings.database.url)) as session:
        request_retry(session, video_id)
    result = _tick(instance, settings)
    assert isinstance(result, dg.SensorResult)
    [run_request] = result.run_requests
    assert run_request.partition_key == str(video_id)
    assert run_request.tags["videoai/title"] == "failed once" and run_request.tags["videoai/trigger"] == "retry"
    assert _requests(settings, video_id)[0].done_at is None  # done once its run exists

    instance.add_run(dg.DagsterRun(job_name="video_pipeline", run_id=uuid.uuid4().hex, tags=run_request.tags))
    _tick(instance, settings)
    [request] = _requests(settings, video_id)
    assert request.done_at is not None and request.outcome.startswith("run ")
    assert run_request.tags[REQUEST_TAG] == str(request.id)
