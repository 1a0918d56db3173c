"""Event topics and the transactional outbox.

A state change and its event are written in one database transaction: callers
pass the session they are already using and commit once.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from pipeline.db.models import OutboxEvent, utcnow

VIDEO_UPLOADED = "video.uploaded"
VIDEO_TRANSCODED = "video.transcoded"
VIDEO_TRANSCRIBED = "video.transcribed"
VIDEO_SUMMARIZED = "video.summarized"
VIDEO_READY = "video.ready"
VIDEO_FAILED = "video.failed"
VIDEO_DELETED = "video.deleted"

TOPICS = (VIDEO_UPLOADED, VIDEO_TRANSCODED, VIDEO_TRANSCRIBED, VIDEO_SUMMARIZED, VIDEO_READY, VIDEO_FAILED, VIDEO_DELETED)


def record_event(session: Session, topic: str, video_id: int, payload: dict[str, Any] | None = None) -> OutboxEvent:
    """Add an outbox row for `topic` to the session's transaction (not committed here)."""
    if topic not in TOPICS:
        raise ValueError(f"unknown topic {topic!r}")
    event_id = str(uuid.uuid4())
    body = {"event_id": event_id, "type": topic, "video_id": video_id, "occurred_at": utcnow().isoformat(), **(payload or {})}
    event = OutboxEvent(event_id=event_id, topic=topic, key=str(video_id), payload=body)
    session.add(event)
    return event
