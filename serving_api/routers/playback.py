"""Watching a ready video: playable URLs, and the bytes themselves where nothing can presign.

All public, like the ready videos they serve: a browser's <video>, <img> and
<track> elements cannot send a Bearer header. A video that is not ready
answers 409 with its status instead of URLs that would not play, except that
its owner can watch its lowest rung over HLS as soon as the pipeline streams it
(`watch` then gives `hls_url` and the status, `transcoding`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import select

from pipeline import hls, keys
from pipeline.db import videos as video_rows
from pipeline.db.models import VideoStatus, VideoTranscript, VideoVariant
from serving_api.deps import PUBLIC, PlayableVideo, ReadyVideo, ServicesDep, SessionDep
from serving_api.errors import error_responses, not_found
from serving_api.ranges import object_response
from serving_api.schemas.videos import WatchOut
from serving_api.services import playback
from serving_api.urls import ObjectLinks

router = APIRouter(prefix="/videos", tags=["playback"])


# A stored object's route answers HEAD too: players and CDNs probe sizes and range support.
def _object_route(path: str, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(endpoint: Callable[..., Any]) -> Callable[..., Any]:
        router.get(path, **options)(endpoint)
        router.head(path, name=f"{endpoint.__name__}_head", **options)(endpoint)
        return endpoint

    return register


_NOT_READY = error_responses(404, 409)


@router.get("/{video_id}/watch", response_model=WatchOut, responses=_NOT_READY, openapi_extra=PUBLIC)
def watch(video: PlayableVideo, request: Request, session: SessionDep, services: ServicesDep) -> WatchOut:
    """Everything a player needs: each rendition's URL, the HLS playlist, thumbnail, captions and chapters
    tracks. The owner gets the HLS of a video still being processed once its first rendition streams."""
    return playback.watch(session, services, ObjectLinks(request, services), video)


VariantLabel = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,20}$", description="e.g. 720p")]
RangeHeader = Annotated[str | None, Header(alias="Range", description="e.g. bytes=0-1023")]


def _binary(media_type: str) -> dict:
    content = {"content": {media_type: {"schema": {"type": "string", "format": "binary"}}}}
    return {
        200: {"description": "The whole object.", **content},
        206: {"description": "The requested byte range.", **content},
        **error_responses(404, 409, 416),
    }


@_object_route(
    "/{video_id}/stream/{label}", response_class=StreamingResponse, responses=_binary("video/mp4"), openapi_extra=PUBLIC
)
def stream_variant(
    video: ReadyVideo, label: VariantLabel, session: SessionDep, services: ServicesDep, range_header: RangeHeader = None
) -> StreamingResponse:
    """One variant's bytes, honouring Range (206) so players can seek."""
    variant = session.scalar(select(VideoVariant).where(VideoVariant.video_id == video.id, VideoVariant.label == label))
    if variant is None:
        raise not_found(f"Variant {label!r} of video {video.id}")
    return object_response(
        services.store, variant.object_key, variant.content_type, range_header, f"Variant {label!r} of video {video.id}"
    )


@_object_route("/{video_id}/thumbnail", response_class=StreamingResponse, responses=_binary("image/jpeg"), openapi_extra=PUBLIC)
def thumbnail(video: ReadyVideo, services: ServicesDep, range_header: RangeHeader = None) -> StreamingResponse:
    """The video's thumbnail (JPEG), honouring Range."""
    if not video.thumbnail_key:
        raise not_found(f"The thumbnail of video {video.id}")
    return object_response(services.store, video.thumbnail_key, "image/jpeg", range_header, f"The thumbnail of video {video.id}")


@_object_route("/{video_id}/captions.vtt", response_class=StreamingResponse, responses=_binary("text/vtt"), openapi_extra=PUBLIC)
def captions(
    video: ReadyVideo, session: SessionDep, services: ServicesDep, range_header: RangeHeader = None
) -> StreamingResponse:
    """The transcript as WebVTT captions (a <track> element's src)."""
    transcript = video_rows.one_per_video(session, VideoTranscript, video.id)
    vtt_key = transcript.vtt_key if transcript is not None else None
    if not vtt_key:
        raise not_found(f"Captions of video {video.id}")
    return object_response(services.store, vtt_key, "text/vtt; charset=utf-8", range_header, f"Captions of video {video.id}")


