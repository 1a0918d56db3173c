"""Videos: who may see or change one, listing, editing, deleting and searching.

Ready videos are public (as on PeerTube); a video at any other status is seen
by its owner only. Changing and deleting are owner-only: 403 for a video the
caller can see but does not own, 404 for one they cannot see at all (its
existence is not revealed).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from pipeline import hls, keys, languages
from pipeline.db import videos as video_rows
from pipeline.db.models import MAX_ID, User, Video, VideoStatus
from pipeline.db.videos import load_chapters
from pipeline.lifecycle import request_retry
from pipeline.search import InvalidCursor as InvalidSearchCursor
from pipeline.search import SearchQuery
from pipeline.search.hybrid import SearchMode
from serving_api.cursor import InvalidCursor, VideoCursor
from serving_api.errors import ApiError, not_found
from serving_api.schemas.videos import SearchPageOut, VideoOut, VideoPage
from serving_api.services.accounts import display_name
from serving_api.services.container import Services


def _bad_cursor(exc: Exception) -> ApiError:
    return ApiError(400, "invalid_cursor", str(exc) or "The cursor is invalid.")


def _needs_token(message: str) -> ApiError:
    return ApiError(401, "not_authenticated", message, headers={"WWW-Authenticate": "Bearer"})


def is_visible(video: Video, viewer: User | None) -> bool:
    return video.status == VideoStatus.READY.value or (viewer is not None and video.owner_id == viewer.id)


def visible_video(session: Session, video_id: int, viewer: User | None) -> Video:
    """The video if `viewer` may see it (404 otherwise; an id past the id column is none, not a database error)."""
    video = session.get(Video, video_id) if 1 <= video_id <= MAX_ID else None
    if video is None or not is_visible(video, viewer):
        raise not_found(f"Video {video_id}")
    return video


def owned_video(session: Session, video_id: int, viewer: User) -> Video:
    """The viewer's own video; 403 for a video they can see but do not own, 404 otherwise."""
    video = visible_video(session, video_id, viewer)
    if video.owner_id != viewer.id:
        raise ApiError(403, "forbidden", "Only the owner of this video can change or delete it.")
    return video


def require_ready(video: Video) -> None:
    """A video still being processed answers with its status, not a broken URL."""
    if video.status != VideoStatus.READY.value:
        raise ApiError(
            409,
            "video_not_ready",
            f"Video {video.id} is not ready yet (status: {video.status}).",
            details={"status": video.status, "status_message": video.status_message},
        )


def streams_live(services: Services, video: Video) -> bool:
    """Whether a video still being processed already streams its lowest rung: the pipeline
    publishes that rung's HLS while it encodes the ladder (`hls.LivePreview`), master playlist last."""
    return video.status not in (VideoStatus.READY.value, VideoStatus.FAILED.value) and services.store.exists(
        keys.hls_key(video.id, hls.MASTER_PLAYLIST)
    )


def is_playable(services: Services, video: Video) -> bool:
    return video.status == VideoStatus.READY.value or streams_live(services, video)


def require_playable(services: Services, video: Video) -> None:
    """Ready, or streaming its lowest rung while it is processed (409 otherwise)."""
    if not streams_live(services, video):
        require_ready(video)


def video_out(video: Video, viewer: User | None) -> VideoOut:
    """A video as `viewer` may see it: what only its owner should know (the uploaded file's name) is left out."""
    shown = VideoOut.model_validate(video)
    if viewer is None or video.owner_id != viewer.id:
        shown.original_filename = None
    return shown


@dataclasses.dataclass(frozen=True)
class VideoRows:
    items: list[Video]
    next_cursor: str | None

    def page(self, viewer: User | None) -> VideoPage:
        return VideoPage(items=[video_out(v, viewer) for v in self.items], next_cursor=self.next_cursor)


def list_videos(
    session: Session,
    viewer: User | None,
    *,
    cursor: str | None = None,
    limit: int = 20,
    status: VideoStatus | None = None,
    owner_id: int | None = None,
    mine: bool = False,
) -> VideoRows:
    """Newest first, with an opaque cursor that stays stable while new videos arrive."""
    query = select(Video)
    if viewer is None:
        if mine:
            raise _needs_token("mine=true needs a Bearer access token.")
        query = query.where(Video.status == VideoStatus.READY.value)
    else:
        query = query.where(or_(Video.status == VideoStatus.READY.value, Video.owner_id == viewer.id))
        if mine:
            query = query.where(Video.owner_id == viewer.id)
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
    return VideoRows(page, next_cursor)


