"""Resumable uploads over the tus protocol 1.0.0 (https://tus.io): core, creation,
creation-with-upload, creation-defer-length, termination and expiration.

A client creates an upload (`POST /api/v1/uploads/tus`, with `Upload-Length` and
`Upload-Metadata`: `filename`, `filetype`, optional `title`, `description` and `language`),
then PATCHes bytes at `Upload-Offset`; after a dropped connection, a crash of the
API or a full disk it asks `HEAD` for the offset the server holds and sends only
the rest. Every request needs the user (Bearer token, or the web session cookie
with its CSRF header); nobody else can see, resume or finish an upload.

An upload is what every other upload is: an `upload_metadata` row (method `tus`)
made at creation, after its length and metadata passed the rules and before any
byte is stored. So it counts toward MAX_OPEN_UPLOADS_PER_USER and is abandoned by
the same rule (UPLOAD_ABANDON_HOURS, `videoai prune-uploads`); `Upload-Expires`
says when. Its declared length is the row's `expected_size` (NULL while deferred).

The bytes gather in one data file per upload on the API host
(`VIDEOAI_HOME/tus/<user id>/<upload id>`), created owner-only and only ever
appended at its end. **The offset is the data file's size**: nothing else records
it, so after `kill -9` or a full disk it cannot disagree with the bytes (the
file holds a prefix of the client's file, whatever was cut). A PATCH holds an
exclusive lock on the file (a second writer gets 423), never writes past the
declared length or MAX_UPLOAD_BYTES, and fsyncs before it answers; a failed fsync
cuts the file back to the offset it started from. Once the file is whole it goes
to the same acceptance as every upload (`pipeline.uploads.accept_file`: staged in
the object store, size, signature, ffprobe, published with its event); a crash
meanwhile is finished by the next HEAD or PATCH.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import fcntl
import logging
import os
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import TypeVar

from fastapi import APIRouter, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from pipeline.db.models import UploadMetadata, Video
from pipeline.db.session import session_scope
from pipeline.settings import Settings
from pipeline.uploads import (
    SNIFF_BYTES,
    UploadRejected,
    UploadRules,
    abandon_upload,
    accept_file,
    check_head,
    check_size,
    create_video,
    read_head,
)
from serving_api.db_gate import queue_deadline
from serving_api.deps import API_PREFIX, ClaimsDep, ServicesDep, user_for_claims
from serving_api.errors import ApiError
from serving_api.receive import check_file_fields, check_open_uploads, count_upload_bytes, upload_title, validated_fields
from serving_api.security import TokenClaims
from serving_api.services import Services
from serving_api.services.gated import in_session

logger = logging.getLogger(__name__)

TUS_PATH = "/uploads/tus"
TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,creation-with-upload,creation-defer-length,termination,expiration"
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")  # pipeline.uploads.create_video's uuid4().hex
_NUMBER = re.compile(r"^[0-9]{1,19}$")
_METADATA_KEY = re.compile(r"^[!-+\--~]{1,64}$")  # printable ASCII without space and comma
_WRITE_BYTES = 1 << 20  # request chunks gathered before one write to the data file
_LOCK_WAIT_SECONDS = 3.0

T = TypeVar("T")


def tus_root(settings: Settings) -> Path:
    return settings.videoai_home / "tus"


def part_path(settings: Settings, user_id: int, upload_id: str) -> Path:
    return tus_root(settings) / str(user_id) / upload_id


# --- Errors and headers --------------------------------------------------------------------------


def _error(status: int, code: str, message: str, details: object = None, **headers: str) -> ApiError:
    """An error with the tus headers; `headers` are named with `_` for `-` (Upload_Offset=...)."""
    return ApiError(
        status,
        code,
        message,
        details,
        headers={"Tus-Resumable": TUS_VERSION, **{k.replace("_", "-"): v for k, v in headers.items()}},
    )


def _number_header(request: Request, name: str) -> int | None:
    value = request.headers.get(name)
    if value is None:
        return None
    if not _NUMBER.match(value.strip()):
        raise _error(400, "invalid_header", f"{name} must be a non-negative integer.")
    return int(value)


def _check_version(request: Request) -> None:
    if request.headers.get("tus-resumable") != TUS_VERSION:
        raise _error(412, "unsupported_tus_version", f"Send Tus-Resumable: {TUS_VERSION}.", Tus_Version=TUS_VERSION)


def _expires(settings: Settings, created_at: datetime) -> datetime:
    created = created_at if created_at.tzinfo else created_at.replace(tzinfo=UTC)
    return created + timedelta(hours=settings.uploads.abandon_hours)


def _http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def parse_metadata(header: str | None) -> dict[str, str]:
    """`Upload-Metadata`: comma-separated `key base64(value)` pairs (the value may be left out); 400
    for anything else, before a byte of the body is read."""
    metadata: dict[str, str] = {}
    for pair in filter(None, (pair.strip() for pair in (header or "").split(","))):
        key, _, encoded = pair.partition(" ")
        if not _METADATA_KEY.match(key) or key in metadata or " " in encoded.strip():
            raise _error(
                400, "invalid_upload_metadata", "Upload-Metadata is comma-separated pairs of a unique key and its base64 value."
            )
        try:
            metadata[key] = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise _error(400, "invalid_upload_metadata", f"Upload-Metadata's {key!r} is not base64 of UTF-8 text.") from None
    return metadata


@dataclass(frozen=True)
class _NewUpload:
    filename: str
    filetype: str
    title: str
    description: str
    language: str | None


def _validated_metadata(metadata: dict[str, str]) -> _NewUpload:
    """The same rules as the other upload paths' fields (serving_api/receive.py), 422 otherwise."""
    loc = ["header", "Upload-Metadata"]
    missing = [key for key in ("filename", "filetype") if not metadata.get(key)]
    if missing:
        raise _error(
            422,
            "validation_error",
            "Upload-Metadata needs filename and filetype.",
            [{"loc": [*loc, key], "msg": "required", "type": "missing"} for key in missing],
        )
    filename, filetype = metadata["filename"], metadata["filetype"]
    check_file_fields(filename, filetype, loc)
    fields = validated_fields({k: metadata[k] for k in ("title", "description", "language") if metadata.get(k, "").strip()}, loc)
    return _NewUpload(filename, filetype, upload_title(fields, filename), fields.description, fields.language)


