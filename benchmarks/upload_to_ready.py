"""Upload → ready through the real stack, against the raw tools doing the same work on the same file.

(A) the stack: the real API server (`videoai serve`) and the real daemon (`videoai daemon`: dagster-daemon run)
(upload sensor, run queue, run launcher), both in their own process groups on a
temporary embedded install. The clip is uploaded over HTTP by its owner, who then
polls `GET /videos/{id}/watch` every 0.1 s: its answer (409 with the status while
the video is not playable, then 200) gives each status change, the first moment
the lowest rung can be watched ("first playable": the watch answer names a
playable stream), and `ready`. The Dagster run's own events give the breakdown:
waiting for the sensor, the run queue, the run worker starting, each step.

(B) the raw tools, in a fresh Python process, one after another: the ffmpeg
ladder command (`build_ladder_command`, every rung in one process), bare
faster-whisper (import, model load, transcribe), the offline summarizer, and the
search index write. The lowest rung alone is also encoded (not counted in B's
total): the "first playable" goal is that encode plus 3 s.

Both start from the moment the clip exists on disk, and A's clock includes its
HTTP upload. Rounds interleave A/B/A/B after one untimed warm-up of each, so load
from other work on the machine hits both alike. The clip is 1280x720 with speech
(espeak-ng reading `samples.TOPIC_SCRIPTS`, ~60 s).

The peak memory of each run is sampled every 0.1 s: the proportional set size (PSS) of the run worker
(forked by the run launcher's fork server) plus everything it spawned (ffmpeg). PSS counts a page shared
with the fork server by share, so a run's figure plus the fork server's (printed too) is what they use. `--memory-minutes
10` sends one more video through the stack: a synthetic 1920x1080 clip of that
length (ffmpeg lavfi picture, espeak-ng speech), and reports its run's peak.

    .venv/bin/python -m benchmarks upload_to_ready [--rounds 3] [--memory-minutes 0]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from benchmarks.support import API, api_server, dagster_daemon
from orchestration.processes import free_port

PASSWORD = "benchmark-password-1"
POLL_SECONDS = 0.1
READY_TIMEOUT = 1800.0
FIRST_PLAYABLE_SLACK = 3.0
GOAL_RATIO = 1.10
# The settings that would point the stack at servers or at another install.
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
    "DAGSTER_HOME",
    "DAGSTER_EXECUTOR",
    "SCRATCH_DIR",
)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} CPUs"


# (B) the raw tools.


def raw_tools(source: Path, workdir: Path, database_url: str) -> dict[str, float]:
    """The same work by the tools themselves, timed step by step (run in a fresh process)."""
    started = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(name: str, since: float) -> float:
        now = time.perf_counter()
        timings[name] = now - since
        return now

    from pipeline import media

    info = media.probe(source)
    rungs = media.plan_ladder(info.width, info.height)
    for folder in ("ladder", "lowest"):
        (workdir / folder).mkdir(parents=True, exist_ok=True)
    mark = lap("probe", started)
    subprocess.run(
        media.build_ladder_command(source, workdir / "ladder", rungs, has_audio=info.has_audio), check=True, capture_output=True
    )
    mark = lap("ffmpeg ladder", mark)

    from faster_whisper import WhisperModel

    from pipeline.settings import Settings
    from pipeline.speech_models import model_path

    settings = Settings()
    model = WhisperModel(
        model_path(settings.transcription.model),
        device=settings.transcription.device,
        compute_type=settings.transcription.compute_type,
    )
    segments, _ = model.transcribe(str(source), beam_size=settings.transcription.beam_size, vad_filter=True)
    spoken = [(s.start, s.end, s.text.strip()) for s in segments]
    mark = lap("faster-whisper", mark)

    from pipeline.summarization import summarize_transcript
    from pipeline.summarization.providers import summarizer_from_settings
    from pipeline.text import TimedSegment

    timed = [TimedSegment(start, end, text) for start, end, text in spoken if text]
    summary = summarize_transcript(timed, summarizer_from_settings(settings.summarization, settings.openai))
    mark = lap("summarizer", mark)

    from datetime import UTC, datetime

    from pipeline.db.session import engine_for
    from pipeline.search.base import SearchDocument
    from pipeline.search.sqlite_fts import SqliteFtsIndex

    now = datetime.now(UTC)
    SqliteFtsIndex(engine_for(database_url)).upsert(
        SearchDocument(
            video_id=int(time.time() * 1000) % 2**31,
            title="raw tools",
            description="",
            owner_id=None,
            owner_name=None,
            transcript=" ".join(s.text for s in timed),
            summary=summary.summary,
            status="ready",
            language="en",
            created_at=now,
            updated_at=now,
            duration_seconds=info.duration_seconds,
            segments=tuple(timed),
        )
    )
    mark = lap("index write", mark)
    timings["total"] = mark - started

    # Not part of the total: the first-playable goal is this encode plus FIRST_PLAYABLE_SLACK.
    lowest = time.perf_counter()
    subprocess.run(
        media.build_ladder_command(source, workdir / "lowest", rungs[:1], has_audio=info.has_audio),
        check=True,
        capture_output=True,
    )
    timings["lowest rung alone"] = time.perf_counter() - lowest
    return timings


def timed_raw_tools(source: Path, workdir: Path, database_url: str) -> dict[str, float]:
    """`raw_tools` in a fresh interpreter, as a person running the tools would; its wall time from outside."""
    started = time.perf_counter()
    process = subprocess.run(
        [sys.executable, "-m", "benchmarks.upload_to_ready", "--raw-tools", str(source), str(workdir), database_url],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"the raw tools failed:\n{process.stderr[-3000:]}")
    timings = json.loads(process.stdout.splitlines()[-1])
    # The outside view adds the interpreter start; the lowest-rung encode is not part of the work.
    timings["wall"] = wall - timings["lowest rung alone"]
    return timings


# (A) the stack.


class TreePeak(threading.Thread):
    """Peak PSS of the run workers with all their descendants (ffmpeg). The embedded run launcher forks each run
    worker from its fork server (orchestration/platform/run_workers.py), with which the worker shares the libraries
    imported before the fork: RSS would count them in full in both. Only the fork server's children are read,
    not the daemon's whole tree: the sampler competes with ffmpeg for the same cores."""

    def __init__(self, server: psutil.Process) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.peak = 0
        self._done = threading.Event()

    def _workers_pss(self) -> int:
        total = 0
        for worker in self.server.children():
            try:
                total += sum(p.memory_full_info().pss for p in [worker, *worker.children(recursive=True)])
            except psutil.Error:  # a process that ended while we looked
                continue
        return total

    def run(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, self._workers_pss())
            time.sleep(POLL_SECONDS)

    def stop(self) -> int:
        self._done.set()
        self.join()
        return self.peak


