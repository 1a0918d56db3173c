"""What every per-video asset needs: its video id, status writes, and failing a video clearly."""

from typing import Any, TypeVar

import dagster as dg
from sqlalchemy import select
from sqlalchemy.orm import Session

from assets.partitions import video_id_of
from pipeline.db.models import VideoStatus
from pipeline.lifecycle import advance_status, mark_failed
from resources.database import DatabaseResource

# Transient failures (object store, LLM API, broker, a lost connection) get three more tries,
# 1 s, 2 s, 4 s apart (+/- jitter). Bad input raises fail_video's Failure, which is never retried.
TRANSIENT_RETRY = dg.RetryPolicy(max_retries=3, delay=1, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)


def k8s_resources(cpu: str, memory: str) -> dict[str, Any]:
    """The `dagster-k8s/config` op tag: the pod size of this asset's step under the k8s_job_executor."""
    return {"dagster-k8s/config": {"container_config": {"resources": {
        "requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory}}}}}


def video_id(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> int:
    return video_id_of(context.partition_key)


OnePerVideo = TypeVar("OnePerVideo")


def row_for_video(session: Session, model: type[OnePerVideo], vid: int) -> OnePerVideo:
    """The video's one row of `model` (a transcript, a summary), added if it has none: reruns update it."""
    row = session.scalars(select(model).where(model.video_id == vid)).one_or_none()  # type: ignore[attr-defined]
    if row is None:
        row = model(video_id=vid)  # type: ignore[call-arg]
        session.add(row)
    return row


def advance(db: DatabaseResource, vid: int, status: VideoStatus, event: str | None = None,
            payload: dict[str, Any] | None = None) -> None:
    with db.session() as session:
        advance_status(session, vid, status, event=event, payload=payload)


def fail_video(db: DatabaseResource, vid: int, message: str) -> dg.Failure:
    """Mark the video failed with `message` and return the Failure that stops its run.

    Bad input cannot get better by retrying, so retries are off.
    """
    with db.session() as session:
        mark_failed(session, vid, message)
    return dg.Failure(description=message, metadata={"video_id": vid}, allow_retries=False)
