"""One video's rows: the per-video repository the assets, checks and API routes use.

Every write is one unit of work: its rows and its outbox event commit together,
or not at all. Reads return detached rows or plain values, so callers hold no
session. Nothing else issues SQL about a video's materialized data.

The status moves in one place, `VideoRepository.advance` (with `start_processing`,
`fail` and `mark_indexed`): an asset advances it when its stage starts, so the
status says what is being done; saving a stage's rows records the stage's event.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import Engine, Table, delete, insert, select, update
from sqlalchemy.orm import Session

from pipeline import keys
from pipeline.db.models import (
    ChunkSummary,
    TranscriptSegment,
    UploadMetadata,
    User,
    Video,
    VideoChapter,
    VideoPassage,
    VideoRequest,
    VideoStatus,
    VideoSummary,
    VideoTranscript,
    VideoVariant,
    utcnow,
)
from pipeline.db.session import session_scope
from pipeline.events import (
    VIDEO_DELETED,
    VIDEO_READY,
    VIDEO_SUMMARIZED,
    VIDEO_TRANSCODED,
    VIDEO_TRANSCRIBED,
    record_event,
)
from pipeline.lifecycle import advance_status, get_video, mark_failed, start_processing
from pipeline.search import SearchDocument, SearchIndex
from pipeline.search.vectors import PassageVector, passage_row, vector_from_bytes
from pipeline.sentences import sentences_to_json
from pipeline.text import Chapter, TimedSegment, word_count, words_from_json, words_to_json

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np

    from pipeline.media import EncodedVariant, MediaProbe
    from pipeline.passages import Passage
    from pipeline.search.vectors import VectorIndex
    from pipeline.storage import ObjectStore
    from pipeline.summarization import ChunkSummaryResult, ReducedSummary
    from pipeline.transcription import TranscriptResult

OnePerVideo = TypeVar("OnePerVideo", VideoTranscript, VideoSummary)


# --- Reads within a caller's session (the API's request session) -------------------------------


def existing_video_ids(session: Session, video_ids: set[int]) -> set[int]:
    """Those of `video_ids` that are videos in the app database."""
    return set(session.scalars(select(Video.id).where(Video.id.in_(video_ids)))) if video_ids else set()


def video_titles(session: Session, video_ids: Iterable[int]) -> dict[int, str]:
    """The titles of those of `video_ids` that are videos in the app database (one query)."""
    wanted = set(video_ids)
    return dict(session.execute(select(Video.id, Video.title).where(Video.id.in_(wanted))).tuples().all()) if wanted else {}


def one_per_video(session: Session, model: type[OnePerVideo], video_id: int) -> OnePerVideo | None:
    """The video's one row of `model` (its transcript, its summary), or None."""
    return session.scalars(select(model).where(model.video_id == video_id)).one_or_none()


def segment_rows(session: Session, video_id: int) -> Sequence[TranscriptSegment]:
    return session.scalars(
        select(TranscriptSegment).where(TranscriptSegment.video_id == video_id).order_by(TranscriptSegment.position)
    ).all()


def load_chapters(session: Session, video_id: int) -> list[Chapter]:
    """The chapters `chapters` stored for the video, in order."""
    rows = session.scalars(select(VideoChapter).where(VideoChapter.video_id == video_id).order_by(VideoChapter.position)).all()
    return [Chapter(r.start_seconds, r.end_seconds, r.title, r.gist) for r in rows]


def load_passage_vectors(session: Session, video_id: int) -> tuple[str | None, list[PassageVector]]:
    """The model and the passages with vectors that `passage_embeddings` stored for the video."""
    rows = session.scalars(select(VideoPassage).where(VideoPassage.video_id == video_id).order_by(VideoPassage.position)).all()
    model = rows[0].model if rows else None
    return model, [PassageVector(r.kind, r.start_seconds, r.end_seconds, r.text, vector_from_bytes(r.vector)) for r in rows]


# --- Changes the API makes ----------------------------------------------------------------------


def update_video(session: Session, search: SearchIndex, video: Video, changes: dict[str, Any]) -> Video:
    """Change a video's title/description/language, then keep its search document in step.

    A new language makes the video's transcript and all that follows from it stale: a `language`
    request, in the same transaction, tells the pipeline (orchestration/video_requests.py)."""
    if "language" in changes and changes["language"] != video.language:
        session.add(VideoRequest(video_id=video.id, kind=LANGUAGE, reason=f"language {video.language} -> {changes['language']}"))
    for name, value in changes.items():
        setattr(video, name, value)
    session.commit()
    document = search.get(video.id) if changes else None
    if document is not None:
        search.upsert(
            SearchDocument(
                **{**document.__dict__, "title": video.title, "description": video.description, "updated_at": utcnow()}
            )
        )
    return video


