"""Idempotent consumption: processed_messages, and the bounded, offset-keeping reader."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from kafka import KafkaProducer
from kafka.errors import KafkaError
from sqlalchemy import Engine, func, select

from orchestration.processes import free_port
from pipeline.db.models import ProcessedMessage
from pipeline.db.session import session_scope
from pipeline.events import VIDEO_UPLOADED
from pipeline.messaging.consumer import KafkaReadTimeout, Poll, poll_uploaded_events, record_processed
from pipeline.messaging.relay import ensure_topics


def test_record_processed_is_true_once_per_consumer(migrated_engine: Engine) -> None:
    with session_scope(migrated_engine) as session:
        assert record_processed(session, "indexer", "event-1")
        assert not record_processed(session, "indexer", "event-1")
        assert record_processed(session, "notifier", "event-1")
    with session_scope(migrated_engine) as session:
        assert not record_processed(session, "indexer", "event-1")
        assert session.scalar(select(func.count()).select_from(ProcessedMessage)) == 2


def test_record_processed_is_race_safe_across_transactions(migrated_engine: Engine) -> None:
    # Two consumers take the same event at once: the second waits for the first's commit and loses.
    second_result: list[bool] = []
    with session_scope(migrated_engine) as first:
        assert record_processed(first, "indexer", "event-race")

        def second_consumer() -> None:
            with session_scope(migrated_engine) as second:
                second_result.append(record_processed(second, "indexer", "event-race"))

        racer = threading.Thread(target=second_consumer)
        racer.start()
        racer.join(0.5)
        assert racer.is_alive(), "the second insert must wait for the first transaction"
    racer.join(10)
    assert second_result == [False]


def _produce(bootstrap: str, *values: bytes, key: bytes = b"1") -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", request_timeout_ms=3000, max_block_ms=3000)
    for value in values:
        producer.send(VIDEO_UPLOADED, key=key, value=value).get(timeout=3)
    producer.close(timeout=3)


def _event(n: int) -> bytes:
    return f'{{"event_id": "e{n}", "video_id": {n}, "type": "video.uploaded"}}'.encode()


@pytest.mark.integration
def test_reader_resumes_from_offsets_and_bounds_batches(kafka_bootstrap: str) -> None:
    ensure_topics(kafka_bootstrap, [VIDEO_UPLOADED], partitions=1)
    _produce(kafka_bootstrap, *[_event(n) for n in range(1, 6)])

    poll = poll_uploaded_events(kafka_bootstrap, VIDEO_UPLOADED, {}, max_records=3, timeout_ms=5000)
    assert [(e.event_id, e.video_id, e.offset) for e in poll.events] == [("e1", 1, 0), ("e2", 2, 1), ("e3", 3, 2)]
    assert poll.offsets == {0: 3} and poll.rejected == []
    poll = poll_uploaded_events(kafka_bootstrap, VIDEO_UPLOADED, poll.offsets, max_records=100, timeout_ms=5000)
    assert [e.video_id for e in poll.events] == [4, 5] and poll.offsets == {0: 5}
    started = time.monotonic()
    assert poll_uploaded_events(kafka_bootstrap, VIDEO_UPLOADED, poll.offsets, timeout_ms=5000) == Poll([], [], {0: 5})
    assert time.monotonic() - started < 2, "an idle topic answers at once, not after the timeout"


@pytest.mark.integration
def test_reader_hands_back_malformed_records_and_moves_past_them(kafka_bootstrap: str) -> None:
    ensure_topics(kafka_bootstrap, [VIDEO_UPLOADED], partitions=1)
    bad = [b"not json", b'{"event_id": "x"}', b'{"event_id": "y", "video_id": 99999999999}']
    _produce(kafka_bootstrap, *bad, _event(7))
    poll = poll_uploaded_events(kafka_bootstrap, VIDEO_UPLOADED, {}, timeout_ms=5000)
    assert [e.video_id for e in poll.events] == [7] and poll.offsets == {0: 4}
    assert [(r.offset, r.value, r.key, r.attempts) for r in poll.rejected] == [(i, v, b"1", 1) for i, v in enumerate(bad)]
    reasons = [r.reason for r in poll.rejected]
    assert reasons[0].startswith("undecodable: JSONDecodeError")
    assert reasons[1] == "undecodable: KeyError: 'video_id'"
    assert reasons[2] == "undecodable: ValueError: video_id 99999999999 is not a possible id"


@pytest.mark.integration
def test_reader_of_a_missing_topic_returns_nothing(kafka_bootstrap: str) -> None:
    assert poll_uploaded_events(kafka_bootstrap, "no.such.topic", {0: 4}, timeout_ms=5000) == Poll([], [], {0: 4})


def test_reader_gives_up_on_a_dead_broker_within_its_timeout() -> None:
    started = time.monotonic()
    with pytest.raises((KafkaError, KafkaReadTimeout)):
        poll_uploaded_events(f"127.0.0.1:{free_port()}", VIDEO_UPLOADED, {}, timeout_ms=2000)
    assert time.monotonic() - started < 3


def test_reader_gives_up_on_a_silent_broker_within_its_timeout() -> None:
    # Accepts connections and never answers: the case where an unbounded poll hangs.
    silent = socket.create_server(("127.0.0.1", 0))
    silent.listen()
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(silent.accept()[0]), daemon=True).start()
    try:
        started = time.monotonic()
        with pytest.raises((KafkaError, KafkaReadTimeout)):
            poll_uploaded_events(f"127.0.0.1:{silent.getsockname()[1]}", VIDEO_UPLOADED, {}, timeout_ms=2000)
        assert time.monotonic() - started < 3
    finally:
        for conn in accepted:
            conn.close()
        silent.close()
