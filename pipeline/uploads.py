"""Registering an upload: the one path and the one acceptance rule shared by the CLI and the API.

1. `create_video` adds the `videos` row (status `uploading`) and an
   `upload_metadata` row, and names a staging key for the bytes.
2. The caller streams the bytes to the staging key (or a client PUTs them there),
   checking `check_size` and `check_head` as they pass when it can.
3. `accept_upload` checks the staged object (size, container signature, ffprobe):
   a rejected upload is abandoned (no row, no object) and `UploadRejected` says why;
   an accepted one goes to `complete_upload`, which moves the object under
   `uploads/`, where the sensor sees only whole uploads, and in one transaction
   sets status `pending` and writes the `video.uploaded` outbox event.

`ingest_file` does all three for a local file (`videoai ingest`, finished tus uploads).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from pipeline import keys, media
from pipeline.db.models import UploadMetadata, Video, VideoStatus, utcnow
from pipeline.db.session import session_scope
from pipeline.db.videos import delete_video
from pipeline.events import VIDEO_UPLOADED, record_event
from pipeline.lifecycle import advance_status
from pipeline.storage import ObjectStore, local_file

if TYPE_CHECKING:
    from pipeline.settings import Settings

log = logging.getLogger(__name__)


# --- The acceptance rule -----------------------------------------------------------------------

SNIFF_BYTES = 16  # enough of the head for every container signature below

RejectionReason = Literal["too_large", "not_a_video", "probe_unavailable", "size_mismatch"]


class UploadRejected(Exception):
    """An upload that cannot be accepted; `str(error)` tells the uploader why.

    `reason` lets callers branch without parsing the message: "too_large",
    "not_a_video", or "probe_unavailable" (the server could not check it: not
    the uploader's fault).
    """

    def __init__(self, reason: RejectionReason, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.reason, self.message, self.details = reason, message, details


@dataclass(frozen=True)
class UploadRules:
    max_bytes: int
    presign_seconds: int = 900  # how long the probe's presigned URL to a staged object lives

    @classmethod
    def from_settings(cls, settings: Settings) -> UploadRules:
        return cls(max_bytes=settings.uploads.max_bytes, presign_seconds=settings.storage.presign_seconds)


def looks_like_video(head: bytes) -> bool:
    """Whether the first bytes are those of a video container ffprobe might accept."""
    if head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot"):
        return True  # ISO base media (MP4, MOV, 3GP, M4V)
    if head[:4] == b"RIFF":
        return head[8:12] in (b"AVI ", b"AVIX")
    return head.startswith(
        (
            b"\x1a\x45\xdf\xa3",  # Matroska / WebM
            b"FLV",
            b"OggS",
            b"\x00\x00\x01\xba",  # MPEG program stream
            b"\x00\x00\x01\xb3",  # MPEG video elementary stream
            b"\x30\x26\xb2\x75\x8e\x66\xcf\x11",  # ASF / WMV
            b"\x47",  # MPEG transport stream sync byte (ffprobe confirms the rest)
        )
    )


def check_size(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise UploadRejected("too_large", f"The upload exceeds the limit of {max_bytes} bytes.", {"max_upload_bytes": max_bytes})


def read_head(path: Path) -> bytes:
    """The first SNIFF_BYTES of a local file (fewer: the whole file), for `check_head`."""
    with path.open("rb") as file:
        return file.read(SNIFF_BYTES)


def check_head(head: bytes) -> None:
    """The container signature, from the first SNIFF_BYTES bytes (fewer: the whole file)."""
    if not looks_like_video(head):
        raise UploadRejected("not_a_video", "The file is not a video (its first bytes match no video container).")


# ffprobe missing on this host, or the store's presigned URL unreachable from it.
_SERVER_SIDE_PROBE_FAILURES = {"tool_missing", "unreachable"}


def _probe_staged(store: ObjectStore, key: str, presign_seconds: int) -> media.MediaProbe:
    """ffprobe the staged object where it lies: over a presigned URL (ranged reads, no full
    download), or as a local file."""
    url = store.presigned_get_url(key, presign_seconds)
    if url is not None:
        return media.probe(url)
    with local_file(store, key) as path:
        return media.probe(path)


def check_staged(store: ObjectStore, key: str, rules: UploadRules) -> None:
    """The whole rule on a staged object: size, container signature, then ffprobe.

    Raises UploadRejected, or ObjectNotFound when nothing was uploaded yet.
    """
    size = store.stat(key).size
    check_size(size, rules.max_bytes)
    check_head(b"".join(store.iter_range(key, 0, SNIFF_BYTES - 1)) if size else b"")
    try:
        _probe_staged(store, key, rules.presign_seconds)
    except media.MediaError as exc:
        if exc.kind in _SERVER_SIDE_PROBE_FAILURES:
            raise UploadRejected("probe_unavailable", f"The upload could not be checked: {exc}") from exc
        raise UploadRejected("not_a_video", str(exc)) from exc


# --- Registering -------------------------------------------------------------------------------


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
    language: str | None = None,
    owner_id: int | None = None,
    filename: str | None = None,
    content_type: str | None = None,
    expected_size: int | None = None,
    method: str = "direct",
) -> PendingUpload:
    video = Video(
        title=title,
        description=description,
        language=language,
        owner_id=owner_id,
        status=VideoStatus.UPLOADING.value,
        original_filename=filename,
        content_type=content_type,
    )
    session.add(video)
    session.flush()
    upload_id = uuid.uuid4().hex
    staging = keys.staging_key(upload_id)
    session.add(
        UploadMetadata(
            upload_id=upload_id,
            video_id=video.id,
            method=method,
            staging_key=staging,
            filename=filename,
            content_type=content_type,
            expected_size=expected_size,
        )
    )
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
    advance_status(session, video.id, VideoStatus.PENDING)
    record_event(
        session,
        VIDEO_UPLOADED,
        video.id,
        {"object_key": final_key, "size_bytes": size, "title": video.title, "owner_id": video.owner_id},
    )
    return video


def abandon_upload(session: Session, store: ObjectStore, upload_id: str, reason: str) -> None:
    """Drop a rejected upload entirely: no row, no object is left behind (commits `session`)."""
    upload = session.scalars(select(UploadMetadata).where(UploadMetadata.upload_id == upload_id)).one_or_none()
    if upload is None:
        return
    log.info("abandoning upload %s of video %s: %s", upload_id, upload.video_id, reason)
    # The video goes as every deleted video does (its upload rows with it, ON DELETE CASCADE); commits.
    if not delete_video(session, store, upload.video_id, reason=f"upload abandoned: {reason}"):
        if upload.staging_key:
            store.delete(upload.staging_key)
        session.delete(upload)


def prune_abandoned_uploads(session: Session, store: ObjectStore, *, older_than: timedelta) -> list[int]:
    """Abandon uploads started longer ago than `older_than` and never completed, and remove
    orphaned staged data of any kind (see `prune_orphaned_staging`).

    A presigned upload whose client went away would otherwise stay `uploading`
    forever, with its staged bytes. Returns the ids of the videos removed.
    """
    cutoff = utcnow() - older_than
    stale = session.scalars(
        select(UploadMetadata).where(UploadMetadata.state == "pending", UploadMetadata.created_at < cutoff)
    ).all()
    for upload in stale:
        abandon_upload(session, store, upload.upload_id, f"not completed within {older_than}")
    session.flush()
    prune_orphaned_staging(session, store, cutoff)
    return [upload.video_id for upload in stale]


def prune_orphaned_staging(session: Session, store: ObjectStore, cutoff: datetime) -> int:
    """Remove staged data older than `cutoff` that no pending upload owns.

    What a crash leaves behind: a write the process never finished (the local store's
    `.tmp-*` file, an incomplete S3 multipart upload), and a staged object whose row is
    gone. Neither is visible to the rest of the platform, so nothing else would ever
    remove them. Returns how many were removed (each is logged).
    """
    removed = 0
    for prefix in (keys.STAGING_PREFIX, keys.UPLOADS_PREFIX):
        partial = store.delete_partial_writes(prefix, cutoff)
        if partial:
            log.info("removed %d unfinished write(s) under %s", partial, prefix)
        removed += partial
    owned = set(
        session.scalars(
            select(UploadMetadata.staging_key).where(UploadMetadata.state == "pending", UploadMetadata.staging_key.is_not(None))
        )
    )
    start_after = None
    while batch := store.list(keys.STAGING_PREFIX, start_after=start_after):
        for obj in batch:
            if obj.key not in owned and obj.last_modified < cutoff:
                log.info("removing orphaned staged object %s (%d bytes)", obj.key, obj.size)
                store.delete(obj.key)
                removed += 1
        start_after = batch[-1].key
    return removed


def open_uploads(session: Session, owner_id: int) -> int:
    """How many uploads this user has started and not completed (the quota counts these)."""
    return (
        session.scalar(
            select(func.count())
            .select_from(UploadMetadata)
            .join(Video, Video.id == UploadMetadata.video_id)
            .where(UploadMetadata.state == "pending", Video.owner_id == owner_id)
        )
        or 0
    )


def _check_declared_size(store: ObjectStore, upload: UploadMetadata) -> None:
    """An upload that declared its size when it was created (presigned, tus) must match it
    (a client cannot reserve a small upload, then PUT something else)."""
    if upload.expected_size is None or upload.staging_key is None:
        return
    size = store.stat(upload.staging_key).size
    if size != upload.expected_size:
        raise UploadRejected(
            "size_mismatch",
            f"The upload is {size} bytes, not the {upload.expected_size} bytes declared when it was created.",
            {"declared_size": upload.expected_size, "uploaded_size": size},
        )


def accept_upload(
    engine: Engine,
    store: ObjectStore,
    upload_id: str,
    rules: UploadRules,
    *,
    title: str | None = None,
    description: str | None = None,
) -> Video:
    """Check a staged upload against the rule, then publish and announce it (see `complete_upload`).

    A rejected upload is abandoned (committed) before UploadRejected is raised;
    `title`/`description`, when given, replace what the upload was created with.
    """
    with session_scope(engine) as session:
        upload = session.scalars(select(UploadMetadata).where(UploadMetadata.upload_id == upload_id)).one()
        if upload.state == "completed":
            return complete_upload(session, store, upload_id)  # nothing to do: its video
        assert upload.staging_key is not None
        try:
            _check_declared_size(store, upload)
            check_staged(store, upload.staging_key, rules)
        except UploadRejected as rejection:
            abandon_upload(session, store, upload_id, rejection.message)
            rejected = rejection
        else:
            video = session.get(Video, upload.video_id)
            assert video is not None
            video.title = title if title is not None else video.title
            video.description = description if description is not None else video.description
            return complete_upload(session, store, upload_id)
    raise rejected


def accept_file(engine: Engine, store: ObjectStore, upload_id: str, path: Path, rules: UploadRules) -> Video:
    """Store a local file at a pending upload's staging key, then accept it (see `accept_upload`);
    an upload already completed just answers with its video."""
    with session_scope(engine) as session:
        upload = session.scalars(select(UploadMetadata).where(UploadMetadata.upload_id == upload_id)).one()
        staging_key, content_type, pending = upload.staging_key, upload.content_type, upload.state == "pending"
    if pending and staging_key is not None:
        store.put_file(staging_key, path, content_type=content_type)
    return accept_upload(engine, store, upload_id, rules)


def ingest_file(
    engine: Engine,
    store: ObjectStore,
    path: Path,
    rules: UploadRules,
    *,
    title: str,
    description: str = "",
    language: str | None = None,
    owner_id: int | None = None,
    filename: str | None = None,
    content_type: str | None = None,
    method: str = "cli",
) -> Video:
    """Register a local file exactly as an upload would: the same checks, then row, object and outbox event."""
    with session_scope(engine) as session:
        pending = create_video(
            session,
            title=title,
            description=description,
            language=language,
            owner_id=owner_id,
            filename=filename or path.name,
            content_type=content_type,
            expected_size=path.stat().st_size,
            method=method,
        )
    try:
        store.put_file(pending.staging_key, path, content_type=content_type)
    except BaseException:
        with session_scope(engine) as session:
            abandon_upload(session, store, pending.upload_id, "could not be stored")
        raise
    return accept_upload(engine, store, pending.upload_id, rules)