def delete_video(
    session: Session,
    store: ObjectStore,
    video_id: int,
    *,
    reason: str,
    search: SearchIndex | None = None,
    vectors: VectorIndex | None = None,
) -> bool:
    """Delete a video: the one function every path that deletes one goes through (the API's DELETE, which
    the web app uses; `videoai delete`; abandoned and rejected uploads, pipeline/uploads.py).

    Its rows go (and everything that references them, ON DELETE CASCADE), then its objects (under
    videos/<id>/, its upload, its staged parts) and, given `search`/`vectors`, its search documents. A video
    the pipeline may know (its upload was published) also gets a `delete` request and a `video.deleted`
    event, in the transaction that removes its rows: the pipeline's side (orchestration/video_requests.py)
    stops its runs, removes what they wrote meanwhile, then its Dagster partition. Commits `session`.
    Returns False when there is no such video.
    """
    video = session.get(Video, video_id)
    if video is None:
        return False
    source_key = video.source_key
    staging_keys = list(
        session.scalars(
            select(UploadMetadata.staging_key).where(UploadMetadata.video_id == video_id, UploadMetadata.staging_key.is_not(None))
        )
    )
    if source_key is not None:  # published: the pipeline may hold a partition and a run of it
        session.add(VideoRequest(video_id=video_id, kind=DELETE, reason=reason))
        record_event(session, VIDEO_DELETED, video_id, {"reason": reason})
    session.delete(video)
    session.commit()
    # The row is gone first, so a failure below leaves unreachable objects (which the pipeline's side
    # removes again), never a broken video.
    remove_leftovers(store, video_id, [key for key in [source_key, *staging_keys] if key], search=search, vectors=vectors)
    return True


def remove_leftovers(
    store: ObjectStore,
    video_id: int,
    extra_keys: Iterable[str] = (),
    *,
    search: SearchIndex | None = None,
    vectors: VectorIndex | None = None,
    scratch_root: Path | None = None,
) -> int:
    """Remove what is stored for a video that no longer exists (idempotent): its objects under videos/<id>/ and
    `extra_keys`, its search documents and, with `scratch_root`, its scratch directories. Returns how many
    objects were removed."""
    removed = store.delete_prefix(keys.video_prefix(video_id))
    for key in extra_keys:
        store.delete(key)
    if search is not None:
        search.delete(video_id)
    if vectors is not None:
        vectors.delete(video_id)
    if scratch_root is not None:
        from pipeline.scratch import remove_video_scratch

        remove_video_scratch(scratch_root, video_id)
    return removed


# --- What the app asks of the pipeline about a video (video_requests) ----------------------------

DELETE = "delete"
RETRY = "retry"
LANGUAGE = "language"


def open_requests(session: Session, kind: str, limit: int = 100) -> list[VideoRequest]:
    """The oldest requests of `kind` the pipeline has not done yet (detached)."""
    rows = list(
        session.scalars(
            select(VideoRequest)
            .where(VideoRequest.done_at.is_(None), VideoRequest.kind == kind)
            .order_by(VideoRequest.id)
            .limit(limit)
        )
    )
    for row in rows:
        session.expunge(row)
    return rows


def finish_requests(session: Session, outcomes: Mapping[int, str]) -> None:
    """Mark requests done, each with its outcome (the caller commits)."""
    now = utcnow()
    for request_id, outcome in outcomes.items():
        session.execute(
            update(VideoRequest)
            .where(VideoRequest.id == request_id, VideoRequest.done_at.is_(None))
            .values(done_at=now, outcome=outcome)
        )


def request_deletion(session: Session, video_id: int, reason: str) -> None:
    """Ask the pipeline to stop and forget a video that is already gone from the app database (a partition
    found without its video); the caller commits."""
    session.add(VideoRequest(video_id=video_id, kind=DELETE, reason=reason))


def deleted_video_ids(session: Session, candidates: Iterable[int]) -> list[int]:
    """Those of `candidates` (e.g. a partition's video ids) that are not videos and have no open `delete`
    request: gone without the pipeline being told."""
    wanted = set(candidates)
    if not wanted:
        return []
    existing = set(session.scalars(select(Video.id)))
    covered = set(
        session.scalars(select(VideoRequest.video_id).where(VideoRequest.kind == DELETE, VideoRequest.done_at.is_(None)))
    )
    return sorted(wanted - existing - covered)


# --- The pipeline's unit of work, one video at a time ---------------------------------------------


def save_chapters(session: Session, video_id: int, chapters: Sequence[Chapter]) -> None:
    """Replace the video's chapters (idempotent per video)."""
    session.execute(delete(VideoChapter).where(VideoChapter.video_id == video_id))
    session.add_all(
        VideoChapter(video_id=video_id, position=i, start_seconds=c.start, end_seconds=c.end, title=c.title[:200], gist=c.gist)
        for i, c in enumerate(chapters)
    )


