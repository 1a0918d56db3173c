"""The outbox relay: publish unpublished outbox rows to Kafka, at least once.

One pass: claim a batch of unpublished rows in id order and commit their
`attempts` increment first (so attempts count even if the process dies), send
each to its topic keyed by video id, wait for the broker's acknowledgement
from all in-sync replicas, then mark the acknowledged rows published. A relay
killed between the acknowledgement and the mark sends those rows again on its
next pass: consumers deduplicate by event id (`processed_messages`).

On PostgreSQL a pass holds a session-level advisory lock, so two relays never
send at the same time. Row locks (FOR UPDATE SKIP LOCKED) cannot do this here:
committing the attempts first releases them before the sends. One sender at a
time also keeps each video's events in order on its partition.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError
from sqlalchemy import Engine, select, text, update
from sqlalchemy.orm import Session

from pipeline.db.models import OutboxEvent, utcnow
from pipeline.db.session import engine_for
from pipeline.events import TOPICS
from pipeline.settings import Settings
from pipeline.signals import stop_on_signals

log = logging.getLogger(__name__)

# Any fixed 64-bit number, unique to this purpose in the app database.
RELAY_LOCK_ID = 0x766964656F6169  # "videoai"
SEND_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class RelayStats:
    claimed: int = 0
    published: int = 0
    failed: int = 0

    def __add__(self, other: RelayStats) -> RelayStats:
        return RelayStats(self.claimed + other.claimed, self.published + other.published, self.failed + other.failed)


@dataclass(frozen=True)
class _Claimed:
    id: int
    event_id: str
    topic: str
    key: str
    payload: dict[str, Any]


def make_producer(bootstrap: str, send_timeout: float = SEND_TIMEOUT_SECONDS) -> KafkaProducer:
    timeout_ms = int(send_timeout * 1000)
    return KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        # One request in flight per broker: a retried batch cannot overtake a later one.
        max_in_flight_requests_per_connection=1,
        # delivery_timeout_ms bounds a send with its retries; it must exceed linger + request timeout.
        delivery_timeout_ms=timeout_ms,
        request_timeout_ms=max(100, min(timeout_ms // 2, 10_000)),
        max_block_ms=timeout_ms,
        linger_ms=5,
    )


def ensure_topics(
    bootstrap: str, topics: Iterable[str], *, partitions: int = 3, replication_factor: int = 1, timeout_ms: int = 10_000
) -> list[str]:
    """Create the topics that do not exist yet; returns the names created."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=timeout_ms, api_version_auto_timeout_ms=timeout_ms)
    created = []
    try:
        # One request per topic, no listing first: "already exists" then concerns just that
        # topic, and Tansu's metadata (unknown ACL operation bits) breaks kafka-python's list_topics.
        for topic in sorted(set(topics)):
            try:
                admin.create_topics([NewTopic(topic, partitions, replication_factor)], timeout_ms=timeout_ms)
                created.append(topic)
            except TopicAlreadyExistsError:
                pass
        return created
    finally:
        admin.close()


def relay_outbox(
    engine: Engine, producer: KafkaProducer, *, batch_size: int = 500, send_timeout: float = SEND_TIMEOUT_SECONDS
) -> RelayStats:
    """One pass over up to `batch_size` unpublished outbox rows."""
    with _exclusive_relay(engine) as acquired:
        if not acquired:
            log.info("another relay is publishing; skipping this pass")
            return RelayStats()
        claimed = _claim(engine, batch_size)
        # All sends go out before any wait; delivery_timeout_ms bounds each future.
        sent = [(event, _send(producer, event)) for event in claimed]
        acked: list[int] = []
        errors: dict[int, str] = {}
        for event, future in sent:
            try:
                if isinstance(future, KafkaError):
                    raise future
                future.get(timeout=send_timeout)
                acked.append(event.id)
            except KafkaError as error:
                errors[event.id] = f"{type(error).__name__}: {error}"
        _mark_published(engine, acked)
        _record_errors(engine, errors)
        if errors:
            log.warning("relay: %d of %d events not acknowledged; they stay for the next pass", len(errors), len(claimed))
        return RelayStats(len(claimed), len(acked), len(errors))


@contextmanager
def _exclusive_relay(engine: Engine) -> Iterator[bool]:
    if engine.dialect.name != "postgresql":
        yield True  # SQLite serves one host: run one relay there.
        return
    with engine.connect() as lock_connection:
        acquired = bool(lock_connection.scalar(text("SELECT pg_try_advisory_lock(:id)"), {"id": RELAY_LOCK_ID}))
        lock_connection.commit()  # the lock is the session's: no transaction left open
        try:
            yield acquired
        finally:
            if acquired:
                lock_connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": RELAY_LOCK_ID})
                lock_connection.commit()


