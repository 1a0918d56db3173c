"""The `videos` dynamic partitions: one partition per video, keyed by its plain numeric id."""

import dagster as dg

videos_partitions = dg.DynamicPartitionsDefinition(name="videos")


def video_id_of(partition_key: str) -> int:
    return int(partition_key)
