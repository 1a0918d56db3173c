"""Helpers shared by the messaging tests: outbox rows in, raw topic contents out."""

from __future__ import annotations

import time
from dataclasses import dataclass

import dagster as dg
from kafka import KafkaConsumer, TopicPartition
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from pipeline.db.models import OutboxEvent, Video
from pipeline.events import record_event
from pipeline.settings import get_settings
from resources.database import DatabaseResource
from resources.pipeline_settings import PipelineSettingsResource


@dataclass(frozen=True)
class Message:
    partition: int
    offset: int
    key: str
    value: bytes
    headers: dict[str, str]


def add_videos(engine: Engine, *video_ids: int) -> None:
    """Video rows with these ids: the Kafka sensor starts runs only for videos the app database has."""
    with Session(engine) as session, session.begin():
        session.add_all(Video(id=v, title=f"video {v}") for v in video_ids)


def add_events(engine: Engine, *events: tuple[str, int]) -> list[str]:
    """Outbox rows for (topic, video_id) pairs, committed; returns their event ids in order."""
    with Session(engine) as session, session.begin():
        return [record_event(session, topic, video_id, {"note": f"{topic} {video_id}"}).event_id for topic, video_id in events]


def outbox_rows(engine: Engine) -> list[OutboxEvent]:
    with Session(engine) as session:
        return list(session.scalars(select(OutboxEvent).order_by(OutboxEvent.id)))


def read_topic(bootstrap: str, topic: str, timeout_ms: int = 3000) -> list[Message]:
    """Every message on `topic`, in (partition, offset) order."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        request_timeout_ms=timeout_ms,
        api_version_auto_timeout_ms=timeout_ms,
    )
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        messages: list[Message] = []
        deadline = time.monotonic() + timeout_ms / 1000
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            assert time.monotonic() < deadline, f"could not read {topic} to its end"
            for records in consumer.poll(timeout_ms=500).values():
                messages.extend(
                    Message(r.partition, r.offset, r.key.decode(), r.value, {k: v.decode() for k, v in r.headers})
                    for r in records
                )
        return sorted(messages, key=lambda m: (m.partition, m.offset))
    finally:
        consumer.close(autocommit=False)


def evaluate_sensor(
    sensor: dg.SensorDefinition, instance: dg.DagsterInstance, engine: Engine, cursor: str | None
) -> dg.SensorResult | dg.SkipReason:
    """One sensor tick, with the app database of `engine` as its `database` resource."""
    database = DatabaseResource(url=engine.url.render_as_string(hide_password=False))
    context = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={"database": database, "pipeline_settings": PipelineSettingsResource.from_settings(get_settings())},
    )
    return sensor(context)
