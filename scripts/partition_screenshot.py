"""Screenshot of a video's partition page in the Dagster UI: title and thumbnail inline.

Takes the sample talk through the pipeline on a fresh embedded setup, starts the API
(which serves the thumbnail) and `dagster-webserver`, and photographs the
`video_variants` partition page with headless Chromium (Playwright driving
/usr/bin/chromium). Writes docs/partition_page.png.

    .venv/bin/python scripts/partition_screenshot.py [--out docs/partition_page.png]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from orchestration.processes import free_port, stop_process_group, wait_until_answers  # noqa: E402  (the checkout is on the path only now)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(ROOT / "docs" / "partition_page.png"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="videoai-shot-") as tmp:
        api_port, ui_port = free_port(), free_port()
        env = {
            **os.environ,
            "VIDEOAI_HOME": str(Path(tmp) / "home"),
            "DAGSTER_HOME": str(Path(tmp) / "home" / "dagster"),
            "API_PORT": str(api_port),
        }
        os.environ.update(env)
        import dagster as dg

        from orchestration.definitions import build_definitions
        from orchestration.instance import ensure_dagster_home
        from pipeline import samples
        from pipeline.db.session import engine_for, migrate
        from pipeline.settings import get_settings
        from pipeline.storage import object_store_from_settings
        from pipeline.uploads import UploadRules, ingest_file

        settings = get_settings()
        ensure_dagster_home(settings)
        migrate(settings.database.url)
        clip = samples.make_speech_video(Path(tmp) / "talk.mp4")
        vid = ingest_file(
            engine_for(settings.database.url),
            object_store_from_settings(settings.storage),
            clip,
            UploadRules.from_settings(settings),
            title="Volcanoes, whales and the northern lights",
            description="A short talk",
        ).id
        with dg.DagsterInstance.get() as instance:
            instance.add_dynamic_partitions("videos", [str(vid)])
            job = build_definitions(settings).resolve_job_def("video_pipeline")
            assert job.execute_in_process(partition_key=str(vid), instance=instance).success
        bin_dir = Path(sys.executable).parent
        logs = [Path(tmp) / "api.log", Path(tmp) / "dagster-webserver.log"]
        commands = [
            [str(bin_dir / "videoai"), "serve", "--port", str(api_port)],
            [str(bin_dir / "dagster-webserver"), "-w", str(ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(ui_port)],
        ]
        servers = []
        for command, log in zip(commands, logs, strict=True):
            with open(log, "ab") as out:
                servers.append(
                    subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
                )
        try:
            # Answered means served: the thumbnail exists and the UI is up.
            wait_until_answers(
                f"http://127.0.0.1:{api_port}/api/v1/videos/{vid}/thumbnail",
                servers[0],
                "the API",
                logs[0],
                answered=lambda status: status == 200,
            )
            wait_until_answers(
                f"http://127.0.0.1:{ui_port}/server_info",
                servers[1],
                "dagster-webserver",
                logs[1],
                answered=lambda status: status == 200,
            )
            from playwright.sync_api import sync_playwright

            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 1500, "height": 1150})
                page.goto(
                    f"http://127.0.0.1:{ui_port}/assets/video_variants?view=partitions&partition={vid}",
                    wait_until="networkidle",
                    timeout=120_000,
                )
                page.wait_for_selector(f"img[src*='/videos/{vid}/thumbnail']", timeout=60_000)
                page.wait_for_function("[...document.images].every(i => i.complete)", timeout=30_000)
                skip = page.get_by_role("button", name="Skip")  # Dagster's first-visit community dialog
                if skip.count():
                    skip.first.click()
                time.sleep(1)
                Path(args.out).parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=args.out)
                browser.close()
        finally:
            for server in servers:
                stop_process_group(server)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
