"""The pipeline's own settings (sensor batches, the Kafka trigger, housekeeping) as a Dagster resource."""

from __future__ import annotations

import dagster as dg

from pipeline.settings import DagsterSettings, EventSettings, Settings, UploadSettings


class PipelineSettingsResource(dg.ConfigurableResource):
    """What the sensors and the housekeeping job read, instead of the process environment."""

    sensor_batch_size: int = DagsterSettings.model_fields["sensor_batch_size"].default
    upload_sensor_wait_seconds: float = DagsterSettings.model_fields["upload_sensor_wait_seconds"].default
    kafka_bootstrap_servers: str | None = None
    kafka_dead_letter_topic: str = ""
    kafka_max_attempts: int = EventSettings.model_fields["kafka_max_attempts"].default
    upload_abandon_hours: float = UploadSettings.model_fields["abandon_hours"].default

    @classmethod
    def from_settings(cls, settings: Settings) -> PipelineSettingsResource:
        return cls(
            sensor_batch_size=settings.dagster.sensor_batch_size,
            upload_sensor_wait_seconds=settings.dagster.upload_sensor_wait_seconds,
            kafka_bootstrap_servers=settings.events.kafka_bootstrap_servers,
            kafka_dead_letter_topic=settings.events.kafka_dead_letter_topic,
            kafka_max_attempts=settings.events.kafka_max_attempts,
            upload_abandon_hours=settings.uploads.abandon_hours,
        )
