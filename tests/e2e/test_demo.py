"""The README's main command, run as a user runs it: sample → API upload → sensor → ready → search."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from orchestration.demo import DEMO_SEARCH_WORD
from pipeline.samples import DEFAULT_KEYWORDS

pytestmark = pytest.mark.e2e


def test_demo_takes_the_sample_to_ready_and_prints_summary_and_a_timed_hit(tmp_path):
    assert DEMO_SEARCH_WORD in DEFAULT_KEYWORDS  # a word tiny.en reliably hears in the sample
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "OBJECT_STORE", "SEARCH_BACKEND", "KAFKA_BOOTSTRAP_SERVERS", "DAGSTER_HOME")
    }
    env["VIDEOAI_HOME"] = str(tmp_path / "home")
    videoai = Path(sys.executable).parent / "videoai"
    done = subprocess.run(
        [str(videoai), "demo", "--exit", "--ui-port", "0", "--api-port", "0"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    statuses = re.findall(r"\]\s+(\w+)$", output, flags=re.MULTILINE)
    lifecycle = ["pending", "transcoding", "transcribing", "summarizing", "indexing", "ready"]
    # Polling can miss a short stage, but what it saw follows the lifecycle to ready.
    assert statuses[-1] == "ready" and statuses == sorted(statuses, key=lifecycle.index), output
    summary = output.split("==> summary\n", 1)[1].split("\n", 1)[0]
    assert len(re.findall(r"[.!?](\s|$)", summary)) >= 4, summary
    hit = re.search(r'at (\d\d):(\d\d) "([^"]*)"', output)
    assert hit and DEMO_SEARCH_WORD in hit.group(3).lower(), output
    assert int(hit.group(1)) * 60 + int(hit.group(2)) > 0, "the word is spoken after the start of the sample"
    assert re.search(r"Dagster run \w+ of partition \d+: SUCCESS", output), output
    assert re.search(r"Dagster UI: http://127\.0\.0\.1:\d+", output)
    # It ends with the watch page URL of the sample video.
    last = done.stdout.strip().splitlines()[-1]
    watch = re.fullmatch(r"==> Watch the sample: (http://127\.0\.0\.1:\d+/watch/(\d+))", last)
    assert watch and int(watch.group(2)) > 0, last
