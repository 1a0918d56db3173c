"""Receiving uploads: a streamed multipart POST, or a raw PUT of a presigned-style upload.

Both land the bytes at the upload's staging key through `UploadSink` and are
then accepted by `accept_staged_upload`, which also completes the presigned
flow on S3 (where the bytes never pass through the API). The rule is the
domain's (`pipeline.uploads`): size, container signature and ffprobe, then, in
one transaction, publish and write the `video.uploaded` event. Any rejection
abandons the upload (no row and no object are left behind) and raises
`UploadRejected`, which the error handlers answer with 413, 415 or 503.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from fastapi import Request
from pydantic import BaseModel, Field, ValidationError
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from pipeline.db.models import Video
from pipeline.db.session import session_scope
from pipeline.storage import ObjectNotFound
from pipeline.uploads import (
    PendingUpload,
    UploadRules,
    abandon_upload,
    accept_upload,
    check_size,
    create_video,
    open_uploads,
)
from serving_api.errors import ApiError
from serving_api.schemas.videos import (
    CONTENT_TYPE_MAX_LENGTH,
    DESCRIPTION_MAX_LENGTH,
    FILENAME_MAX_LENGTH,
    TITLE_MAX_LENGTH,
)
from serving_api.services import Services
from serving_api.upload_stream import UploadSink
from serving_api.validation import NO_NUL_PATTERN, Language, has_nul

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

FILE_FIELD = "file"
_MAX_FIELD_BYTES = 64 * 1024  # title and description are small; a huge "field" is an attack


class UploadFields(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=TITLE_MAX_LENGTH, pattern=NO_NUL_PATTERN)
    description: str = Field(default="", max_length=DESCRIPTION_MAX_LENGTH, pattern=NO_NUL_PATTERN)
    language: Language = None


def check_file_fields(filename: str | None, content_type: str | None, loc: list[str]) -> None:
    """The file's name and type are stored with the upload: they must fit their columns."""
    for name, value, limit in (
        ("filename", filename, FILENAME_MAX_LENGTH),
        ("content_type", content_type, CONTENT_TYPE_MAX_LENGTH),
    ):
        if value is not None and (len(value) > limit or has_nul(value)):
            raise ApiError(
                422,
                "validation_error",
                f"The file's {name} is invalid.",
                [{"loc": [*loc, name], "type": "value_error", "msg": f"at most {limit} characters, without NUL characters"}],
            )


def validated_fields(raw: dict[str, str], loc: list[str]) -> UploadFields:
    """The upload's title, description and language (422 naming `loc` when they break the rules)."""
    try:
        return UploadFields.model_validate({k: v.strip() for k, v in raw.items() if k in UploadFields.model_fields})
    except ValidationError as exc:
        details = [{"loc": [*loc, *err["loc"]], "msg": err["msg"], "type": err["type"]} for err in exc.errors()]
        raise ApiError(422, "validation_error", "The upload's fields are invalid.", details) from None


def upload_title(fields: UploadFields, filename: str | None) -> str:
    return fields.title or PurePosixPath(filename or "").stem[:TITLE_MAX_LENGTH] or "Untitled"


def count_upload_bytes(request: Request, size: int) -> None:
    metrics = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        metrics.upload_bytes.inc(size)


# --- Multipart parsing -------------------------------------------------------------------------


@dataclass
class PartStart:
    name: str
    filename: str | None
    content_type: str | None


@dataclass
class _PartEvents:
    """Collects python-multipart's callbacks for one `write`, to replay them asynchronously."""

    events: list[PartStart | bytes | None] = field(default_factory=list)  # bytes: data; None: part end
    _headers: dict[bytes, bytes] = field(default_factory=dict)
    _field: bytearray = field(default_factory=bytearray)
    _value: bytearray = field(default_factory=bytearray)

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._headers.clear,
            "on_header_field": lambda data, start, end: self._field.extend(data[start:end]),
            "on_header_value": lambda data, start, end: self._value.extend(data[start:end]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": lambda data, start, end: self.events.append(bytes(data[start:end])),
            "on_part_end": lambda: self.events.append(None),
        }

    def _header_end(self) -> None:
        self._headers[bytes(self._field).lower()] = bytes(self._value)
        self._field.clear()
        self._value.clear()

    def _headers_finished(self) -> None:
        _, disposition = parse_options_header(self._headers.get(b"content-disposition", b""))
        filename = disposition.get(b"filename")
        content_type = self._headers.get(b"content-type")
        self.events.append(
            PartStart(
                name=disposition.get(b"name", b"").decode("utf-8", "replace"),
                filename=filename.decode("utf-8", "replace") if filename is not None else None,
                content_type=content_type.decode("latin-1") if content_type else None,
            )
        )


async def multipart_events(request: Request) -> AsyncIterator[PartStart | bytes | None]:
    """The body's parts as they stream in: PartStart, its data chunks, None at its end."""
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or not params.get(b"boundary"):
        raise ApiError(415, "unsupported_media_type", "Send the upload as multipart/form-data.")
    collected = _PartEvents()
    parser = MultipartParser(params[b"boundary"], collected.callbacks())
    try:
        async for chunk in request.stream():
            count_upload_bytes(request, len(chunk))
            parser.write(chunk)
            for event in collected.events:
                yield event
            collected.events.clear()
        parser.finalize()
    except MultipartParseError as exc:
        raise ApiError(400, "malformed_multipart", f"The multipart body is malformed: {exc}") from None