# --- The data file -------------------------------------------------------------------------------


class PartFile:
    """One upload's data file, opened for appending under an exclusive lock (released on close,
    and by the kernel when the process dies)."""

    def __init__(self, path: Path, wait_seconds: float = 0) -> None:
        """`wait_seconds`: how long to wait for another writer to let go (one whose client has just
        gone away is finishing), before 423."""
        self.path = path
        created = not path.exists()
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                os.close(self.fd)
                raise _error(
                    423, "upload_locked", "Another request is writing this upload; try again shortly.", Retry_After="1"
                ) from None
        if created:  # the new name itself must survive a crash
            _fsync_directory(path.parent)
        self.durable = self.size

    @property
    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]

    def sync(self) -> int:
        """Make what was written durable; on failure cut the file back to what was durable before,
        so the offset never counts bytes a crash could lose. Returns the durable offset."""
        try:
            os.fsync(self.fd)
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, self.durable)
                os.fsync(self.fd)
            raise
        self.durable = self.size
        return self.durable

    def close(self) -> None:
        os.close(self.fd)


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _size_of(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


async def _append_body(request: Request, part: PartFile, room: int) -> None:
    """Append the request body at the file's end, streamed (never more than _WRITE_BYTES in
    memory); 413 as soon as it would exceed `room` bytes, before those bytes are stored. A client
    that goes away keeps what arrived. Ends with the file synced."""
    declared = _number_header(request, "content-length")
    if declared is not None and declared > room:
        raise _error(
            413, "upload_too_large", f"The body is longer than the {room} bytes this upload has left.", {"room_bytes": room}
        )
    buffer = bytearray()
    received = 0
    try:
        async for chunk in _body(request):
            if received + len(chunk) > room:
                raise _error(
                    413,
                    "upload_too_large",
                    f"The body is longer than the {room} bytes this upload has left.",
                    {"room_bytes": room},
                )
            received += len(chunk)
            buffer += chunk
            if len(buffer) >= _WRITE_BYTES:
                await run_in_threadpool(part.write, bytes(buffer))
                buffer.clear()
        if buffer:
            await run_in_threadpool(part.write, bytes(buffer))
    finally:  # whatever stopped the body (a full disk included), what was written is made durable
        await run_in_threadpool(part.sync)


async def _body(request: Request) -> AsyncIterator[bytes]:
    try:
        async for chunk in request.stream():
            if chunk:
                count_upload_bytes(request, len(chunk))
                yield chunk
    except ClientDisconnect:
        return


# --- Rows ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Upload:
    upload_id: str
    video_id: int
    length: int | None
    completed: bool
    size_bytes: int | None
    expires_at: datetime
    metadata: dict[str, str]


def _find(session: Session, settings: Settings, upload_id: str, owner_id: int) -> _Upload:
    """The caller's own tus upload, still within its time; 404 for anyone else's or one abandoned."""
    found = (
        session.execute(
            select(UploadMetadata, Video)
            .join(Video, Video.id == UploadMetadata.video_id)
            .where(UploadMetadata.upload_id == upload_id, UploadMetadata.method == "tus", Video.owner_id == owner_id)
        ).first()
        if _UPLOAD_ID.match(upload_id)
        else None
    )
    if found is None:
        raise _error(404, "not_found", "This upload does not exist (or was abandoned).")
    upload, video = found
    expires_at = _expires(settings, upload.created_at)
    completed = upload.state == "completed"
    if not completed and expires_at <= datetime.now(UTC):
        raise _error(410, "upload_expired", "This upload was not completed in time; start a new one.")
    metadata = {
        "filename": upload.filename or "",
        "filetype": upload.content_type or "",
        "title": video.title,
        "description": video.description,
        "language": video.language or "",
    }
    return _Upload(upload.upload_id, video.id, upload.expected_size, completed, upload.size_bytes, expires_at, metadata)


def _abandon(session: Session, services: Services, part: PartFile, reason: str = "its creation failed") -> None:
    """Drop an upload: its row, its staged object and its data file (the caller holds its lock)."""
    abandon_upload(session, services.store, part.path.name, reason)
    session.commit()
    part.path.unlink(missing_ok=True)


def _set_length(session: Session, upload_id: str, length: int) -> None:
    upload = session.scalars(select(UploadMetadata).where(UploadMetadata.upload_id == upload_id)).one()
    upload.expected_size = length
    session.commit()


class _Context:
    """What every tus request needs: the services, and its signed-in user (looked up once, with the
    database held only for that query, not through a long PATCH)."""

    def __init__(self, request: Request, services: Services, user_id: int) -> None:
        self.request, self.services, self.user_id = request, services, user_id
        self.settings = services.settings

    async def db(self, work: Callable[[Session], T]) -> T:
        return await in_session(self.services, queue_deadline(self.request), work)

    async def find(self, upload_id: str) -> _Upload:
        return await self.db(lambda session: _find(session, self.settings, upload_id, self.user_id))

    def part(self, upload_id: str) -> Path:
        return part_path(self.settings, self.user_id, upload_id)


async def _context(request: Request, services: Services, claims: TokenClaims | None) -> _Context:
    _check_version(request)
    user = await in_session(services, queue_deadline(request), lambda session: user_for_claims(session, claims))
    if user is None:
        raise _error(
            401,
            "not_authenticated",
            "Resumable uploads need a Bearer access token (or a web session).",
            WWW_Authenticate="Bearer",
        )
    return _Context(request, services, user.id)


# --- Completion ----------------------------------------------------------------------------------


async def _finish(context: _Context, upload: _Upload, part: PartFile) -> int:
    """Accept a whole upload (the caller holds its lock); returns its video id. The data file goes
    once the upload is accepted or rejected; any other failure keeps it for the next try."""
    services = context.services
    try:
        video = await run_in_threadpool(
            accept_file,
            services.engine,
            services.store,
            upload.upload_id,
            part.path,
            UploadRules.from_settings(services.settings),
        )
    except UploadRejected:
        part.path.unlink(missing_ok=True)
        raise
    part.path.unlink(missing_ok=True)
    logger.info("tus upload %s became video %d", upload.upload_id, video.id)
    return video.id


def _video_location(video_id: int) -> str:
    return f"{API_PREFIX}/videos/{video_id}"


def _progress_headers(upload: _Upload, offset: int, video_id: int | None = None) -> dict[str, str]:
    headers = {"Tus-Resumable": TUS_VERSION, "Upload-Offset": str(offset), "Cache-Control": "no-store"}
    if upload.length is None:
        headers["Upload-Defer-Length"] = "1"
    else:
        headers["Upload-Length"] = str(upload.length)
    if not upload.completed and video_id is None:
        headers["Upload-Expires"] = _http_date(upload.expires_at)
    if video_id is not None:
        headers["Content-Location"] = _video_location(video_id)
    return headers


async def _receive(context: _Context, upload: _Upload, part: PartFile) -> tuple[int, int | None]:
    """Append the body (PATCH, or a creation with upload); finish the upload once it is whole.
    Returns the offset and, once accepted, the video id."""
    limit = context.settings.uploads.max_bytes
    before = part.size
    room = (upload.length if upload.length is not None else limit) - before
    await _append_body(context.request, part, room)
    offset = part.durable
    if before < SNIFF_BYTES <= offset:  # the head just arrived (a shorter file is judged whole, below)
        await _check_head(context, part)
    if upload.length is not None and offset == upload.length:
        return offset, await _finish(context, upload, part)
    return offset, None


async def _check_head(context: _Context, part: PartFile) -> None:
    """A file whose first bytes are no video container's is refused as soon as they arrive (the upload
    dropped), not after the whole file was sent (the caller holds its lock)."""
    try:
        check_head(await run_in_threadpool(read_head, part.path))
    except UploadRejected:
        await context.db(lambda session: _abandon(session, context.services, part, "not a video"))
        raise


async def _open_part(path: Path) -> PartFile:
    return await run_in_threadpool(PartFile, path, _LOCK_WAIT_SECONDS)


async def _try_open_part(path: Path) -> PartFile | None:
    """The data file, or None while another request holds it."""
    try:
        return await run_in_threadpool(PartFile, path)
    except ApiError as exc:
        if exc.status_code == 423:
            return None
        raise


def prune_orphaned_parts(services: Services) -> int:
    """Remove data files whose upload is gone (accepted, rejected, terminated, or abandoned by
    `videoai prune-uploads`) or past its `Upload-Expires`; a file being written stays. Returns how
    many were removed."""
    root = tus_root(services.settings)
    if not root.is_dir():
        return 0
    cutoff = datetime.now(UTC) - timedelta(hours=services.settings.uploads.abandon_hours)
    with session_scope(services.engine) as session:
        live = set(
            session.scalars(
                select(UploadMetadata.upload_id).where(
                    UploadMetadata.method == "tus", UploadMetadata.state == "pending", UploadMetadata.created_at >= cutoff
                )
            )
        )
    removed = 0
    for path in root.glob("*/*"):
        if path.name in live or not path.is_file():
            continue
        try:
            part = PartFile(path)
        except ApiError:  # locked: a request is still writing it
            continue
        try:
            path.unlink(missing_ok=True)
            removed += 1
        finally:
            part.close()
    return removed


async def prune_periodically(services: Services, every_seconds: float = 3600) -> None:
    while True:
        try:
            removed = await asyncio.to_thread(prune_orphaned_parts, services)
            if removed:
                logger.info("removed %d abandoned tus upload file(s)", removed)
        except Exception:  # the next round tries again
            logger.exception("pruning abandoned tus uploads failed")
        await asyncio.sleep(every_seconds)


# --- Routes --------------------------------------------------------------------------------------


def build_tus_router() -> APIRouter:
    # The tus protocol is documented by tus.io, not by our OpenAPI document (its routes answer with
    # tus headers rather than our JSON bodies).
    router = APIRouter(prefix=TUS_PATH, tags=["uploads"], include_in_schema=False)

    @router.options("")
    def tus_options(services: ServicesDep) -> Response:
        """What this server speaks (public: it says nothing about anyone's uploads)."""
        return Response(
            status_code=204,
            headers={
                "Tus-Resumable": TUS_VERSION,
                "Tus-Version": TUS_VERSION,
                "Tus-Extension": TUS_EXTENSIONS,
                "Tus-Max-Size": str(services.settings.uploads.max_bytes),
                "Allow": "OPTIONS, POST",
            },
        )

    @router.options("/{upload_id}")
    def tus_upload_options() -> Response:
        return Response(
            status_code=204,
            headers={"Tus-Resumable": TUS_VERSION, "Tus-Version": TUS_VERSION, "Allow": "OPTIONS, HEAD, PATCH, DELETE"},
        )

    @router.post("")
    async def tus_create(request: Request, services: ServicesDep, claims: ClaimsDep) -> Response:
        context = await _context(request, services, claims)
        settings = services.settings
        length = _number_header(request, "upload-length")
        deferred = request.headers.get("upload-defer-length")
        if request.headers.get("upload-concat") is not None:
            raise _error(400, "unsupported_extension", "This server does not support concatenation.")
        if deferred is not None and (deferred.strip() != "1" or length is not None):
            raise _error(400, "invalid_header", "Send either Upload-Length, or Upload-Defer-Length: 1.")
        if length is None and deferred is None:
            raise _error(400, "upload_length_required", "Send Upload-Length (or Upload-Defer-Length: 1).")
        if length is not None:
            check_size(length, settings.uploads.max_bytes)
        body_length = _number_header(request, "content-length")
        has_body = body_length not in (None, 0) or "chunked" in request.headers.get("transfer-encoding", "")
        if has_body and request.headers.get("content-type") != OFFSET_CONTENT_TYPE:
            raise _error(415, "unsupported_media_type", f"A creation with upload sends {OFFSET_CONTENT_TYPE}.")
        room = length if length is not None else settings.uploads.max_bytes
        if body_length is not None and body_length > room:
            raise _error(413, "upload_too_large", f"The body is longer than the upload's {room} bytes.", {"room_bytes": room})
        new = _validated_metadata(parse_metadata(request.headers.get("upload-metadata")))

        def create(session: Session) -> _Upload:
            check_open_uploads(session, services, context.user_id)
            pending = create_video(
                session,
                title=new.title,
                description=new.description,
                language=new.language,
                owner_id=context.user_id,
                filename=new.filename,
                content_type=new.filetype,
                expected_size=length,
                method="tus",
            )
            session.commit()
            return _find(session, settings, pending.upload_id, context.user_id)

        upload = await context.db(create)
        location = str(request.url_for("tus_head", upload_id=upload.upload_id))
        headers = {"Location": location, "Tus-Resumable": TUS_VERSION, "Upload-Expires": _http_date(upload.expires_at)}
        if has_body or length == 0:
            part = await _open_part(context.part(upload.upload_id))
            try:
                offset, video_id = await _receive(context, upload, part)
            except BaseException:
                # The client never learnt where this upload is: nothing of it can be resumed.
                await context.db(lambda session: _abandon(session, services, part))
                raise
            finally:
                part.close()
            headers["Upload-Offset"] = str(offset)
            if video_id is not None:
                headers["Content-Location"] = _video_location(video_id)
        return Response(status_code=201, headers=headers)

    @router.head("/{upload_id}", name="tus_head")
    async def tus_head(upload_id: str, request: Request, services: ServicesDep, claims: ClaimsDep) -> Response:
        context = await _context(request, services, claims)
        upload = await context.find(upload_id)
        if upload.completed:
            return Response(status_code=200, headers=_progress_headers(upload, upload.size_bytes or 0, upload.video_id))
        path = context.part(upload_id)
        offset = await run_in_threadpool(_size_of, path)
        video_id = None
        if upload.length is not None and offset == upload.length:
            # Whole but not accepted: the process that received the last byte died first (a locked
            # file is being finished by its writer now).
            part = await _try_open_part(path)
            if part is not None:
                try:
                    video_id = await _finish(context, upload, part)
                finally:
                    part.close()
        headers = _progress_headers(upload, offset, video_id)
        headers["Upload-Metadata"] = ",".join(
            f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in upload.metadata.items()
        )
        return Response(status_code=200, headers=headers)

    @router.patch("/{upload_id}")
    async def tus_patch(upload_id: str, request: Request, services: ServicesDep, claims: ClaimsDep) -> Response:
        context = await _context(request, services, claims)
        if request.headers.get("content-type") != OFFSET_CONTENT_TYPE:
            raise _error(415, "unsupported_media_type", f"A PATCH sends {OFFSET_CONTENT_TYPE}.")
        offset = _number_header(request, "upload-offset")
        if offset is None:
            raise _error(400, "upload_offset_required", "Send Upload-Offset.")
        length = _number_header(request, "upload-length")
        upload = await context.find(upload_id)
        if upload.completed:
            if offset == upload.size_bytes:
                return Response(status_code=204, headers=_progress_headers(upload, offset, upload.video_id))
            raise _error(409, "upload_completed", "This upload is already complete.", Upload_Offset=str(upload.size_bytes or 0))
        part = await _open_part(context.part(upload_id))
        try:
            current = part.size
            if offset != current:
                raise _error(
                    409,
                    "offset_mismatch",
                    f"The upload holds {current} bytes: send from there.",
                    {"upload_offset": current},
                    Upload_Offset=str(current),
                )
            if length is not None:
                if upload.length is None:
                    check_size(length, context.settings.uploads.max_bytes)
                    if length < current:
                        raise _error(400, "invalid_header", "Upload-Length is less than the bytes already received.")
                    await context.db(lambda session: _set_length(session, upload_id, length))
                    upload = await context.find(upload_id)
                elif length != upload.length:
                    raise _error(400, "invalid_header", "Upload-Length cannot change once declared.")
            new_offset, video_id = await _receive(context, upload, part)
        finally:
            part.close()
        return Response(status_code=204, headers=_progress_headers(upload, new_offset, video_id))

    @router.delete("/{upload_id}")
    async def tus_delete(upload_id: str, request: Request, services: ServicesDep, claims: ClaimsDep) -> Response:
        context = await _context(request, services, claims)
        upload = await context.find(upload_id)
        if upload.completed:
            raise _error(404, "not_found", "This upload is complete: delete its video instead.")
        part = await _open_part(context.part(upload_id))
        try:
            await context.db(lambda session: _abandon(session, services, part, "terminated by its client"))
        finally:
            part.close()
        return Response(status_code=204, headers={"Tus-Resumable": TUS_VERSION})

    return router
