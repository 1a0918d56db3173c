"""`videoai demo`: a sample video through the whole platform, as a user would see it.

It starts Dagster (webserver + daemon, so the upload sensor runs) and the API,
signs up a demo user, uploads a sample video with known spoken words over HTTP,
follows its status until it is ready, then prints its summary and a search hit
with the moment the word is spoken.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import dagster as dg
import httpx

from orchestration.instance import ensure_dagster_home
from orchestration.processes import stop_process_group, wait_until_answers
from pipeline.samples import make_speech_video
from pipeline.settings import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT_SECONDS = 900
DEMO_EMAIL = "demo@videoai.example"
# Spoken a good way into the sample, so the hit's timestamp means something.
DEMO_SEARCH_WORD = "midnight"


def _port(preferred: int | None) -> int:
    """`preferred` if it is free, else any free port."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", preferred or 0))
        except OSError:
            probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _say(message: str) -> None:
    print(message, flush=True)


def _start(name: str, command: list[str], env: dict[str, str], log_dir: Path) -> subprocess.Popen:
    log = open(log_dir / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it; ours closes at exit
    # A process group of its own, so stopping it also stops what it spawned (dagster dev's children).
    return subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _timestamp(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes:02d}:{secs:02d}"


def _sign_in(api: httpx.Client, home: Path) -> None:
    """Sign up (first time) and log in the demo user; its random password is kept in VIDEOAI_HOME."""
    password_file = home / "demo_password"
    if not password_file.exists():
        password_file.write_text(secrets.token_urlsafe(16) + "Aa1!")
        password_file.chmod(0o600)
    password = password_file.read_text().strip()
    signup = api.post("/auth/signup", json={"email": DEMO_EMAIL, "password": password, "full_name": "Demo User"})
    if signup.status_code not in (200, 201, 409):
        signup.raise_for_status()
    login = api.post("/auth/login", data={"username": DEMO_EMAIL, "password": password})
    login.raise_for_status()
    api.headers["Authorization"] = f"Bearer {login.json()['access_token']}"


def _upload(api: httpx.Client, sample: Path) -> int:
    with open(sample, "rb") as video:
        response = api.post(
            "/videos/upload",
            files={"file": (sample.name, video, "video/mp4")},
            data={"title": "The volcano (videoai demo)", "description": "A sample talk with known spoken words."},
            timeout=120,
        )
    response.raise_for_status()
    return int(response.json()["id"])


def _follow(api: httpx.Client, video_id: int) -> dict:
    started, last = time.monotonic(), None
    while time.monotonic() - started < READY_TIMEOUT_SECONDS:
        video = api.get(f"/videos/{video_id}").raise_for_status().json()
        if video["status"] != last:
            last = video["status"]
            _say(f"  [{time.monotonic() - started:5.1f}s] {last}")
        if last in ("ready", "failed"):
            return video
        time.sleep(0.5)
    raise RuntimeError(f"video {video_id} was not ready after {READY_TIMEOUT_SECONDS}s (last status: {last})")


def _wait_for_run(dagster_home: Path, video_id: int) -> dg.DagsterRun:
    """The video's Dagster run once it has finished (its last checks run after the video is ready)."""
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/partition": str(video_id)}))
            if runs and all(run.is_finished for run in runs):
                return runs[0]
            time.sleep(1)
    raise RuntimeError(f"the Dagster run of video {video_id} did not finish within {READY_TIMEOUT_SECONDS}s")


def run_demo(settings: Settings, *, keep_running: bool = False, ui_port: int | None = 3000, api_port: int | None = None) -> int:
    home = settings.videoai_home
    log_dir = home / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    sample = home / "samples" / "volcano.mp4"
    if not sample.exists():
        _say("==> making the sample video (espeak-ng speech over a test picture)")
        make_speech_video(sample)

    ui_port, api_port = _port(ui_port), _port(settings.api.port if api_port is None else api_port)
    env = {**os.environ, "DAGSTER_HOME": str(ensure_dagster_home(settings)), "VIDEOAI_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    # One public address for every link, in both processes: the API's answers and Dagster's metadata
    # (thumbnails, watch pages) point at the port the API really listens on.
    if not settings.api.public_base_url:
        env["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{api_port}"
    bin_dir = Path(sys.executable).parent
    with ExitStack() as running:
        _say(f"==> starting Dagster (webserver + daemon) on http://127.0.0.1:{ui_port}")
        # `videoai dagster`: `dg dev` under the supervisor that stops all of it within 10 s.
        dagster = _start("dagster", [str(bin_dir / "videoai"), "dagster", "--port", str(ui_port)], env, log_dir)
        running.callback(stop_process_group, dagster)
        _say(f"==> starting the API on http://127.0.0.1:{api_port}")
        api_process = _start("api", [str(bin_dir / "videoai"), "serve", "--port", str(api_port)], env, log_dir)
        running.callback(stop_process_group, api_process)

        base = f"http://127.0.0.1:{api_port}/api/v1"
        wait_until_answers(f"{base}/health/ready", api_process, "the API", log_dir / "api.log")
        wait_until_answers(f"http://127.0.0.1:{ui_port}/server_info", dagster, "Dagster", log_dir / "dagster.log")

        with httpx.Client(base_url=base, timeout=30) as api:
            _sign_in(api, home)
            video_id = _upload(api, sample)
            _say(f"==> uploaded {sample.name} as video {video_id}; the upload sensor starts its run")
            video = _follow(api, video_id)
            if video["status"] == "failed":
                _say(f"video {video_id} failed: {video.get('status_message')}")
                return 1
            summary = api.get(f"/videos/{video_id}/summary").raise_for_status().json()
            _say("\n==> summary")
            _say(f"  {summary['summary']}")
            _say(f"  (quality score {summary['quality_score']:.2f})")
            word = DEMO_SEARCH_WORD
            hits = api.get("/videos/search", params={"q": word}).raise_for_status().json()
            hit = next((h for h in hits["hits"] if h["video_id"] == video_id), None)
            _say(f"\n==> search for {word!r}")
            if hit is None or not hit["matches"]:
                _say(f"  no hit for {word!r} in video {video_id}")
                return 1
            first = hit["matches"][0]
            _say(f'  video {video_id} "{hit["title"]}": at {_timestamp(first["start"])} "{first["text"]}"')

        run = _wait_for_run(Path(env["DAGSTER_HOME"]), video_id)
        _say(f"\n==> Dagster run {run.run_id[:8]} of partition {video_id}: {run.status.value}")
        if run.status != dg.DagsterRunStatus.SUCCESS:
            _say(f"  see the run in the UI, and {log_dir / 'dagster.log'}")
            return 1

        _say(f"\n==> Dagster UI: http://127.0.0.1:{ui_port}  (lineage, runs, backfills; partition {video_id})")
        _say(f"==> API docs:   http://127.0.0.1:{api_port}/docs")
        _say(f"==> Web app:    http://127.0.0.1:{api_port}/  (sign up, upload, search what is said)")
        _say(f"==> Watch the sample: http://127.0.0.1:{api_port}/watch/{video_id}")
        if keep_running:
            _say("Both keep running; press Ctrl-C to stop.")
            try:
                while dagster.poll() is None and api_process.poll() is None:
                    time.sleep(1)
            except KeyboardInterrupt:
                pass
    return 0
