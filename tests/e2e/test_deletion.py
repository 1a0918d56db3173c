"""A video's partition lives and dies with the video (issues 19 and 24), with a real `videoai serve` and a
real `videoai daemon`:

- deleted in the middle of its encode: its run is cancelled (no retry, no failure), ffmpeg stops, and within
  a minute no object, no scratch file, no run in progress and no partition is left, and
  `videoai reprocess --stale` does not list it;
- deleted once ready: the same, its search document gone too;
- failed (its stored file was damaged), then retried from the API once repaired: a new run, titled, takes it
  to `ready`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import dagster as dg
import httpx
import psutil
import pytest

from benchmarks.support import API, REPO, api_server, dagster_daemon
from orchestration.instance import ensure_dagster_home
from orchestration.platform.launcher import worker_start
from orchestration.processes import free_port
from pipeline import samples
from pipeline.db.models import VideoRequest
from pipeline.db.session import engine_for, session_scope
from pipeline.settings import Settings
from tests.e2e.support import sign_up_and_in, wait_for

pytestmark = pytest.mark.e2e

T = TypeVar("T")
PARTITION_TAG = "dagster/partition"
IN_PROGRESS = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


@dataclass
class Stack:
    settings: Settings
    env: dict[str, str]
    client: httpx.Client
    instance: dg.DagsterInstance
    logs: list[Path]
    start_daemon: Callable[[], subprocess.Popen]

    def wait(self, what: str, probe: Callable[[], T | None], timeout: float = 120) -> T:
        return wait_for(what, probe, self.logs, timeout)

    def upload(self, path: Path, title: str) -> int:
        with open(path, "rb") as video_file:
            answer = self.client.post(
                "/videos/upload", files={"file": (path.name, video_file, "video/mp4")}, data={"title": title}
            )
        return answer.raise_for_status().json()["id"]

    def status(self, video_id: int) -> str:
        return self.client.get(f"/videos/{video_id}").raise_for_status().json()["status"]

    def runs(self, video_id: int) -> list[dg.DagsterRun]:
        return self.instance.get_runs(dg.RunsFilter(tags={PARTITION_TAG: str(video_id)}), ascending=True)

    def leftovers(self, video_id: int) -> list[str]:
        """Everything still stored for the video: objects, scratch files, search documents."""
        objects = self.settings.storage.directory
        scratch = self.settings.storage.scratch_dir
        assert objects is not None and scratch is not None
        found = [str(p) for p in (objects / "videos" / str(video_id)).rglob("*")]
        found += [str(p) for p in (objects / "uploads").glob(f"*-{video_id}.*")]
        found += [str(p) for p in scratch.glob(f"videoai-*-v{video_id}-*")]
        with session_scope(engine_for(self.settings.database.url)) as session:
            from sqlalchemy import text

            found += [
                f"search document {row[0]}"
                for row in session.execute(text("SELECT video_id FROM search_documents WHERE video_id = :v"), {"v": video_id})
            ]
        return found

    def stale_listing(self) -> str:
        # The daemon runs with this same environment and no webserver runs: the shell's settings are the code
        # location's here (tests/e2e/test_reprocess_code_location.py asks a webserver).
        result = subprocess.run(
            [sys.executable, "-m", "orchestration.cli", "reprocess", "--stale", "--dry-run", "--from-shell"],
            env=self.env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("deletion")
    home = workdir / "home"
    with pytest.MonkeyPatch.context() as monkeypatch:
        from tests.fixtures.database import isolate_environment

        isolate_environment(monkeypatch, workdir)
        settings = Settings(VIDEOAI_HOME=str(home))  # type: ignore[call-arg]
        dagster_home = ensure_dagster_home(settings)
        env = {**os.environ, "VIDEOAI_HOME": str(home), "DAGSTER_HOME": str(dagster_home), "PYTHONUNBUFFERED": "1"}
        logs = [workdir / "daemon.log", workdir / "api.log"]
        daemons: list[subprocess.Popen] = []
        with (
            api_server(env, free_port(), logs[1]) as api,
            dg.DagsterInstance.from_config(str(dagster_home)) as instance,
            httpx.Client(base_url=api.base + API, timeout=60) as client,
        ):
            sign_up_and_in(client, "deleter@example.com", "Dee Leter")
            contexts = []

            def start_daemon() -> subprocess.Popen:
                if not daemons:
                    context = dagster_daemon(env, logs[0])
                    daemons.append(context.__enter__())
                    contexts.append(context)
                return daemons[0]

            try:
                yield Stack(settings, env, client, instance, logs, start_daemon)
            finally:
                for context in contexts:
                    context.__exit__(None, None, None)


def _assert_forgotten(stack: Stack, video_id: int, within: float = 60) -> None:
    """Within `within` seconds of the deletion: nothing stored, no run in progress, no partition, the request done."""
    key = str(video_id)

    def gone() -> bool | None:
        busy = stack.instance.get_runs(dg.RunsFilter(tags={PARTITION_TAG: key}, statuses=IN_PROGRESS))
        if busy or stack.instance.has_dynamic_partition("videos", key) or stack.leftovers(video_id):
            return None
        return True

    stack.wait(f"video {video_id} to be forgotten", gone, timeout=within)
    assert stack.client.get(f"/videos/{video_id}").status_code == 404
    with session_scope(engine_for(stack.settings.database.url)) as session:
        from sqlalchemy import select

        requests = session.scalars(select(VideoRequest).where(VideoRequest.video_id == video_id)).all()
        assert [(r.kind, r.done_at is not None) for r in requests] == [("delete", True)], requests
    assert f"video {video_id}:" not in stack.stale_listing()


def test_a_failed_upload_is_shown_failed_with_its_reason_and_a_retry_from_the_api_reaches_ready(stack, tmp_path):
    clip = samples.make_test_video(tmp_path / "repaired.mp4", 640, 360, 2.0)
    video_id = stack.upload(clip, "damaged, then repaired")
    objects = stack.settings.storage.directory
    assert objects is not None
    stored = next((objects / "uploads").glob(f"*-{video_id}.mp4"))
    original = stored.read_bytes()
    stored.write_bytes(b"not a video any more: the stored copy was damaged")  # before the daemon's first look
    stack.start_daemon()

    failed = stack.wait(
        "the video to fail",
        lambda: stack.client.get(f"/videos/{video_id}").json() if stack.status(video_id) == "failed" else None,
    )
    assert failed["status_message"], failed  # a reason a person can act on
    first = stack.wait(
        "the failed run to end", lambda: next((r for r in stack.runs(video_id) if r.status == dg.DagsterRunStatus.FAILURE), None)
    )
    assert first.tags["videoai/title"] == "damaged, then repaired"  # a failed run has its title too
    time.sleep(3)  # run retries would have launched a retry by now: bad input is not retried
    assert len(stack.runs(video_id)) == 1

    stored.write_bytes(original)  # repaired from a backup
    answer = stack.client.post(f"/videos/{video_id}/retry")
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "pending" and answer.json()["status_message"] is None
    assert stack.client.post(f"/videos/{video_id}/retry").status_code == 409  # pending, not failed: nothing to retry

    stack.wait("the retried video to be ready", lambda: True if stack.status(video_id) == "ready" else None, timeout=180)
    runs = stack.wait("the retry run to end", lambda: runs if (runs := stack.runs(video_id))[-1].is_finished else None)
    assert [r.status for r in runs] == [dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.SUCCESS]
    assert runs[1].tags["videoai/trigger"] == "retry" and runs[1].tags["videoai/title"] == "damaged, then repaired"
    # Nothing red left for it: every asset's latest materialization is the retry's, and its checks passed.
    for asset in ("source_video", "video_variants", "transcript", "search_document"):
        event = stack.instance.get_latest_materialization_event(dg.AssetKey(asset))
        assert event is not None and event.run_id == runs[1].run_id, asset


def test_a_video_deleted_mid_encode_stops_its_run_and_leaves_nothing_within_a_minute(stack, tmp_path):
    stack.start_daemon()
    # Long enough that the deletion lands inside the ladder encode (every rung from 1080p down).
    clip = samples.make_test_video(tmp_path / "doomed.mp4", 1920, 1080, 6.0)
    video_id = stack.upload(clip, "deleted while it encodes")
    run = stack.wait("the video's run", lambda: next(iter(stack.runs(video_id)), None))
    scratch = stack.settings.storage.scratch_dir
    assert scratch is not None
    stack.wait("the ladder encode", lambda: next(scratch.glob(f"videoai-ladder-v{video_id}-*/*"), None))
    pid, _ = stack.wait("the run worker's pid", lambda: worker_start(stack.instance, run.run_id))
    encoders = stack.wait(
        "ffmpeg encoding the ladder",
        lambda: [p for p in psutil.Process(pid).children(recursive=True) if p.name() == "ffmpeg"] or None,
    )
    time.sleep(1.0)  # a second into the encode
    assert stack.status(video_id) == "transcoding"

    deleted = time.monotonic()
    assert stack.client.delete(f"/videos/{video_id}").status_code == 204
    _assert_forgotten(stack, video_id)
    print(f"video {video_id} forgotten {time.monotonic() - deleted:.1f} s after its deletion")

    ended = stack.instance.get_run_by_id(run.run_id)
    assert ended is not None and ended.status == dg.DagsterRunStatus.CANCELED  # cancelled, not failed
    assert len(stack.runs(video_id)) == 1  # no retry of any kind
    assert not any(e.is_running() for e in encoders)  # the encode stopped with its run
    retries = stack.instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY)
    assert retries == []


def test_a_ready_video_deleted_leaves_no_partition_object_or_search_document(stack, tmp_path):
    stack.start_daemon()
    clip = samples.make_test_video(tmp_path / "done.mp4", 640, 360, 2.0)
    video_id = stack.upload(clip, "ready, then deleted")
    stack.wait("the video to be ready", lambda: True if stack.status(video_id) == "ready" else None, timeout=180)
    stack.wait("its run to end", lambda: True if stack.runs(video_id)[-1].is_finished else None)
    assert stack.instance.has_dynamic_partition("videos", str(video_id))
    assert stack.leftovers(video_id)  # variants, thumbnail, HLS, the upload, the search document

    assert stack.client.delete(f"/videos/{video_id}").status_code == 204
    _assert_forgotten(stack, video_id)
    assert [r.status for r in stack.runs(video_id)] == [dg.DagsterRunStatus.SUCCESS]
    hits = stack.client.get("/videos/search", params={"q": "deleted"}).raise_for_status().json()["hits"]
    assert all(hit["video_id"] != video_id for hit in hits)
