"""A backlog of uploads taken by the real Dagster daemon: every tick's duration, every upload one run.

    .venv/bin/python -m benchmarks backlog                          # 1,000 waiting uploads, then 50,000 cursorless
    .venv/bin/python -m benchmarks backlog --uploads 1000 --first-tick-uploads 0
    .venv/bin/python -m benchmarks backlog --batch 200 --storage per-run

Scenario 1: `--uploads` uploads wait in the embedded object store when
`videoai daemon` (dagster-daemon run) starts (its own process group, stopped with it). The upload
sensor turns them into runs tick by tick; the run queue is held (max 0
concurrent runs) so the runs are created, not executed. Prints every tick
(duration, runs requested) and checks that each upload got exactly one run.

Scenario 2: `--first-tick-uploads` uploads and no cursor: the duration of the
daemon's first tick of the upload sensor (listing the store and creating one
batch of runs).

`--storage` picks the embedded SQLite instance's storage classes: `embedded` (what
the embedded install uses: one event-log database, pooled connections,
orchestration/platform/storage.py), `consolidated` (one event-log database through Dagster's
own classes, a new connection per access) or `per-run` (Dagster's defaults: one
event-log SQLite file per run).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.support import dagster_daemon, register_videos

SENSOR = "upload_sensor"
GOAL_TICK_SECONDS = 10.0  # every daemon tick, and the cursorless first tick


def write_uploads(objects: Path, count: int) -> set[int]:
    from pipeline.keys import UPLOADS_PREFIX, upload_key

    (objects / UPLOADS_PREFIX).mkdir(parents=True, exist_ok=True)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for video_id in range(1, count + 1):
        (objects / upload_key(video_id, "clip.mp4", start + timedelta(milliseconds=video_id))).write_bytes(b"")
    return set(range(1, count + 1))


def instance_yaml(home: Path, storage: str) -> str:
    import yaml

    from orchestration.instance import dagster_yaml
    from orchestration.platform.storage import dagster_consolidated_event_log

    config = yaml.safe_load(dagster_yaml(home))
    if storage == "consolidated":  # Dagster's own classes: a new SQLite connection and engine per access
        del config["run_storage"], config["schedule_storage"]
        config["event_log_storage"].update(dagster_consolidated_event_log())
    elif storage == "per-run":  # Dagster's defaults: one event-log SQLite file per run
        del config["run_storage"], config["schedule_storage"], config["event_log_storage"]
    # Hold the run queue: this measures taking the backlog, not running the videos.
    config["concurrency"]["runs"]["max_concurrent_runs"] = 0
    return yaml.safe_dump(config)


def sensor_ticks(instance: Any) -> list[Any]:
    import dagster as dg

    assert isinstance(instance, dg.DagsterInstance)
    for state in instance.all_instigator_state():
        if state.instigator_name == SENSOR:  # the only instigator of that name
            ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id)
            return sorted(ticks, key=lambda tick: tick.timestamp)
    return []


def run(uploads: int, batch: int, storage: str, timeout: float, stop_after_first_tick: bool) -> dict[str, Any]:
    import dagster as dg

    from orchestration.instance import initialize_storage

    with tempfile.TemporaryDirectory(prefix="backlog-") as tmp:
        home = Path(tmp)
        dagster_home = home / "dagster"
        dagster_home.mkdir()
        (dagster_home / "dagster.yaml").write_text(instance_yaml(dagster_home, storage))
        initialize_storage(dagster_home)
        started = time.perf_counter()
        register_videos(f"sqlite:///{home / 'videoai.db'}", range(1, uploads + 1))
        expected = write_uploads(home / "objects", uploads)
        print(f"  {uploads:,} uploads written in {time.perf_counter() - started:.1f} s", flush=True)
        env = {
            **os.environ,
            "VIDEOAI_HOME": str(home),
            "DAGSTER_HOME": str(dagster_home),
            "SENSOR_BATCH_SIZE": str(batch),
            "PYTHONUNBUFFERED": "1",
        }
        for name in ("DATABASE_URL", "OBJECT_STORE", "OBJECT_STORE_DIR", "KAFKA_BOOTSTRAP_SERVERS"):
            env.pop(name, None)
        with (
            dagster_daemon(env, home / "daemon.log") as daemon,
            dg.DagsterInstance.from_config(str(dagster_home)) as instance,
        ):
            launched = time.monotonic()
            ticks: list = []
            while time.monotonic() - launched < timeout:
                time.sleep(1)
                ticks = [t for t in sensor_ticks(instance) if t.end_timestamp is not None]
                requested = sum(len(t.run_ids) for t in ticks)
                if stop_after_first_tick and ticks:
                    break
                if requested >= uploads and ticks and not ticks[-1].run_ids:
                    break  # the backlog is taken and a later tick found nothing new
                if daemon.poll() is not None:
                    tail = (home / "daemon.log").read_text()[-3000:]
                    raise RuntimeError(f"dagster-daemon exited:\n{tail}")
            runs = instance.get_runs(dg.RunsFilter(tags={"videoai/trigger": "object-store"}))
        keys = [run.tags.get("dagster/partition") for run in runs]
        for number, tick in enumerate(ticks, 1):
            print(
                f"  tick {number:3}: {tick.end_timestamp - tick.timestamp:6.2f} s, {len(tick.run_ids):5} runs "
                f"({tick.status.value})",
                flush=True,
            )
        return {
            "ticks": [(t.end_timestamp - t.timestamp, len(t.run_ids)) for t in ticks],
            "runs": len(runs),
            "distinct": len(set(keys)),
            "all": {int(k) for k in keys if k} == expected,
            "wall": (ticks[-1].end_timestamp - ticks[0].timestamp) if ticks else None,
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=1000)
    parser.add_argument("--first-tick-uploads", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=None, help="SENSOR_BATCH_SIZE (default: the setting's default)")
    parser.add_argument("--storage", choices=("embedded", "consolidated", "per-run"), default="embedded")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    from pipeline.settings import Settings

    batch = args.batch or Settings().dagster.sensor_batch_size
    print(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start (shared with other work); "
        f"SENSOR_BATCH_SIZE={batch}, storage: {args.storage}"
    )
    verdicts: list[str] = []
    passed: list[bool] = []
    if args.uploads:
        print(f"\n== {args.uploads:,} uploads waiting when the daemon starts", flush=True)
        result = run(args.uploads, batch, args.storage, args.timeout, stop_after_first_tick=False)
        # A tick that finds nothing new waits for the next upload (UPLOAD_SENSOR_WAIT_SECONDS): the last one does.
        durations = sorted(d for d, runs in result["ticks"] if runs)
        idle = [d for d, runs in result["ticks"] if not runs]
        longest = durations[-1] if durations else 0.0
        print(
            f"  ticks that created runs: {len(durations)}, median "
            f"{statistics.median(durations) if durations else 0:.2f} s, max {longest:.2f} s; "
            f"{len(idle)} found nothing new and waited for an upload ({', '.join(f'{d:.2f}' for d in idle)} s)"
        )
        print(
            f"  runs: {result['runs']:,} for {args.uploads:,} uploads, {result['distinct']:,} distinct videos, "
            f"every upload: {'yes' if result['all'] else 'NO'}; longest tick {longest:.2f} s; "
            f"backlog taken in {result['wall'] or 0:.1f} s"
        )
        exact = result["runs"] == result["distinct"] == args.uploads and result["all"]
        passed.append(exact and longest <= GOAL_TICK_SECONDS)
        verdicts.append(
            f"backlog of {args.uploads:,}: longest tick {longest:.2f} s (goal <= {GOAL_TICK_SECONDS:.0f}), "
            f"exactly one run each: {'yes' if exact else 'NO'}"
        )
    if args.first_tick_uploads:
        print(f"\n== {args.first_tick_uploads:,} uploads, no cursor: the first tick", flush=True)
        result = run(args.first_tick_uploads, batch, args.storage, args.timeout, stop_after_first_tick=True)
        first = result["ticks"][0][0] if result["ticks"] else float("nan")
        passed.append(first <= GOAL_TICK_SECONDS)
        verdicts.append(f"first tick over {args.first_tick_uploads:,} uploads: {first:.2f} s (goal <= {GOAL_TICK_SECONDS:.0f})")
    print(
        "\n"
        + ("PASS" if all(passed) else "FAIL")
        + f" (load average {os.getloadavg()[0]:.1f} at the end): "
        + " | ".join(verdicts)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
