"""Backfills from a sensor, and the backfills still open.

Why: the stale-videos sensor requests one backfill over exactly the stale (asset, video) pairs, so they run
as one backfill at backfill priority rather than as a run per video. A sensor requests a backfill with
`RunRequest.for_asset_graph_subset`, whose argument (`AssetGraphSubset`, built from `AssetKeyPartitionKey`s)
Dagster keeps private on purpose (dagster-io/dagster#22681). Whether a reprocessing backfill is still open,
and which partitions the open backfills target, is asked with a `BulkActionsFilter` over `BulkActionStatus`,
also private: a deleted video's partition is kept while an open backfill targets it, because Dagster fails a
whole asset backfill whose target partitions were removed (orchestration/video_requests.py).

Public replacement: none yet for requesting a backfill from a sensor (dagster-io/dagster#13852 and #27759,
open); the GraphQL `launchPartitionBackfill` mutation needs a running webserver. Declarative automation
(`AutomationCondition.code_version_changed()`) launches runs per asset, without the stale scan's exact
pairs, its priority, or its limit on run slots.
"""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset
from dagster._core.definitions.events import AssetKeyPartitionKey
from dagster._core.execution.backfill import BulkActionsFilter, BulkActionStatus


def backfill_request(graph: dg.AssetGraph, asset_partitions: Iterable[tuple[str, str]], tags: dict[str, str]) -> dg.RunRequest:
    """A sensor's request for one backfill over these (asset, partition) pairs."""
    subset = AssetGraphSubset.from_asset_partition_set(
        {AssetKeyPartitionKey(dg.AssetKey.from_user_string(asset), partition) for asset, partition in asset_partitions}, graph
    )
    return dg.RunRequest.for_asset_graph_subset(subset, tags=tags)


def open_backfill_tagged(instance: dg.DagsterInstance, tag: str) -> bool:
    """Whether a backfill carrying `tag` is still requested (not finished, failed or canceled)."""
    open_backfills = instance.get_backfills(filters=BulkActionsFilter(statuses=[BulkActionStatus.REQUESTED]))
    return any(b.tags.get(tag) for b in open_backfills)


_OPEN = [BulkActionStatus.REQUESTED, BulkActionStatus.CANCELING, BulkActionStatus.FAILING]


def open_backfill_targets(instance: dg.DagsterInstance, partition_keys: set[str]) -> set[str]:
    """Those of `partition_keys` that a backfill still in progress targets."""
    targeted: set[str] = set()
    for backfill in instance.get_backfills(filters=BulkActionsFilter(statuses=_OPEN)):
        data = backfill.asset_backfill_data if backfill.is_asset_backfill else None
        if data is not None:
            for subset in data.target_subset.partitions_subsets_by_asset_key.values():
                targeted |= partition_keys & set(subset.get_partition_keys())
        else:
            targeted |= partition_keys & set(backfill.partition_names or [])
    return targeted
