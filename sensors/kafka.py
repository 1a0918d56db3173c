"""The Kafka sensor: `video.uploaded` events become `videos` partitions and runs.

The sensor keeps the topic's offsets in its cursor and reads with manual
partition assignment, every read bounded in time: no consumer group, no poll
that can hang a sensor tick. Event ids are recorded in `processed_messages`,
so an event the relay delivered twice starts one run.

If the daemon dies after the ids are committed but before it stores the run
requests, those events are not retried from Kafka (the cursor did not move,
but the ids are recorded); the object-store upload sensor, which sees the same
uploads, still starts their runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import dagster as dg

from assets.jobs import video_pipeline_job
from pipeline.events import VIDEO_UPLOADED
from resources.database import DatabaseResource
from resources.pipeline_settings import PipelineSettingsResource
from sensors.runs import known_videos, new_video_runs

CONSUMER_NAME = "dagster-kafka-sensor"
# Well inside Dagster's 60 s sensor evaluation limit.
READ_TIMEOUT_MS = 15_000


@dataclass(frozen=True)
class KafkaCursor:
    offsets: dict[int, int] = field(default_factory=dict)  # partition -> next offset to read

    @classmethod
    def parse(cls, raw: str | None) -> KafkaCursor:
        if not raw:
            return cls()
        return cls({int(partition): int(offset) for partition, offset in json.loads(raw)["offsets"].items()})

    def serialize(self) -> str:
        return json.dumps({"offsets": {str(p): o for p, o in sorted(self.offsets.items())}})


@dg.sensor(
    job=video_pipeline_job,
    minimum_interval_seconds=10,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Starts a run for every `video.uploaded` event on Kafka (skips when KAFKA_BOOTSTRAP_SERVERS is unset).",
)
def kafka_upload_sensor(context: dg.SensorEvaluationContext, database: DatabaseResource,
                        pipeline_settings: PipelineSettingsResource) -> dg.SensorResult | dg.SkipReason:
    bootstrap = pipeline_settings.kafka_bootstrap_servers
    if not bootstrap:
        return dg.SkipReason("KAFKA_BOOTSTRAP_SERVERS is not set: the Kafka trigger is off")
    # Kafka's client is imported only when the trigger is on (~0.5 s of every code-server start otherwise).
    from kafka.errors import KafkaError

    from pipeline.messaging.consumer import KafkaReadTimeout, poll_uploaded_events, record_processed

    cursor = KafkaCursor.parse(context.cursor)
    try:
        events, offsets = poll_uploaded_events(
            bootstrap, VIDEO_UPLOADED, cursor.offsets, max_records=pipeline_settings.sensor_batch_size,
            timeout_ms=READ_TIMEOUT_MS)
    except (KafkaError, KafkaReadTimeout) as error:
        return dg.SkipReason(f"Kafka at {bootstrap} unavailable, will retry: {type(error).__name__}: {error}")
    with database.session() as session:
        fresh = [event.video_id for event in events if record_processed(session, CONSUMER_NAME, event.event_id)]
    if len(fresh) < len(events):
        context.log.info("skipped %d redelivered event(s)", len(events) - len(fresh))
    return new_video_runs(known_videos(context.instance), fresh, trigger="kafka", cursor=KafkaCursor(offsets).serialize())
