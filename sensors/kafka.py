"""The Kafka sensor: `video.uploaded` events become `videos` partitions and runs.

The sensor keeps the topic's offsets in its cursor and reads with manual
partition assignment, every read bounded in time: no consumer group, no poll
that can hang a sensor tick. Event ids are recorded in `processed_messages`,
so an event the relay delivered twice starts one run.

If the daemon dies after the ids are committed but before it stores the run
requests, those events are not retried from Kafka (the cursor did not move,
but the ids are recorded); the object-store upload sensor, which sees the same
uploads, still starts their runs.

Poison messages never hold the partition: a record that is not an event goes to
the dead-letter topic at once (retrying cannot change its bytes); an event about
a video the app database does not know (deleted, or read before a replica caught
up) is kept in the cursor and checked again on the next ticks, then dead-lettered
after KAFKA_MAX_ATTEMPTS. Both are sent, and acknowledged, before the cursor
moves past them; if the dead-letter topic cannot be written the tick is skipped
and nothing is lost.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import dagster as dg
from sqlalchemy.orm import Session

from assets.jobs import video_pipeline_job
from pipeline.db.videos import existing_video_ids, video_titles
from pipeline.events import VIDEO_UPLOADED
from resources.database import DatabaseResource
from resources.pipeline_settings import PipelineSettingsResource
from sensors.runs import new_video_runs

if TYPE_CHECKING:
    from pipeline.messaging.consumer import ConsumedEvent, RejectedRecord

CONSUMER_NAME = "dagster-kafka-sensor"
# Well inside Dagster's 60 s sensor evaluation limit, together.
READ_TIMEOUT_MS = 15_000
DEAD_LETTER_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class KafkaCursor:
    offsets: dict[int, int] = field(default_factory=dict)  # partition -> next offset to read
    # Events read already whose video is not (yet) in the app database: {"event": ConsumedEvent
    # fields, "attempts": ticks that found no video}. At most a batch per tick, for KAFKA_MAX_ATTEMPTS ticks.
    retrying: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def parse(cls, raw: str | None) -> KafkaCursor:
        if not raw:
            return cls()
        state = json.loads(raw)
        return cls({int(partition): int(offset) for partition, offset in state["offsets"].items()}, state.get("retrying", []))

    def serialize(self) -> str:
        state: dict[str, Any] = {"offsets": {str(p): o for p, o in sorted(self.offsets.items())}}
        if self.retrying:
            state["retrying"] = self.retrying
        return json.dumps(state)


@dg.sensor(
    job=video_pipeline_job,
    minimum_interval_seconds=10,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Starts a run for every `video.uploaded` event on Kafka (KAFKA_BOOTSTRAP_SERVERS).",
)
def kafka_upload_sensor(
    context: dg.SensorEvaluationContext, database: DatabaseResource, pipeline_settings: PipelineSettingsResource
) -> dg.SensorResult | dg.SkipReason:
    bootstrap = pipeline_settings.kafka_bootstrap_servers
    assert bootstrap, "the code location has this sensor only where KAFKA_BOOTSTRAP_SERVERS is set"
    # Kafka's client is imported by a tick, not by every process that loads the code location.
    from kafka.errors import KafkaError

    from pipeline.messaging.consumer import KafkaReadTimeout, poll_uploaded_events, record_processed
    from pipeline.messaging.dead_letters import publish_dead_letters

    cursor = KafkaCursor.parse(context.cursor)
    try:
        poll = poll_uploaded_events(
            bootstrap, VIDEO_UPLOADED, cursor.offsets, max_records=pipeline_settings.sensor_batch_size, timeout_ms=READ_TIMEOUT_MS
        )
    except (KafkaError, KafkaReadTimeout) as error:
        return dg.SkipReason(f"Kafka at {bootstrap} unavailable, will retry: {type(error).__name__}: {error}")

    with database.session() as session:
        ready, retrying, unknown = _triage(cursor.retrying, poll.events, session, pipeline_settings.kafka_max_attempts)
    dead = poll.rejected + unknown
    dead_letter_topic = pipeline_settings.kafka_dead_letter_topic or f"{VIDEO_UPLOADED}.dlq"
    try:
        publish_dead_letters(bootstrap, dead_letter_topic, dead, CONSUMER_NAME, DEAD_LETTER_TIMEOUT_S)
    except (KafkaError, KafkaReadTimeout) as error:
        # Nothing is recorded and the cursor stays: the next tick reads these records again.
        return dg.SkipReason(
            f"could not write {len(dead)} dead letter(s) to {dead_letter_topic}, will retry: {type(error).__name__}: {error}"
        )
    for letter in dead:
        context.log.warning(
            "dead-lettered %s[%d]@%d to %s: %s", letter.topic, letter.partition, letter.offset, dead_letter_topic, letter.reason
        )

    with database.session() as session:
        fresh = [event.video_id for event in ready if record_processed(session, CONSUMER_NAME, event.event_id)]
        titles = video_titles(session, fresh)
    if len(fresh) < len(ready):
        context.log.info("skipped %d redelivered event(s)", len(ready) - len(fresh))
    advanced = KafkaCursor(poll.offsets, retrying).serialize()
    return new_video_runs(context.instance, fresh, titles, trigger="kafka", cursor=advanced)


def _triage(
    retrying: list[dict[str, Any]],
    new: list[ConsumedEvent],
    session: Session,
    max_attempts: int,
) -> tuple[list[ConsumedEvent], list[dict[str, Any]], list[RejectedRecord]]:
    """The events whose video exists; those to check again next tick (cursor entries); those
    whose video was missing on their last allowed attempt (dead letters)."""
    from pipeline.messaging.consumer import ConsumedEvent, RejectedRecord

    tries = [(ConsumedEvent(**entry["event"]), entry["attempts"] + 1) for entry in retrying] + [(e, 1) for e in new]
    existing = existing_video_ids(session, {event.video_id for event, _ in tries})
    ready = [event for event, _ in tries if event.video_id in existing]
    missing = [(event, attempts) for event, attempts in tries if event.video_id not in existing]
    again = [{"event": asdict(event), "attempts": attempts} for event, attempts in missing if attempts < max_attempts]
    dead = [
        RejectedRecord(
            VIDEO_UPLOADED,
            event.partition,
            event.offset,
            key=str(event.video_id).encode(),
            value=json.dumps(event.payload, separators=(",", ":")).encode(),
            headers=[("event_id", event.event_id.encode())],
            attempts=attempts,
            reason=f"unknown video: video {event.video_id} is not in the app database "
            f"(deleted, or never stored) after {attempts} attempt(s)",
        )
        for event, attempts in missing
        if attempts >= max_attempts
    ]
    return ready, again, dead
