"""Scale of partitions: the upload sensor tick, the stale scan, the reprocess backfill and the UI's partition
query at 100,000 and 250,000 videos (one `videos` partition each), past Dagster's guidance of 100,000.

For each size, on a fresh embedded (SQLite) Dagster instance:

1. seed: N partitions, each with a materialization of every per-video asset, written
   in bulk with the events and provenance tags Dagster itself records (code version,
   data version, input data versions and event pointers); checked by reading them
   back through Dagster's staleness resolver; the N videos (and 1,000 new ones) in the app database;
2. upload sensor tick: 1,000 new uploads in the object store, the real `upload_sensor`
   evaluated once with N known partitions (goal: <= 2 s);
3. stale scan (`orchestration.reprocess.scan_stale`): once with nothing stale, once
   after a model change (WHISPER_BEAM_SIZE) made every model-driven asset stale (goal: <= 60 s);
4. the reprocess backfill over everything stale, launched as `videoai reprocess --stale` does
   (goal: <= 60 s), and one read of its progress (the CLI reads it every 2 s);
5. the deletion sensor's sweep for partitions whose video is gone (every 10 minutes);
6. the UI partitions query: a real `dagster-webserver` on the instance, timed on the
   GraphQL query the asset's Partitions tab makes (keys + per-partition status; goal: <= 2 s), and on
   the stale status of the first 100 partitions.

    .venv/bin/python -m benchmarks partitions_scale                 # 100,000 and 250,000
    .venv/bin/python -m benchmarks partitions_scale --sizes 2000     # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import yaml
from dagster._core.definitions.data_version import (
    CODE_VERSION_TAG,
    DATA_VERSION_TAG,
    DataVersion,
    compute_logical_data_version,
    get_input_data_version_tag,
    get_input_event_pointer_tag,
)
from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.schema import SqlEventLogStorageTable

from benchmarks.support import register_videos
from orchestration.processes import free_port, stop_process_group, wait_until_answers

REPO_ROOT = Path(__file__).resolve().parent.parent
UPLOADS = 1000
# Issue 19's goals at 100,000 and 250,000 videos.
GOALS = {"sensor_tick_s": 2.0, "stale_scan_model_change_s": 60.0, "reprocess_launch_s": 60.0, "partitions_query": 2.0}
_BATCH = 2000

PARTITIONS_QUERY = """
query AssetPartitions($assetKey: AssetKeyInput!) {
  assetNodeOrError(assetKey: $assetKey) {
    ... on AssetNode {
      id
      partitionKeysByDimension { name partitionKeys }
      assetPartitionStatuses {
        ... on DefaultPartitionStatuses { materializedPartitions failedPartitions materializingPartitions }
      }
    }
  }
}"""

STALE_QUERY = """
query StalePartitions($assetKey: AssetKeyInput!, $partitions: [String!]) {
  assetNodeOrError(assetKey: $assetKey) { ... on AssetNode { id staleStatusByPartition(partitions: $partitions) } }
}"""


def _environment(workdir: Path, beam: int = 1) -> dict[str, str]:
    return {"VIDEOAI_HOME": str(workdir / "home"), "DAGSTER_HOME": str(workdir / "dagster"), "WHISPER_BEAM_SIZE": str(beam)}


def _apply(env: dict[str, str]) -> None:
    from pipeline.settings import get_settings

    os.environ.update(env)
    get_settings.cache_clear()


def _graph():
    from orchestration.definitions import build_definitions
    from pipeline.settings import Settings

    return build_definitions(Settings()).resolve_asset_graph()


def seed(instance: dg.DagsterInstance, graph, keys: list[str]) -> None:
    """Materializations of every per-video asset for every partition, as Dagster records them."""
    from orchestration.reprocess import select_assets

    storage = instance.event_log_storage
    run_id = "benchmark-seed"
    now = time.time()
    data_versions: dict[dg.AssetKey, list[str]] = {}
    storage_ids: dict[dg.AssetKey, list[int]] = {}
    for asset in select_assets(graph, None):
        node = graph.get(asset)
        parents = sorted(node.parent_keys, key=str)
        code_version = node.code_version or run_id  # Dagster uses the run id when there is none
        versions, ids = [], []
        for start in range(0, len(keys), _BATCH):
            events, batch = [], keys[start : start + _BATCH]
            for offset, partition in enumerate(batch):
                i = start + offset
                inputs = {p: DataVersion(data_versions[p][i]) for p in parents}
                version = compute_logical_data_version(code_version, inputs).value
                tags = {CODE_VERSION_TAG: code_version, DATA_VERSION_TAG: version}
                for parent in parents:
                    tags[get_input_data_version_tag(parent)] = data_versions[parent][i]
                    tags[get_input_event_pointer_tag(parent)] = str(storage_ids[parent][i])
                materialization = dg.AssetMaterialization(asset_key=asset, partition=partition, tags=tags)
                events.append(
                    EventLogEntry(
                        error_info=None,
                        level="DEBUG",
                        user_message="",
                        run_id=run_id,
                        timestamp=now,
                        step_key=asset.to_user_string(),
                        job_name="video_pipeline",
                        dagster_event=DagsterEvent(
                            DagsterEventType.ASSET_MATERIALIZATION.value,
                            job_name="video_pipeline",
                            step_key=asset.to_user_string(),
                            event_specific_data=StepMaterializationData(materialization),
                        ),
                    )
                )
                versions.append(version)
            with storage.index_transaction() as conn:  # type: ignore[attr-defined]
                first = (
                    conn.execute(
                        SqlEventLogStorageTable.select()
                        .with_only_columns(SqlEventLogStorageTable.c.id)
                        .order_by(SqlEventLogStorageTable.c.id.desc())
                        .limit(1)
                    ).scalar()
                    or 0
                ) + 1
                conn.execute(SqlEventLogStorageTable.insert(), [storage._event_to_row(e) for e in events])  # type: ignore[attr-defined]
                batch_ids = list(range(first, first + len(events)))
                storage._store_asset_event_tags(conn, events, batch_ids)  # type: ignore[attr-defined]
                storage._store_asset_event(conn, events[-1], batch_ids[-1])  # type: ignore[attr-defined]
            ids.extend(batch_ids)
        data_versions[asset], storage_ids[asset] = versions, ids


def _write_uploads(store_dir: Path, first_id: int, count: int) -> None:
    from pipeline.keys import upload_key
    from pipeline.storage.local import LocalObjectStore

    store = LocalObjectStore(store_dir)
    moment = datetime.now(UTC) - timedelta(minutes=1)
    for i in range(count):
        store.put_bytes(upload_key(first_id + i, "clip.mp4", moment + timedelta(milliseconds=i)), b"\0", "video/mp4")


def time_sensor_tick(instance: dg.DagsterInstance, store_dir: Path, database_url: str) -> tuple[float, int]:
    from resources.database import DatabaseResource
    from resources.object_store import ObjectStoreResource
    from resources.pipeline_settings import PipelineSettingsResource
    from sensors.uploads import upload_sensor

    # The goal is a tick that takes all 1,000 waiting uploads at once, whatever the default batch.
    resources = {
        "object_store": ObjectStoreResource(kind="local", directory=str(store_dir)),
        "database": DatabaseResource(url=database_url),
        "pipeline_settings": PipelineSettingsResource(sensor_batch_size=UPLOADS),
    }
    with dg.build_sensor_context(instance=instance, cursor=None, resources=resources) as context:
        started = time.perf_counter()
        result = upload_sensor(context)
        elapsed = time.perf_counter() - started
    return elapsed, len(result.run_requests or [])  # type: ignore[union-attr]


def _graphql(port: int, query: str, variables: dict) -> tuple[float, dict]:
    body = json.dumps({"query": query, "variables": variables}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=body, headers={"Content-Type": "application/json"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=300) as response:
        payload = json.loads(response.read())
    return time.perf_counter() - started, payload


def time_ui_queries(env: dict[str, str], keys_total: int, rounds: int = 3) -> dict[str, float]:
    port = free_port()
    webserver = Path(sys.executable).parent / "dagster-webserver"
    log = Path(env["VIDEOAI_HOME"]) / "dagster-webserver.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [str(webserver), "-w", str(REPO_ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)],
            cwd=REPO_ROOT,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until_answers(
            f"http://127.0.0.1:{port}/server_info", process, "dagster-webserver", log, answered=lambda status: status == 200
        )
        variables = {"assetKey": {"path": ["transcript"]}}
        _graphql(port, "{ version }", {})  # the code location loads on first use
        timings = []
        for _ in range(rounds):
            elapsed, payload = _graphql(port, PARTITIONS_QUERY, variables)
            node = payload["data"]["assetNodeOrError"]
            assert len(node["partitionKeysByDimension"][0]["partitionKeys"]) == keys_total, payload.get("errors")
            assert len(node["assetPartitionStatuses"]["materializedPartitions"]) >= 1
            timings.append(elapsed)
        stale_timings = []
        for _ in range(rounds):
            elapsed, payload = _graphql(port, STALE_QUERY, {**variables, "partitions": [str(i) for i in range(1, 101)]})
            assert len(payload["data"]["assetNodeOrError"]["staleStatusByPartition"]) == 100, payload.get("errors")
            stale_timings.append(elapsed)
        return {"partitions_query": statistics.median(timings), "stale_100_query": statistics.median(stale_timings)}
    finally:
        stop_process_group(process)


def run_size(n: int, ui: bool) -> dict[str, float]:
    from orchestration.instance import EMBEDDED_DAGSTER_YAML
    from orchestration.reprocess import backfill_progress, launch_backfill, scan_stale
    from orchestration.video_requests import request_orphan_deletions
    from pipeline.db.session import engine_for, session_scope

    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="videoai-partitions-") as tmp:
        workdir = Path(tmp)
        env = _environment(workdir)
        (workdir / "dagster").mkdir()
        (workdir / "dagster" / "dagster.yaml").write_text(
            yaml.safe_dump({**yaml.safe_load(EMBEDDED_DAGSTER_YAML), "telemetry": {"enabled": False}})
        )
        _apply(env)
        graph = _graph()
        keys = [str(i) for i in range(1, n + 1)]
        with dg.DagsterInstance.from_config(str(workdir / "dagster")) as instance:
            started = time.perf_counter()
            instance.add_dynamic_partitions("videos", keys)
            seed(instance, graph, keys)
            results["seed_s"] = time.perf_counter() - started
            print(
                f"  seeded {n:,} partitions x {len(graph.materializable_asset_keys)} assets in {results['seed_s']:.1f} s",
                flush=True,
            )

            database_url = f"sqlite:///{workdir / 'home' / 'videoai.db'}"
            register_videos(database_url, range(1, n + UPLOADS + 1))  # the archive's videos and the new uploads
            _write_uploads(workdir / "home" / "objects", n + 1, UPLOADS)
            results["sensor_tick_s"], requested = time_sensor_tick(instance, workdir / "home" / "objects", database_url)
            assert requested == UPLOADS, requested
            print(f"  upload sensor tick, {UPLOADS:,} new uploads: {results['sensor_tick_s']:.2f} s", flush=True)

            fresh = scan_stale(instance, graph)
            assert fresh.stale == [], fresh.stale[:3]
            results["stale_scan_fresh_s"] = fresh.seconds
            print(f"  stale scan, nothing stale: {fresh.seconds:.2f} s", flush=True)

            _apply(_environment(workdir, beam=2))  # a model change
            changed = scan_stale(instance, _graph())
            results["stale_scan_model_change_s"] = changed.seconds
            results["stale_found"] = len(changed.stale)
            print(
                f"  stale scan after a model change: {changed.seconds:.2f} s "
                f"({len(changed.partitions):,} videos, {len(changed.stale):,} asset partitions stale)",
                flush=True,
            )
            assert len(changed.partitions) == n

            started = time.perf_counter()  # what `videoai reprocess --stale` does once the scan is done
            backfill_id = launch_backfill(instance, _graph(), changed.stale)
            results["reprocess_launch_s"] = time.perf_counter() - started
            started = time.perf_counter()
            progress = backfill_progress(instance, backfill_id)  # read every 2 s while it follows the backfill
            results["backfill_progress_s"] = time.perf_counter() - started
            assert progress.targeted == len(changed.stale), progress
            print(
                f"  reprocess backfill launched over {n:,} videos ({len(changed.stale):,} asset partitions): "
                f"{results['reprocess_launch_s']:.2f} s; its progress read: {results['backfill_progress_s']:.2f} s",
                flush=True,
            )

            started = time.perf_counter()  # the deletion sensor's sweep for partitions whose video is gone
            with session_scope(engine_for(database_url)) as session:
                orphans = request_orphan_deletions(instance, session)
                session.rollback()
            results["orphan_sweep_s"] = time.perf_counter() - started
            assert orphans == [], orphans[:5]
            print(f"  partitions whose video is gone, looked for among {n:,}: {results['orphan_sweep_s']:.2f} s", flush=True)
        if ui:
            ui_times = time_ui_queries(_environment(workdir, beam=2), n)
            results.update(ui_times)
            print(
                f"  UI partitions query (dagster-webserver GraphQL, keys + statuses): "
                f"{ui_times['partitions_query']:.2f} s; stale status of 100 partitions: "
                f"{ui_times['stale_100_query']:.2f} s",
                flush=True,
            )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="partitions_scale", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 250_000])
    parser.add_argument("--no-ui", action="store_true", help="skip the dagster-webserver query")
    args = parser.parse_args(argv)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}", flush=True)
    failed = False
    for n in args.sizes:
        print(f"{n:,} partitions", flush=True)
        results = run_size(n, ui=not args.no_ui)
        missed = [
            f"{name} {results[name]:.2f} s > {goal:g} s"
            for name, goal in GOALS.items()
            if name in results and results[name] > goal
        ]
        print(
            f"  goals at {n:,}: "
            + ("; ".join(missed) if missed else "all met")
            + " ("
            + ", ".join(f"{name} <= {goal:g} s" for name, goal in GOALS.items())
            + ")",
            flush=True,
        )
        failed |= bool(missed)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
