"""Listing, searching, reading, changing and deleting videos.

Read routes are public: anyone may see ready videos (as on PeerTube); a
signed-in user also sees their own videos at any status. Changing and
deleting are owner-only: 403 for a video the caller can see but does not
own, 404 for one they cannot see at all (its existence is not revealed).
"""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from sqlalchemy import or_, select

from pipeline.chapters import load_chapters
from pipeline.db import videos as video_rows
from pipeline.db.models import (
    Video,
    VideoStatus,
    VideoSummary,
    VideoTranscript,
)
from pipeline.search import InvalidCursor as InvalidSearchCursor
from pipeline.search import SearchQuery
from pipeline.search.hybrid import SearchMode
from serving_api.cursor import InvalidCursor, VideoCursor
from serving_api.deps import PUBLIC, OptionalUser, OwnedVideo, ReadyVideo, ServicesDep, SessionDep, VisibleVideo
from serving_api.errors import ApiError, error_responses, not_found
from serving_api.schemas.videos import (
    ChapterOut,
    ChaptersOut,
    SearchPageOut,
    SummaryOut,
    TranscriptOut,
    VideoDetailOut,
    VideoOut,
    VideoPage,
    VideoUpdateIn,
)
from serving_api.urls import ObjectLinks
from serving_api.validation import NO_NUL_PATTERN, OwnerIdQuery, UtcDateTimeQuery

router = APIRouter(prefix="/videos", tags=["videos"])

Limit = Annotated[int, Query(ge=1, le=100, description="Page size.")]


def _bad_cursor(exc: Exception) -> ApiError:
    return ApiError(400, "invalid_cursor", str(exc) or "The cursor is invalid.")


@router.get("/list", response_model=VideoPage, responses=error_responses(400, 401, 422), openapi_extra=PUBLIC)
def list_videos(
    session: SessionDep,
    user: OptionalUser,
    cursor: str | None = None,
    limit: Limit = 20,
    status: VideoStatus | None = None,
    owner_id: OwnerIdQuery = None,
    mine: Annotated[bool, Query(description="Only the caller's videos (needs a token).")] = False,
) -> VideoPage:
    """Newest first, with an opaque cursor that stays stable while new videos arrive."""
    query = select(Video)
    if user is None:
        if mine:
            raise ApiError(401, "not_authenticated", "mine=true needs a Bearer access token.",
                           headers={"WWW-Authenticate": "Bearer"})
        query = query.where(Video.status == VideoStatus.READY.value)
    else:
        query = query.where(or_(Video.status == VideoStatus.READY.value, Video.owner_id == user.id))
        if mine:
            query = query.where(Video.owner_id == user.id)
    if owner_id is not None:
        query = query.where(Video.owner_id == owner_id)
    if status is not None:
        query = query.where(Video.status == status.value)
    if cursor:
        try:
            query = query.where(VideoCursor.decode(cursor).after())
        except InvalidCursor as exc:
            raise _bad_cursor(exc) from None
    rows = list(session.scalars(query.order_by(Video.created_at.desc(), Video.id.desc()).limit(limit + 1)))
    page, more = rows[:limit], len(rows) > limit
    next_cursor = VideoCursor(created_at=page[-1].created_at, id=page[-1].id).encode() if more else None
    return VideoPage(items=[VideoOut.model_validate(v) for v in page], next_cursor=next_cursor)


@router.get("/search", response_model=SearchPageOut, responses=error_responses(400, 401, 403, 422),
            openapi_extra=PUBLIC)