def fork_server(daemon_pid: int) -> psutil.Process:
    """The run launcher's fork server, which `videoai daemon` starts with itself."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for child in psutil.Process(daemon_pid).children():
            if "orchestration.platform.run_workers" in child.cmdline():
                return child
        time.sleep(0.2)
    raise RuntimeError("the daemon started no run-worker fork server")


@dataclass
class StackRound:
    video_id: int
    upload: float  # seconds from the start, when the upload answered
    statuses: list[tuple[float, str]] = field(default_factory=list)  # (seconds, status) as first seen
    first_playable: float | None = None
    ready: float = 0.0
    events: list[tuple[float, str, str | None]] = field(default_factory=list)  # (seconds, event, step)
    run_created: float = 0.0
    peak_pss: int = 0

    def first(self, event: str) -> float:
        return next(t for t, name, _ in self.events if name == event)

    def steps(self) -> list[tuple[str, float, float]]:
        """(step, start, end) of each step, in start order."""
        from dagster import DagsterEventType as Event

        starts = {step: t for t, name, step in self.events if name == Event.STEP_START.value and step}
        ends = {step: t for t, name, step in self.events if name in (Event.STEP_SUCCESS.value, Event.STEP_FAILURE.value) and step}
        return sorted(((step, start, ends.get(step, start)) for step, start in starts.items()), key=lambda s: s[1])

    def breakdown(self) -> dict[str, float]:
        """Closed sum from the upload's start to `ready` seen by the client."""
        from dagster import DagsterEventType as Event

        starting, started = self.first(Event.RUN_STARTING.value), self.first(Event.RUN_START.value)
        parts = {
            "upload": self.upload,
            "wait for the run (sensor tick)": self.run_created - self.upload,
            "queued": starting - self.run_created,
            "run start (process, imports, resources)": started - starting,
        }
        in_steps = 0.0
        for step, start, end in self.steps():
            if start < self.ready:
                parts[step] = min(end, self.ready) - start
                in_steps += parts[step]
        parts["between steps, and tail to ready"] = self.ready - started - in_steps
        return parts


