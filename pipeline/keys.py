"""Deterministic object keys: rerunning a partition overwrites, never duplicates."""

from __future__ import annotations

from datetime import datetime
from pathlib import PurePosixPath

UPLOADS_PREFIX = "uploads/"
STAGING_PREFIX = "staging/"


def upload_key(video_id: int, filename: str | None, completed_at: datetime) -> str:
    """Where a completed upload lands; the sensor watches this prefix.

    The completion time leads the key so that lexicographic listing (S3's order)
    follows arrival order; the video id follows so the partition key is plain.
    """
    suffix = PurePosixPath(filename or "").suffix.lower()
    suffix = suffix if suffix[1:].isalnum() and len(suffix) <= 6 else ""
    return f"{UPLOADS_PREFIX}{completed_at.strftime('%Y%m%dT%H%M%S%fZ')}-{video_id}{suffix}"


def video_id_from_upload_key(key: str) -> int | None:
    """The video id in an upload key, or None for anything that is not one."""
    if not key.startswith(UPLOADS_PREFIX):
        return None
    stem = PurePosixPath(key).stem
    _, _, tail = stem.rpartition("-")
    return int(tail) if tail.isdigit() else None


def staging_key(upload_id: str) -> str:
    return f"{STAGING_PREFIX}{upload_id}"


def video_prefix(video_id: int) -> str:
    return f"videos/{video_id}/"


def variant_key(video_id: int, label: str) -> str:
    return f"{video_prefix(video_id)}variants/{label}.mp4"


def thumbnail_key(video_id: int) -> str:
    return f"{video_prefix(video_id)}thumbnail.jpg"


def transcript_json_key(video_id: int) -> str:
    return f"{video_prefix(video_id)}transcript.json"


def transcript_vtt_key(video_id: int) -> str:
    return f"{video_prefix(video_id)}transcript.vtt"


def summary_key(video_id: int) -> str:
    return f"{video_prefix(video_id)}summary.json"


def hls_prefix(video_id: int) -> str:
    """Where a video's HLS package lies: master.m3u8, <label>/index.m3u8 and its segments."""
    return f"{video_prefix(video_id)}hls/"


def hls_key(video_id: int, relative_path: str) -> str:
    return f"{hls_prefix(video_id)}{relative_path}"


def chapters_vtt_key(video_id: int) -> str:
    return f"{video_prefix(video_id)}chapters.vtt"
