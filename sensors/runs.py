"""Turning video ids into Dagster partitions and run requests: shared by every trigger sensor."""

from collections.abc import Iterable, Mapping

import dagster as dg

from assets.partitions import VIDEOS_PARTITIONS_NAME, videos_partitions
from assets.support import video_run_tags

# New uploads go first: the run queue launches higher `dagster/priority` first, and backfill
# runs (reprocessing) carry a negative one (orchestration/reprocess.py).
UPLOAD_PRIORITY = "10"


def video_run_request(video_id: int, title: str, trigger: str) -> dg.RunRequest:
    # run_key makes Dagster drop a second request for the same video from the same sensor.
    # The title is on the run from the moment it is requested (failed runs keep it too).
    return dg.RunRequest(
        run_key=f"video-{video_id}",
        partition_key=str(video_id),
        tags={
            "videoai/video_id": str(video_id),
            "videoai/trigger": trigger,
            "dagster/priority": UPLOAD_PRIORITY,
            **video_run_tags(title),
        },
    )


def known_videos(instance: dg.DagsterInstance) -> set[str]:
    """The video ids Dagster already has as partitions: read once per tick."""
    return set(instance.get_dynamic_partitions(VIDEOS_PARTITIONS_NAME))


def new_video_runs(
    known: set[str], video_ids: Iterable[int], titles: Mapping[int, str], trigger: str, cursor: str | None
) -> dg.SensorResult:
    """Partitions + runs for the ids not in `known` (each id at most once) that are videos (in `titles`):
    an upload whose video was deleted, or was never stored, gets none."""
    fresh = list(dict.fromkeys(str(v) for v in video_ids if str(v) not in known and v in titles))
    return dg.SensorResult(
        run_requests=[video_run_request(int(key), titles[int(key)], trigger) for key in fresh],
        dynamic_partitions_requests=[videos_partitions.build_add_request(fresh)] if fresh else [],
        cursor=cursor,
    )
