"""The `videos` dynamic partitions: one partition per video, keyed by its plain numeric id."""

import dagster as dg

VIDEOS_PARTITIONS_NAME = "videos"
videos_partitions = dg.DynamicPartitionsDefinition(name=VIDEOS_PARTITIONS_NAME)


def video_id_of(partition_key: str) -> int:
    return int(partition_key)
