"""What Dagster's multiprocess executor costs over in_process, for one video's asset graph.

Runs the real `video_pipeline` job (transcode, transcribe, summarize, index,
plus the asset checks) for a short 640x360 video with audio on an embedded
install in a temp dir: SQLite app database, local object store, and a
persistent Dagster instance under its DAGSTER_HOME (the project's embedded
dagster.yaml). Both arms launch through `dg.execute_job` on the same
reconstructable job, built by `build_definitions` with only DAGSTER_EXECUTOR
changed, so the executor is the one difference. Each run has a fresh
run-worker process, as Dagster's run launcher gives it, and a freshly
ingested video (ingest is not timed); the arms alternate, so drift on a
shared machine hits both alike. CPU time is the run worker's with all its
descendants (step processes, ffmpeg), user+sys.

    .venv/bin/python benchmarks/executor_overhead.py [--rounds 3] [--seconds 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg

from pipeline.settings import Settings

EXECUTORS = ("in_process", "multiprocess")

# The settings that would point the run at servers, or at another install.
_PLATFORM_ENV = (
    "DATABASE_URL",
    "OBJECT_STORE",
    "OBJECT_STORE_DIR",
    "SEARCH_BACKEND",
    "SUMMARIZER_PROVIDER",
    "KAFKA_BOOTSTRAP_SERVERS",
    "REDIS_URL",
    "OPENSEARCH_URL",
    "S3_ENDPOINT_URL",
    "WHISPER_MODEL_NAME",
    "DAGSTER_MAX_CONCURRENT",
)


def video_pipeline_job(executor: str) -> dg.JobDefinition:
    """The project's job as its code location builds it, with `executor` as the run's executor.

    Module-level so each multiprocess step process can rebuild it from this
    name; settings come from the environment, which the steps inherit.
    """
    from orchestration.definitions import build_definitions

    settings = Settings(DAGSTER_EXECUTOR=executor)
    return build_definitions(settings).resolve_job_def("video_pipeline")


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _ingest(settings: Settings, video: Path, title: str) -> str:
    from pipeline.db.session import engine_for
    from pipeline.storage import object_store_from_settings
    from pipeline.uploads import UploadRules, ingest_file

    return str(
        ingest_file(
            engine_for(settings.database.url),
            object_store_from_settings(settings.storage),
            video,
            UploadRules.from_settings(settings),
            title=title,
        ).id
    )


# Dagster's console logger prints every event at DEBUG; the same quieter level for both arms.
_QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def run_worker(executor: str, partition: str) -> int:
    """One run of the job for `partition`, in this process: what a run worker does.

    Prints the number of steps that succeeded; exits non-zero if the run failed.
    """
    # By module name, not __name__: run as a script, this module is "__main__" here but not in the steps.
    job = dg.build_reconstructable_job(
        "benchmarks.executor_overhead", video_pipeline_job.__name__, reconstructable_kwargs={"executor": executor}
    )
    with (
        dg.DagsterInstance.get() as instance,
        dg.execute_job(job, instance=instance, run_config=_QUIET, tags={"dagster/partition": partition}) as result,
    ):
        print(sum(1 for event in result.all_events if event.event_type_value == "STEP_SUCCESS"))
        return 0 if result.success else 1


def _timed_run(executor: str, partition: str) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, steps) of one run in a fresh run-worker process.

    A fresh process per run, for both arms, as Dagster's default run launcher
    does: in_process then pays one interpreter start and the whisper model load
    per run, not once for the whole benchmark.
    """
    command = [sys.executable, "-m", "benchmarks.executor_overhead", "--run-worker", executor, partition]
    cpu, wall = _children_cpu_seconds(), time.perf_counter()
    worker = subprocess.run(command, capture_output=True, text=True, check=False)
    wall, cpu = time.perf_counter() - wall, _children_cpu_seconds() - cpu
    if worker.returncode != 0:
        raise RuntimeError(f"the {executor} run of video {partition} failed:\n{worker.stderr[-3000:]}")
    return wall, cpu, int(worker.stdout.split()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of the generated 640x360 video")
    parser.add_argument("--run-worker", nargs=2, metavar=("EXECUTOR", "PARTITION"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_worker:
        return run_worker(*args.run_worker)

    from orchestration.instance import ensure_dagster_home
    from pipeline import samples
    from pipeline.db.session import migrate

    with tempfile.TemporaryDirectory(prefix="videoai-bench-") as tmp:
        for name in _PLATFORM_ENV:
            os.environ.pop(name, None)
        # Set before any Settings() is read here or in a step process.
        os.environ["VIDEOAI_HOME"] = str(Path(tmp) / "home")
        settings = Settings()
        migrate(settings.database.url)
        os.environ["DAGSTER_HOME"] = str(ensure_dagster_home(settings))
        video = samples.make_test_video(Path(tmp) / "sample.mp4", 640, 360, args.seconds)

        timings: dict[str, list[tuple[float, float, int]]] = {executor: [] for executor in EXECUTORS}
        with dg.DagsterInstance.get() as instance:

            def new_partition(title: str) -> str:
                partition = _ingest(settings, video, title)
                instance.add_dynamic_partitions("videos", [partition])
                return partition

            # Not timed: brings the whisper model files and every module into the page cache.
            for executor in EXECUTORS:
                _timed_run(executor, new_partition(f"warm-up {executor}"))
            for number in range(args.rounds):
                for executor in EXECUTORS:
                    timings[executor].append(_timed_run(executor, new_partition(f"round {number} {executor}")))

    steps = {run[2] for runs in timings.values() for run in runs}
    if len(steps) != 1:
        raise RuntimeError(f"the arms ran different numbers of steps: {steps}")
    inline, multi = timings["in_process"], timings["multiprocess"]

    def median(runs: list[tuple[float, float, int]], metric: int) -> float:
        return statistics.median(run[metric] for run in runs)

    print(
        f"video                 : 640x360, {args.seconds:.1f} s, with audio; "
        f"job video_pipeline, {steps.pop()} steps succeeded in every run"
    )
    print(f"rounds                : {args.rounds}, interleaved in_process/multiprocess, fresh video each run")
    print(f"machine               : {os.cpu_count()} CPUs (multiprocess runs at most min(4, CPUs) steps at once)")
    print()
    print(f"{'':28}{'wall s':>9}{'CPU s':>9}")
    for executor in EXECUTORS:
        print(f"{executor:28}{median(timings[executor], 0):9.2f}{median(timings[executor], 1):9.2f}")
    print(
        f"{'multiprocess / in_process':28}{median(multi, 0) / median(inline, 0):9.2f}"
        f"{median(multi, 1) / median(inline, 1):9.2f}  (of the medians)"
    )
    # Each round's pair ran back to back, so its ratio sees the same machine load.
    paired = [statistics.median(m[k] / i[k] for i, m in zip(inline, multi, strict=True)) for k in (0, 1)]
    print(f"{'multiprocess / in_process':28}{paired[0]:9.2f}{paired[1]:9.2f}  (median per round)")
    extra_wall = statistics.median(m[0] - i[0] for i, m in zip(inline, multi, strict=True))
    extra_cpu = statistics.median(m[1] - i[1] for i, m in zip(inline, multi, strict=True))
    print(f"{'multiprocess - in_process':28}{extra_wall:9.2f}{extra_cpu:9.2f}  (median of per-round differences)")
    print()
    print("per round (wall s, CPU s):")
    for number, ((iw, ic, _), (mw, mc, _)) in enumerate(zip(inline, multi, strict=True), 1):
        print(
            f"  {number}: in_process {iw:6.2f} {ic:6.2f}   multiprocess {mw:6.2f} {mc:6.2f}   "
            f"ratio wall {mw / iw:.2f} CPU {mc / ic:.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
