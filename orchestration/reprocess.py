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
2. Candidates whose data version is what an older code version gives from today's
   inputs are stale for that reason alone (the old code version read once from the
   provenance Dagster stored with an event, exactly as the resolver reads it); the
   other candidates go to the resolver.

A fresh (asset, partition) never becomes a candidate, so on a current
installation the scan is step 1 only.
"""

from __future__ import annotations

import gc
import hashlib
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import NamedTuple

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
_CODE_CHANGED: tuple[str, ...] = ("has a new code version",)


class StaleAsset(NamedTuple):  # a tuple: hundreds of thousands are made after a model change
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
        """The stale partitions, in numeric order (the order of `stale`)."""
        return list(dict.fromkeys(s.partition for s in self.stale))

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


def _input_versions(parents: list[dict[str, str]], partition: str) -> str | None:
    """The parents' current data versions of the partition, joined in Dagster's order (parents sorted by key);
    None when a parent has none."""
    try:
        return "".join([versions[partition] for versions in parents])
    except KeyError:
        return None


def _data_version(code_version: str, inputs: str) -> str:
    """The data version Dagster records for a materialization by `code_version` from these input data versions
    (`_input_versions`).

    This is Dagster's `compute_logical_data_version` (SHA-256 of the code version and the input data versions
    in key order), without its per-call argument checks, which cost more than the hash at 50,000 partitions;
    tests/pipeline/test_reprocess.py holds the two equal.
    """
    return hashlib.sha256((code_version + inputs).encode()).hexdigest()


def _parent_versions(asset_graph: AssetGraph, key: dg.AssetKey, latest: _Latest) -> list[dict[str, str]]:
    return [latest.versions(parent) for parent in sorted(asset_graph.get(key).parent_keys, key=str)]


def _newer_parents(asset_graph: AssetGraph, key: dg.AssetKey, partitions: Iterable[str], latest: _Latest) -> list[str]:
    """For an asset without a code version: the partitions a parent was materialized after (candidates for the
    resolver). Without parents it is never stale, and nothing is read."""
    parents = sorted(asset_graph.get(key).parent_keys, key=str)
    if not parents:
        return []
    own_ids = latest.ids(key)
    parent_ids = [latest.ids(parent) for parent in parents]
    return [p for p in partitions if p in own_ids and any(ids.get(p, 0) > own_ids[p] for ids in parent_ids)]


def _by_data_version(
    instance: dg.DagsterInstance, asset_graph: AssetGraph, key: dg.AssetKey, partitions: Iterable[str], latest: _Latest
) -> tuple[list[str], list[str]]:
    """For an asset with a code version: the partitions stale only because its code version changed, and the
    other partitions whose data version is not the one Dagster would compute today (candidates for the resolver).

    A partition whose data version is exactly what some code version gives from its parents' current data
    versions was made by that code from today's inputs (up to a SHA-256 collision): fresh if that is the
    current code version, stale for a new code version alone if it is an older one. A model change leaves
    thousands of partitions made by one and the same old code version; one materialization's provenance names
    it. The code version that matched last is tried first, so each partition costs one hash in the common
    cases (nothing changed; everything made by the same old version).
    """
    current = asset_graph.get(key).code_version
    assert current is not None
    own_versions, parents = latest.versions(key), _parent_versions(asset_graph, key, latest)
    tried = [current]  # code versions seen, the last one to match first
    code_only: list[str] = []
    others: list[str] = []
    for p in partitions:
        own = own_versions.get(p)
        if own is None:
            continue  # never materialized: missing, not stale
        inputs = _input_versions(parents, p)
        if inputs is None:
            others.append(p)
            continue
        matched = None
        for version in tried:
            if _data_version(version, inputs) == own:
                matched = version
                break
        if matched is None and len(tried) <= _MAX_OLD_CODE_VERSIONS:
            recorded = recorded_code_version(instance, key, p)
            if recorded is not None and recorded not in tried:
                tried.append(recorded)
                if _data_version(recorded, inputs) == own:
                    matched = recorded
        if matched is None:
            others.append(p)
            continue
        if matched != current:
            code_only.append(p)
        if matched != tried[0]:
            tried.remove(matched)
            tried.insert(0, matched)
    return code_only, others


@contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """For a bulk pass that builds millions of objects and no reference cycles: the cycle collector, run again
    every few hundred new objects, would walk the whole growing heap each time for nothing."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def scan_stale(
    instance: dg.DagsterInstance,
    asset_graph: AssetGraph,
    asset_keys: Sequence[dg.AssetKey] | None = None,
    partitions: Sequence[str] | None = None,
) -> StaleScan:
    """Every stale (asset, partition) among `asset_keys` (default: every per-video asset) and `partitions`
    (default: every video), with the reasons Dagster gives, in partition order."""
    with _cycle_collector_paused():
        return _scan_stale(instance, asset_graph, asset_keys, partitions)


def _scan_stale(
    instance: dg.DagsterInstance,
    asset_graph: AssetGraph,
    asset_keys: Sequence[dg.AssetKey] | None,
    partitions: Sequence[str] | None,
) -> StaleScan:
    started = time.perf_counter()
    keys = list(asset_keys) if asset_keys is not None else select_assets(asset_graph, None)
    wanted = list(partitions) if partitions is not None else list(instance.get_dynamic_partitions(VIDEOS_PARTITIONS_NAME))
    latest = _Latest(instance)
    causes_of = StaleCauses(instance, asset_graph)
    reasons_by_asset: dict[str, dict[str, tuple[str, ...]]] = {}  # asset -> partition -> why it is stale
    for key in keys:
        code_only: list[str] = []
        if asset_graph.get(key).code_version is None:
            others = _newer_parents(asset_graph, key, wanted, latest)
        else:
            code_only, others = _by_data_version(instance, asset_graph, key, wanted, latest)
        reasons: dict[str, tuple[str, ...]] = dict.fromkeys(code_only, _CODE_CHANGED)
        for p in others:
            if causes := causes_of(key, p):
                reasons[p] = tuple(causes)
        if reasons:
            reasons_by_asset[key.to_user_string()] = reasons
    # Ordered by merging, not sorting: sorting every stale pair cost more than finding them.
    stale = [
        StaleAsset(p, asset, why)
        for p in sorted(wanted, key=_partition_order)
        for asset, reasons in reasons_by_asset.items()
        if (why := reasons.get(p))
    ]
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
