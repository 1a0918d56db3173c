"""SQLAlchemy 2 models of the app database.

The seed's tables (users, videos, video_variants, video_transcripts,
video_summaries, outbox_events, processed_messages, upload_metadata) plus what
the asset graph needs: timed transcript segments and chunk summaries, and the
API's revoked tokens.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, relationship

# The largest id a row can have on every backend: the id columns are INTEGER, PostgreSQL's
# ends here (SQLite's integers are wider).
MAX_ID = 2**31 - 1


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class VideoStatus(str, enum.Enum):
    PENDING = "pending"
    UPLOADING = "uploading"
    TRANSCODING = "transcoding"
    TRANSCRIBING = "transcribing"
    SUMMARIZING = "summarizing"
    INDEXING = "indexing"
    READY = "ready"
    FAILED = "failed"


class Base(DeclarativeBase):
    type_annotation_map: ClassVar = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class _OnePerVideo:
    """A video's one row of its kind (its transcript, its summary), replaced on rerun."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), unique=True)
    model_info: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class _PositionedPerVideo:
    """One of a video's ordered rows (segments, chunk summaries, passages, chapters)."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        return (UniqueConstraint("video_id", "position"),)


class User(Base):
    __tablename__ = "users"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True, index=True)
    full_name: Mapped[str | None] = mapped_column(String(200))
    hashed_password: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    videos: Mapped[list[Video]] = relationship(back_populates="owner")


class Video(Base):
    __tablename__ = "videos"
    # AUTOINCREMENT (SQLite): a deleted video's id is never handed out again, so a partition key
    # names one video forever (PostgreSQL sequences never reuse values anyway).
    __table_args__ = (Index("ix_videos_created_id", "created_at", "id"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    # The speech's language as the uploader stated it (ISO 639-1); None: detected by the transcript.
    language: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(20), default=VideoStatus.PENDING.value, index=True)
    status_message: Mapped[str | None] = mapped_column(Text)
    source_key: Mapped[str | None] = mapped_column(String(512))
    original_filename: Mapped[str | None] = mapped_column(String(512))
    content_type: Mapped[str | None] = mapped_column(String(200))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    has_audio: Mapped[bool | None] = mapped_column(Boolean)
    probe: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    thumbnail_key: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    owner: Mapped[User | None] = relationship(back_populates="videos")
    variants: Mapped[list[VideoVariant]] = relationship(
        back_populates="video", cascade="all, delete-orphan", order_by="VideoVariant.height"
    )


class UploadMetadata(Base):
    """One row per upload attempt: direct (streamed) or presigned (PUT, then complete)."""

    __tablename__ = "upload_metadata"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    upload_id: Mapped[str] = mapped_column(String(64), unique=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    method: Mapped[str] = mapped_column(String(20))  # "direct" | "presigned" | "cli"
    staging_key: Mapped[str | None] = mapped_column(String(512))
    filename: Mapped[str | None] = mapped_column(String(512))
    content_type: Mapped[str | None] = mapped_column(String(200))
    expected_size: Mapped[int | None] = mapped_column(BigInteger)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(20), default="pending")  # pending | completed | rejected
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column()


class VideoVariant(Base):
    __tablename__ = "video_variants"
    __table_args__ = (UniqueConstraint("video_id", "label"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(20))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    video_codec: Mapped[str] = mapped_column(String(40))
    audio_codec: Mapped[str | None] = mapped_column(String(40))
    bitrate: Mapped[int | None] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    object_key: Mapped[str] = mapped_column(String(512))
    content_type: Mapped[str] = mapped_column(String(100), default="video/mp4")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    video: Mapped[Video] = relationship(back_populates="variants")


class VideoTranscript(_OnePerVideo, Base):
    __tablename__ = "video_transcripts"

    language: Mapped[str | None] = mapped_column(String(16))
    language_probability: Mapped[float | None] = mapped_column(Float)
    language_source: Mapped[str | None] = mapped_column(String(16))  # stated | detected | assumed
    text: Mapped[str] = mapped_column(Text, default="")
    word_count: Mapped[int] = mapped_column(Integer, default=0)
    segment_count: Mapped[int] = mapped_column(Integer, default=0)
    audio_seconds: Mapped[float | None] = mapped_column(Float)
    speech_seconds: Mapped[float | None] = mapped_column(Float)
    json_key: Mapped[str | None] = mapped_column(String(512))
    vtt_key: Mapped[str | None] = mapped_column(String(512))


class TranscriptSegment(_PositionedPerVideo, Base):
    __tablename__ = "transcript_segments"
    start_seconds: Mapped[float] = mapped_column(Float)
    end_seconds: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    # [[start, end, word], ...] (pipeline.text.words_to_json); NULL for transcripts made without word times.
    words: Mapped[list[list[Any]] | None] = mapped_column(JSON)


class ChunkSummary(_PositionedPerVideo, Base):
    __tablename__ = "chunk_summaries"
    token_count: Mapped[int] = mapped_column(Integer)
    start_seconds: Mapped[float | None] = mapped_column(Float)
    end_seconds: Mapped[float | None] = mapped_column(Float)
    summary: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class VideoSummary(_OnePerVideo, Base):
    __tablename__ = "video_summaries"

    summary: Mapped[str] = mapped_column(Text)
    sentence_count: Mapped[int] = mapped_column(Integer)
    chunk_count: Mapped[int] = mapped_column(Integer)
    reduce_rounds: Mapped[int] = mapped_column(Integer, default=0)
    quality_score: Mapped[float] = mapped_column(Float)
    quality: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    object_key: Mapped[str | None] = mapped_column(String(512))


class VideoPassage(_PositionedPerVideo, Base):
    """A passage of a video (title, summary, or ~30-60 s of transcript) and its embedding."""

    __tablename__ = "video_passages"
    kind: Mapped[str] = mapped_column(String(20))  # title | summary | transcript
    start_seconds: Mapped[float | None] = mapped_column(Float)
    end_seconds: Mapped[float | None] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    # A transcript passage's sentences, [[start, end, offset in text], ...] (pipeline.passages); NULL otherwise.
    sentences: Mapped[list[list[float]] | None] = mapped_column(JSON)
    model: Mapped[str] = mapped_column(String(200))
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # float32, little-endian, L2-normalized


class VideoChapter(_PositionedPerVideo, Base):
    """A topical chapter of a video's speech: where it starts and ends, a short title and a one-sentence gist."""

    __tablename__ = "video_chapters"
    start_seconds: Mapped[float] = mapped_column(Float)
    end_seconds: Mapped[float] = mapped_column(Float)
    title: Mapped[str] = mapped_column(String(200))
    gist: Mapped[str] = mapped_column(Text)