def _signup(client: httpx.Client) -> dict[str, str]:
    credentials = {"email": "owner@example.com", "password": PASSWORD}
    signup = client.post(f"{API}/auth/signup", json=credentials)
    assert signup.status_code == 201, signup.text
    login = client.post(f"{API}/auth/login", data={"username": credentials["email"], "password": PASSWORD})
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


def _playable(watch: dict[str, Any]) -> bool:
    return bool(watch.get("hls_url") or watch.get("variants"))


def _run_events(instance: Any, video_id: int) -> tuple[float, list[tuple[float, str, str | None]]]:
    """(creation time, [(time, event, step)]) of the video's finished run."""
    import dagster as dg

    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        records = instance.get_run_records(dg.RunsFilter(tags={"dagster/partition": str(video_id)}))
        if records and records[0].dagster_run.is_finished:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"the run of video {video_id} did not finish")
        time.sleep(0.5)
    record = records[0]
    if record.dagster_run.status != dg.DagsterRunStatus.SUCCESS:
        raise RuntimeError(f"the run of video {video_id} ended {record.dagster_run.status.value}")
    events = [
        (entry.timestamp, entry.dagster_event.event_type_value, entry.step_key)
        for entry in instance.all_logs(record.dagster_run.run_id)
        if entry.dagster_event is not None
    ]
    return record.create_timestamp.timestamp(), events


def stack_round(
    client: httpx.Client, headers: dict[str, str], instance: Any, server: psutil.Process, clip: Path, title: str
) -> StackRound:
    peak = TreePeak(server)
    peak.start()
    origin = time.time()
    with open(clip, "rb") as video:
        response = client.post(
            f"{API}/videos/upload", headers=headers, data={"title": title}, files={"file": (clip.name, video, "video/mp4")}
        )
    assert response.status_code == 201, response.text
    result = StackRound(int(response.json()["id"]), time.time() - origin)
    status = None
    while time.time() - origin < READY_TIMEOUT:
        answer = client.get(f"{API}/videos/{result.video_id}/watch", headers=headers)
        now = time.time() - origin
        body = answer.json()
        seen = body["status"] if answer.status_code == 200 else body["error"]["details"]["status"]
        if seen != status:
            status = seen
            result.statuses.append((now, str(status)))
        if answer.status_code == 200 and result.first_playable is None and _playable(body):
            result.first_playable = now
        if status == "ready":
            result.ready = now
            break
        if status == "failed":
            raise RuntimeError(f"video {result.video_id} failed: {body}")
        time.sleep(POLL_SECONDS)
    else:
        raise RuntimeError(f"video {result.video_id} was not ready after {READY_TIMEOUT:.0f} s")
    created, events = _run_events(instance, result.video_id)
    result.peak_pss = peak.stop()
    result.run_created = created - origin
    result.events = [(t - origin, name, step) for t, name, step in events]
    return result


