from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from pipeline.db.models import VideoStatus
from serving_api.validation import NO_NUL_PATTERN, Language

TITLE_MAX_LENGTH = 300
DESCRIPTION_MAX_LENGTH = 5000
FILENAME_MAX_LENGTH = 512  # the columns' sizes
CONTENT_TYPE_MAX_LENGTH = 200


class VideoOut(BaseModel):
    # Examples without nulls: the OpenAPI document leaves null values out.
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 42,
                    "owner_id": 7,
                    "title": "Volcano talk",
                    "description": "Spoken words about a volcano.",
                    "status": "failed",
                    "original_filename": "volcano.mp4",
                    "status_message": "Processing failed at step 'transcript': the speech model could not be loaded. Retry it.",
                    "size_bytes": 3145728,
                    "duration_seconds": 23.1,
                    "width": 1280,
                    "height": 720,
                    "created_at": "2026-12-06T17:12:03Z",
                    "updated_at": "2026-12-06T17:12:31Z",
                }
            ]
        },
    )

    id: int
    owner_id: int | None
    title: str
    description: str
    language: str | None = Field(
        default=None, description="The language of the speech as stated at upload or edited (ISO 639-1); null: detected."
    )
    status: VideoStatus
    status_message: str | None
    original_filename: str | None = Field(
        description="The uploaded file's name: shown to the video's owner only (null for everyone else)."
    )
    size_bytes: int | None
    duration_seconds: float | None
    width: int | None
    height: int | None
    created_at: datetime
    updated_at: datetime


class VariantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    label: str
    width: int
    height: int
    video_codec: str
    audio_codec: str | None
    bitrate: int | None
    size_bytes: int
    content_type: str


class VideoDetailOut(VideoOut):
    variants: list[VariantOut]
    has_thumbnail: bool
    playable: bool = Field(
        description="Whether `/watch` has something to play: the video is ready, or its first "
        "rendition already streams over HLS while the rest is processed."
    )


class VideoPage(BaseModel):
    items: list[VideoOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class VideoUpdateIn(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=TITLE_MAX_LENGTH, pattern=NO_NUL_PATTERN)
    description: str | None = Field(default=None, max_length=DESCRIPTION_MAX_LENGTH, pattern=NO_NUL_PATTERN)
    # A change makes the transcript and all that follows it stale; null or "" clears it (detected again).
    language: Language = None


class PresignedUploadIn(BaseModel):
    title: str = Field(min_length=1, max_length=TITLE_MAX_LENGTH, pattern=NO_NUL_PATTERN)
    description: str = Field(default="", max_length=DESCRIPTION_MAX_LENGTH, pattern=NO_NUL_PATTERN)
    language: Language = None
    filename: str = Field(min_length=1, max_length=FILENAME_MAX_LENGTH, pattern=NO_NUL_PATTERN)
    content_type: str = Field(max_length=CONTENT_TYPE_MAX_LENGTH, pattern=r"^video/[A-Za-z0-9.+-]+$", examples=["video/mp4"])
    size_bytes: int = Field(gt=0, description="The size the client will PUT; checked again on completion.")


class PresignedUploadOut(BaseModel):
    video_id: int
    upload_id: str
    upload_url: str
    method: str = "PUT"
    headers: dict[str, str] = Field(description="Headers the PUT must carry.")
    expires_at: datetime
    complete_url: str


class UploadContentOut(BaseModel):
    upload_id: str
    size_bytes: int


class SegmentMatchOut(BaseModel):
    start: float
    end: float
    text: str


class SearchHitOut(BaseModel):
    video_id: int
    title: str
    score: float
    snippet: str = Field(description="Matched text with the query's words in <mark>...</mark>.")
    status: VideoStatus
    created_at: datetime
    matches: list[SegmentMatchOut] = Field(
        description="Transcript segments where the words are spoken; where the "
        "transcript has word times, each starts at the first "
        "searched word it says (and its text there)."
    )
    moment: SegmentMatchOut | None = Field(
        default=None,
        description="Where to open the video: the match saying the most searched words (the first "
        "such), or, for a hit found by meaning only, the sentence of its best passage "
        "closest to the query.",
    )


class SearchPageOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "hits": [
                        {
                            "video_id": 42,
                            "title": "Volcano talk",
                            "score": 3.2,
                            "snippet": "Hot <mark>lava</mark> flowed down the mountain toward the sea.",
                            "status": "ready",
                            "created_at": "2026-12-06T17:12:03Z",
                            "matches": [
                                {"start": 4.14, "end": 7.34, "text": "Hot lava flowed down the mountain toward the sea."}
                            ],
                            "moment": {"start": 4.14, "end": 7.34, "text": "Hot lava flowed down the mountain toward the sea."},
                        }
                    ],
                    "total": 31,
                    "total_exact": True,
                    "next_cursor": "eyJzY29yZSI6IDMuMiwgImlkIjogNDJ9",
                    "mode": "hybrid",
                }
            ]
        }
    )

    hits: list[SearchHitOut]
    total: int = Field(
        description="Matching videos, counted up to 1,000. When `total_exact` is false there are "
        'at least this many (show "1,000+"): an exact count of a common word\'s '
        "matches would cost more than the page."
    )
    total_exact: bool = Field(True, description="False when counting stopped at the cap: `total` is a lower bound.")
    next_cursor: str | None
    mode: str = Field(
        default="text", description="The mode that answered: a hybrid search with nothing found by meaning answers as `text`."
    )


