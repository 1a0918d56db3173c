"""`videoai reprocess --stale` judges by the deployed code location, not by the shell it is typed in (issue 19).

Two videos are processed with beam size 1; then `videoai dagster` runs with WHISPER_BEAM_SIZE=2 (the UI shows
their transcripts and everything after them Unsynced), while the shell running `reprocess` has no such
variable. `reprocess --stale --dry-run` reports what the code location would rematerialize, and says which
code location and model identities it compared against; `--from-shell` shows what the shell alone would say.
"""

from __future__ import annotations

import os
import subprocess
import sys

import dagster as dg
import pytest

from benchmarks.support import REPO
from orchestration.definitions import build_definitions
from orchestration.instance import ensure_dagster_home
from orchestration.processes import free_port, stop_process_group, wait_until_answers
from pipeline.db.session import engine_for, migrate
from pipeline.storage import object_store_from_settings
from pipeline.uploads import UploadRules, ingest_file
from tests.e2e.support import start_videoai

pytestmark = pytest.mark.e2e


def _reprocess(env: dict[str, str], *extra: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "reprocess", "--stale", "--dry-run", *extra],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_reprocess_reports_what_the_code_location_would_rematerialize(make_settings, tmp_path, small_video_path):
    settings = make_settings()
    home = ensure_dagster_home(settings)
    migrate(settings.database.url)
    videos = [
        ingest_file(
            engine_for(settings.database.url),
            object_store_from_settings(settings.storage),
            small_video_path,
            UploadRules.from_settings(settings),
            title=f"beam one {i}",
        ).id
        for i in range(2)
    ]
    job = build_definitions(settings).resolve_job_def("video_pipeline")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.add_dynamic_partitions("videos", [str(v) for v in videos])
        for video_id in videos:  # processed with the shell's settings: beam size 1
            assert job.execute_in_process(partition_key=str(video_id), instance=instance).success

    shell = {**os.environ, "VIDEOAI_HOME": str(settings.videoai_home), "DAGSTER_HOME": str(home)}
    shell.pop("WHISPER_BEAM_SIZE", None)
    port = free_port()
    log = tmp_path / "dagster.log"
    # The deployed code location runs with a wider beam than the shell knows of.
    dagster = start_videoai(["dagster", "--port", str(port)], {**shell, "WHISPER_BEAM_SIZE": "2"}, log)
    try:
        wait_until_answers(
            f"http://127.0.0.1:{port}/server_info",
            dagster,
            "videoai dagster",
            log,
            timeout=300,
            answered=lambda status: status == 200,
        )
        deployed = _reprocess(shell, "--webserver", f"http://127.0.0.1:{port}")
        from_shell = _reprocess(shell, "--from-shell")
    finally:
        stop_process_group(dagster)

    assert (
        f"compared against code location 'videoai' (repository __repository__) served by http://127.0.0.1:{port}" in deployed
    ), deployed
    assert "transcript: faster-whisper:tiny.en:int8:beam2" in deployed, deployed  # the model identities it used
    assert "2 of 2 videos have stale assets" in deployed, deployed
    for video_id in videos:
        line = next(line for line in deployed.splitlines() if line.startswith(f"  video {video_id}:"))
        assert "transcript (has a new code version)" in line and "video_summary" in line, line
        assert "source_video" not in line and "video_variants" not in line, line  # no model behind them
    assert "0 of 2 videos have stale assets" in from_shell, from_shell  # what the shell's own settings say
