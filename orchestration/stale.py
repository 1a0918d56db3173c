"""Stale videos in the Dagster UI: a sensor that counts them per asset, and a one-click job
that backfills exactly them (the same as `videoai reprocess --stale`).

- `stale_videos_sensor` scans every hour and writes its count on each tick ("Automation" >
  stale_videos_sensor: "transcript: 1,234 stale videos; ..."). With AUTO_REPROCESS_STALE=true it
  also launches the backfill itself, never while an earlier one is still running. Backfill runs
  carry a low priority and hold only part of the run slots, so new uploads never wait on them.
- `reprocess_stale` job: Jobs > reprocess_stale > Launchpad > Launch run. Its log lists what
  is stale and why and links the backfill it launched (Overview > Backfills).
"""

from collections.abc import Callable
from typing import Any

import dagster as dg

from orchestration.platform.backfills import backfill_request, open_backfill_tagged
from orchestration.reprocess import BACKFILL_PRIORITY, REPROCESS_TAG, StaleScan, launch_backfill, scan_stale
from pipeline.settings import get_settings

SCAN_INTERVAL_SECONDS = 3600


def summary(scan: StaleScan) -> str:
    counts = [f"{asset}: {n:,} stale videos" for asset, n in scan.counts_by_asset().items() if n]
    if not counts:
        return f"nothing stale in {scan.partitions_scanned:,} videos (scanned in {scan.seconds:.1f} s)"
    return (
        f"{len(scan.partitions):,} of {scan.partitions_scanned:,} videos stale; "
        + "; ".join(counts)
        + ". Reprocess: launch the reprocess_stale job, or run `videoai reprocess --stale`."
    )


@dg.sensor(
    minimum_interval_seconds=SCAN_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Counts the videos each asset is stale for (code version or upstream data changed); "
    "with AUTO_REPROCESS_STALE=true it also backfills them, at low priority.",
)
def stale_videos_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    graph = context.repository_def.asset_graph  # type: ignore[union-attr]
    scan = scan_stale(context.instance, graph)
    message = summary(scan)
    context.log.info(message)
    if not scan.stale or not get_settings().dagster.auto_reprocess_stale:
        return dg.SkipReason(message)
    if open_backfill_tagged(context.instance, REPROCESS_TAG):
        return dg.SkipReason(message + " A reprocessing backfill is still running.")
    return dg.SensorResult(
        run_requests=[
            backfill_request(
                graph,
                ((s.asset, s.partition) for s in scan.stale),
                tags={"dagster/priority": BACKFILL_PRIORITY, REPROCESS_TAG: "auto"},
            )
        ]
    )


def reprocess_stale_job(asset_graph: Callable[[], Any]) -> dg.JobDefinition:
    """The one-click job; `asset_graph` gives the asset graph of the code location the job belongs to."""

    @dg.op(name="launch_stale_backfill", description="Scan for stale videos and launch one backfill over exactly those assets.")
    def launch_stale_backfill(context: dg.OpExecutionContext) -> None:
        graph = asset_graph()
        scan = scan_stale(context.instance, graph)
        context.log.info(summary(scan))
        for partition, items in list(scan.by_partition().items())[:50]:
            context.log.info(f"video {partition}: " + "; ".join(f"{s.asset} ({', '.join(s.reasons)})" for s in items))
        if scan.stale:
            backfill_id = launch_backfill(context.instance, graph, scan.stale)
            context.log.info(f"launched backfill {backfill_id}: Overview > Backfills > {backfill_id}")

    @dg.job(
        name="reprocess_stale",
        description="One click: backfill exactly the videos a model or code change made stale "
        "(the same as `videoai reprocess --stale`).",
        tags={"dagster/priority": "5"},
    )
    def reprocess_stale() -> None:
        launch_stale_backfill()

    return reprocess_stale
