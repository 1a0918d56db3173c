"""One public base URL for every link (issue 19): the API listens on another port than API_PORT says
(`videoai serve --port P`), PUBLIC_BASE_URL names it, and the links Dagster's metadata shows (the inline
thumbnail, the watch page) load, as the API's own answers' links do. They were built from API_PORT."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import dagster as dg
import httpx
import pytest

from benchmarks.support import API, REPO
from orchestration.processes import free_port, stop_process_group, wait_until_answers
from tests.fixtures.pipeline import platform_from_environment

pytestmark = pytest.mark.e2e


def _metadata(instance: dg.DagsterInstance, asset: str) -> dict:
    event = instance.get_latest_materialization_event(dg.AssetKey(asset))
    assert event is not None and event.asset_materialization is not None
    return event.asset_materialization.metadata


def test_links_in_dagster_metadata_and_api_answers_use_the_public_url(tmp_path, monkeypatch, small_video_path):
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("PUBLIC_BASE_URL", public)  # the API is not on API_PORT (8000 by default)
    with platform_from_environment(tmp_path, monkeypatch, {}) as platform:
        video_id = platform.register(small_video_path, title="linked")
        assert platform.run(video_id).success
        thumbnail_markdown = _metadata(platform.instance, "video_variants")["thumbnail"].value
        thumbnail = re.search(r"\]\((\S+)\)", thumbnail_markdown).group(1)
        watch = _metadata(platform.instance, "source_video")["watch"].value
        assert thumbnail == f"{public}/api/v1/videos/{video_id}/thumbnail" and watch == f"{public}/watch/{video_id}"

        env = {**os.environ, "VIDEOAI_HOME": str(platform.settings.videoai_home), "PYTHONUNBUFFERED": "1"}
        env.pop("API_PORT", None)
        log = tmp_path / "api.log"
        with open(log, "wb") as out:
            api = subprocess.Popen(
                [sys.executable, "-m", "orchestration.cli", "serve", "--port", str(port)],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_until_answers(f"{public}{API}/health/live", api, "the API", log, answered=lambda status: status == 200)
            image = httpx.get(thumbnail, timeout=30)
            assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
            assert image.content[:3] == b"\xff\xd8\xff"  # a JPEG, shown inline on the partition's page
            page = httpx.get(watch, timeout=30)
            assert page.status_code == 200 and "linked" in page.text
            links = httpx.get(f"{public}{API}/videos/{video_id}/watch", timeout=30).raise_for_status().json()
            assert links["hls_url"].startswith(f"{public}/") and links["thumbnail_url"].startswith(f"{public}/")
        finally:
            stop_process_group(api)
