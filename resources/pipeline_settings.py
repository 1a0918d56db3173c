"""The pipeline's own settings (sensor batches, the Kafka trigger, housekeeping) as a Dagster resource."""

from __future__ import annotations

import dagster as dg

from pipeline.settings import Settings


class PipelineSettingsResource(dg.ConfigurableResource):
    """What the sensors and the housekeeping job read, instead of the process environment."""

    sensor_batch_size: int = Settings.model_fields["sensor_batch_size"].default
    upload_sensor_wait_seconds: float = Settings.model_fields["upload_sensor_wait_seconds"].default
    kafka_bootstrap_servers: str | None = None
    kafka_dead_letter_topic: str = ""
    kafka_max_attempts: int = Settings.model_fields["kafka_max_attempts"].default
    upload_abandon_hours: float = 24.0

    @classmethod
    def from_settings(cls, settings: Settings) -> PipelineSettingsResource:
        return cls(
            sensor_batch_size=settings.sensor_batch_size,
            upload_sensor_wait_seconds=settings.upload_sensor_wait_seconds,
            kafka_bootstrap_servers=settings.kafka_bootstrap_servers,
            kafka_dead_letter_topic=settings.kafka_dead_letter_topic,
            kafka_max_attempts=settings.kafka_max_attempts,
            upload_abandon_hours=settings.upload_abandon_hours,
        )
