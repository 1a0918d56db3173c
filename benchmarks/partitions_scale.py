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
import contextlib
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
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import psutil

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

OPEN_BACKFILLS_QUERY = """
query OpenBackfills { partitionBackfillsOrError(status: REQUESTED) { ... on PartitionBackfills { results { id } } } }"""

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


class Stopwatch:
    """Wall and CPU seconds of a step. On a machine shared with other work the wall time grows with the load;
    the CPU seconds (of this process, or of a server's process tree) are what the step itself costs."""

    def __init__(self, server: psutil.Process | None = None) -> None:
        self._server = server
        self.wall = self.cpu = 0.0

    def _cpu(self) -> float:
        if self._server is None:
            return time.process_time()
        total = 0.0
        for process in [self._server, *self._server.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                times = process.cpu_times()
                total += times.user + times.system
        return total

    def __enter__(self) -> Stopwatch:
        self._started, self._cpu_started = time.perf_counter(), self._cpu()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self._started, self._cpu() - self._cpu_started

    def record(self, results: dict[str, float | str], name: str) -> str:
        results[name], results[f"{name}_cpu"] = self.wall, self.cpu
        return f"{self.wall:.2f} s (CPU {self.cpu:.2f} s)"


def time_sensor_tick(instance: dg.DagsterInstance, store_dir: Path, database_url: str) -> tuple[Stopwatch, int]:
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
    with dg.build_sensor_context(instance=instance, cursor=None, resources=resources) as context, Stopwatch() as watch:
        result = upload_sensor(context)
    return watch, len(result.run_requests or [])  # type: ignore[union-attr]


def _graphql(port: int, query: str, variables: dict) -> dict:
    body = json.dumps({"query": query, "variables": variables}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.loads(response.read())


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
    server = psutil.Process(process.pid)
    results: dict[str, float | str] = {}
    printed: list[str] = []

    def timed(name: str, label: str, query: str, variables: dict, check: Callable[[dict], bool]) -> None:
        """The query `rounds` times: the median round's wall and CPU seconds, and the first round's."""
        watches = []
        for _ in range(rounds):
            with Stopwatch(server) as watch:
                payload = _graphql(port, query, variables)
            assert check(payload), str(payload)[:2000]
            watches.append(watch)
        middle = sorted(watches, key=lambda w: w.wall)[len(watches) // 2]
        printed.append(f"  {label}: {middle.record(results, name)}; the first {watches[0].record(results, name + '_first')}")

    try:
        wait_until_answers(
            f"http://127.0.0.1:{port}/server_info", process, "dagster-webserver", log, answered=lambda status: status == 200
        )
        asset = {"assetKey": {"path": ["transcript"]}}
        _graphql(port, "{ version }", {})  # the code location loads on first use

        def all_partitions(payload: dict) -> bool:
            node = payload["data"]["assetNodeOrError"]
            statuses = node["assetPartitionStatuses"]["materializedPartitions"]
            return len(node["partitionKeysByDimension"][0]["partitionKeys"]) == len(statuses) == keys_total

        timed(
            "partitions_query",
            "UI partitions query (keys + statuses; the first builds Dagster's status cache)",
            PARTITIONS_QUERY,
            asset,
            all_partitions,
        )
        timed(
            "stale_100_query",
            "stale status of 100 partitions",
            STALE_QUERY,
            {**asset, "partitions": [str(i) for i in range(1, 101)]},
            lambda p: len(p["data"]["assetNodeOrError"]["staleStatusByPartition"]) == 100,
        )
        # Every page's top bar asks for the open backfills (InstanceWarningQuery); the reprocess backfill is one.
        timed(
            "open_backfills_query",
            "open backfills (every page's top bar)",
            OPEN_BACKFILLS_QUERY,
            {},
            lambda p: len(p["data"]["partitionBackfillsOrError"]["results"]) == 1,
        )
        # Finding a video by its title: the Runs page filtered by the tag, and the filter's list of the tag's values.
        wanted = benchmark_title(keys_total // 2)

        def only_the_wanted_run(payload: dict) -> bool:
            runs = payload["data"]["runsFeedOrError"]["results"]
            return len(runs) == 1 and {"key": TITLE_TAG, "value": wanted} in runs[0]["tags"]

        timed(
            "runs_by_title_query",
            f"runs filtered by {TITLE_TAG}",
            RUNS_BY_TAG_QUERY,
            {"filter": {"tags": [{"key": TITLE_TAG, "value": wanted}]}},
            only_the_wanted_run,
        )
        timed(
            "title_values_query",
            f"the tag filter's list of all {keys_total:,} titles",
            TAG_VALUES_QUERY,
            {"tagKeys": [TITLE_TAG]},
            lambda p: len(p["data"]["runTagsOrError"]["tags"][0]["values"]) == keys_total,
        )
        for name, label, path, needs in (
            ("asset_page", "asset page (overview)", "/assets/transcript", "AssetViewDefinitionQuery"),
            ("asset_partitions_page", "its Partitions tab", "/assets/transcript?view=partitions", "PartitionHealthQuery"),
        ):
            with Stopwatch(server) as watch:
                load, operation, seconds = time_asset_page(port, path, needs, rounds=2)
            results[name], results[f"{name}_slowest"] = load, f"{operation} {seconds:.2f} s"
            results[f"{name}_cpu"] = watch.cpu / 2
            printed.append(
                f"  {label} in Chromium, to the first answer of every GraphQL operation it asks for: {load:.2f} s "
                f"(the webserver's CPU {watch.cpu / 2:.2f} s a load; slowest operation: {operation} {seconds:.2f} s)"
            )
        return results
    finally:
        stop_process_group(process)
        print("\n".join(printed), flush=True)


def run_size(n: int, ui: bool) -> dict[str, float | str]:
    from orchestration.instance import dagster_yaml
    from orchestration.reprocess import backfill_progress, launch_backfill, scan_stale
    from orchestration.video_requests import request_orphan_deletions
    from pipeline.db.session import engine_for, session_scope

    results: dict[str, float | str] = {}
    with tempfile.TemporaryDirectory(prefix="videoai-partitions-") as tmp:
        workdir = Path(tmp)
        env = _environment(workdir)
        (workdir / "dagster").mkdir()
        (workdir / "dagster" / "dagster.yaml").write_text(dagster_yaml(workdir / "dagster"))  # the embedded install's
        _apply(env)
        graph = _graph()
        keys = [str(i) for i in range(1, n + 1)]
        with dg.DagsterInstance.from_config(str(workdir / "dagster")) as instance:
            with Stopwatch() as watch:
                # In chunks: Dagster's SQLite storage checks every key of one call in a single IN (...), and
                # SQLite refuses more than 250,000 variables (the upload sensor adds at most a batch at once).
                for start in range(0, n, 10_000):
                    instance.add_dynamic_partitions("videos", keys[start : start + 10_000])
                seed(instance, graph, keys)
            assets = len(graph.materializable_asset_keys)
            print(f"  seeded {n:,} partitions x {assets} assets: {watch.record(results, 'seed_s')}", flush=True)

            database_url = f"sqlite:///{workdir / 'home' / 'videoai.db'}"
            register_videos(database_url, range(1, n + UPLOADS + 1))  # the archive's videos and the new uploads
            _write_uploads(workdir / "home" / "objects", n + 1, UPLOADS)
            watch, requested = time_sensor_tick(instance, workdir / "home" / "objects", database_url)
            assert requested == UPLOADS, requested
            print(f"  upload sensor tick, {UPLOADS:,} new uploads: {watch.record(results, 'sensor_tick_s')}", flush=True)

            with Stopwatch() as watch:
                fresh = scan_stale(instance, graph)
            assert fresh.stale == [], fresh.stale[:3]
            print(f"  stale scan, nothing stale: {watch.record(results, 'stale_scan_fresh_s')}", flush=True)

            _apply(_environment(workdir, beam=2))  # a model change
            with Stopwatch() as watch:
                changed = scan_stale(instance, _graph())
            results["stale_found"] = len(changed.stale)
            print(
                f"  stale scan after a model change: {watch.record(results, 'stale_scan_model_change_s')} "
                f"({len(changed.partitions):,} videos, {len(changed.stale):,} asset partitions stale)",
                flush=True,
            )
            assert len(changed.partitions) == n

            with Stopwatch() as watch:  # what `videoai reprocess --stale` does once the scan is done
                backfill_id = launch_backfill(instance, _graph(), changed.stale)
            launched = watch.record(results, "reprocess_launch_s")
            with Stopwatch() as watch:
                progress = backfill_progress(instance, backfill_id)  # read every 2 s while it follows the backfill
            assert progress.targeted == len(changed.stale), progress
            print(
                f"  reprocess backfill launched over {n:,} videos ({len(changed.stale):,} asset partitions): {launched}; "
                f"its progress read: {watch.record(results, 'backfill_progress_s')}",
                flush=True,
            )

            # The deletion sensor's sweep for partitions whose video is gone.
            with Stopwatch() as watch, session_scope(engine_for(database_url)) as session:
                orphans = request_orphan_deletions(instance, session)
                session.rollback()
            assert orphans == [], orphans[:5]
            print(
                f"  partitions whose video is gone, looked for among {n:,}: {watch.record(results, 'orphan_sweep_s')}",
                flush=True,
            )
        if ui:
            results.update(time_ui_queries(_environment(workdir, beam=2), n))
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