def save_passages(session: Session, model: str, videos: Mapping[int, tuple[Sequence[Passage], np.ndarray]]) -> None:
    """Replace the videos' passages and their vectors (video id: passages, vectors; idempotent per video)."""
    session.execute(delete(VideoPassage).where(VideoPassage.video_id.in_(list(videos))))
    rows = [
        {**passage_row(video_id, i, model, p, vector), "sentences": sentences_to_json(p.sentences) if p.sentences else None}
        for video_id, (passages, vectors) in videos.items()
        for i, (p, vector) in enumerate(zip(passages, vectors, strict=True))
    ]
    if rows:  # one INSERT of many rows: the ORM's unit of work costs more than the rows
        session.execute(insert(cast(Table, VideoPassage.__table__)), rows)


def _stage_done(session: Session, video_id: int, event: str, payload: dict[str, Any]) -> None:
    """Record a stage's event with the video's status (which its stage's start has moved)."""
    record_event(session, event, video_id, {"status": get_video(session, video_id).status, **payload})


def _one_for_update(session: Session, model: type[OnePerVideo], video_id: int) -> OnePerVideo:
    """The video's one row of `model`, added if it has none: reruns update it."""
    row = one_per_video(session, model, video_id)
    if row is None:
        row = model(video_id=video_id)
        session.add(row)
    return row


