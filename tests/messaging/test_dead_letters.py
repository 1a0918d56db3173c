"""Issue 13: poison messages go to the dead-letter topic with their reason, and the Kafka sensor moves on."""

from __future__ import annotations

import json

import dagster as dg
import pytest
from kafka import KafkaProducer
from sqlalchemy import Engine, delete

from pipeline.db.models import Video
from pipeline.db.session import session_scope
from pipeline.events import TOPICS, VIDEO_UPLOADED
from pipeline.messaging.relay import ensure_topics, make_producer, relay_outbox
from sensors import kafka as kafka_sensor_module
from sensors.kafka import KafkaCursor, kafka_upload_sensor
from tests.messaging.support import add_events, add_videos, evaluate_sensor, read_topic

pytestmark = pytest.mark.integration

DEAD_LETTERS = f"{VIDEO_UPLOADED}.dlq"


def _poison_then_good(engine: Engine, bootstrap: str) -> tuple[str, str]:
    """On one partition: bytes that are no event (offset 0), the event of a video deleted since
    (offset 1), then a good event (offset 2). Returns the deleted and the good event ids."""
    ensure_topics(bootstrap, [VIDEO_UPLOADED], partitions=1)
    ensure_topics(bootstrap, TOPICS)
    raw = KafkaProducer(bootstrap_servers=bootstrap, acks="all", request_timeout_ms=3000, max_block_ms=3000)
    raw.send(VIDEO_UPLOADED, key=b"7", value=b"\x00\x01 not json", headers=[("event_id", b"garbage-1")]).get(timeout=3)
    raw.close(timeout=3)
    add_videos(engine, 7, 8)
    deleted, good = add_events(engine, (VIDEO_UPLOADED, 7), (VIDEO_UPLOADED, 8))
    producer = make_producer(bootstrap, send_timeout=3)
    assert relay_outbox(engine, producer).published == 2
    producer.close(timeout=3)
    with session_scope(engine) as session:  # the user deleted video 7 before the sensor saw its upload
        session.execute(delete(Video).where(Video.id == 7))
    return deleted, good


def test_poison_goes_to_the_dead_letter_topic_with_its_reason_and_good_events_still_run(
    sqlite_engine: Engine, kafka_sensor_settings: str, sensor_instance: dg.DagsterInstance
) -> None:
    bootstrap = kafka_sensor_settings
    deleted_event, good_event = _poison_then_good(sqlite_engine, bootstrap)

    first = evaluate_sensor(kafka_upload_sensor, sensor_instance, sqlite_engine, cursor=None)
    assert isinstance(first, dg.SensorResult)
    assert [r.partition_key for r in first.run_requests] == ["8"]  # the good event behind the poison runs
    cursor = KafkaCursor.parse(first.cursor)
    assert cursor.offsets == {0: 3}  # past the poison at once
    assert [(e["event"]["video_id"], e["attempts"]) for e in cursor.retrying] == [(7, 1)]
    [undecodable] = read_topic(bootstrap, DEAD_LETTERS)  # not an event: no retry can help
    assert undecodable.value == b"\x00\x01 not json" and undecodable.key == "7"
    assert undecodable.headers["event_id"] == "garbage-1"
    assert undecodable.headers["dlq.reason"].startswith("undecodable: ")
    assert {
        k: undecodable.headers[k]
        for k in ("dlq.attempts", "dlq.source.topic", "dlq.source.partition", "dlq.source.offset", "dlq.consumer")
    } == {
        "dlq.attempts": "1",
        "dlq.source.topic": VIDEO_UPLOADED,
        "dlq.source.partition": "0",
        "dlq.source.offset": "0",
        "dlq.consumer": "dagster-kafka-sensor",
    }
    sensor_instance.add_dynamic_partitions("videos", ["8"])  # what the daemon does with the result

    # The unknown video is checked again on the next ticks, then dead-lettered (KAFKA_MAX_ATTEMPTS = 3).
    second = evaluate_sensor(kafka_upload_sensor, sensor_instance, sqlite_engine, cursor=first.cursor)
    assert second.run_requests == []
    assert [e["attempts"] for e in KafkaCursor.parse(second.cursor).retrying] == [2]
    assert len(read_topic(bootstrap, DEAD_LETTERS)) == 1
    third = evaluate_sensor(kafka_upload_sensor, sensor_instance, sqlite_engine, cursor=second.cursor)
    assert third.run_requests == []
    assert KafkaCursor.parse(third.cursor) == KafkaCursor({0: 3})
    _, unknown = read_topic(bootstrap, DEAD_LETTERS)
    assert json.loads(unknown.value)["event_id"] == unknown.headers["event_id"] == deleted_event
    assert unknown.key == "7" and unknown.headers["dlq.source.offset"] == "1" and unknown.headers["dlq.attempts"] == "3"
    assert unknown.headers["dlq.reason"] == (
        "unknown video: video 7 is not in the app database (deleted, or never stored) after 3 attempt(s)"
    )
    assert good_event not in {m.headers.get("event_id") for m in read_topic(bootstrap, DEAD_LETTERS)}


def test_a_video_stored_late_runs_on_a_later_attempt(
    sqlite_engine: Engine, kafka_sensor_settings: str, sensor_instance: dg.DagsterInstance
) -> None:
    ensure_topics(kafka_sensor_settings, TOPICS)
    add_events(sqlite_engine, (VIDEO_UPLOADED, 31))  # published before its video row is visible here
    producer = make_producer(kafka_sensor_settings, send_timeout=3)
    relay_outbox(sqlite_engine, producer)
    producer.close(timeout=3)
    first = evaluate_sensor(kafka_upload_sensor, sensor_instance, sqlite_engine, cursor=None)
    assert first.run_requests == []
    add_videos(sqlite_engine, 31)
    second = evaluate_sensor(kafka_upload_sensor, sensor_instance, sqlite_engine, cursor=first.cursor)
    assert [r.partition_key for r in second.run_requests] == ["31"]
    assert KafkaCursor.parse(second.cursor).retrying == []


def test_dead_letters_not_written_keep_the_cursor_and_lose_nothing(
    sqlite_engine: Engine, kafka_sensor_settings: str, sensor_instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    _poison_then_good(sqlite_engine, kafka_sensor_settings)
    budget = kafka_sensor_module.DEAD_LETTER_TIMEOUT_S
    monkeypatch.setattr(kafka_sensor_module, "DEAD_LETTER_TIMEOUT_S", 0.001)  # the dead-letter write times out
    stuck = evaluate_sensor(kafka_upload_sensor, sensor_instance, sqlite_engine, cursor=None)
    assert isinstance(stuck, dg.SkipReason) and f"could not write 1 dead letter(s) to {DEAD_LETTERS}" in stuck.skip_message
    monkeypatch.setattr(kafka_sensor_module, "DEAD_LETTER_TIMEOUT_S", budget)
    result = evaluate_sensor(kafka_upload_sensor, sensor_instance, sqlite_engine, cursor=None)
    assert [r.partition_key for r in result.run_requests] == ["8"]  # not taken as a redelivery
    assert len(read_topic(kafka_sensor_settings, DEAD_LETTERS)) >= 1
