"""The per-video repository: each write commits its rows and its outbox event together; the status moves
when a stage starts (`advance`), and the stage's event carries it."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from pipeline.db import videos as video_rows
from pipeline.db.models import OutboxEvent, TranscriptSegment, Video, VideoStatus, VideoTranscript
from pipeline.db.session import make_engine, session_scope
from pipeline.db.videos import VideoRepository
from pipeline.text import TimedSegment
from pipeline.transcription import TranscriptResult

RESULT = TranscriptResult(
    "en", 0.99, 4.0, 3.5, (TimedSegment(0.0, 2.0, "Hello there."), TimedSegment(2.0, 3.5, "The lava flows."))
)


@pytest.fixture
def repository(migrated_database_url: str) -> VideoRepository:
    engine = make_engine(migrated_database_url)
    with session_scope(engine) as session:
        video = Video(title="t", status=VideoStatus.TRANSCODING.value)
        session.add(video)
        session.flush()
        vid = video.id
    yield VideoRepository(engine, vid)
    engine.dispose()


def _events(repository: VideoRepository) -> list[str]:
    with session_scope(repository.engine) as session:
        return list(session.scalars(select(OutboxEvent.topic).order_by(OutboxEvent.id)))


def _event_statuses(repository: VideoRepository) -> list[str]:
    with session_scope(repository.engine) as session:
        return [e.payload["status"] for e in session.scalars(select(OutboxEvent).order_by(OutboxEvent.id))]


def test_saving_a_transcript_writes_rows_and_event_together(repository: VideoRepository) -> None:
    repository.advance(VideoStatus.TRANSCRIBING)  # the transcript asset starts its stage
    assert repository.video().status == VideoStatus.TRANSCRIBING.value
    row = repository.save_transcript(RESULT, {"model": "tiny.en"}, "t.json", "t.vtt")
    assert (row.text, row.word_count, row.segment_count) == ("Hello there. The lava flows.", 5, 2)
    assert repository.video().status == VideoStatus.TRANSCRIBING.value
    assert _events(repository) == ["video.transcribed"]
    assert _event_statuses(repository) == ["transcribing"]
    assert repository.segments() == list(RESULT.segments)
    # A rerun replaces, never duplicates.
    repository.save_transcript(RESULT, {"model": "tiny.en"}, "t.json", "t.vtt")
    with session_scope(repository.engine) as session:
        assert session.scalar(select(func.count()).select_from(TranscriptSegment)) == 2
        assert session.scalar(select(func.count()).select_from(VideoTranscript)) == 1
        assert video_rows.one_per_video(session, VideoTranscript, repository.video_id).json_key == "t.json"


def test_when_the_event_cannot_be_recorded_no_row_or_status_is_kept(
    repository: VideoRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("outbox unavailable")

    monkeypatch.setattr("pipeline.db.videos.record_event", refuse)
    with pytest.raises(RuntimeError, match="outbox unavailable"):
        repository.save_transcript(RESULT, {}, "t.json", "t.vtt")
    assert repository.transcript() is None and repository.segments() == []
    assert repository.video().status == VideoStatus.TRANSCODING.value
    assert _events(repository) == []