def search_videos(
    services: ServicesDep,
    user: OptionalUser,
    q: Annotated[str, Query(min_length=1, max_length=500, pattern=NO_NUL_PATTERN, description="Words to find.")],
    status: Annotated[VideoStatus, Query(description="Not `ready`: the caller's own videos only.")] = (
        VideoStatus.READY),
    owner_id: OwnerIdQuery = None,
    created_from: UtcDateTimeQuery = None,
    created_to: UtcDateTimeQuery = None,
    limit: Limit = 20,
    cursor: str | None = None,
    mode: Annotated[SearchMode, Query(description=(
        "`hybrid` (default): words and meaning, fused by reciprocal rank; `text`: full-text only; "
        "`semantic`: by meaning only (passage embeddings)."))] = "hybrid",
) -> SearchPageOut:
    """Search title, description, transcript and summary by their words and by meaning, best first, with
    highlighted snippets, the transcript segments where the words are spoken and, for hits found by
    meaning, the moment of the best-matching passage."""
    if status != VideoStatus.READY:
        if user is None:
            raise ApiError(401, "not_authenticated", "Searching videos that are not ready needs a token.",
                           headers={"WWW-Authenticate": "Bearer"})
        if owner_id not in (None, user.id):
            raise ApiError(403, "forbidden", "Only your own videos can be searched at a status other than ready.")
        owner_id = user.id
    query = SearchQuery(text=q, status=status.value, owner_id=owner_id, created_from=created_from,
                        created_to=created_to, limit=limit, cursor=cursor)
    try:
        page = services.hybrid.search(query, mode)
    except InvalidSearchCursor as exc:
        raise _bad_cursor(exc) from None
    return SearchPageOut.model_validate(
        {"hits": [dataclasses.asdict(hit) for hit in page.hits], "total": page.total, "total_exact": page.total_exact,
         "next_cursor": page.next_cursor, "mode": page.extra.get("mode", mode)})


@router.get("/{video_id}", response_model=VideoDetailOut, responses=error_responses(404), openapi_extra=PUBLIC)
def get_video(video: VisibleVideo) -> VideoDetailOut:
    return VideoDetailOut.model_validate(
        {**VideoOut.model_validate(video).model_dump(), "variants": video.variants,
         "has_thumbnail": video.thumbnail_key is not None})


@router.patch("/{video_id}", response_model=VideoOut, responses=error_responses(401, 403, 404, 422))
def update_video(video: OwnedVideo, body: VideoUpdateIn, session: SessionDep, services: ServicesDep) -> Video:
    return video_rows.update_video(session, services.search, video, body.model_dump(exclude_unset=True, exclude_none=True))


@router.delete("/{video_id}", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(401, 403, 404))
def delete_video(video: OwnedVideo, session: SessionDep, services: ServicesDep) -> None:
    """Remove the video, everything materialized from it, its upload and its search document."""
    video_rows.delete_video(session, services.store, services.search, services.vectors, video)


@router.get("/{video_id}/transcript", response_model=TranscriptOut, responses=error_responses(404, 409),
            openapi_extra=PUBLIC)
def get_transcript(video: ReadyVideo, request: Request, session: SessionDep, services: ServicesDep) -> TranscriptOut:
    transcript = video_rows.one_per_video(session, VideoTranscript, video.id)
    if transcript is None:
        raise not_found(f"The transcript of video {video.id}")
    segments = video_rows.segment_rows(session, video.id)
    vtt_url = ObjectLinks(request, services).url(transcript.vtt_key, "captions", video_id=video.id) \
        if transcript.vtt_key else None
    return TranscriptOut.model_validate({
        "video_id": video.id, "language": transcript.language, "text": transcript.text,
        "word_count": transcript.word_count, "segments": list(segments), "vtt_url": vtt_url})


@router.get("/{video_id}/chapters", response_model=ChaptersOut, responses=error_responses(404, 409),
            openapi_extra=PUBLIC)
def get_chapters(video: ReadyVideo, request: Request, session: SessionDep, services: ServicesDep) -> ChaptersOut:
    """The video's topical chapters (start, end, title, one-sentence gist) and their WebVTT track."""
    from serving_api.routers.playback import chapters_track_url

    chapters = load_chapters(session, video.id)
    return ChaptersOut(video_id=video.id, vtt_url=chapters_track_url(ObjectLinks(request, services), services, video.id),
                       chapters=[ChapterOut(position=i, start=c.start, end=c.end, title=c.title, gist=c.gist)
                                 for i, c in enumerate(chapters)])


@router.get("/{video_id}/summary", response_model=SummaryOut, responses=error_responses(404, 409),
            openapi_extra=PUBLIC)
def get_summary(video: ReadyVideo, session: SessionDep) -> SummaryOut:
    summary = video_rows.one_per_video(session, VideoSummary, video.id)
    if summary is None:
        raise not_found(f"The summary of video {video.id}")
    return SummaryOut(video_id=video.id, summary=summary.summary, sentence_count=summary.sentence_count,
                      chunk_count=summary.chunk_count, quality_score=summary.quality_score,
                      model_info=summary.model_info, updated_at=summary.updated_at)