def in_progress(session: Session, owner: User, limit: int) -> list[Video]:
    """The owner's videos that are not ready (processing or failed), newest first."""
    return list(
        session.scalars(
            select(Video)
            .where(Video.owner_id == owner.id, Video.status != VideoStatus.READY.value)
            .order_by(Video.created_at.desc(), Video.id.desc())
            .limit(limit)
        )
    )


def owner_names(session: Session, owner_ids: Iterable[int | None]) -> dict[int, str]:
    """How each owner is shown to others."""
    ids = {i for i in owner_ids if i is not None}
    return {u.id: display_name(u) for u in session.scalars(select(User).where(User.id.in_(ids)))} if ids else {}


def search_suggestions(session: Session, limit: int = 6) -> list[str]:
    """Searches worth suggesting to someone with nothing to search yet: the topics (chapter titles) of the
    newest ready videos, then their titles."""
    newest = list_videos(session, None, limit=limit).items
    topics = [chapter.title for video in newest for chapter in load_chapters(session, video.id)]
    suggestions: dict[str, str] = {}  # by lower case: one of each, in order
    for text in (t.strip() for t in [*topics, *(v.title for v in newest)]):
        if text and len(suggestions) < limit:
            suggestions.setdefault(text.lower(), text)
    return list(suggestions.values())


def update_video(session: Session, services: Services, video: Video, changes: dict[str, Any]) -> Video:
    """Change a video's title, description and/or language (its search document follows)."""
    return video_rows.update_video(session, services.search, video, changes)


def delete_video(session: Session, services: Services, video: Video) -> None:
    """Remove the video, everything materialized from it, its upload and its search document; its run, if one is
    still processing it, is stopped and its pipeline partition removed within seconds."""
    video_rows.delete_video(
        session, services.store, video.id, reason="deleted by its owner", search=services.search, vectors=services.vectors
    )


def retry_video(session: Session, video: Video) -> Video:
    """Process a failed video again from its upload (409 for a video that has not failed)."""
    if request_retry(session, video.id) is None:
        raise ApiError(
            409,
            "video_not_failed",
            f"Video {video.id} has not failed (status: {video.status}): only a failed video can be retried.",
            details={"status": video.status},
        )
    session.commit()
    return video


def search_language(value: str | None, where: str = "query") -> str | None:
    """The language to search in, normalized (422 for one the platform does not know; `where` it was given)."""
    try:
        return languages.normalize(value)
    except languages.UnknownLanguage as exc:
        raise ApiError(
            422, "validation_error", str(exc), [{"loc": [where, "language"], "msg": str(exc), "type": "value_error"}]
        ) from None


def search_videos(
    services: Services,
    viewer: User | None,
    text: str,
    *,
    status: VideoStatus = VideoStatus.READY,
    owner_id: int | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    limit: int = 20,
    cursor: str | None = None,
    mode: SearchMode = "hybrid",
    language: str | None = None,
) -> SearchPageOut:
    """Title, description, transcript and summary by their words and by meaning, best first.

    Videos that are not ready are searched among the viewer's own only (401 signed out,
    403 for another owner's)."""
    if status != VideoStatus.READY:
        if viewer is None:
            raise _needs_token("Searching videos that are not ready needs a token.")
        if owner_id not in (None, viewer.id):
            raise ApiError(403, "forbidden", "Only your own videos can be searched at a status other than ready.")
        owner_id = viewer.id
    query = SearchQuery(
        text=text,
        status=status.value,
        owner_id=owner_id,
        created_from=created_from,
        created_to=created_to,
        limit=limit,
        cursor=cursor,
        language=search_language(language),
    )
    try:
        page = services.hybrid.search(query, mode)
    except InvalidSearchCursor as exc:
        raise _bad_cursor(exc) from None
    # The hits are read by attribute: dataclasses.asdict would deep-copy every hit, match and word first.
    return SearchPageOut.model_validate(
        {
            "hits": page.hits,
            "total": page.total,
            "total_exact": page.total_exact,
            "next_cursor": page.next_cursor,
            "mode": page.extra.get("mode", mode),
        },
        from_attributes=True,
    )
