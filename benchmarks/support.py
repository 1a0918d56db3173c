"""What several benchmarks share: a throwaway database, the real API and the real Dagster daemon in subprocesses."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from orchestration.processes import stop_process_group, wait_until_answers

API = "/api/v1"
REPO = Path(__file__).resolve().parent.parent


@contextmanager
def temporary_database(kind: str, workdir: Path, admin_url: str, prefix: str) -> Iterator[str]:
    """A SQLite file in `workdir`, or a fresh PostgreSQL database (dropped afterwards) beside `admin_url`'s."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'videoai.db'}"
        return
    from sqlalchemy import create_engine, text

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def benchmark_title(video_id: int) -> str:
    return f"benchmark video {video_id}"


def register_videos(database_url: str, video_ids: range) -> None:
    """Rows for these video ids in the app database (migrated first), as the API registers uploads:
    the upload sensor starts runs only for videos the app database knows."""
    from sqlalchemy import insert

    from pipeline.db.models import Video, VideoStatus, utcnow
    from pipeline.db.session import engine_for, migrate

    migrate(database_url)
    now = utcnow()
    rows = [
        {
            "id": i,
            "title": benchmark_title(i),
            "description": "",
            "status": VideoStatus.PENDING.value,
            "created_at": now,
            "updated_at": now,
        }
        for i in video_ids
    ]
    with engine_for(database_url).begin() as conn:
        for start in range(0, len(rows), 10_000):
            conn.execute(insert(Video), rows[start : start + 10_000])


@dataclass(frozen=True)
class ApiServer:
    base: str  # http://127.0.0.1:PORT
    pid: int


@contextmanager
def api_server(env: dict[str, str], port: int, log_path: Path, start_timeout: float = 60) -> Iterator[ApiServer]:
    """`videoai serve` with exactly `env` (plus its port) in its own process group; stopped (with any
    children) on exit."""
    full_env = {**env, "API_PORT": str(port), "API_HOST": "127.0.0.1"}
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "orchestration.cli", "serve"],
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_answers(
            f"{base}{API}/health/live", process, "the API", log_path, timeout=start_timeout, answered=lambda status: status == 200
        )
        yield ApiServer(base, process.pid)
    finally:
        stop_process_group(process, timeout=15)


@contextmanager
def dagster_daemon(env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`videoai daemon` (dagster-daemon run with the project's sensor loop) on the project's workspace with
    exactly `env`, in its own process group; stopped on exit with everything it spawned (the code server,
    run workers, their ffmpeg)."""
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "orchestration.cli", "daemon", "-w", str(REPO / "workspace.yaml")],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        stop_process_group(process, timeout=30)
