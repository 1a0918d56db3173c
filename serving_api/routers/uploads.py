"""Uploading videos: one streamed multipart POST, or the presigned flow.

Presigned flow: `POST /videos/uploads` creates the upload and returns where to
PUT the bytes (a presigned S3 URL, or on the local store an API URL carrying
a short-lived upload token, so clients treat both alike); then
`POST /videos/uploads/{upload_id}/complete` checks and publishes them.
"""

from __future__ import annotations

from typing import Annotated

import jwt
from fastapi import APIRouter, Path, Query, Request, status
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from pipeline.db.models import UploadMetadata, Video
from pipeline.uploads import check_size, create_video
from serving_api.deps import PUBLIC, CurrentUser, ServicesDep, SessionDep
from serving_api.errors import ApiError, error_responses, not_found
from serving_api.receive import (
    FILE_FIELD,
    accept_staged_upload,
    check_open_uploads,
    receive_multipart_upload,
    receive_raw_upload,
)
from serving_api.schemas.videos import (
    DESCRIPTION_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    PresignedUploadIn,
    PresignedUploadOut,
    UploadContentOut,
    VideoOut,
)
from serving_api.security import create_upload_token, decode_upload_token
from serving_api.services import Services
from serving_api.urls import api_url

router = APIRouter(prefix="/videos", tags=["uploads"])

UploadIdPath = Annotated[str, Path(pattern=r"^[0-9a-f]{1,64}$", description="The upload_id it was created with.")]

_MULTIPART_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [FILE_FIELD],
                    "properties": {
                        "title": {"type": "string", "maxLength": TITLE_MAX_LENGTH, "description": "Defaults to the file's name."},
                        "description": {"type": "string", "maxLength": DESCRIPTION_MAX_LENGTH},
                        "language": {
                            "type": "string",
                            "maxLength": 16,
                            "description": "The spoken language (ISO 639-1, e.g. fr); absent: detected. Before the file.",
                        },
                        FILE_FIELD: {"type": "string", "format": "binary"},
                    },
                }
            }
        },
    },
}
_RAW_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    },
}


@router.post(
    "/upload",
    response_model=VideoOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(400, 401, 413, 415, 422, 429, 503),
    openapi_extra=_MULTIPART_BODY,
)
async def upload_video(request: Request, user: CurrentUser, session: SessionDep, services: ServicesDep) -> Video:
    """Stream a video to the object store in constant memory (any size up to MAX_UPLOAD_BYTES).

    The file is checked while it streams (size; container signature) and
    then probed with ffprobe: 413 or 415 leave nothing behind. On success the
    video is `pending` and a `video.uploaded` event is on its way.
    """
    owner_id = user.id
    session.close()  # hand the connection back for the upload's duration (minutes, for large files)
    return await receive_multipart_upload(request, services, owner_id)


def _pending_upload(session: Session, upload_id: str, owner_id: int) -> UploadMetadata:
    upload = session.scalar(select(UploadMetadata).where(UploadMetadata.upload_id == upload_id))
    video = session.get(Video, upload.video_id) if upload is not None else None
    if upload is None or video is None or video.owner_id != owner_id:
        raise not_found(f"Upload {upload_id}")
    return upload


@router.post(
    "/uploads",
    response_model=PresignedUploadOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 413, 422, 429),
)
def create_presigned_upload(
    body: PresignedUploadIn, request: Request, user: CurrentUser, session: SessionDep, services: ServicesDep
) -> PresignedUploadOut:
    """Start a presigned upload: where to PUT the bytes (a presigned S3 URL, or this API with an upload
    token), then `complete_url` to check and publish them."""
    settings = services.settings
    check_size(body.size_bytes, settings.uploads.max_bytes)
    check_open_uploads(session, services, user.id)
    pending = create_video(
        session,
        title=body.title,
        description=body.description,
        language=body.language,
        owner_id=user.id,
        filename=body.filename,
        content_type=body.content_type,
        expected_size=body.size_bytes,
        method="presigned",
    )
    session.commit()
    url = services.store.presigned_put_url(
        pending.staging_key, body.content_type, settings.storage.presign_seconds, body.size_bytes
    )
    token = create_upload_token(settings, user.id, pending.upload_id)
    if url is None:
        url = api_url(request, services, "put_upload_content", query=f"token={token.token}", upload_id=pending.upload_id)
    return PresignedUploadOut(
        video_id=pending.video_id,
        upload_id=pending.upload_id,
        upload_url=url,
        headers={"Content-Type": body.content_type},
        expires_at=token.expires_at,
        complete_url=api_url(request, services, "complete_upload", upload_id=pending.upload_id),
    )


def _put_target(services: Services, upload_id: str, owner_id: int) -> tuple[str, str | None, int | None]:
    """Where a pending upload's bytes go, their declared content type and size."""
    with services.sessions() as session:
        upload = _pending_upload(session, upload_id, owner_id)
        if upload.state != "pending" or upload.staging_key is None:
            raise ApiError(409, "upload_not_pending", "This upload is already completed.")
        return upload.staging_key, upload.content_type, upload.expected_size


@router.put(
    "/uploads/{upload_id}/content",
    response_model=UploadContentOut,
    responses=error_responses(401, 404, 409, 413, 415),
    openapi_extra={**_RAW_BODY, **PUBLIC},
)
async def put_upload_content(
    upload_id: UploadIdPath,
    request: Request,
    services: ServicesDep,
    token: str = Query(description="The upload token from upload_url."),
) -> UploadContentOut:
    """Receive the bytes of a presigned upload where the object store cannot take them directly.

    Public on purpose, like an S3 presigned URL: the token in the URL is the
    credential, and it is good for this one upload only.
    """
    try:
        claims = decode_upload_token(services.settings, token)
    except jwt.InvalidTokenError:
        raise ApiError(401, "invalid_upload_token", "The upload token is invalid or has expired.") from None
    if claims.extra.get("upload_id") != upload_id:
        raise ApiError(401, "invalid_upload_token", "The upload token is for another upload.")
    staging_key, content_type, declared = await run_in_threadpool(_put_target, services, upload_id, claims.user_id)
    size = await receive_raw_upload(request, services, upload_id, staging_key, content_type, declared)
    return UploadContentOut(upload_id=upload_id, size_bytes=size)


@router.post("/uploads/{upload_id}/complete", response_model=VideoOut, responses=error_responses(401, 404, 409, 413, 415, 503))
def complete_upload(upload_id: UploadIdPath, user: CurrentUser, session: SessionDep, services: ServicesDep) -> Video:
    """Check the uploaded bytes are a video, then publish them (the video becomes `pending`)."""
    _pending_upload(session, upload_id, user.id)
    session.close()
    return accept_staged_upload(services, upload_id)