@contextmanager
def stack(home: Path) -> Iterator[tuple[httpx.Client, dict[str, str], Any, psutil.Process]]:
    """The API and the daemon on a fresh embedded install under `home`; a signed-in client."""
    import dagster as dg

    from orchestration.instance import ensure_dagster_home
    from pipeline.db.session import migrate
    from pipeline.settings import Settings

    env = {k: v for k, v in os.environ.items() if k not in _PLATFORM_ENV}
    env.update({"VIDEOAI_HOME": str(home), "JWT_SECRET": "benchmark-" + "s" * 32, "PYTHONUNBUFFERED": "1"})
    settings = Settings(VIDEOAI_HOME=home)
    migrate(settings.database.url)
    env["DAGSTER_HOME"] = str(ensure_dagster_home(settings))
    port = free_port()
    with (
        api_server(env, port, home / "api.log") as server,
        dagster_daemon(env, home / "daemon.log") as daemon,
        httpx.Client(base_url=server.base, timeout=120) as client,
        dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance,
    ):
        yield client, _signup(client), instance, fork_server(daemon.pid)


# Reporting.


def report(stack_rounds: list[StackRound], raw_rounds: list[dict[str, float]], clip_info: Any, shared: int) -> None:
    mib = 1024 * 1024
    print(
        f"clip                  : {clip_info.width}x{clip_info.height}, {clip_info.duration_seconds:.1f} s, "
        f"speech; {len(stack_rounds)} rounds interleaved stack/raw after one warm-up of each"
    )
    print(f"machine               : {os.cpu_count()} CPUs; {load()} at the end")
    print()
    print("(A) stack, median seconds from the upload's start (closed sum to ready):")
    parts = [r.breakdown() for r in stack_rounds]
    for name in parts[0]:
        print(f"  {name:44}{statistics.median([p.get(name, 0.0) for p in parts]):7.2f}")
    print(f"  {'= ready (as the client saw it)':44}{statistics.median([r.ready for r in stack_rounds]):7.2f}")
    after = [sum(end - max(start, r.ready) for _, start, end in r.steps() if end > r.ready) for r in stack_rounds]
    print(f"  {'(steps after ready: chapters, checks)':44}{statistics.median(after):7.2f}")
    print()
    print("(B) raw tools, median seconds:")
    for name in ("probe", "ffmpeg ladder", "faster-whisper", "summarizer", "index write", "total", "wall"):
        label = {"wall": "= wall (with the interpreter start)"}.get(name, name)
        print(f"  {label:44}{statistics.median([r[name] for r in raw_rounds]):7.2f}")
    print()
    print("per round:  stack ready | first playable | raw wall | lowest rung alone | ratio | run peak PSS")
    ratios, playable_margins = [], []
    for number, (a, b) in enumerate(zip(stack_rounds, raw_rounds, strict=True), 1):
        ratio = a.ready / b["wall"]
        ratios.append(ratio)
        playable = a.first_playable if a.first_playable is not None else float("nan")
        playable_margins.append(playable - b["lowest rung alone"])
        statuses = " → ".join(f"{s}@{t:.1f}" for t, s in a.statuses)
        print(
            f"  {number}: {a.ready:7.2f} | {playable:7.2f} | {b['wall']:7.2f} | {b['lowest rung alone']:7.2f} | "
            f"{ratio:5.2f} | {a.peak_pss / mib:6.0f} MiB   {statuses}"
        )
    ratio = statistics.median(ratios)
    margin = statistics.median(playable_margins)
    print()
    print(
        f"run peak PSS          : {max(r.peak_pss for r in stack_rounds) / mib:.0f} MiB "
        f"(run worker + ffmpeg, largest of the rounds), and the fork server's {shared / mib:.0f} MiB, held once"
    )
    print(
        f"upload → ready        : {ratio:.2f}x the raw tools (median per round; goal ≤ {GOAL_RATIO:.2f}x): "
        f"{'met' if ratio <= GOAL_RATIO else 'NOT met'}"
    )
    print(
        f"first playable        : {margin:+.2f} s after the raw encode of the lowest rung (median per round; "
        f"goal ≤ +{FIRST_PLAYABLE_SLACK:.0f} s): {'met' if margin <= FIRST_PLAYABLE_SLACK else 'NOT met'}"
    )


