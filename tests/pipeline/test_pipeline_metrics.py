"""Issue 13: pipeline metrics for Prometheus. Videos by status on the API's /metrics; the run
queue and step durations from `videoai metrics`, read from a real Dagster instance."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import httpx
import pytest
import yaml
from dagster._daemon.sensor import execute_sensor_iteration
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from orchestration.definitions import build_definitions
from orchestration.instance import dagster_yaml
from orchestration.processes import free_port, stop_process_group, wait_until_answers
from serving_api.main import create_app
from tests.fixtures.daemon import daemon_workspace
from tests.fixtures.pipeline import PipelineHarness, platform_from_environment, video_asset_keys

pytestmark = pytest.mark.integration

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _parse(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@contextmanager
def _exporter(instance: dg.DagsterInstance, log: Path) -> Iterator[str]:
    """`videoai metrics` in its own process on this instance's DAGSTER_HOME; yields its URL."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "orchestration.cli", "metrics", "--port", str(port)],
            env={**os.environ, "DAGSTER_HOME": instance.root_directory},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        wait_until_answers(url, process, "videoai metrics", log, timeout=60)
        yield url
    finally:
        stop_process_group(process)
    assert process.returncode == 0, log.read_text()[-2000:]  # SIGTERM ends it cleanly


def _steps(samples: Samples, name: str) -> dict[str, float]:
    return {dict(labels)["step"]: value for (metric, labels), value in samples.items() if metric == name}


@pytest.fixture
def platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PipelineHarness]:
    """The embedded instance's own dagster.yaml (its consolidated event log), as the daemon uses it,
    also written to its DAGSTER_HOME for the exporter's process."""
    config = dagster_yaml(tmp_path / "dagster")
    with platform_from_environment(tmp_path, monkeypatch, yaml.safe_load(config)) as harness:
        (Path(harness.instance.root_directory) / "dagster.yaml").write_text(config)
        yield harness


def test_a_processed_video_shows_in_the_status_gauge_the_run_queue_and_step_durations(
    platform: PipelineHarness, small_video_path: Path, truncated_video_path: Path, tmp_path: Path
) -> None:
    instance = platform.instance
    good = platform.register(small_video_path, title="good")
    started = time.monotonic()
    assert platform.run(good).success
    run_seconds = time.monotonic() - started
    waiting = platform.register(small_video_path, title="waiting")
    with daemon_workspace(instance) as workspace:  # the upload sensor's tick queues its run; no daemon dequeues it
        list(execute_sensor_iteration(workspace, logging.getLogger("tests.sensor"), None, None))
    [queued] = instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.QUEUED]))
    assert queued.tags["dagster/partition"] == str(waiting)

    with _exporter(instance, tmp_path / "metrics.log") as url:
        scraped = _parse(httpx.get(url).text)
        assert scraped[("videoai_dagster_up", ())] == 1
        assert scraped[("videoai_dagster_runs", (("status", "QUEUED"),))] == 1
        assert scraped[("videoai_dagster_runs", (("status", "STARTED"),))] == 0
        assert 0 <= scraped[("videoai_dagster_oldest_queued_run_seconds", ())] < 60
        counts = _steps(scraped, "videoai_step_duration_seconds_count")
        sums = _steps(scraped, "videoai_step_duration_seconds_sum")
        # Every step of the video's run once: each asset, and each asset check (a step of its own).
        assert set(video_asset_keys(build_definitions(platform.settings).resolve_asset_graph())) < set(counts)
        assert set(counts.values()) == {1.0}
        assert "transcript_transcript_segments_are_timed" in counts
        assert all(seconds > 0 for seconds in sums.values())
        assert sum(sums.values()) <= run_seconds  # steps ran one after the other inside the run
        assert sums["video_variants"] > sums["source_video"]  # an encode takes longer than a probe
        assert _steps(scraped, "videoai_step_failures_total") == {}

        # A later scrape counts only what happened since: a video that fails at its first step.
        truncated = platform.register(truncated_video_path, title="truncated")
        assert not platform.run(truncated, raise_on_error=False).success
        again = _parse(httpx.get(url).text)
        # Only video_language, which reads the stated language and needs no source, ran besides the failed step.
        ran_again = {step: n for step, n in _steps(again, "videoai_step_duration_seconds_count").items() if n != counts.get(step)}
        assert ran_again == {"video_language": 2.0}
        assert _steps(again, "videoai_step_failures_total") == {"source_video": 1.0}

    # The app database's side, on the API's /metrics: videos by status.
    with TestClient(create_app(platform.settings)) as api:
        statuses = {
            dict(labels)["status"]: value
            for (name, labels), value in _parse(api.get("/metrics").text).items()
            if name == "videoai_videos"
        }
    assert statuses == {"ready": 1, "failed": 1, "pending": 1}  # pending: the upload waiting in the queue
