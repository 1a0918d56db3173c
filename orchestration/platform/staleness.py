"""Staleness as Dagster decides it, read in bulk, and one backfill over exactly what is stale.

Why: `videoai reprocess --stale` (orchestration/reprocess.py) finds every stale (asset, video) pair of
hundreds of thousands of videos. Dagster decides staleness with its `CachingStaleStatusResolver`, several
event-log queries per pair: hours at that scale. The scan first finds candidates in bulk from each
partition's latest data-version tag (`DATA_VERSION_TAG`, read with the event log's
`get_latest_tags_by_partition`) and the provenance Dagster stored with a materialization
(`extract_data_provenance_from_entry`), then asks the resolver (with a `LoadingContext`, as the webserver
keeps one per request) about the few candidates left. The backfill over exactly those pairs is a
`PartitionBackfill` built from an `AssetGraphSubset` of each asset's partitions subset, with Dagster's own backfill
id and timestamp, and its progress is read from its `BulkActionStatus` and data. The asset graph's type,
`BaseAssetGraph`, is private too.

Public replacement: the webserver's GraphQL answers the same questions (`staleStatusByPartition`,
`staleCausesByPartition`) at about 1 s per 100 partitions (benchmarks/partitions_scale: hours for 250,000),
and its `launchPartitionBackfill` mutation targets asset selections times partitions, not exact pairs.
There is no public Python API for staleness or for launching an asset backfill (dagster-io/dagster#13852,
#22681).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import dagster as dg
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset
from dagster._core.definitions.assets.graph.base_asset_graph import BaseAssetGraph
from dagster._core.definitions.data_version import (
    DATA_VERSION_TAG,
    CachingStaleStatusResolver,
    extract_data_provenance_from_entry,
)
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
from dagster._core.loader import DataLoader, LoadingContext
from dagster._core.utils import make_new_backfill_id
from dagster._time import get_current_timestamp

AssetGraph = BaseAssetGraph
_MATERIALIZATION = dg.DagsterEventType.ASSET_MATERIALIZATION
# A backfill in these states may still launch runs.
OPEN_BACKFILL_STATUSES = (BulkActionStatus.REQUESTED.value, BulkActionStatus.CANCELING.value, BulkActionStatus.FAILING.value)


def latest_data_versions(instance: dg.DagsterInstance, key: dg.AssetKey) -> dict[str, str]:
    """The data version of each partition's latest materialization of `key`, in one query."""
    tags = instance.event_log_storage.get_latest_tags_by_partition(key, _MATERIALIZATION, [DATA_VERSION_TAG])
    return {p: t[DATA_VERSION_TAG] for p, t in tags.items() if DATA_VERSION_TAG in t}


def recorded_code_version(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str) -> str | None:
    """The code version the partition's latest materialization recorded in its provenance, read as the resolver
    reads it."""
    result = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1)
    provenance = extract_data_provenance_from_entry(result.records[0].event_log_entry) if result.records else None
    return provenance.code_version if provenance else None


class _LoadingContext(LoadingContext):
    """A request-scoped loader cache for the resolver, as the webserver keeps one per request."""

    def __init__(self, instance: dg.DagsterInstance) -> None:
        self._instance = instance
        self._loaders: dict[type, tuple[DataLoader, object]] = {}

    @property
    def instance(self) -> dg.DagsterInstance:
        return self._instance

    @property
    def loaders(self) -> dict:
        return self._loaders


class StaleCauses:
    """Dagster's own reasons an (asset, partition) is stale, as the UI shows them ("has a new code version",
    "has a new dependency materialization (transcript)"); none when it is fresh."""

    def __init__(self, instance: dg.DagsterInstance, asset_graph: AssetGraph) -> None:
        self._resolver = CachingStaleStatusResolver(instance, asset_graph, _LoadingContext(instance))

    def __call__(self, key: dg.AssetKey, partition: str) -> list[str]:
        return [_describe(cause) for cause in self._resolver.get_stale_causes(key, partition)]


def _describe(cause) -> str:  # a dagster StaleCause
    if cause.dependency is not None and cause.dependency.asset_key != cause.key.asset_key:
        return f"{cause.reason} ({cause.dependency.asset_key.to_user_string()})"
    return cause.reason


def add_asset_backfill(
    instance: dg.DagsterInstance,
    asset_graph: AssetGraph,
    pairs: Iterable[tuple[str, str]],
    *,
    tags: Mapping[str, str],
    title: str,
    description: str,
) -> str:
    """Store one asset backfill over exactly these (asset, partition) pairs (the daemon runs it); its id."""
    # One partitions subset per asset, built from its keys at once: Dagster's `from_asset_partition_set` takes an
    # (asset, partition) object per pair, most of a 250,000-video launch (benchmarks/partitions_scale).
    by_asset: dict[str, set[str]] = {}
    for asset, partition in pairs:
        by_asset.setdefault(asset, set()).add(partition)
    subsets = {}
    for asset, partitions in by_asset.items():
        key = dg.AssetKey.from_user_string(asset)
        partitions_def = asset_graph.get(key).partitions_def
        if partitions_def is None:
            raise ValueError(f"{asset} is not partitioned")
        subsets[key] = partitions_def.empty_subset().with_partition_keys(partitions)
    subset = AssetGraphSubset(partitions_subsets_by_asset_key=subsets, non_partitioned_asset_keys=set())  # type: ignore[call-arg]  # the serdes decorator hides its fields from mypy
    backfill_id = make_new_backfill_id()
    instance.add_backfill(
        PartitionBackfill.from_asset_graph_subset(
            backfill_id=backfill_id,
            backfill_timestamp=get_current_timestamp(),
            tags=dict(tags),
            dynamic_partitions_store=instance,
            asset_graph_subset=subset,
            title=title,
            description=description,
            run_config=None,
        )
    )
    return backfill_id


def backfill_counts(instance: dg.DagsterInstance, backfill_id: str) -> tuple[str, int, int, int]:
    """A backfill's status and its (asset, partition) pairs: targeted, materialized, failed (with what follows)."""
    backfill = instance.get_backfill(backfill_id)
    if backfill is None:
        raise ValueError(f"no backfill {backfill_id}")
    data = backfill.asset_backfill_data
    if data is None:
        return backfill.status.value, 0, 0, 0
    return (
        backfill.status.value,
        data.target_subset.num_partitions_and_non_partitioned_assets,
        data.materialized_subset.num_partitions_and_non_partitioned_assets,
        data.failed_and_downstream_subset.num_partitions_and_non_partitioned_assets,
    )
