"""The Kafka sensor: events in, partitions + run requests + cursor out; bounded when Kafka is down."""

from __future__ import annotations

import json
import time

import dagster as dg
import pytest
from sqlalchemy import Engine

from pipeline.db.session import session_scope
from pipeline.events import TOPICS, VIDEO_UPLOADED
from pipeline.messaging.consumer import record_processed
from pipeline.messaging.relay import ensure_topics, make_producer, relay_outbox
from sensors import kafka as kafka_sensor_module
from sensors.kafka import CONSUMER_NAME, KafkaCursor, kafka_upload_sensor
from tests.messaging.support import add_events, add_videos, evaluate_sensor

pytestmark = pytest.mark.integration


def publish(engine: Engine, bootstrap: str, *video_ids: int) -> list[str]:
    """Videos with these ids, and their `video.uploaded` events relayed to the broker."""
    add_videos(engine, *video_ids)
    ids = add_events(engine, *[(VIDEO_UPLOADED, v) for v in video_ids])
    ensure_topics(bootstrap, TOPICS)
    producer = make_producer(bootstrap, send_timeout=3)
    assert relay_outbox(engine, producer).published == len(video_ids)
    producer.close(timeout=3)
    return ids


def test_events_become_partitions_runs_and_a_cursor(
    sqlite_engine: Engine, kafka_sensor_settings: str, sensor_instance: dg.DagsterInstance
) -> None:
    publish(sqlite_engine, kafka_sensor_settings, 11, 12, 13)

    result = evaluate_sensor(kafka_upload_sensor, sensor_instance, sqlite_engine, cursor=None)
    assert isinstance(result, dg.SensorResult)
    assert sorted(r.partition_key for r in result.run_requests) == ["11", "12", "13"]
    assert all(r.tags["videoai/trigger"] == "kafka" for r in result.run_requests)
    [partitions] = result.dynamic_partitions_requests
    assert sorted(partitions.partition_keys) == ["11", "12", "13"]
    assert sum(KafkaCursor.parse(result.cursor).offsets.values()) == 3
    sensor_instance.add_dynamic_partitions("videos", list(partitions.partition_keys))  # what the daemon does

    again = evaluate_sensor(kafka_upload_sensor, sensor_instance, sqlite_engine, cursor=result.cursor)
    assert again.run_requests == [] and again.dynamic_partitions_requests == []
    assert again.cursor == result.cursor

    publish(sqlite_engine, kafka_sensor_settings, 14)
    later = evaluate_sensor(kafka_upload_sensor, sensor_instance, sqlite_engine, cursor=result.cursor)
    assert [r.partition_key for r in later.run_requests] == ["14"]


def test_already_processed_events_start_nothing(
    sqlite_engine: Engine, kafka_sensor_settings: str, sensor_instance: dg.DagsterInstance
) -> None:
    first, _second = publish(sqlite_engine, kafka_sensor_settings, 21, 22)
    with session_scope(sqlite_engine) as session:
        assert record_processed(session, CONSUMER_NAME, first)

    result = evaluate_sensor(kafka_upload_sensor, sensor_instance, sqlite_engine, cursor=None)
    assert [r.partition_key for r in result.run_requests] == ["22"]


def test_cursor_round_trips_partition_offsets() -> None:
    cursor = KafkaCursor({2: 7, 0: 3})
    assert json.loads(cursor.serialize()) == {"offsets": {"0": 3, "2": 7}}
    assert KafkaCursor.parse(cursor.serialize()) == cursor
    assert KafkaCursor.parse(None) == KafkaCursor()


def test_broker_down_is_a_prompt_skip_not_a_hang(
    sqlite_engine: Engine,
    kafka_sensor_settings: str,
    kafka_broker,
    sensor_instance: dg.DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(kafka_sensor_module, "READ_TIMEOUT_MS", 3000)
    kafka_broker.stop()
    started = time.monotonic()
    result = evaluate_sensor(kafka_upload_sensor, sensor_instance, sqlite_engine, cursor='{"offsets": {"0": 5}}')
    assert time.monotonic() - started < 5
    assert isinstance(result, dg.SkipReason) and "unavailable" in result.skip_message
