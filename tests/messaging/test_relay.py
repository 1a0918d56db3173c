"""The outbox relay against a real Kafka-protocol broker (Tansu)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from sqlalchemy import Engine, create_engine, text

from pipeline.events import TOPICS, VIDEO_TRANSCODED, VIDEO_TRANSCRIBED, VIDEO_UPLOADED
from pipeline.messaging.relay import RELAY_LOCK_ID, RelayStats, ensure_topics, make_producer, relay_outbox, run_relay
from sensors.kafka import kafka_upload_sensor
from tests.messaging.support import add_events, add_videos, evaluate_sensor, outbox_rows, read_topic

pytestmark = pytest.mark.integration


@pytest.fixture
def producer(kafka_bootstrap: str):
    ensure_topics(kafka_bootstrap, TOPICS)
    producer = make_producer(kafka_bootstrap, send_timeout=3)
    yield producer
    producer.close(timeout=3)


def test_relay_publishes_keyed_json_in_order_and_marks_published(migrated_engine: Engine, producer, kafka_bootstrap: str) -> None:
    ids = add_events(
        migrated_engine,
        (VIDEO_UPLOADED, 7),
        (VIDEO_UPLOADED, 8),
        (VIDEO_TRANSCODED, 7),
        (VIDEO_UPLOADED, 9),
        (VIDEO_TRANSCRIBED, 7),
    )

    assert relay_outbox(migrated_engine, producer) == RelayStats(claimed=5, published=5, failed=0)

    rows = outbox_rows(migrated_engine)
    assert [(r.event_id, r.attempts, r.last_error) for r in rows] == [(i, 1, None) for i in ids]
    assert all(r.published_at is not None for r in rows)
    uploaded = read_topic(kafka_bootstrap, VIDEO_UPLOADED)
    assert sorted(m.key for m in uploaded) == ["7", "8", "9"]
    for message in uploaded:
        body = json.loads(message.value)
        assert body["video_id"] == int(message.key) and body["type"] == VIDEO_UPLOADED
        assert message.headers == {"event_id": body["event_id"], "event_type": VIDEO_UPLOADED}
    # One video's events share a key, hence a partition, in outbox order.
    assert [json.loads(m.value)["event_id"] for m in read_topic(kafka_bootstrap, VIDEO_TRANSCODED)] == [ids[2]]
    assert [json.loads(m.value)["event_id"] for m in read_topic(kafka_bootstrap, VIDEO_TRANSCRIBED)] == [ids[4]]

    assert relay_outbox(migrated_engine, producer) == RelayStats()  # nothing left: nothing sent again
    assert len(read_topic(kafka_bootstrap, VIDEO_UPLOADED)) == 3


def test_relay_works_in_id_order_batches(sqlite_engine: Engine, producer, kafka_bootstrap: str) -> None:
    ids = add_events(sqlite_engine, *[(VIDEO_UPLOADED, 5)] * 5)
    assert relay_outbox(sqlite_engine, producer, batch_size=2).published == 2
    assert [r.published_at is not None for r in outbox_rows(sqlite_engine)] == [True, True, False, False, False]
    assert relay_outbox(sqlite_engine, producer, batch_size=2).published == 2
    assert relay_outbox(sqlite_engine, producer, batch_size=2).published == 1
    # Same key, one partition: the topic order is the outbox order.
    assert [json.loads(m.value)["event_id"] for m in read_topic(kafka_bootstrap, VIDEO_UPLOADED)] == ids


def test_unacknowledged_events_stay_with_attempts_and_error(sqlite_engine: Engine, kafka_broker, tansu_binary, tmp_path) -> None:
    from tests.fixtures.kafka import TansuBroker

    ensure_topics(kafka_broker.bootstrap, TOPICS)
    producer = make_producer(kafka_broker.bootstrap, send_timeout=2)
    producer.partitions_for(VIDEO_UPLOADED)  # metadata known: sends are accepted, then time out
    kafka_broker.stop()
    add_events(sqlite_engine, (VIDEO_UPLOADED, 1), (VIDEO_UPLOADED, 2))

    assert relay_outbox(sqlite_engine, producer, send_timeout=2) == RelayStats(claimed=2, published=0, failed=2)
    producer.close(timeout=1)
    rows = outbox_rows(sqlite_engine)
    assert all(r.published_at is None and r.attempts == 1 and "Error" in r.last_error for r in rows)

    # The broker is back (a fresh one): the next pass publishes them, counting a second attempt.
    replacement = TansuBroker(tansu_binary, tmp_path / "tansu2.log")
    try:
        ensure_topics(replacement.bootstrap, TOPICS)
        producer = make_producer(replacement.bootstrap, send_timeout=3)
        assert relay_outbox(sqlite_engine, producer).published == 2
        producer.close(timeout=3)
        rows = outbox_rows(sqlite_engine)
        assert all(r.published_at is not None and r.attempts == 2 and r.last_error is None for r in rows)
    finally:
        replacement.stop()


def test_a_second_relay_waits_while_one_is_publishing(postgres_url: str, producer, kafka_bootstrap: str) -> None:
    from pipeline.db.session import make_engine, migrate

    migrate(postgres_url)
    engine = make_engine(postgres_url)
    add_events(engine, (VIDEO_UPLOADED, 3))
    other_relay = create_engine(postgres_url)
    try:
        with other_relay.connect() as connection:
            assert connection.scalar(text("SELECT pg_try_advisory_lock(:id)"), {"id": RELAY_LOCK_ID})
            assert relay_outbox(engine, producer) == RelayStats()
            assert outbox_rows(engine)[0].attempts == 0
            connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": RELAY_LOCK_ID})
        assert relay_outbox(engine, producer).published == 1
    finally:
        other_relay.dispose()
        engine.dispose()


def test_relay_killed_after_ack_before_mark_redelivers_and_consumer_acts_once(
    migrated_engine: Engine, producer, kafka_bootstrap: str, kafka_sensor_settings, sensor_instance
) -> None:
    add_videos(migrated_engine, 42)
    [event_id] = add_events(migrated_engine, (VIDEO_UPLOADED, 42))
    crashed = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.messaging.crashing_relay",
            str(migrated_engine.url.render_as_string(False)),
            kafka_bootstrap,
        ],
        capture_output=True,
        timeout=60,
    )
    assert crashed.returncode == -9, crashed.stderr.decode()[-2000:]
    [row] = outbox_rows(migrated_engine)
    assert (row.attempts, row.published_at) == (1, None)  # sent and acknowledged, never marked
    assert len(read_topic(kafka_bootstrap, VIDEO_UPLOADED)) == 1

    assert relay_outbox(migrated_engine, producer).published == 1
    [row] = outbox_rows(migrated_engine)
    assert row.attempts == 2 and row.published_at is not None
    delivered = read_topic(kafka_bootstrap, VIDEO_UPLOADED)
    assert [json.loads(m.value)["event_id"] for m in delivered] == [event_id, event_id]  # at least once: twice

    result = evaluate_sensor(kafka_upload_sensor, sensor_instance, migrated_engine, cursor=None)
    assert [r.partition_key for r in result.run_requests] == ["42"]
    with migrated_engine.connect() as connection:
        assert connection.execute(text("SELECT consumer, event_id FROM processed_messages")).all() == [
            ("dagster-kafka-sensor", event_id)
        ]


def test_ensure_topics_creates_only_missing_ones(kafka_bootstrap: str) -> None:
    assert ensure_topics(kafka_bootstrap, [VIDEO_UPLOADED]) == [VIDEO_UPLOADED]
    assert ensure_topics(kafka_bootstrap, TOPICS) == sorted(set(TOPICS) - {VIDEO_UPLOADED})
    assert ensure_topics(kafka_bootstrap, TOPICS) == []


def test_run_relay_once_drains_the_outbox(make_settings, tmp_path, kafka_bootstrap: str) -> None:
    from pipeline.db.session import engine_for, migrate

    settings = make_settings(KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, DATABASE_URL=f"sqlite:///{tmp_path / 'relay.db'}")
    migrate(settings.database.url)
    add_events(engine_for(settings.database.url), *[(VIDEO_UPLOADED, n) for n in range(7)])

    assert run_relay(settings, once=True, batch_size=3) == RelayStats(claimed=7, published=7, failed=0)
    assert len(read_topic(kafka_bootstrap, VIDEO_UPLOADED)) == 7


def test_run_relay_needs_kafka(settings) -> None:
    with pytest.raises(RuntimeError, match="KAFKA_BOOTSTRAP_SERVERS"):
        run_relay(settings, once=True)
