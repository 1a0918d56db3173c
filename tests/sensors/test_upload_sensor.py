"""The upload sensor over the object store: batches, cursor, grace window, no duplicates, and a tick that
waits for the next upload."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

import dagster as dg
import pytest

from pipeline import keys
from pipeline.db.models import Video, utcnow
from pipeline.db.session import engine_for, migrate, session_scope
from pipeline.storage import ObjectStore
from pipeline.storage.local import LocalObjectStore
from resources.database import DatabaseResource
from resources.object_store import ObjectStoreResource
from resources.pipeline_settings import PipelineSettingsResource
from sensors.runs import known_videos
from sensors.uploads import GRACE, KnownVideos, UploadCursor, scan_or_wait, scan_uploads, upload_sensor

NO_WAIT = PipelineSettingsResource(upload_sensor_wait_seconds=0)  # ticks return at once, as on S3
VIDEOS = 1000
_app_database: list[DatabaseResource] = []


@pytest.fixture(scope="module", autouse=True)
def app_database(tmp_path_factory) -> DatabaseResource:
    """Videos 1-1000 in an app database: an upload gets a run only when its video exists."""
    url = f"sqlite:///{tmp_path_factory.mktemp('app') / 'videoai.db'}"
    migrate(url)
    with session_scope(engine_for(url)) as session:
        session.add_all(Video(id=i, title=f"clip number {i}") for i in range(1, VIDEOS + 1))
    _app_database[:] = [DatabaseResource(url=url)]
    return _app_database[0]


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path) -> ObjectStore:
    """Every test runs over the local directory and over an S3 prefix (moto over HTTP)."""
    if request.param == "local":
        return LocalObjectStore(tmp_path / "objects")
    return request.getfixturevalue("s3_store")


def _resource_for(store: ObjectStore) -> ObjectStoreResource:
    if isinstance(store, LocalObjectStore):
        return ObjectStoreResource(kind="local", directory=str(store.root))
    return ObjectStoreResource(kind="s3", bucket=store.bucket, endpoint_url=store.endpoint_url)


def _evaluate(
    instance: dg.DagsterInstance, store: ObjectStore, cursor: str | None, settings: PipelineSettingsResource | None = None
) -> dg.SensorResult:
    context = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={"object_store": _resource_for(store), "database": _app_database[0], "pipeline_settings": settings or NO_WAIT},
    )
    return upload_sensor(context)


def _knowing(*partitions: int) -> KnownVideos:
    """A stand-in for Dagster's answer: these video ids are partitions already."""
    return lambda ids: {str(v) for v in ids} & {str(p) for p in partitions}


def _apply(instance: dg.DagsterInstance, result: dg.SensorResult) -> None:
    # What the daemon does with a tick's partition requests.
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))


