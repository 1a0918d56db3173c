"""What every per-video asset needs: its video id, its repository, and failing a video clearly."""

from typing import Any

import dagster as dg

from assets.partitions import video_id_of
from pipeline.db.videos import VideoRepository
from pipeline.settings import get_settings
from resources.database import DatabaseResource

# Transient failures (object store, LLM API, broker, a lost connection) get three more tries,
# 1 s, 2 s, 4 s apart (+/- jitter). Bad input raises fail_video's Failure, which is never retried.
TRANSIENT_RETRY = dg.RetryPolicy(max_retries=3, delay=1, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)


def k8s_resources(cpu: str, memory: str) -> dict[str, Any]:
    """The `dagster-k8s/config` op tag: the pod size of this asset's step under the k8s_job_executor."""
    return {"dagster-k8s/config": {"container_config": {"resources": {
        "requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory}}}}}


TITLE_TAG = "videoai/title"
_TAG_VALUE_LIMIT = 200


def video_run_tags(title: str) -> dict[str, str]:
    return {TITLE_TAG: title if len(title) <= _TAG_VALUE_LIMIT else title[:_TAG_VALUE_LIMIT - 1] + "…"}


def thumbnail_url(vid: int) -> str:
    """The video's thumbnail through the API's public route (PUBLIC_BASE_URL, else the API's own address)."""
    settings = get_settings()
    base = settings.public_base_url or f"http://{settings.api_host}:{settings.api_port}"
    return f"{base.rstrip('/')}/api/v1/videos/{vid}/thumbnail"


def video_id(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> int:
    return video_id_of(context.partition_key)


def repository(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext,
               database: DatabaseResource) -> VideoRepository:
    """The rows of the video this partition is."""
    return VideoRepository(database.engine(), video_id(context))


def fail_video(videos: VideoRepository, message: str) -> dg.Failure:
    """Mark the video failed with `message` and return the Failure that stops its run.

    Bad input cannot get better by retrying, so retries are off.
    """
    videos.fail(message)
    return dg.Failure(description=message, metadata={"video_id": videos.video_id}, allow_retries=False)
