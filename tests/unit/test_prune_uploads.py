"""Uploads started and never completed are removed, with their staged bytes; everything else stays."""

from datetime import timedelta

import dagster as dg
import pytest
from sqlalchemy import select

from orchestration.definitions import build_definitions
from pipeline.db.models import UploadMetadata, Video, utcnow
from pipeline.db.session import engine_for, migrate, session_scope
from pipeline.storage.local import LocalObjectStore
from pipeline.uploads import UploadRules, create_video, ingest_file, prune_abandoned_uploads


@pytest.fixture
def store(settings) -> LocalObjectStore:
    return LocalObjectStore(settings.storage.directory)


@pytest.fixture
def engine(settings):
    """The database the settings (and so the Dagster job) point at."""
    migrate(settings.database.url)
    return engine_for(settings.database.url)


def _started_upload(engine, store, title: str, hours_ago: float) -> tuple[int, str]:
    with session_scope(engine) as session:
        pending = create_video(session, title=title, method="presigned")
        session.scalars(select(UploadMetadata).where(UploadMetadata.upload_id == pending.upload_id)).one().created_at = (
            utcnow() - timedelta(hours=hours_ago)
        )
    store.put_bytes(pending.staging_key, b"half a video")
    return pending.video_id, pending.staging_key


@pytest.fixture
def uploads(settings, engine, store, small_video_path):
    abandoned = _started_upload(engine, store, "abandoned", hours_ago=30)
    in_progress = _started_upload(engine, store, "in progress", hours_ago=1)
    completed = ingest_file(engine, store, small_video_path, UploadRules.from_settings(settings), title="completed").id
    with session_scope(engine) as session:
        session.execute(
            UploadMetadata.__table__.update()
            .where(UploadMetadata.video_id == completed)
            .values(created_at=utcnow() - timedelta(days=3))
        )
    return abandoned, in_progress, completed


def _video_ids(engine) -> set[int]:
    with session_scope(engine) as session:
        return set(session.scalars(select(Video.id)))


def test_only_uploads_never_completed_in_time_are_removed(engine, store, uploads):
    (abandoned, abandoned_key), (in_progress, in_progress_key), completed = uploads
    with session_scope(engine) as session:
        removed = prune_abandoned_uploads(session, store, older_than=timedelta(hours=24))
    assert removed == [abandoned]
    assert _video_ids(engine) == {in_progress, completed}
    assert not store.exists(abandoned_key) and store.exists(in_progress_key)


def test_the_nightly_job_prunes_through_dagster(settings, engine, uploads):
    (_abandoned, _), (in_progress, _), completed = uploads
    defs = build_definitions(settings)
    assert defs.resolve_schedule_def("prune_uploads_schedule").cron_schedule == "17 3 * * *"
    result = defs.resolve_job_def("prune_uploads_job").execute_in_process(instance=dg.DagsterInstance.ephemeral())
    assert result.success
    assert _video_ids(engine) == {in_progress, completed}
