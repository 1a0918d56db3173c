"""Issue 13, defect 2: a deleted video's id is never handed out again, on any backend.

On SQLite without AUTOINCREMENT, deleting the newest video gave its id to the next
upload, which the upload sensor then skipped forever (the id was already a known
partition): the new video never left `pending`.
"""

from __future__ import annotations

import dagster as dg
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import insert, select

from pipeline.db.models import Video, VideoStatus, VideoVariant
from pipeline.db.session import alembic_config, make_engine, migrate, session_scope
from pipeline.events import VIDEO_UPLOADED, record_event
from pipeline.uploads import create_video
from resources.database import DatabaseResource
from resources.object_store import ObjectStoreResource
from resources.pipeline_settings import PipelineSettingsResource
from sensors.uploads import upload_sensor


def _new_video_id(engine) -> int:  # type: ignore[no-untyped-def]
    with session_scope(engine) as session:
        return create_video(session, title="clip").video_id


def _delete(engine, video_id: int) -> None:  # type: ignore[no-untyped-def]
    with session_scope(engine) as session:
        session.delete(session.get(Video, video_id))


def test_a_deleted_videos_id_is_never_handed_out_again(database_url: str) -> None:
    migrate(database_url)
    engine = make_engine(database_url)
    try:
        first = _new_video_id(engine)
        _delete(engine, first)
        second = _new_video_id(engine)
        _delete(engine, second)
        assert _new_video_id(engine) > second > first
    finally:
        engine.dispose()


def test_upgrading_keeps_every_row_and_starts_above_every_announced_id(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    config = alembic_config(url)
    before = ScriptDirectory.from_config(config).get_revision("ids_never_reused").down_revision
    command.upgrade(config, before)  # the schema before AUTOINCREMENT
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            # Only the columns of that schema: the model has gained columns since.
            session.execute(insert(Video), [{"id": n, "title": f"v{n}", "status": "ready"} for n in (1, 2, 3)])
            session.add(
                VideoVariant(video_id=3, label="360p", width=640, height=360, video_codec="h264", size_bytes=1, object_key="k")
            )
            record_event(session, VIDEO_UPLOADED, 7)  # video 7 existed once, and was deleted
        engine.dispose()
        command.upgrade(config, "head")
        with session_scope(engine) as session:
            assert session.scalars(select(Video.id).order_by(Video.id)).all() == [1, 2, 3]
            assert session.scalars(select(VideoVariant.video_id)).all() == [3]  # no cascade on the rebuild
        assert _new_video_id(engine) == 8
        command.downgrade(config, before)
        command.upgrade(config, "head")
    finally:
        engine.dispose()


@pytest.mark.e2e
def test_delete_then_upload_reaches_ready(harness, small_video_path) -> None:
    first = harness.register(small_video_path, "first")
    harness.instance.add_dynamic_partitions("videos", [str(first)])  # the sensor saw it
    _delete(harness.engine, first)

    second = harness.register(small_video_path, "second")
    assert second != first
    resources = {
        "object_store": ObjectStoreResource(kind="local", directory=str(harness.settings.storage.directory)),
        "database": DatabaseResource(url=harness.settings.database.url),
        "pipeline_settings": PipelineSettingsResource.from_settings(harness.settings),
    }
    tick = upload_sensor(dg.build_sensor_context(instance=harness.instance, resources=resources))
    assert [r.partition_key for r in tick.run_requests] == [str(second)]

    assert harness.run(second).success
    with session_scope(harness.engine) as session:
        assert session.get(Video, second).status == VideoStatus.READY.value
