"""The failure sensor marks a video failed with an actionable message when its run fails."""

from __future__ import annotations

import uuid

import dagster as dg
import pytest
import yaml
from dagster._core.storage.dagster_run import DagsterRun
from dagster._core.storage.tags import WILL_RETRY_TAG

from assets.jobs import video_pipeline_job
from assets.partitions import videos_partitions
from orchestration.definitions import build_resources
from orchestration.instance import EMBEDDED_DAGSTER_YAML
from pipeline.db.models import Video, VideoStatus
from pipeline.db.session import session_scope
from sensors.status import video_failure_sensor


@dg.asset(partitions_def=videos_partitions, name="source_video")
def exploding_source_video() -> None:
    raise RuntimeError("disk quota exceeded while reading the upload")


def _failed_run_context(instance: dg.DagsterInstance, partition: str, resources: dict) -> dg.RunFailureSensorContext:
    instance.add_dynamic_partitions("videos", [partition])
    result = dg.materialize([exploding_source_video], partition_key=partition, instance=instance, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
    return dg.build_run_status_sensor_context(
        sensor_name=video_failure_sensor.name,
        dagster_event=failure,
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        resources=resources,
    ).for_run_failure()


@pytest.fixture
def video_in_progress(harness, small_video_path) -> int:
    vid = harness.register(small_video_path, title="doomed")
    with session_scope(harness.engine) as session:
        session.get(Video, vid).status = VideoStatus.TRANSCRIBING.value
    return vid


def test_a_failed_run_marks_its_video_failed_with_the_step_and_reason(harness, video_in_progress):
    resources = build_resources(harness.settings)
    context = _failed_run_context(harness.instance, str(video_in_progress), {"database": resources["database"]})
    video_failure_sensor(context)
    with session_scope(harness.engine) as session:
        video = session.get(Video, video_in_progress)
        assert video.status == VideoStatus.FAILED.value
        assert "source_video" in video.status_message and "disk quota exceeded" in video.status_message
        assert "try again" in video.status_message.lower()


def test_a_reason_already_recorded_by_an_asset_is_kept(harness, video_in_progress):
    with session_scope(harness.engine) as session:
        video = session.get(Video, video_in_progress)
        video.status, video.status_message = VideoStatus.FAILED.value, "The file is not a video."
    resources = build_resources(harness.settings)
    video_failure_sensor(_failed_run_context(harness.instance, str(video_in_progress), {"database": resources["database"]}))
    with session_scope(harness.engine) as session:
        assert session.get(Video, video_in_progress).status_message == "The file is not a video."


def test_a_crashed_run_that_will_be_retried_keeps_its_video_status_until_retries_run_out(harness, video_in_progress):
    """A killed worker's run (no step failed) is retried by the daemon: the video must not flash `failed`
    meanwhile, nor stay `failed` while the retry takes it to ready. Once retries are exhausted, it fails."""
    config = yaml.safe_load(EMBEDDED_DAGSTER_YAML)
    resources = {"database": build_resources(harness.settings)["database"]}
    with dg.instance_for_test(overrides={"run_retries": config["run_retries"]}) as instance:
        run = instance.add_run(
            DagsterRun(
                job_name=video_pipeline_job.name,
                run_id=str(uuid.uuid4()),
                status=dg.DagsterRunStatus.STARTED,
                tags={"dagster/partition": str(video_in_progress)},
            )
        )
        instance.report_run_failed(run, "The run worker process died.")
        failure = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)[-1].dagster_event

        def evaluate() -> str:
            context = dg.build_run_status_sensor_context(
                sensor_name=video_failure_sensor.name,
                dagster_event=failure,
                dagster_instance=instance,
                dagster_run=instance.get_run_by_id(run.run_id),
                resources=resources,
            ).for_run_failure()
            video_failure_sensor(context)
            with session_scope(harness.engine) as session:
                return session.get(Video, video_in_progress).status

        assert instance.get_run_by_id(run.run_id).tags[WILL_RETRY_TAG] == "true"
        assert evaluate() == VideoStatus.TRANSCRIBING.value
        instance.add_run_tags(run.run_id, {WILL_RETRY_TAG: "false"})  # what the daemon writes when retries run out
        assert evaluate() == VideoStatus.FAILED.value