class VideoRepository:
    """One video's rows in the app database, for the assets and checks of its partition."""

    def __init__(self, engine: Engine, video_id: int) -> None:
        self.engine, self.video_id = engine, video_id

    @contextmanager
    def _unit(self) -> Iterator[Session]:
        with session_scope(self.engine) as session:
            yield session

    # Reads.

    def exists(self) -> bool:
        with self._unit() as session:
            return session.get(Video, self.video_id) is not None

    def video(self) -> Video:
        """The video row, detached (raises VideoNotFound)."""
        with self._unit() as session:
            video = get_video(session, self.video_id)
            session.expunge(video)
            return video

    def transcript(self) -> VideoTranscript | None:
        with self._unit() as session:
            return one_per_video(session, VideoTranscript, self.video_id)

    def summary(self) -> VideoSummary | None:
        with self._unit() as session:
            return one_per_video(session, VideoSummary, self.video_id)

    def speech_language(self) -> str | None:
        """The language of the transcript (stated, detected or assumed); None before one or without speech."""
        transcript = self.transcript()
        return transcript.language if transcript else None

    def segments(self) -> list[TimedSegment]:
        with self._unit() as session:
            return [
                TimedSegment(r.start_seconds, r.end_seconds, r.text, words_from_json(r.words))
                for r in segment_rows(session, self.video_id)
            ]

    def chunk_summaries(self) -> list[str]:
        with self._unit() as session:
            return list(
                session.scalars(
                    select(ChunkSummary.summary).where(ChunkSummary.video_id == self.video_id).order_by(ChunkSummary.position)
                )
            )

    def passage_vectors(self) -> tuple[str | None, list[PassageVector]]:
        with self._unit() as session:
            return load_passage_vectors(session, self.video_id)

    def search_document(self) -> SearchDocument:
        """Everything a search needs about the video; a failed video is indexed as failed (search hides it)."""
        with self._unit() as session:
            video = get_video(session, self.video_id)
            owner = session.get(User, video.owner_id) if video.owner_id else None
            transcript = one_per_video(session, VideoTranscript, self.video_id)
            summary = one_per_video(session, VideoSummary, self.video_id)
            segments = [TimedSegment(r.start_seconds, r.end_seconds, r.text) for r in segment_rows(session, self.video_id)]
            status = VideoStatus.FAILED if video.status == VideoStatus.FAILED.value else VideoStatus.READY
            return SearchDocument(
                video_id=self.video_id,
                title=video.title,
                description=video.description or "",
                owner_id=video.owner_id,
                owner_name=(owner.full_name or owner.email) if owner else None,
                transcript=transcript.text if transcript else "",
                summary=summary.summary if summary else "",
                status=status.value,
                language=transcript.language if transcript else None,
                created_at=video.created_at,
                updated_at=video.updated_at,
                duration_seconds=video.duration_seconds,
                segments=tuple(segments),
            )

    # Status.

    def start_processing(self) -> None:
        with self._unit() as session:
            start_processing(session, self.video_id)

    def advance(self, status: VideoStatus, event: str | None = None, payload: dict[str, Any] | None = None) -> None:
        with self._unit() as session:
            advance_status(session, self.video_id, status, event=event, payload=payload)

    def fail(self, message: str) -> None:
        with self._unit() as session:
            mark_failed(session, self.video_id, message)

    # Writes: rows + status + event, one transaction each.

    def save_probe(self, info: MediaProbe) -> None:
        with self._unit() as session:
            video = get_video(session, self.video_id)
            video.duration_seconds, video.width, video.height = info.duration_seconds, info.width, info.height
            video.has_audio, video.probe = info.has_audio, info.as_dict()

    def replace_variants(self, encoded: Sequence[EncodedVariant]) -> list[str]:
        """The variants and thumbnail, `video.transcoded`; returns the object keys of variants no longer made."""
        vid = self.video_id
        with self._unit() as session:
            stale = session.scalars(
                delete(VideoVariant).where(VideoVariant.video_id == vid).returning(VideoVariant.object_key)
            ).all()
            session.add_all(
                VideoVariant(
                    video_id=vid,
                    label=v.label,
                    width=v.width,
                    height=v.height,
                    video_codec=v.video_codec,
                    audio_codec=v.audio_codec,
                    bitrate=v.bitrate,
                    size_bytes=v.size_bytes,
                    object_key=keys.variant_key(vid, v.label),
                )
                for v in encoded
            )
            get_video(session, vid).thumbnail_key = keys.thumbnail_key(vid)
            _stage_done(
                session,
                vid,
                VIDEO_TRANSCODED,
                {"variants": sorted(v.label for v in encoded), "thumbnail_key": keys.thumbnail_key(vid)},
            )
        kept = {keys.variant_key(vid, v.label) for v in encoded}
        return [key for key in stale if key not in kept]

    def save_transcript(
        self, result: TranscriptResult, model_info: dict[str, Any], json_key: str, vtt_key: str
    ) -> VideoTranscript:
        """The transcript row and its segments (replaced), `video.transcribed`."""
        vid = self.video_id
        with self._unit() as session:
            row = _one_for_update(session, VideoTranscript, vid)
            row.language, row.language_probability = result.language, result.language_probability
            row.language_source = result.language_source
            row.text, row.word_count, row.segment_count = result.text, word_count(result.text), len(result.segments)
            row.audio_seconds, row.speech_seconds = result.duration_seconds, result.speech_seconds
            row.json_key, row.vtt_key, row.model_info = json_key, vtt_key, model_info
            session.execute(delete(TranscriptSegment).where(TranscriptSegment.video_id == vid))
            session.add_all(
                TranscriptSegment(
                    video_id=vid, position=i, start_seconds=s.start, end_seconds=s.end, text=s.text, words=words_to_json(s.words)
                )
                for i, s in enumerate(result.segments)
            )
            _stage_done(
                session,
                vid,
                VIDEO_TRANSCRIBED,
                {"language": row.language, "word_count": row.word_count, "segment_count": row.segment_count},
            )
            session.flush()
            session.expunge(row)
            return row

    def replace_chunk_summaries(self, results: Sequence[ChunkSummaryResult]) -> None:
        vid = self.video_id
        with self._unit() as session:
            session.execute(delete(ChunkSummary).where(ChunkSummary.video_id == vid))
            session.add_all(
                ChunkSummary(
                    video_id=vid,
                    position=r.position,
                    token_count=r.token_count,
                    start_seconds=r.start,
                    end_seconds=r.end,
                    summary=r.text,
                )
                for r in results
            )

    def save_summary(self, reduced: ReducedSummary, chunk_count: int, object_key: str, model_info: dict[str, Any]) -> None:
        """The summary row, `video.summarized`."""
        with self._unit() as session:
            row = _one_for_update(session, VideoSummary, self.video_id)
            row.summary, row.sentence_count = reduced.summary, len(reduced.sentences)
            row.chunk_count, row.reduce_rounds = chunk_count, reduced.reduce_rounds
            row.quality_score, row.quality = reduced.quality_score, reduced.quality
            row.object_key, row.model_info = object_key, model_info
            _stage_done(
                session,
                self.video_id,
                VIDEO_SUMMARIZED,
                {"sentence_count": len(reduced.sentences), "quality_score": reduced.quality_score},
            )

    def save_passages(self, model: str, passages: Sequence[Passage], vectors: np.ndarray) -> None:
        with self._unit() as session:
            save_passages(session, model, {self.video_id: (passages, vectors)})

    def chapters(self) -> list[Chapter]:
        with self._unit() as session:
            return load_chapters(session, self.video_id)

    def save_chapters(self, chapters: Sequence[Chapter]) -> None:
        with self._unit() as session:
            save_chapters(session, self.video_id, chapters)

    def mark_indexed(self) -> None:
        """The search document is in the index: the video is ready, `video.ready`."""
        self.advance(VideoStatus.READY, VIDEO_READY)