def _claim(engine: Engine, batch_size: int) -> list[_Claimed]:
    with Session(engine) as session, session.begin():
        rows = session.scalars(
            select(OutboxEvent).where(OutboxEvent.published_at.is_(None)).order_by(OutboxEvent.id).limit(batch_size)
        ).all()
        claimed = [_Claimed(r.id, r.event_id, r.topic, r.key, r.payload) for r in rows]
        if claimed:
            session.execute(
                update(OutboxEvent).where(OutboxEvent.id.in_([c.id for c in claimed])).values(attempts=OutboxEvent.attempts + 1)
            )
    return claimed


def _send(producer: KafkaProducer, event: _Claimed) -> Any:
    """The send's future, or the error if the producer refused it outright (e.g. no metadata)."""
    try:
        return producer.send(
            event.topic,
            key=event.key.encode(),
            value=json.dumps(event.payload, separators=(",", ":")).encode(),
            headers=[("event_id", event.event_id.encode()), ("event_type", event.topic.encode())],
        )
    except KafkaError as error:
        return error


def _mark_published(engine: Engine, ids: list[int]) -> None:
    if not ids:
        return
    with Session(engine) as session, session.begin():
        session.execute(update(OutboxEvent).where(OutboxEvent.id.in_(ids)).values(published_at=utcnow(), last_error=None))


def _record_errors(engine: Engine, errors: dict[int, str]) -> None:
    if not errors:
        return
    with Session(engine) as session, session.begin():
        for event_id, message in errors.items():
            session.execute(update(OutboxEvent).where(OutboxEvent.id == event_id).values(last_error=message[:2000]))


def run_relay(
    settings: Settings,
    once: bool = False,
    *,
    poll_seconds: float = 1.0,
    batch_size: int = 500,
    stop: threading.Event | None = None,
) -> RelayStats:
    """`videoai relay`: publish the outbox continuously (or, with `once`, drain it and return).

    The loop survives broker and database outages (it logs and retries);
    SIGTERM/SIGINT end it after the current pass.
    """
    bootstrap = settings.events.kafka_bootstrap_servers
    if not bootstrap:
        raise RuntimeError("KAFKA_BOOTSTRAP_SERVERS is not set: the relay has nowhere to publish")
    stop = stop or stop_on_signals()
    engine = engine_for(settings.database.url)
    producer: KafkaProducer | None = None
    total = RelayStats()
    try:
        while not stop.is_set():
            try:
                if producer is None:
                    ensure_topics(bootstrap, TOPICS)
                    producer = make_producer(bootstrap)
                stats = relay_outbox(engine, producer, batch_size=batch_size)
            except Exception:
                if once:
                    raise
                log.exception("relay pass failed; retrying in %.0fs", poll_seconds)
                stop.wait(poll_seconds)
                continue
            total += stats
            if stats.claimed:
                log.info("relay: published %d, failed %d", stats.published, stats.failed)
            drained = stats.claimed < batch_size
            if once and (drained or stats.failed):
                break
            if drained or stats.failed:
                stop.wait(poll_seconds)
    finally:
        if producer is not None:
            producer.close(timeout=SEND_TIMEOUT_SECONDS)
    return total


@dataclass(frozen=True)
class OutboxStatus:
    """What `videoai relay --status` shows: the backlog, and the rows the relay keeps failing on."""

    unpublished: int
    failing: int
    oldest_unpublished_seconds: float
    failing_rows: list[tuple[int, str, str, int, str]]  # id, topic, key, attempts, last error

    def render(self) -> str:
        lines = [
            f"unpublished {self.unpublished}, failing {self.failing}, "
            f"oldest unpublished {self.oldest_unpublished_seconds:.0f} s ago"
        ]
        lines += [
            f"  #{row_id} {topic} key={key} attempts={attempts}: {error}"
            for row_id, topic, key, attempts, error in self.failing_rows
        ]
        return "\n".join(lines)


def outbox_status(engine: Engine, failing_limit: int = 20) -> OutboxStatus:
    from sqlalchemy import func, select

    from pipeline.db.models import OutboxEvent, utcnow

    with engine.connect() as conn:
        pending = OutboxEvent.published_at.is_(None)
        unpublished, oldest = conn.execute(select(func.count(), func.min(OutboxEvent.created_at)).where(pending)).one()
        failing = conn.execute(select(func.count()).where(pending, OutboxEvent.attempts > 0)).scalar() or 0
        rows = conn.execute(
            select(OutboxEvent.id, OutboxEvent.topic, OutboxEvent.key, OutboxEvent.attempts, OutboxEvent.last_error)
            .where(pending, OutboxEvent.attempts > 0)
            .order_by(OutboxEvent.id)
            .limit(failing_limit)
        ).all()
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    age = (utcnow() - oldest).total_seconds() if oldest is not None else 0.0
    return OutboxStatus(
        unpublished,
        failing,
        max(0.0, age),
        [(r.id, r.topic, r.key, r.attempts, (r.last_error or "").splitlines()[0][:200]) for r in rows],
    )
