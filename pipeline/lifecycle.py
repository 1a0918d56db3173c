"""The video status lifecycle.

uploading -> pending -> transcoding -> transcribing -> summarizing -> indexing -> ready,
or failed with a status_message a person can act on. A video is `uploading` while its bytes
arrive and `pending` once its upload is complete (pipeline/uploads.py); the pipeline writes
the rest as its assets run, through the per-video repository (pipeline/db/videos.py).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from pipeline.db.models import Video, VideoRequest, VideoStatus
from pipeline.events import VIDEO_FAILED, record_event


class VideoNotFound(LookupError):
    def __init__(self, video_id: int) -> None:
        super().__init__(f"video {video_id} does not exist")
        self.video_id = video_id


def get_video(session: Session, video_id: int) -> Video:
    video = session.get(Video, video_id)
    if video is None:
        raise VideoNotFound(video_id)
    return video


def set_status(
    session: Session,
    video_id: int,
    status: VideoStatus,
    *,
    message: str | None = None,
    event: str | None = None,
    payload: dict[str, Any] | None = None,
) -> Video:
    """Move a video to `status` and, if given, record `event` in the same transaction."""
    video = get_video(session, video_id)
    video.status = status.value
    video.status_message = message
    if event is not None:
        record_event(session, event, video_id, {"status": status.value, **(payload or {})})
    return video


_PROGRESS = [
    VideoStatus.UPLOADING,
    VideoStatus.PENDING,
    VideoStatus.TRANSCODING,
    VideoStatus.TRANSCRIBING,
    VideoStatus.SUMMARIZING,
    VideoStatus.INDEXING,
    VideoStatus.READY,
]


def advance_status(
    session: Session,
    video_id: int,
    status: VideoStatus,
    *,
    event: str | None = None,
    payload: dict[str, Any] | None = None,
) -> Video:
    """Move a video forward along the lifecycle and record `event` (same transaction).

    Status only moves forward: reprocessing a ready video (a backfill after a
    model change) keeps it watchable, and a failed video stays failed until its
    run starts over from `source_video`. The event is recorded either way,
    because the stage did complete.
    """
    video = get_video(session, video_id)
    current = VideoStatus(video.status)
    if current != VideoStatus.FAILED and _PROGRESS.index(status) > _PROGRESS.index(current):
        video.status, video.status_message = status.value, None
    if event is not None:
        record_event(session, event, video_id, {"status": video.status, **(payload or {})})
    return video


def start_processing(session: Session, video_id: int) -> Video:
    """A run begins: a failed video starts over (a retry), any other moves forward to transcoding."""
    video = get_video(session, video_id)
    if video.status == VideoStatus.FAILED.value:
        return set_status(session, video_id, VideoStatus.TRANSCODING)
    return advance_status(session, video_id, VideoStatus.TRANSCODING)


def mark_failed(session: Session, video_id: int, message: str) -> Video:
    """Mark a video failed with an actionable message; a video already ready stays ready."""
    video = get_video(session, video_id)
    if video.status == VideoStatus.READY.value:
        return video
    return set_status(session, video_id, VideoStatus.FAILED, message=message, event=VIDEO_FAILED, payload={"message": message})


def request_retry(session: Session, video_id: int) -> Video | None:
    """A failed video waits for its run again (`pending`, its reason cleared), which starts over from
    `source_video`: a `retry` request asks the pipeline for that run (orchestration/video_requests.py); None,
    changing nothing, for a video that has not failed."""
    video = get_video(session, video_id)
    if video.status != VideoStatus.FAILED.value:
        return None
    session.add(VideoRequest(video_id=video_id, kind="retry", reason="asked by its owner"))
    return set_status(session, video_id, VideoStatus.PENDING)
