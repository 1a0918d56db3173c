"""What a player needs for one video: URLs of its renditions, captions, chapters, transcript and summary."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from pipeline import hls, keys, languages
from pipeline.db import videos as video_rows
from pipeline.db.models import TranscriptSegment, Video, VideoSummary, VideoTranscript
from pipeline.db.videos import load_chapters
from pipeline.text import Chapter
from serving_api.errors import not_found
from serving_api.schemas.videos import (
    CaptionTrackOut,
    ChapterOut,
    ChaptersOut,
    PlayableVariantOut,
    SummaryOut,
    TranscriptOut,
    WatchOut,
)
from serving_api.services.container import Services
from serving_api.urls import ObjectLinks


def chapters_track_url(links: ObjectLinks, services: Services, video_id: int) -> str | None:
    key = keys.chapters_vtt_key(video_id)
    return links.url(key, "chapters_track", video_id=video_id) if services.store.exists(key) else None


def caption_label(transcript: VideoTranscript) -> dict[str, Any]:
    """How the transcript's captions are labelled: language, a name to list, made automatically, and how the
    language was chosen (with the detection's probability)."""
    language = transcript.language
    name = languages.describe(language) if language in languages.NAMES else (language or "Captions")
    detected = transcript.language_source == languages.DETECTED
    return {
        "language": language,
        "label": f"{name} (automatic)",
        "automatic": True,
        "language_source": transcript.language_source,
        "language_probability": transcript.language_probability if detected else None,
    }


def watch(session: Session, services: Services, links: ObjectLinks, video: Video) -> WatchOut:
    """Every way to play the video: its MP4 variants, HLS (playlists name their media by relative
    URIs, so HLS is always served through the API's routes), thumbnail, captions and chapters."""
    variants = [
        PlayableVariantOut(
            label=v.label,
            width=v.width,
            height=v.height,
            content_type=v.content_type,
            size_bytes=v.size_bytes,
            url=links.url(v.object_key, "stream_variant", video_id=video.id, label=v.label),
        )
        for v in video.variants
    ]
    thumbnail = links.url(video.thumbnail_key, "thumbnail", video_id=video.id) if video.thumbnail_key else None
    transcript = video_rows.one_per_video(session, VideoTranscript, video.id)
    captions = []
    if transcript is not None and transcript.vtt_key:
        captions.append(
            CaptionTrackOut(**caption_label(transcript), url=links.url(transcript.vtt_key, "captions", video_id=video.id))
        )
    hls_url = (
        links.api_url("hls_master", video_id=video.id)
        if services.store.exists(keys.hls_key(video.id, hls.MASTER_PLAYLIST))
        else None
    )
    return WatchOut(
        video_id=video.id,
        title=video.title,
        status=video.status,
        duration_seconds=video.duration_seconds,
        variants=variants,
        thumbnail_url=thumbnail,
        captions=captions,
        hls_url=hls_url,
        chapters_url=chapters_track_url(links, services, video.id),
        urls_expire_at=links.expires_at(),
    )


def transcript(session: Session, links: ObjectLinks, video: Video) -> TranscriptOut:
    row = video_rows.one_per_video(session, VideoTranscript, video.id)
    if row is None:
        raise not_found(f"The transcript of video {video.id}")
    vtt_url = links.url(row.vtt_key, "captions", video_id=video.id) if row.vtt_key else None
    return TranscriptOut.model_validate(
        {
            "video_id": video.id,
            "language": row.language,
            "language_source": row.language_source,
            "language_probability": row.language_probability if row.language_source == languages.DETECTED else None,
            "text": row.text,
            "word_count": row.word_count,
            "segments": list(segment_rows(session, video)),
            "vtt_url": vtt_url,
        }
    )


def segment_rows(session: Session, video: Video) -> list[TranscriptSegment]:
    return list(video_rows.segment_rows(session, video.id))


def chapters(session: Session, video: Video) -> list[Chapter]:
    return load_chapters(session, video.id)


def chapters_out(session: Session, services: Services, links: ObjectLinks, video: Video) -> ChaptersOut:
    return ChaptersOut(
        video_id=video.id,
        vtt_url=chapters_track_url(links, services, video.id),
        chapters=[
            ChapterOut(position=i, start=c.start, end=c.end, title=c.title, gist=c.gist)
            for i, c in enumerate(chapters(session, video))
        ],
    )


def summary_row(session: Session, video: Video) -> VideoSummary | None:
    return video_rows.one_per_video(session, VideoSummary, video.id)


def summary(session: Session, video: Video) -> SummaryOut:
    row = summary_row(session, video)
    if row is None:
        raise not_found(f"The summary of video {video.id}")
    return SummaryOut(
        video_id=video.id,
        summary=row.summary,
        sentence_count=row.sentence_count,
        chunk_count=row.chunk_count,
        quality_score=row.quality_score,
        model_info=row.model_info,
        updated_at=row.updated_at,
    )