class VideoRequest(Base):
    """Something the app asks of the pipeline about one video, until the pipeline has done it.

    `delete`: the video's rows, objects and search documents are gone (pipeline/db/videos.py, delete_video);
    its runs are to be stopped and its Dagster partition removed. `retry`: a failed video is to be processed
    again. No foreign key: a deletion request outlives its video. `done_at` is set when the pipeline's side
    is done; open requests are read by their own index.
    """

    __tablename__ = "video_requests"
    __table_args__ = (Index("ix_video_requests_open", "done_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(20))  # delete | retry
    reason: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column()
    outcome: Mapped[str | None] = mapped_column(Text)


class OutboxEvent(Base):
    """Transactional outbox: written with the state change it announces."""

    __tablename__ = "outbox_events"
    __table_args__ = (Index("ix_outbox_unpublished", "published_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    topic: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class ProcessedMessage(Base):
    """Event ids a consumer has handled, so a redelivered event does nothing twice."""

    __tablename__ = "processed_messages"
    __table_args__ = (UniqueConstraint("consumer", "event_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consumer: Mapped[str] = mapped_column(String(100))
    event_id: Mapped[str] = mapped_column(String(64))
    processed_at: Mapped[datetime] = mapped_column(default=utcnow)


class RevokedToken(Base):
    """Access tokens revoked by logout, kept until they would have expired anyway."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)