# --- Receiving bytes ---------------------------------------------------------------------------


def check_open_uploads(session: Session, services: Services, owner_id: int) -> None:
    """The per-user quota of uploads started and not completed (MAX_OPEN_UPLOADS_PER_USER): 429 past it."""
    limit = services.settings.uploads.max_open_per_user
    if open_uploads(session, owner_id) >= limit:
        raise ApiError(
            429,
            "too_many_open_uploads",
            f"You have {limit} uploads in progress; complete or abandon some before starting another.",
            details={"max_open_uploads": limit},
        )


def _create_pending(services: Services, owner_id: int, fields: UploadFields, part: PartStart) -> PendingUpload:
    with session_scope(services.engine) as session:
        check_open_uploads(session, services, owner_id)
        return create_video(
            session,
            title=upload_title(fields, part.filename),
            description=fields.description,
            language=fields.language,
            owner_id=owner_id,
            filename=part.filename,
            content_type=part.content_type,
            method="direct",
        )


def _abandon(services: Services, upload_id: str, reason: str) -> None:
    with session_scope(services.engine) as session:
        abandon_upload(session, services.store, upload_id, reason)


async def receive_multipart_upload(request: Request, services: Services, owner_id: int) -> Video:
    """Stream a multipart body's `file` part to a new upload, then accept it.

    Form fields (`title`, `description`) may come before or after the file.
    """
    raw_fields: dict[str, str] = {}
    current: PartStart | None = None
    field_value = bytearray()
    file_part: PartStart | None = None
    pending: PendingUpload | None = None
    sink: UploadSink | None = None
    try:
        async for event in multipart_events(request):
            if isinstance(event, PartStart):
                current = event
                if event.filename is None:
                    field_value.clear()
                    continue
                if event.name != FILE_FIELD or pending is not None:
                    raise ApiError(422, "validation_error", f"Send exactly one file, in the field '{FILE_FIELD}'.")
                check_file_fields(event.filename, event.content_type, ["body", FILE_FIELD])
                file_part = event
                pending = await run_in_threadpool(
                    _create_pending, services, owner_id, validated_fields(raw_fields, ["body"]), event
                )
                sink = UploadSink(services.store, pending.staging_key, services.settings.uploads.max_bytes, event.content_type)
                await sink.start()
            elif isinstance(event, bytes):
                if sink is not None:
                    await sink.write(event)
                else:
                    field_value.extend(event)
                    if len(field_value) > _MAX_FIELD_BYTES:
                        raise ApiError(413, "field_too_large", "A form field is too large.")
            elif current is not None:  # end of the current part
                if sink is not None:
                    finished, sink = sink, None
                    await finished.finish()
                else:
                    raw_fields[current.name] = field_value.decode("utf-8", "replace")
                current = None
        if pending is None:
            raise ApiError(422, "validation_error", f"The request has no file in the field '{FILE_FIELD}'.")
        if sink is not None:
            raise ApiError(400, "malformed_multipart", "The multipart body ended inside the file.")
        fields = validated_fields(raw_fields, ["body"])
    except BaseException:
        if sink is not None:
            await sink.abort()
        if pending is not None:
            await run_in_threadpool(_abandon, services, pending.upload_id, "rejected while receiving")
        raise
    assert file_part is not None
    # Fields sent after the file were not known when the row was created: apply them now.
    return await run_in_threadpool(
        accept_staged_upload, services, pending.upload_id, upload_title(fields, file_part.filename), fields.description
    )


async def receive_raw_upload(
    request: Request,
    services: Services,
    upload_id: str,
    staging_key: str,
    content_type: str | None,
    declared_size: int | None = None,
) -> int:
    """Stream a raw PUT body to a pending upload's staging key; returns its size.

    The same rules as the multipart upload apply while bytes pass, and the body may not be
    longer than the size the upload declared (413 before those bytes are stored; a
    Content-Length past it, before any is read); a rejected PUT abandons the upload, as a
    rejected POST does.
    """
    limit = min(services.settings.uploads.max_bytes, declared_size if declared_size is not None else 2**63)
    try:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit():
            check_size(int(length), limit)
        async with UploadSink(services.store, staging_key, limit, content_type) as sink:
            async for chunk in request.stream():
                count_upload_bytes(request, len(chunk))
                await sink.write(chunk)
    except BaseException:
        await run_in_threadpool(_abandon, services, upload_id, "rejected while receiving")
        raise
    return sink.size


# --- Accepting a staged upload -----------------------------------------------------------------


def accept_staged_upload(services: Services, upload_id: str, title: str | None = None, description: str | None = None) -> Video:
    """The upload rule on the staged bytes, then publish and announce them (`pipeline.uploads.accept_upload`)."""
    try:
        return accept_upload(
            services.engine,
            services.store,
            upload_id,
            UploadRules.from_settings(services.settings),
            title=title,
            description=description,
        )
    except ObjectNotFound:
        raise ApiError(409, "upload_incomplete", "No bytes have been uploaded for this upload yet.") from None
