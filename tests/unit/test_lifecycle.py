"""The status lifecycle: forward only, failures explained, retries start over, ready videos stay watchable."""

import pytest
from sqlalchemy import select

from pipeline.db.models import OutboxEvent, Video, VideoStatus
from pipeline.db.session import session_scope
from pipeline.events import VIDEO_TRANSCRIBED
from pipeline.lifecycle import VideoNotFound, advance_status, mark_failed, start_processing


@pytest.fixture
def video_id(sqlite_engine) -> int:
    with session_scope(sqlite_engine) as session:
        video = Video(title="t", status=VideoStatus.PENDING.value)
        session.add(video)
        session.flush()
        return video.id


def _status(engine, vid: int) -> tuple[str, str | None]:
    with session_scope(engine) as session:
        video = session.get(Video, vid)
        return video.status, video.status_message


def test_status_moves_forward_and_never_back(sqlite_engine, video_id):
    with session_scope(sqlite_engine) as session:
        advance_status(session, video_id, VideoStatus.SUMMARIZING)
        advance_status(session, video_id, VideoStatus.TRANSCRIBING, event=VIDEO_TRANSCRIBED)
    assert _status(sqlite_engine, video_id) == ("summarizing", None)
    with session_scope(sqlite_engine) as session:
        # The stage did complete, so its event is recorded in the same transaction.
        assert session.scalars(select(OutboxEvent.topic)).all() == [VIDEO_TRANSCRIBED]


def test_an_upload_goes_from_uploading_to_pending_and_never_back(sqlite_engine):
    with session_scope(sqlite_engine) as session:
        video = Video(title="t", status=VideoStatus.UPLOADING.value)
        session.add(video)
        session.flush()
        vid = video.id
        advance_status(session, vid, VideoStatus.PENDING)  # the upload completed
    assert _status(sqlite_engine, vid) == ("pending", None)
    with session_scope(sqlite_engine) as session:
        advance_status(session, vid, VideoStatus.UPLOADING)
        start_processing(session, vid)
    assert _status(sqlite_engine, vid) == ("transcoding", None)


def test_a_failure_sticks_until_a_new_run_starts_over(sqlite_engine, video_id):
    with session_scope(sqlite_engine) as session:
        mark_failed(session, video_id, "The file is not a video.")
        advance_status(session, video_id, VideoStatus.SUMMARIZING)
    assert _status(sqlite_engine, video_id) == ("failed", "The file is not a video.")
    with session_scope(sqlite_engine) as session:
        start_processing(session, video_id)
    assert _status(sqlite_engine, video_id) == ("transcoding", None)


def test_a_ready_video_stays_ready_when_reprocessed_or_when_reprocessing_fails(sqlite_engine, video_id):
    with session_scope(sqlite_engine) as session:
        advance_status(session, video_id, VideoStatus.READY)
        start_processing(session, video_id)
        mark_failed(session, video_id, "the LLM API was down")
    assert _status(sqlite_engine, video_id) == ("ready", None)


def test_an_unknown_video_is_reported(sqlite_engine):
    with session_scope(sqlite_engine) as session, pytest.raises(VideoNotFound, match="video 999 does not exist"):
        start_processing(session, 999)
