"""Registering an upload: the one path shared by the CLI, the API and presigned uploads.

1. `create_video` adds the `videos` row (status `uploading`) and an
   `upload_metadata` row, and names a staging key for the bytes.
2. The caller streams the bytes to the staging key (or a client PUTs them there).
3. `complete_upload` moves the object under `uploads/`, where the sensor sees
   only whole uploads, and in one transaction sets status `pending` and writes
   the `video.uploaded` outbox event.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline import keys
from pipeline.db.models import UploadMetadata, Video, VideoStatus, utcnow
from pipeline.events import VIDEO_UPLOADED, record_event
from pipeline.storage import ObjectStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PendingUpload:
    video_id: int
    upload_id: str
    staging_key: str


def create_video(
    session: Session,
    *,
    title: str,
    description: str = "",
    owner_id: int | None = None,
    filename: str | None = None,
    content_type: str | None = None,
    expected_size: int | None = None,
    method: str = "direct",
) -> PendingUpload:
    video = Video(title=title, description=description, owner_id=owner_id, status=VideoStatus.UPLOADING.value,
                  original_filename=filename, content_type=content_type)
    session.add(video)
    session.flush()
    upload_id = uuid.uuid4().hex
    staging = keys.staging_key(upload_id)
    session.add(UploadMetadata(upload_id=upload_id, video_id=video.id, method=method, staging_key=staging,
                               filename=filename, content_type=content_type, expected_size=expected_size))
    session.flush()
    return PendingUpload(video.id, upload_id, staging)


def complete_upload(session: Session, store: ObjectStore, upload_id: str) -> Video:
    """Publish a staged upload to `uploads/` and announce it (status + event, one transaction)."""
    upload = session.scalars(select(UploadMetadata).where(UploadMetadata.upload_id == upload_id)).one()
    video = session.get(Video, upload.video_id)
    assert video is not None
    if upload.state == "completed":
        return video
    assert upload.staging_key is not None, "an upload not yet completed has its staged bytes"
    size = store.stat(upload.staging_key).size
    completed_at = utcnow()
    final_key = keys.upload_key(video.id, upload.filename, completed_at)
    store.move(upload.staging_key, final_key)
    upload.state, upload.completed_at, upload.size_bytes = "completed", completed_at, size
    video.source_key, video.size_bytes = final_key, size
    video.status, video.status_message = VideoStatus.PENDING.value, None
    record_event(session, VIDEO_UPLOADED, video.id,
                 {"object_key": final_key, "size_bytes": size, "title": video.title, "owner_id": video.owner_id})
    return video


def abandon_upload(session: Session, store: ObjectStore, upload_id: str, reason: str) -> None:
    """Drop a rejected upload entirely: no row, no object is left behind."""
    upload = session.scalars(select(UploadMetadata).where(UploadMetadata.upload_id == upload_id)).one_or_none()
    if upload is None:
        return
    log.info("abandoning upload %s of video %s: %s", upload_id, upload.video_id, reason)
    if upload.staging_key:
        store.delete(upload.staging_key)
    video = session.get(Video, upload.video_id)
    if video is not None:
        session.delete(video)
    session.delete(upload)


def prune_abandoned_uploads(session: Session, store: ObjectStore, *, older_than: timedelta) -> list[int]:
    """Abandon uploads started longer ago than `older_than` and never completed.

    A presigned upload whose client went away would otherwise stay `uploading`
    forever, with its staged bytes. Returns the ids of the videos removed.
    """
    cutoff = utcnow() - older_than
    stale = session.scalars(select(UploadMetadata).where(UploadMetadata.state == "pending",
                                                         UploadMetadata.created_at < cutoff)).all()
    for upload in stale:
        abandon_upload(session, store, upload.upload_id, f"not completed within {older_than}")
    return [upload.video_id for upload in stale]


def ingest_file(
    session: Session, store: ObjectStore, path: Path, *, title: str, description: str = "",
    owner_id: int | None = None, method: str = "cli",
) -> Video:
    """Register a local file exactly as an upload would: row, object, outbox event."""
    pending = create_video(session, title=title, description=description, owner_id=owner_id,
                           filename=path.name, expected_size=path.stat().st_size, method=method)
    with open(path, "rb") as source:
        store.put_stream(pending.staging_key, source)
    return complete_upload(session, store, pending.upload_id)
