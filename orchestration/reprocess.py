"""Find exactly what a model change made stale, per video, and reprocess it as one backfill.

Dagster decides staleness per (asset, partition): an asset is stale when its
code version differs from the one its latest materialization recorded, or when
an upstream asset has new data since (`CachingStaleStatusResolver`). Asking the
resolver for every asset of every video costs several event-log queries each,
too slow for tens of thousands of videos, so the scan runs in two steps:

1. A bulk pass, a handful of queries per asset whatever the number of videos,
   finds the candidates: an asset whose latest data version differs from the
   one Dagster would compute today from its code version and its parents'
   current data versions (Dagster's own `compute_logical_data_version`), or,
   for an asset without a code version, one whose parent was materialized after it.
2. Candidates whose latest materialization recorded an older code version are
   stale for that reason (read from the provenance Dagster stored with the event,
   exactly as the resolver reads it); the other candidates go to the resolver.

A fresh (asset, partition) never becomes a candidate, so on a current
installation the scan is step 1 only.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import dagster as dg

from assets.partitions import VIDEOS_PARTITIONS_NAME, videos_partitions
from orchestration.platform.staleness import (
    OPEN_BACKFILL_STATUSES,
    AssetGraph,
    StaleCauses,
    add_asset_backfill,
    backfill_counts,
    latest_data_versions,
    recorded_code_version,
)

# Backfill runs yield to new uploads (sensor runs carry a higher dagster/priority; see pipeline/jobs.py).
BACKFILL_PRIORITY = "-1"
REPROCESS_TAG = "videoai/reprocess"
_MATERIALIZATION = dg.DagsterEventType.ASSET_MATERIALIZATION
# Old code versions to learn from provenance per asset before leaving the rest to the resolver.
_MAX_OLD_CODE_VERSIONS = 8
_CODE_CHANGED = ("has a new code version",)


@dataclass(frozen=True)
class StaleAsset:
    partition: str
    asset: str
    reasons: tuple[str, ...]


@dataclass
class StaleScan:
    partitions_scanned: int
    assets_scanned: tuple[str, ...]
    stale: list[StaleAsset] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def partitions(self) -> list[str]:
        """The stale partitions, in numeric order."""
        return sorted({s.partition for s in self.stale}, key=_partition_order)

    def by_partition(self) -> dict[str, list[StaleAsset]]:
        grouped: dict[str, list[StaleAsset]] = defaultdict(list)
        for item in self.stale:
            grouped[item.partition].append(item)
        return {p: grouped[p] for p in self.partitions}

    def counts_by_asset(self) -> dict[str, int]:
        counts = Counter(s.asset for s in self.stale)
        return {asset: counts.get(asset, 0) for asset in self.assets_scanned}


def _partition_order(key: str) -> tuple[int, str]:
    return (int(key), key) if key.isdigit() else (1 << 62, key)


def select_assets(asset_graph: AssetGraph, select: str | None) -> list[dg.AssetKey]:
    """The per-video assets named by `select` (Dagster's selection syntax, e.g. `transcript+`,
    or a comma-separated list of asset names), in lineage order; all of them when None."""
    videos = [
        k
        for k in asset_graph.toposorted_asset_keys
        if asset_graph.get(k).partitions_def == videos_partitions and asset_graph.get(k).is_materializable
    ]
    if not select:
        return videos
    selection = (
        dg.AssetSelection.assets(*[s.strip() for s in select.split(",") if s.strip()])
        if "," in select or select.replace("_", "").isalnum()
        else dg.AssetSelection.from_string(select)
    )
    chosen = selection.resolve(asset_graph)
    unknown = chosen - set(videos)
    if unknown:
        raise ValueError(f"not per-video assets: {', '.join(sorted(k.to_user_string() for k in unknown))}")
    return [k for k in videos if k in chosen]


class _Latest:
    """Latest materialization storage ids and data versions per partition, one query per asset."""

    def __init__(self, instance: dg.DagsterInstance) -> None:
        self._instance = instance
        self._ids: dict[dg.AssetKey, dict[str, int]] = {}
        self._versions: dict[dg.AssetKey, dict[str, str]] = {}

    def ids(self, key: dg.AssetKey) -> dict[str, int]:
        if key not in self._ids:
            self._ids[key] = dict(self._instance.get_latest_storage_id_by_partition(key, _MATERIALIZATION))
        return self._ids[key]

    def versions(self, key: dg.AssetKey) -> dict[str, str]:
        if key not in self._versions:
            self._versions[key] = latest_data_versions(self._instance, key)
        return self._versions[key]


def _expected_version(code_version: str, parents: list[tuple[dg.AssetKey, dict[str, str]]], partition: str) -> str | None:
    """The data version Dagster would record for this partition from `code_version` and the parents'
    current data versions; None when a parent has none.

    This is Dagster's `compute_logical_data_version` (SHA-256 of the code version and the input
    data versions in key order), without its per-call argument checks, which cost more than
    the hash at 50,000 partitions; tests/pipeline/test_reprocess.py holds the two equal.
    """
    values = [code_version]
    for _parent, versions in parents:  # sorted by str(key), as Dagster orders them
        value = versions.get(partition)
        if value is None:
            return None
        values.append(value)
    return hashlib.sha256("".join(values).encode()).hexdigest()


def _parent_versions(asset_graph: AssetGraph, key: dg.AssetKey, latest: _Latest) -> list[tuple[dg.AssetKey, dict[str, str]]]:
    return [(parent, latest.versions(parent)) for parent in sorted(asset_graph.get(key).parent_keys, key=str)]


def _candidates(asset_graph: AssetGraph, key: dg.AssetKey, partitions: Iterable[str], latest: _Latest) -> list[str]:
    """Partitions where `key` may be stale (a superset of the stale ones; see the module docstring)."""
    node = asset_graph.get(key)
    if node.code_version is None:
        own_ids = latest.ids(key)
        parent_ids = [latest.ids(parent) for parent in sorted(node.parent_keys, key=str)]
        return [p for p in partitions if p in own_ids and any(ids.get(p, 0) > own_ids[p] for ids in parent_ids)]
    # Every materialization of an asset with a code version records a data version.
    own_versions, parents = latest.versions(key), _parent_versions(asset_graph, key, latest)
    return [p for p in partitions if p in own_versions and own_versions[p] != _expected_version(node.code_version, parents, p)]


def _code_changed_only(
    instance: dg.DagsterInstance, asset_graph: AssetGraph, key: dg.AssetKey, candidates: list[str], latest: _Latest
) -> set[str]:
    """The candidates whose only stale cause is a new code version.

    A model change leaves thousands of partitions made by one and the same old code
    version. One materialization's provenance names it; a partition whose data version is
    exactly what that old code version and its parents' current data versions give was made
    by that code from today's inputs, so only its code version changed (up to a SHA-256
    collision). The rest go to Dagster's resolver.
    """
    current = asset_graph.get(key).code_version
    parents = _parent_versions(asset_graph, key, latest)
    own_versions = latest.versions(key)
    known: list[str] = []  # old code versions seen so far
    found: set[str] = set()
    for p in candidates:
        if any(own_versions.get(p) == _expected_version(c, parents, p) for c in known):
            found.add(p)
            continue
        if len(known) >= _MAX_OLD_CODE_VERSIONS:
            continue
        recorded = recorded_code_version(instance, key, p)
        if recorded is not None and recorded != current and recorded not in known:
            known.append(recorded)
            if own_versions.get(p) == _expected_version(recorded, parents, p):
                found.add(p)
    return found


def scan_stale(
    instance: dg.DagsterInstance,
    asset_graph: AssetGraph,
    asset_keys: Sequence[dg.AssetKey] | None = None,
    partitions: Sequence[str] | None = None,
) -> StaleScan:
    """Every stale (asset, partition) among `asset_keys` (default: every per-video asset) and `partitions`
    (default: every video), with the reasons Dagster gives."""
    started = time.perf_counter()
    keys = list(asset_keys) if asset_keys is not None else select_assets(asset_graph, None)
    wanted = list(partitions) if partitions is not None else list(instance.get_dynamic_partitions(VIDEOS_PARTITIONS_NAME))
    latest = _Latest(instance)
    causes_of = StaleCauses(instance, asset_graph)
    stale: list[StaleAsset] = []
    for key in keys:
        name = key.to_user_string()
        candidates = _candidates(asset_graph, key, wanted, latest)
        if not candidates:
            continue
        code_only = (
            _code_changed_only(instance, asset_graph, key, candidates, latest)
            if asset_graph.get(key).code_version is not None
            else set()
        )
        for p in candidates:
            if p in code_only:
                stale.append(StaleAsset(p, name, _CODE_CHANGED))
                continue
            causes = causes_of(key, p)
            if causes:
                stale.append(StaleAsset(p, name, tuple(causes)))
    order = {k.to_user_string(): i for i, k in enumerate(keys)}
    stale.sort(key=lambda s: (_partition_order(s.partition), order[s.asset]))
    return StaleScan(len(wanted), tuple(k.to_user_string() for k in keys), stale, time.perf_counter() - started)


def launch_backfill(
    instance: dg.DagsterInstance, asset_graph: AssetGraph, stale: Sequence[StaleAsset], *, title: str = "Reprocess stale videos"
) -> str:
    """One asset backfill over exactly these (asset, partition) pairs; returns its id.

    The backfill daemon turns it into one run per video (in lineage order within
    the run); its runs carry a low `dagster/priority`, so uploads go first.
    """
    if not stale:
        raise ValueError("nothing is stale: no backfill to launch")
    counts = Counter(s.asset for s in stale)
    return add_asset_backfill(
        instance,
        asset_graph,
        ((s.asset, s.partition) for s in stale),
        tags={"dagster/priority": BACKFILL_PRIORITY, REPROCESS_TAG: "stale"},
        title=title,
        description="Stale after a model or code change: " + ", ".join(f"{a} x{n}" for a, n in counts.items()),
    )


@dataclass(frozen=True)
class BackfillProgress:
    status: str
    targeted: int
    materialized: int
    failed: int

    @property
    def done(self) -> bool:
        return self.status not in OPEN_BACKFILL_STATUSES

    def line(self) -> str:
        return f"{self.status.lower()}: {self.materialized}/{self.targeted} materialized, {self.failed} failed"


def backfill_progress(instance: dg.DagsterInstance, backfill_id: str) -> BackfillProgress:
    return BackfillProgress(*backfill_counts(instance, backfill_id))


def wait_for_backfill(
    instance: dg.DagsterInstance,
    backfill_id: str,
    report: Callable[[BackfillProgress], None],
    *,
    poll_seconds: float = 2.0,
    timeout_seconds: float | None = None,
    step: Callable[[], None] | None = None,
) -> BackfillProgress:
    """Report progress whenever it changes until the backfill ends (or the timeout passes).

    `step`, when given, is called each round instead of sleeping (tests drive the daemon with it).
    """
    deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
    last = None
    while True:
        progress = backfill_progress(instance, backfill_id)
        if progress != last:
            report(progress)
            last = progress
        if progress.done or (deadline is not None and time.monotonic() > deadline):
            return progress
        if step is not None:
            step()
        else:
            time.sleep(poll_seconds)