def test_a_thousand_waiting_uploads_are_taken_tick_by_tick_each_exactly_once(store):
    start = utcnow()
    for vid in range(1, 1001):
        store.put_bytes(keys.upload_key(vid, "clip.mp4", start + timedelta(milliseconds=vid)), b"x")
    batch = 250
    requested: list[str] = []
    cursor = None
    with dg.instance_for_test() as instance:
        for _tick in range(1000 // batch + 2):
            began = time.perf_counter()
            result = _evaluate(
                instance, store, cursor, PipelineSettingsResource(sensor_batch_size=batch, upload_sensor_wait_seconds=0)
            )
            elapsed = time.perf_counter() - began
            assert elapsed < 30, f"a tick took {elapsed:.1f}s; the sensor limit is 60s"
            assert len(result.run_requests) <= batch
            assert [r.partition_key for r in result.run_requests] == list(
                result.dynamic_partitions_requests[0].partition_keys if result.run_requests else []
            )
            requested += [r.partition_key for r in result.run_requests]
            _apply(instance, result)
            cursor = result.cursor
            if not result.run_requests:
                break
    assert requested == [str(v) for v in range(1, 1001)]  # each once, in arrival order


def _first_tick(instance: dg.DagsterInstance, store: ObjectStore, video_id: int, at: datetime) -> dg.SensorResult:
    """One upload, one tick, its partitions added: where the next tick starts."""
    store.put_bytes(keys.upload_key(video_id, "a.mp4", at), b"x")
    first = _evaluate(instance, store, None)
    _apply(instance, first)
    return first


def test_new_uploads_after_the_cursor_are_requested_once(store):
    now = utcnow()
    with dg.instance_for_test() as instance:
        first = _first_tick(instance, store, 1, now)
        store.put_bytes(keys.upload_key(2, "b.mov", now + timedelta(seconds=1)), b"x")
        second = _evaluate(instance, store, first.cursor)
        assert [r.partition_key for r in second.run_requests] == ["2"]
        assert second.run_requests[0].tags["videoai/trigger"] == "object-store"
        assert second.run_requests[0].tags["videoai/title"] == "clip number 2"  # titled from the request on


def test_an_upload_whose_video_is_not_in_the_app_database_gets_no_run(store):
    """Deleted meanwhile, or an object nobody registered: no partition and no run (its run could only be cancelled)."""
    now = utcnow()
    store.put_bytes(keys.upload_key(VIDEOS + 5, "gone.mp4", now), b"x")
    store.put_bytes(keys.upload_key(7, "kept.mp4", now + timedelta(seconds=1)), b"x")
    with dg.instance_for_test() as instance:
        tick = _evaluate(instance, store, None)
    assert [r.partition_key for r in tick.run_requests] == ["7"]
    assert list(tick.dynamic_partitions_requests[0].partition_keys) == ["7"]
    assert UploadCursor.parse(tick.cursor).last_key == keys.upload_key(7, "kept.mp4", now + timedelta(seconds=1))


def test_an_upload_that_lands_late_within_the_grace_window_is_not_missed(store):
    now = utcnow()
    with dg.instance_for_test() as instance:
        first = _first_tick(instance, store, 2, now)
        # Upload 1 took its timestamp first but its object appeared after the tick.
        store.put_bytes(keys.upload_key(1, "a.mp4", now - GRACE / 2), b"x")
        second = _evaluate(instance, store, first.cursor)
        assert [r.partition_key for r in second.run_requests] == ["1"]


def test_objects_that_are_not_uploads_are_ignored(store):
    store.put_bytes("uploads/readme.txt", b"x")
    store.put_bytes("videos/1/thumbnail.jpg", b"x")
    found, cursor = scan_uploads(store, UploadCursor(), _knowing(), batch_size=10)
    assert found == [] and cursor.last_key == "uploads/readme.txt"


def test_scanning_pages_past_known_uploads_to_fill_a_batch(store):
    now = utcnow()
    for vid in range(1, 8):
        store.put_bytes(keys.upload_key(vid, "v.mp4", now + timedelta(milliseconds=vid)), b"x")
    found, cursor = scan_uploads(store, UploadCursor(), _knowing(1, 2, 3), batch_size=3)
    assert found == [4, 5, 6]
    rest, _ = scan_uploads(store, cursor, _knowing(1, 2, 3, 4, 5, 6), batch_size=3)
    assert rest == [7]


def _land_later(store: ObjectStore, video_id: int, after_seconds: float) -> threading.Thread:
    """An upload that lands `after_seconds` from now, as the API's finished upload does (a rename into uploads/)."""

    def land() -> None:
        time.sleep(after_seconds)
        store.put_bytes(keys.upload_key(video_id, "late.mp4", utcnow()), b"x")

    thread = threading.Thread(target=land)
    thread.start()
    return thread


def test_a_tick_with_nothing_new_takes_the_upload_that_lands_while_it_waits(tmp_path):
    store = LocalObjectStore(tmp_path / "objects")
    with dg.instance_for_test() as instance:
        first = _first_tick(instance, store, 1, utcnow())
        lander = _land_later(store, 2, after_seconds=1.0)
        began = time.monotonic()
        tick = _evaluate(instance, store, first.cursor, PipelineSettingsResource(upload_sensor_wait_seconds=20))
        waited = time.monotonic() - began
        lander.join()
    assert [r.partition_key for r in tick.run_requests] == ["2"]  # from this tick, not the next one
    assert 1.0 <= waited < 10, waited  # it waited for the upload, and returned when it came, not at 20 s


def test_a_waiting_tick_does_not_take_a_partial_write_for_an_upload(tmp_path):
    store = LocalObjectStore(tmp_path / "objects")
    (store.root / "uploads").mkdir(parents=True)
    partial = store.root / "uploads" / ".tmp-unfinished"
    waker = threading.Timer(0.3, partial.write_bytes, args=(b"half",))
    waker.start()
    began = time.monotonic()
    found, _ = scan_or_wait(store, UploadCursor(), _knowing(), batch_size=10, wait_seconds=1.5)
    waker.join()
    assert found == [] and time.monotonic() - began >= 1.5  # nothing found: it waited on to the end


def test_a_tick_waits_only_where_the_store_can_tell_that_its_listing_changed(s3_store):
    assert s3_store.listing_version("uploads/") is None
    began = time.monotonic()
    found, _ = scan_or_wait(s3_store, UploadCursor(), _knowing(), batch_size=10, wait_seconds=30)
    assert found == [] and time.monotonic() - began < 15  # listed once and returned: S3's ticks follow the interval


def test_the_local_listing_version_changes_when_a_key_comes_or_goes_not_for_other_prefixes(tmp_path):
    store = LocalObjectStore(tmp_path / "objects")
    before = store.listing_version("uploads/")
    store.put_bytes("uploads/a.mp4", b"x")
    added = store.listing_version("uploads/")
    assert added != before
    store.get_bytes("uploads/a.mp4")
    store.put_bytes("videos/1/thumbnail.jpg", b"x")  # another prefix
    assert store.listing_version("uploads/") == added
    store.delete("uploads/a.mp4")
    assert store.listing_version("uploads/") != added


def test_a_waiting_tick_does_not_request_an_upload_another_trigger_took_meanwhile(tmp_path):
    """The Kafka sensor can add a video's partition while the upload sensor's tick waits: the scan after the
    wait asks Dagster again, so the video gets one run, not two."""
    store = LocalObjectStore(tmp_path / "objects")
    with dg.instance_for_test() as instance:
        first = _first_tick(instance, store, 1, utcnow())

        def land_and_take() -> None:
            time.sleep(0.5)
            instance.add_dynamic_partitions("videos", ["2"])  # what the other trigger's tick does
            store.put_bytes(keys.upload_key(2, "both.mp4", utcnow()), b"x")

        other = threading.Thread(target=land_and_take)
        other.start()
        tick = _evaluate(instance, store, first.cursor, PipelineSettingsResource(upload_sensor_wait_seconds=3))
        other.join()
    assert tick.run_requests == [] and not tick.dynamic_partitions_requests


def test_dagster_is_asked_only_about_the_listed_ids():
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("videos", ["1", "2", "3"])
        assert known_videos(instance, [3, 9, 3]) == {"3"}
        assert known_videos(instance, []) == set()
