"""Consuming events at least once and acting on each at most once.

Offsets are kept by the caller (a Dagster sensor keeps them in its cursor), so
the reader uses manual partition assignment and never joins a consumer group:
there is no rebalance to wait for, and each call is bounded in time.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from kafka import KafkaConsumer, TopicPartition
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from pipeline.db.models import MAX_ID, ProcessedMessage, utcnow

log = logging.getLogger(__name__)

T = TypeVar("T")


class KafkaReadTimeout(TimeoutError):
    """A Kafka call took longer than its budget (broker down or hanging)."""


@dataclass(frozen=True)
class ConsumedEvent:
    event_id: str
    video_id: int
    partition: int
    offset: int
    payload: dict[str, Any]


@dataclass(frozen=True)
class RejectedRecord:
    """A record the consumer cannot act on (not an event, or an event about no known video),
    kept as it was read, with why and after how many attempts: a dead letter."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    reason: str
    attempts: int = 1


@dataclass(frozen=True)
class Poll:
    events: list[ConsumedEvent]
    rejected: list[RejectedRecord]
    offsets: dict[int, int]  # partition -> next offset to read


def record_processed(session: Session, consumer_name: str, event_id: str) -> bool:
    """Mark `event_id` handled by `consumer_name` in the session's transaction.

    True the first time, False if it was already recorded. INSERT ... ON
    CONFLICT DO NOTHING on the (consumer, event_id) unique constraint makes two
    concurrent consumers agree: on PostgreSQL the second waits for the first's
    commit and then inserts nothing. Commit it with the side effect it guards.
    """
    dialect = session.get_bind().dialect.name
    insert: Callable[..., Any] | None = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}.get(dialect)
    if insert is None:
        raise NotImplementedError(f"record_processed supports PostgreSQL and SQLite, not {dialect}")
    statement = (
        insert(ProcessedMessage)
        .values(consumer=consumer_name, event_id=event_id, processed_at=utcnow())
        .on_conflict_do_nothing(index_elements=["consumer", "event_id"])
        .returning(ProcessedMessage.id)
    )
    return session.execute(statement).scalar() is not None


def poll_uploaded_events(
    bootstrap: str, topic: str, offsets: dict[int, int], max_records: int = 500, timeout_ms: int = 5000
) -> Poll:
    """Read up to `max_records` records after `offsets` (partition -> next offset to read).

    Partitions missing from `offsets` are read from their beginning, so events
    published before the first call are not lost. Returns the events in
    partition order, the records that are not events (the offsets move past
    them: a bad message must not block the partition behind it) and the
    advanced offsets. The whole call, including
    connecting and metadata, finishes within `timeout_ms` or raises
    KafkaReadTimeout; a broker that is down raises kafka's NoBrokersAvailable.
    """
    return run_within(timeout_ms / 1000, lambda: _read(bootstrap, topic, dict(offsets), max_records, timeout_ms))


def run_within(seconds: float, work: Callable[[], T]) -> T:
    """`work()`, or KafkaReadTimeout after `seconds`.

    kafka-python bounds polls, but some metadata calls wait on a future with no
    timeout: the work runs in a daemon thread so the caller is never stuck."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as error:  # handed to the caller's thread below
            outcome["error"] = error

    worker = threading.Thread(target=run, name="kafka-call", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise KafkaReadTimeout(f"Kafka call did not finish within {seconds:.1f}s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _read(bootstrap: str, topic: str, offsets: dict[int, int], max_records: int, timeout_ms: int) -> Poll:
    deadline = time.monotonic() + timeout_ms / 1000
    budget_ms = max(1000, timeout_ms // 2)
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        api_version_auto_timeout_ms=budget_ms,
        request_timeout_ms=budget_ms,
        fetch_max_wait_ms=min(500, budget_ms - 100),
        max_poll_records=max_records,
    )
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        if not partitions:
            return Poll([], [], offsets)
        consumer.assign(partitions)
        unread = [tp for tp in partitions if tp.partition not in offsets]
        if unread:  # (with no arguments, seek_to_beginning rewinds every partition)
            consumer.seek_to_beginning(*unread)
        for tp in partitions:
            if tp.partition in offsets:
                consumer.seek(tp, offsets[tp.partition])
        # Read up to the end offsets seen now, so an idle topic returns at once instead of
        # waiting out the timeout.
        ends = consumer.end_offsets(partitions)
        events: list[ConsumedEvent] = []
        rejected: list[RejectedRecord] = []
        while len(events) + len(rejected) < max_records and time.monotonic() < deadline:
            if all(consumer.position(tp) >= ends[tp] for tp in partitions):
                break
            remaining_ms = max(1, int((deadline - time.monotonic()) * 1000))
            batches = consumer.poll(timeout_ms=min(remaining_ms, 1000), max_records=max_records - len(events) - len(rejected))
            for tp, records in sorted(batches.items(), key=lambda item: item[0].partition):
                for record in records:
                    offsets[tp.partition] = record.offset + 1
                    decoded = _decode(record)
                    if isinstance(decoded, ConsumedEvent):
                        events.append(decoded)
                    else:
                        rejected.append(decoded)
        return Poll(events, rejected, offsets)
    finally:
        consumer.close(autocommit=False)


def _decode(record: Any) -> ConsumedEvent | RejectedRecord:
    """The event in a record, or the record and why it is not one."""
    try:
        payload = json.loads(record.value)
        headers = {name: value.decode() for name, value in record.headers or []}
        video_id = int(payload["video_id"])
        if not 1 <= video_id <= MAX_ID:
            raise ValueError(f"video_id {video_id} is not a possible id")
        return ConsumedEvent(
            event_id=headers.get("event_id") or payload["event_id"],
            video_id=video_id,
            partition=record.partition,
            offset=record.offset,
            payload=payload,
        )
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
        reason = f"undecodable: {type(error).__name__}: {error}"
        log.warning("malformed message at %s[%s]@%s: %s", record.topic, record.partition, record.offset, reason)
        return RejectedRecord(
            record.topic, record.partition, record.offset, record.key, record.value, list(record.headers or []), reason
        )
