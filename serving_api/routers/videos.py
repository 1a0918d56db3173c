"""Listing, searching, reading, changing and deleting videos.

Read routes are public: anyone may see ready videos (as on PeerTube); a
signed-in user also sees their own videos at any status. Changing and
deleting are owner-only: 403 for a video the caller can see but does not
own, 404 for one they cannot see at all (its existence is not revealed).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from pipeline.db.models import Video, VideoStatus
from pipeline.search.hybrid import SearchMode
from serving_api.deps import PUBLIC, OptionalUser, OwnedVideo, ReadyVideo, ServicesDep, SessionDep, VisibleVideo
from serving_api.errors import error_responses
from serving_api.schemas.videos import (
    ChaptersOut,
    SearchPageOut,
    SummaryOut,
    TranscriptOut,
    VideoDetailOut,
    VideoOut,
    VideoPage,
    VideoUpdateIn,
)
from serving_api.services import playback
from serving_api.services import videos as video_service
from serving_api.urls import ObjectLinks
from serving_api.validation import NO_NUL_PATTERN, CursorQuery, OwnerIdQuery, UtcDateTimeQuery

router = APIRouter(prefix="/videos", tags=["videos"])

Limit = Annotated[int, Query(ge=1, le=100, description="Page size.")]


@router.get("/list", response_model=VideoPage, responses=error_responses(400, 401, 422), openapi_extra=PUBLIC)
def list_videos(
    session: SessionDep,
    user: OptionalUser,
    cursor: CursorQuery = None,
    limit: Limit = 20,
    status: VideoStatus | None = None,
    owner_id: OwnerIdQuery = None,
    mine: Annotated[bool, Query(description="Only the caller's videos (needs a token).")] = False,
) -> VideoPage:
    """Newest first, with an opaque cursor that stays stable while new videos arrive."""
    return video_service.list_videos(session, user, cursor=cursor, limit=limit, status=status, owner_id=owner_id, mine=mine).page(
        user
    )


@router.get("/search", response_model=SearchPageOut, responses=error_responses(400, 401, 403, 422), openapi_extra=PUBLIC)
def search_videos(
    services: ServicesDep,
    user: OptionalUser,
    q: Annotated[str, Query(min_length=1, max_length=500, pattern=NO_NUL_PATTERN, description="Words to find.")],
    status: Annotated[VideoStatus, Query(description="Not `ready`: the caller's own videos only.")] = (VideoStatus.READY),
    owner_id: OwnerIdQuery = None,
    created_from: UtcDateTimeQuery = None,
    created_to: UtcDateTimeQuery = None,
    limit: Limit = 20,
    cursor: CursorQuery = None,
    language: Annotated[
        str | None,
        Query(
            max_length=16,
            pattern=NO_NUL_PATTERN,
            description="Only videos in this language (ISO 639-1), the words analysed as that language's (stems); "
            "answered by words (`mode` text).",
        ),
    ] = None,
    mode: Annotated[
        SearchMode,
        Query(
            description=(
                "`hybrid` (default): words and meaning, fused by reciprocal rank; `text`: full-text only; "
                "`semantic`: by meaning only (passage embeddings)."
            )
        ),
    ] = "hybrid",
) -> SearchPageOut:
    """Search title, description, transcript and summary by their words and by meaning, best first, with
    highlighted snippets, the transcript segments where the words are spoken and, for hits found by
    meaning, the moment of the best-matching passage."""
    return video_service.search_videos(
        services,
        user,
        q,
        status=status,
        owner_id=owner_id,
        created_from=created_from,
        created_to=created_to,
        limit=limit,
        cursor=cursor,
        mode=mode,
        language=language,
    )


@router.get("/{video_id}", response_model=VideoDetailOut, responses=error_responses(404), openapi_extra=PUBLIC)
def get_video(video: VisibleVideo, user: OptionalUser, services: ServicesDep) -> VideoDetailOut:
    """One video: ready ones for anyone, any status for its owner (404 otherwise), with its renditions."""
    return VideoDetailOut.model_validate(
        {
            **video_service.video_out(video, user).model_dump(),
            "variants": video.variants,
            "has_thumbnail": video.thumbnail_key is not None,
            "playable": video_service.is_playable(services, video),
        }
    )


@router.patch("/{video_id}", response_model=VideoOut, responses=error_responses(401, 403, 404, 422))
def update_video(video: OwnedVideo, body: VideoUpdateIn, session: SessionDep, services: ServicesDep) -> Video:
    """Change the title, description and/or spoken language of one of your videos (search follows; a new
    language makes its transcript and what follows it stale in the pipeline: `videoai reprocess --stale`)."""
    # A null title or description changes nothing; a null (or empty) language clears it: detected again.
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None or k == "language"}
    return video_service.update_video(session, services, video, changes)


@router.delete("/{video_id}", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(401, 403, 404))
def delete_video(video: OwnedVideo, session: SessionDep, services: ServicesDep) -> None:
    """Remove the video, everything materialized from it, its upload and its search document."""
    video_service.delete_video(session, services, video)


@router.post("/{video_id}/retry", response_model=VideoOut, responses=error_responses(401, 403, 404, 409))
def retry_video(video: OwnedVideo, session: SessionDep, user: OptionalUser) -> VideoOut:
    """Process a failed video again from its upload: it becomes `pending` (409 if it has not failed)."""
    return video_service.video_out(video_service.retry_video(session, video), user)


@router.get("/{video_id}/transcript", response_model=TranscriptOut, responses=error_responses(404, 409), openapi_extra=PUBLIC)
def get_transcript(video: ReadyVideo, request: Request, session: SessionDep, services: ServicesDep) -> TranscriptOut:
    """The ready video's transcript: its text, timed segments and WebVTT captions."""
    return playback.transcript(session, ObjectLinks(request, services), video)


@router.get("/{video_id}/chapters", response_model=ChaptersOut, responses=error_responses(404, 409), openapi_extra=PUBLIC)
def get_chapters(video: ReadyVideo, request: Request, session: SessionDep, services: ServicesDep) -> ChaptersOut:
    """The video's topical chapters (start, end, title, one-sentence gist) and their WebVTT track."""
    return playback.chapters_out(session, services, ObjectLinks(request, services), video)


@router.get("/{video_id}/summary", response_model=SummaryOut, responses=error_responses(404, 409), openapi_extra=PUBLIC)
def get_summary(video: ReadyVideo, session: SessionDep) -> SummaryOut:
    """The ready video's summary of what is said, and the model that wrote it."""
    return playback.summary(session, video)
