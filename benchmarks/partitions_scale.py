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
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import yaml

from assets.support import TITLE_TAG
from benchmarks.support import benchmark_title, register_videos
from orchestration.processes import free_port, stop_process_group, wait_until_answers

REPO_ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
UPLOADS = 1000
# Issue 19's goals at 100,000 and 250,000 videos.
GOALS = {"sensor_tick_s": 2.0, "stale_scan_model_change_s": 60.0, "reprocess_launch_s": 60.0, "partitions_query": 2.0}

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

RUNS_BY_TAG_QUERY = """
query RunsByTag($filter: RunsFilter) {
  runsFeedOrError(limit: 30, filter: $filter, view: RUNS) {
    ... on RunsFeedConnection { results { id ... on Run { tags { key value } } } }
    ... on PythonError { message }
  }
}"""

TAG_VALUES_QUERY = """
query RunTagValues($tagKeys: [String!]!) {
  runTagsOrError(tagKeys: $tagKeys) { ... on RunTags { tags { key values } } ... on PythonError { message } }
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
    """One successful run per video (tagged as the upload sensor tags it) and a materialization of every
    per-video asset by that run, with the provenance Dagster records."""
    from assets.jobs import video_pipeline_job
    from orchestration.platform.archive_fixture import write_materializations, write_runs
    from orchestration.reprocess import select_assets
    from sensors.runs import video_run_request

    job = video_pipeline_job.name
    requests = [video_run_request(int(key), benchmark_title(int(key)), "object-store") for key in keys]
    run_ids = write_runs(instance, job, [(key, request.tags) for key, request in zip(keys, requests, strict=True)])
    write_materializations(instance, graph, select_assets(graph, None), keys, run_ids, job)


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


def _median_and_first(timings: list[float]) -> tuple[float, float]:
    return statistics.median(timings), timings[0]


def time_asset_page(port: int, path: str, needs: str, rounds: int, quiet: float = 3.0) -> tuple[float, str, float]:
    """The Dagster UI's page at `path` in headless Chromium, each round in a fresh browser context (nothing cached
    from an earlier round): the median seconds from navigation to the first answer of every GraphQL operation it
    asked for (until no new operation was asked for `quiet` seconds; `needs` among them; the UI's polls repeat
    operations already answered), and the slowest operation with its seconds."""
    from playwright.sync_api import sync_playwright

    loads, slowest = [], ("", 0.0)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            for _ in range(rounds):
                context = browser.new_context(viewport={"width": 1500, "height": 1000})
                page = context.new_page()
                asked: dict[str, float] = {}  # operation -> when it was first asked for
                answered: dict[str, float] = {}  # operation -> when its first answer arrived

                def on_request(request, asked=asked) -> None:
                    url = urllib.parse.urlsplit(request.url)
                    if url.path == "/graphql":
                        asked.setdefault(urllib.parse.parse_qs(url.query).get("op", ["?"])[0], time.perf_counter())

                def on_finished(request, answered=answered) -> None:
                    url = urllib.parse.urlsplit(request.url)
                    if url.path == "/graphql":
                        answered.setdefault(urllib.parse.parse_qs(url.query).get("op", ["?"])[0], time.perf_counter())

                page.on("request", on_request)
                page.on("requestfinished", on_finished)
                started = time.perf_counter()
                page.goto(f"http://127.0.0.1:{port}{path}", wait_until="load", timeout=600_000)
                while needs not in answered or set(asked) - set(answered) or time.perf_counter() - max(asked.values()) < quiet:
                    assert time.perf_counter() - started < 600, f"{path}: unanswered {sorted(set(asked) - set(answered))}"
                    page.wait_for_timeout(100)
                loads.append(max(answered.values()) - started)
                name = max(answered, key=lambda op: answered[op] - asked[op])
                if answered[name] - asked[name] > slowest[1]:
                    slowest = (name, answered[name] - asked[name])
                context.close()
        finally:
            browser.close()
    return statistics.median(loads), slowest[0], slowest[1]


def time_ui_queries(env: dict[str, str], keys_total: int, rounds: int = 3) -> dict[str, float | str]:
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
    results: dict[str, float | str] = {}
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
            assert len(node["assetPartitionStatuses"]["materializedPartitions"]) == keys_total
            timings.append(elapsed)
        results["partitions_query"], results["partitions_query_first"] = _median_and_first(timings)
        timings = []
        for _ in range(rounds):
            elapsed, payload = _graphql(port, STALE_QUERY, {**variables, "partitions": [str(i) for i in range(1, 101)]})
            assert len(payload["data"]["assetNodeOrError"]["staleStatusByPartition"]) == 100, payload.get("errors")
            timings.append(elapsed)
        results["stale_100_query"] = statistics.median(timings)
        # Finding a video by its title: the Runs page filtered by the tag, and the filter's list of the tag's values.
        wanted = benchmark_title(keys_total // 2)
        timings = []
        for _ in range(rounds):
            elapsed, payload = _graphql(port, RUNS_BY_TAG_QUERY, {"filter": {"tags": [{"key": TITLE_TAG, "value": wanted}]}})
            runs = payload["data"]["runsFeedOrError"]["results"]
            assert len(runs) == 1 and {"key": TITLE_TAG, "value": wanted} in runs[0]["tags"], payload
            timings.append(elapsed)
        results["runs_by_title_query"] = statistics.median(timings)
        elapsed, payload = _graphql(port, TAG_VALUES_QUERY, {"tagKeys": [TITLE_TAG]})
        assert len(payload["data"]["runTagsOrError"]["tags"][0]["values"]) == keys_total, payload.get("errors")
        results["title_values_query"] = elapsed
        for name, path, needs in (
            ("asset_page", "/assets/transcript", "AssetViewDefinitionQuery"),
            ("asset_partitions_page", "/assets/transcript?view=partitions", "PartitionHealthQuery"),
        ):
            load, operation, seconds = time_asset_page(port, path, needs, rounds=2)
            results[name], results[f"{name}_slowest"] = load, f"{operation} {seconds:.2f} s"
        return results
    finally:
        stop_process_group(process)


def run_size(n: int, ui: bool) -> dict[str, float | str]:
    from orchestration.instance import EMBEDDED_DAGSTER_YAML
    from orchestration.reprocess import backfill_progress, launch_backfill, scan_stale
    from orchestration.video_requests import request_orphan_deletions
    from pipeline.db.session import engine_for, session_scope

    results: dict[str, float | str] = {}
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
            ui = time_ui_queries(_environment(workdir, beam=2), n)
            results.update(ui)
            print(
                f"  UI partitions query (dagster-webserver GraphQL, keys + statuses): {ui['partitions_query']:.2f} s "
                f"(the first, building Dagster's status cache: {ui['partitions_query_first']:.2f} s); "
                f"stale status of 100 partitions: {ui['stale_100_query']:.2f} s",
                flush=True,
            )
            print(
                f"  finding a video by title: runs filtered by {TITLE_TAG} {ui['runs_by_title_query']:.2f} s; "
                f"the filter's list of all {n:,} titles {ui['title_values_query']:.2f} s",
                flush=True,
            )
            for name, label in (("asset_page", "asset page (overview)"), ("asset_partitions_page", "its Partitions tab")):
                print(
                    f"  {label} in Chromium, to its last GraphQL answer: {ui[name]:.2f} s (slowest: {ui[name + '_slowest']})",
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
        print(f"{n:,} partitions (load average {os.getloadavg()[0]:.1f})", flush=True)
        results = run_size(n, ui=not args.no_ui)
        missed = [
            f"{name} {results[name]:.2f} s > {goal:g} s"
            for name, goal in GOALS.items()
            if isinstance(results.get(name), float) and results[name] > goal  # type: ignore[operator]
        ]
        print(
            f"  goals at {n:,}: "
            + ("; ".join(missed) if missed else "all met")
            + " ("
            + ", ".join(f"{name} <= {goal:g} s" for name, goal in GOALS.items())
            + f"); load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        failed |= bool(missed)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