def memory_run(
    client: httpx.Client, headers: dict[str, str], instance: Any, server: psutil.Process, workdir: Path, minutes: float
) -> None:
    from pipeline import samples

    script = " ".join(samples.TOPIC_SCRIPTS)
    repeats = max(1, round(minutes * 60 / 62))  # the three topics take ~62 s at the default rate
    started = time.perf_counter()
    clip = samples.make_speech_video(workdir / "long.mp4", " ".join([script] * repeats), width=1920, height=1080)
    made = time.perf_counter() - started
    from pipeline.media import probe

    info = probe(clip)
    print(
        f"\nlong clip             : {info.width}x{info.height}, {info.duration_seconds / 60:.1f} min, "
        f"{clip.stat().st_size / 1e6:.0f} MB (made in {made:.0f} s); {load()} before",
        flush=True,
    )
    result = stack_round(client, headers, instance, server, clip, "long")
    steps = {step: end - start for step, start, end in result.steps()}
    print(
        f"long clip ready       : {result.ready:.0f} s (video_variants {steps.get('video_variants', 0):.0f} s, "
        f"transcript {steps.get('transcript', 0):.0f} s)"
    )
    print(
        f"long clip run peak PSS: {result.peak_pss / 1024 / 1024:.0f} MiB (run worker + ffmpeg; the fork server "
        f"{server.memory_full_info().pss / 1024 / 1024:.0f} MiB more, held once); {load()} after"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="0: only the --memory-minutes clip")
    parser.add_argument(
        "--memory-minutes",
        type=float,
        default=0.0,
        help="also send a synthetic 1080p clip this many minutes long and report its run's peak PSS",
    )
    parser.add_argument("--raw-tools", nargs=3, metavar=("SOURCE", "WORKDIR", "DATABASE_URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.raw_tools:
        source, workdir, database_url = args.raw_tools
        print(json.dumps(raw_tools(Path(source), Path(workdir), database_url)))
        return 0

    from pipeline import media, samples
    from pipeline.db.session import migrate

    with tempfile.TemporaryDirectory(prefix="videoai-bench-") as tmp:
        work = Path(tmp)
        clip = samples.make_speech_video(work / "clip.mp4", " ".join(samples.TOPIC_SCRIPTS))
        info = media.probe(clip)
        raw_db = f"sqlite:///{work / 'raw.db'}"
        migrate(raw_db)
        print(f"starting: {load()}", flush=True)
        stack_rounds, raw_rounds = [], []
        with stack(work / "home") as (client, headers, instance, server):
            if args.rounds:
                # Untimed warm-ups: page cache, the whisper model files, every module.
                stack_round(client, headers, instance, server, clip, "warm-up")
                timed_raw_tools(clip, work / "raw", raw_db)
            for number in range(args.rounds):
                stack_rounds.append(stack_round(client, headers, instance, server, clip, f"round {number}"))
                raw_rounds.append(timed_raw_tools(clip, work / "raw", raw_db))
                print(
                    f"  round {number + 1}: stack {stack_rounds[-1].ready:.2f} s, raw {raw_rounds[-1]['wall']:.2f} s", flush=True
                )
            if args.rounds:
                report(stack_rounds, raw_rounds, info, server.memory_full_info().pss)
            if args.memory_minutes > 0:
                memory_run(client, headers, instance, server, work, args.memory_minutes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
