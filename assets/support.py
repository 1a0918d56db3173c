"""What every per-video asset needs: its video id, its repository, failing a video clearly, and ending its run
cleanly when the video is deleted or the run terminated (`video_step`, which `@video_asset` and `@video_check`
put around every asset and check)."""

import contextlib
import functools
from collections.abc import Callable
from typing import Any, TypeVar

import dagster as dg

from assets.partitions import video_id_of
from pipeline.db.videos import VideoRepository
from pipeline.lifecycle import VideoNotFound
from pipeline.settings import get_settings
from resources.database import DatabaseResource

# Transient failures (object store, LLM API, broker, a lost connection) get three more tries,
# 1 s, 2 s, 4 s apart (+/- jitter). Bad input raises fail_video's Failure, which is never retried.
TRANSIENT_RETRY = dg.RetryPolicy(max_retries=3, delay=1, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)


def k8s_resources(cpu: str, memory: str) -> dict[str, Any]:
    """The `dagster-k8s/config` op tag: the pod size of this asset's step under the k8s_job_executor."""
    return {
        "dagster-k8s/config": {
            "container_config": {"resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory}}}
        }
    }


TITLE_TAG = "videoai/title"
_TAG_VALUE_LIMIT = 200


def video_run_tags(title: str) -> dict[str, str]:
    return {TITLE_TAG: title if len(title) <= _TAG_VALUE_LIMIT else title[: _TAG_VALUE_LIMIT - 1] + "…"}


def thumbnail_url(vid: int) -> str:
    """The video's thumbnail through the API's public route, on the one public base every link uses."""
    return get_settings().public_url(f"/api/v1/videos/{vid}/thumbnail")


def watch_url(vid: int) -> str:
    """The video's page in the web app."""
    return get_settings().public_url(f"/watch/{vid}")


def video_id(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> int:
    return video_id_of(context.partition_key)


def repository(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext, database: DatabaseResource) -> VideoRepository:
    """The rows of the video this partition is."""
    return VideoRepository(database.engine(), video_id(context))


def fail_video(videos: VideoRepository, message: str) -> dg.Failure:
    """Mark the video failed with `message` and return the Failure that stops its run.

    Bad input cannot get better by retrying, so retries are off.
    """
    videos.fail(message)
    return dg.Failure(description=message, metadata={"video_id": videos.video_id}, allow_retries=False)


Step = TypeVar("Step", bound=Callable[..., Any])
_STOPPING = (dg.DagsterRunStatus.CANCELING, dg.DagsterRunStatus.CANCELED)


def video_step(step: Step) -> Step:
    """Around every per-video asset and check: how its step ends when its run must stop, and its run's title.

    - The video was deleted while its run was queued or running (VideoNotFound, or any error raised while the
      video no longer exists: a row it wrote vanished, an object it read was removed): the run is marked
      canceling and the step fails without retries, so the run ends CANCELED (Dagster ends a canceling run whose
      steps failed as canceled), not after three retries of a "transient" failure and a red run.
    - The run was terminated (Terminate in the UI, or a deleted video's run stopped by the video_requests
      sensor): Dagster would retry the interrupted step under its RetryPolicy ("respect retry policy when
      interrupts occur"), up to three more attempts inside a run being terminated; it ends the step for good
      instead. An interrupt without a termination request (the worker's machine going away) is still retried.
    - A run without a `videoai/title` tag gets it: the run queue titles every run it is given
      (orchestration/run_queue.py), but not where the daemon runs Dagster's own coordinator.
    """

    @functools.wraps(step)
    def run_step(context: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            _title_run(context, kwargs.get("database"))
            return step(context, *args, **kwargs)
        except dg.DagsterExecutionInterruptedError:
            if _run_status(context) in _STOPPING:
                raise dg.Failure(
                    description="The run was terminated: this step stops here, without retries.", allow_retries=False
                ) from None
            raise
        except Exception as error:
            if isinstance(error, VideoNotFound) or _deleted_meanwhile(context, kwargs.get("database")):
                raise _end_run(context) from error
            raise

    return run_step  # type: ignore[return-value]


_titled_runs: set[str] = set()  # runs this process has titled (a step's `context.run` predates it)


def _title_run(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext, database: Any) -> None:
    run_id = context.run.run_id
    if TITLE_TAG in context.run.tags or run_id in _titled_runs or not isinstance(database, DatabaseResource):
        return
    with contextlib.suppress(VideoNotFound):  # a deleted video's step ends its run below
        context.instance.add_run_tags(run_id, video_run_tags(repository(context, database).video().title))
        _titled_runs.add(run_id)


def _run_status(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> dg.DagsterRunStatus | None:
    run = context.instance.get_run_by_id(context.run.run_id)
    return run.status if run is not None else None


def _deleted_meanwhile(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext, database: Any) -> bool:
    if not isinstance(database, DatabaseResource):
        return False
    try:
        return not repository(context, database).exists()
    except Exception:  # the database itself is down: the step's own error stands (and is retried)
        return False


def _end_run(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> dg.Failure:
    message = f"Video {video_id(context)} was deleted: its run stops here, with nothing to retry."
    context.log.info(message)
    run = context.instance.get_run_by_id(context.run.run_id)
    if run is not None and run.status not in _STOPPING:
        context.instance.report_run_canceling(run, message=message)
    return dg.Failure(description=message, allow_retries=False)
