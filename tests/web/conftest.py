"""The web app in a real browser: the API served by uvicorn on a free port, the real pipeline run
in-process for every upload that lands, and Playwright driving the machine's Chromium (headless)."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import select

from pipeline.db.models import Video, VideoStatus
from pipeline.db.session import session_scope
from serving_api.main import create_app
from tests.fixtures.live import LiveServer, serve
from tests.fixtures.pipeline import PipelineHarness

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@dataclass
class PipelineWorker:
    """Runs the whole per-video job (in-process Dagster, as the other end-to-end tests do) for every
    video that becomes `pending`, as the upload sensor would start its run."""

    harness: PipelineHarness
    stop: threading.Event = field(default_factory=threading.Event)
    done: list[int] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)

    def loop(self) -> None:
        while not self.stop.wait(0.2):
            with session_scope(self.harness.engine) as session:
                pending = list(session.scalars(select(Video.id).where(Video.status == VideoStatus.PENDING.value)))
            for video_id in pending:
                try:
                    self.harness.run(video_id, raise_on_error=False)
                except BaseException as exc:  # reported by the test that waits for the video
                    self.errors.append(exc)
                self.done.append(video_id)


@pytest.fixture(scope="module")
def live_platform(module_harness: PipelineHarness) -> Iterator[tuple[LiveServer, PipelineWorker]]:
    worker = PipelineWorker(module_harness)
    thread = threading.Thread(target=worker.loop, name="pipeline-worker", daemon=True)
    with serve(create_app(module_harness.settings)) as live:
        thread.start()
        try:
            yield live, worker
        finally:
            worker.stop.set()
            thread.join(timeout=300)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (scripts/setup --test installs it)")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--autoplay-policy=no-user-gesture-required",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the tests save a screenshot of each page they visit: WEB_SCREENSHOTS_DIR when set (to keep
    them, e.g. for docs/), else the run's temporary directory."""
    path = (
        Path(os.environ["WEB_SCREENSHOTS_DIR"])
        if os.environ.get("WEB_SCREENSHOTS_DIR")
        else tmp_path_factory.getbasetemp() / "screenshots"
    )
    path.mkdir(parents=True, exist_ok=True)
    return path