class PlayableVariantOut(BaseModel):
    label: str
    width: int
    height: int
    content_type: str
    size_bytes: int
    url: str


class CaptionTrackOut(BaseModel):
    language: str | None = Field(description="The captions' language (ISO 639-1): the `srclang` of a `<track>`.")
    label: str = Field(description='What a player lists, e.g. "French (automatic)".')
    automatic: bool = Field(description="Made by speech recognition (every track here is, from the transcript).")
    language_source: str | None = Field(
        default=None, description="`stated` (by the uploader), `detected` (from the speech) or `assumed` (English-only model)."
    )
    language_probability: float | None = Field(default=None, description="The detection's probability, when detected.")
    format: str = "text/vtt"
    url: str


class WatchOut(BaseModel):
    video_id: int
    title: str
    status: VideoStatus
    duration_seconds: float | None
    variants: list[PlayableVariantOut]
    thumbnail_url: str | None
    captions: list[CaptionTrackOut]
    hls_url: str | None = Field(
        default=None,
        description="HLS master playlist over every rung (adaptive "
        "streaming); null when the video has no HLS package. Never presigned.",
    )
    chapters_url: str | None = Field(
        default=None, description='WebVTT chapters track (`<track kind="chapters">`); null when the video has none.'
    )
    urls_expire_at: datetime | None = Field(description="When presigned URLs stop working; null for API URLs.")


class SegmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    position: int
    start_seconds: float
    end_seconds: float
    text: str


class TranscriptOut(BaseModel):
    video_id: int
    language: str | None
    language_source: str | None = Field(
        default=None, description="`stated` (by the uploader), `detected` (from the speech) or `assumed` (English-only model)."
    )
    language_probability: float | None = Field(default=None, description="The detection's probability, when detected.")
    text: str
    word_count: int
    segments: list[SegmentOut]
    vtt_url: str | None


class SummaryOut(BaseModel):
    video_id: int
    summary: str
    sentence_count: int
    chunk_count: int
    quality_score: float
    model_info: dict[str, Any]
    updated_at: datetime


class ChapterOut(BaseModel):
    position: int
    start: float
    end: float
    title: str
    gist: str = Field(description="One sentence saying what the chapter is about.")


class ChaptersOut(BaseModel):
    video_id: int
    chapters: list[ChapterOut] = Field(description="In time order; empty for a video without speech.")
    vtt_url: str | None = Field(description="The same chapters as a WebVTT chapters track.")
