"""Turning video ids into Dagster partitions and run requests: shared by every trigger sensor."""

from collections.abc import Iterable, Mapping, Set

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


def known_videos(instance: dg.DagsterInstance, video_ids: Iterable[int | str]) -> Set[str]:
    """Which of these video ids Dagster already has as partitions.

    Asked about the ids at hand only, so a tick costs what it lists, not the archive: listing every partition
    grows with the archive (half a second at 100,000 videos). `get_existing_dynamic_partitions` is the
    instance's bounded membership query (an `IN` per thousand keys), the one Dagster's sensor daemon checks
    run requests' partitions with; it is not marked public, and the public `has_dynamic_partition` is one
    query per key, ~80 times the cost for a tick's thousand ids."""
    keys = list(dict.fromkeys(str(v) for v in video_ids))
    return instance.get_existing_dynamic_partitions(VIDEOS_PARTITIONS_NAME, keys) if keys else set()


def new_video_runs(
    instance: dg.DagsterInstance, video_ids: Iterable[int], titles: Mapping[int, str], trigger: str, cursor: str | None
) -> dg.SensorResult:
    """Partitions + runs for the ids that are not partitions yet (each id at most once) and are videos (in
    `titles`): an upload whose video was deleted, or was never stored, gets none."""
    candidates = [v for v in dict.fromkeys(video_ids) if v in titles]
    known = known_videos(instance, candidates)
    fresh = [str(v) for v in candidates if str(v) not in known]
    return dg.SensorResult(
        run_requests=[video_run_request(int(key), titles[int(key)], trigger) for key in fresh],
        dynamic_partitions_requests=[videos_partitions.build_add_request(fresh)] if fresh else [],
        cursor=cursor,
    )