_HLS_FILE = re.compile(r"^(index\.m3u8|seg_\d{5}\.ts)$")
_LABEL = re.compile(r"^\d{1,5}p$")  # media.plan_ladder's labels
_PLAYLIST_CACHE = "public, max-age=60"


@_object_route(
    "/{video_id}/hls/master.m3u8",
    response_class=StreamingResponse,
    responses=_binary("application/vnd.apple.mpegurl"),
    openapi_extra=PUBLIC,
)
def hls_master(video: PlayableVideo, session: SessionDep, services: ServicesDep, range_header: RangeHeader = None) -> Response:
    """The HLS master playlist over every rung (adaptive streaming), with the captions as its subtitles group
    (labelled with their language) once the video has them."""
    transcript = video_rows.one_per_video(session, VideoTranscript, video.id)
    if video.status == VideoStatus.READY.value and transcript is not None and transcript.vtt_key:
        label = playback.caption_label(transcript)
        master = services.store.get_bytes(keys.hls_key(video.id, hls.MASTER_PLAYLIST)).decode()
        return Response(
            hls.with_captions(master, label["language"], label["label"], label["automatic"]),
            media_type=hls.content_type(hls.MASTER_PLAYLIST),
            headers={"Cache-Control": _PLAYLIST_CACHE},
        )
    return object_response(
        services.store,
        keys.hls_key(video.id, hls.MASTER_PLAYLIST),
        hls.content_type(hls.MASTER_PLAYLIST),
        range_header,
        f"The HLS playlist of video {video.id}",
        cache_control=_PLAYLIST_CACHE,
    )


@_object_route(
    f"/{{video_id}}/hls/{hls.CAPTIONS_PLAYLIST}",
    response_class=Response,
    responses=_binary("application/vnd.apple.mpegurl"),
    openapi_extra=PUBLIC,
)
def hls_captions(video: ReadyVideo, session: SessionDep) -> Response:
    """The captions' HLS subtitles playlist: the WebVTT captions as its one segment."""
    transcript = video_rows.one_per_video(session, VideoTranscript, video.id)
    if transcript is None or not transcript.vtt_key:
        raise not_found(f"Captions of video {video.id}")
    return Response(
        hls.captions_playlist("../captions.vtt", video.duration_seconds or 0.0),
        media_type=hls.content_type(hls.CAPTIONS_PLAYLIST),
        headers={"Cache-Control": _PLAYLIST_CACHE},
    )


@_object_route(
    "/{video_id}/hls/{label}/{name}", response_class=StreamingResponse, responses=_binary("video/mp2t"), openapi_extra=PUBLIC
)
def hls_media(
    video: PlayableVideo, label: str, name: str, services: ServicesDep, range_header: RangeHeader = None
) -> StreamingResponse:
    """A rung's media playlist (`index.m3u8`) or one of its segments (`seg_NNNNN.ts`)."""
    what = f"HLS file {label}/{name} of video {video.id}"
    # Only a package's own names are reachable (a rung may be streaming before its variant row exists).
    if not _LABEL.match(label) or not _HLS_FILE.match(name):
        raise not_found(what)
    cache = _PLAYLIST_CACHE if name.endswith(".m3u8") else "public, max-age=86400"
    return object_response(
        services.store, keys.hls_key(video.id, f"{label}/{name}"), hls.content_type(name), range_header, what, cache_control=cache
    )


@_object_route("/{video_id}/chapters.vtt", response_class=StreamingResponse, responses=_binary("text/vtt"), openapi_extra=PUBLIC)
def chapters_track(video: ReadyVideo, services: ServicesDep, range_header: RangeHeader = None) -> StreamingResponse:
    """The chapters as a WebVTT chapters track (a `<track kind="chapters">` element's src)."""
    return object_response(
        services.store, keys.chapters_vtt_key(video.id), "text/vtt; charset=utf-8", range_header, f"Chapters of video {video.id}"
    )
