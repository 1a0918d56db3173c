"""Issue 13, defect 5: nothing staged is leaked, and nobody can pile up open uploads."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from benchmarks.support import api_server
from orchestration.processes import free_port
from pipeline.db.models import UploadMetadata, User, Video
from pipeline.db.session import make_engine, session_scope
from serving_api.security import create_access_token
from tests.api.conftest import API, make_user_in
from tests.fixtures.database import isolate_environment


def _presigned(client: TestClient, headers: dict[str, str]):  # type: ignore[no-untyped-def]
    return client.post(
        f"{API}/videos/uploads",
        headers=headers,
        json={"title": "t", "filename": "a.mp4", "content_type": "video/mp4", "size_bytes": 1000},
    )


def test_open_uploads_are_capped_per_user(make_client, make_settings, tmp_path, small_video_path) -> None:
    client = make_client(make_settings(DATABASE_URL=f"sqlite:///{tmp_path / 'api.db'}", MAX_OPEN_UPLOADS_PER_USER="2"))
    user, other = make_user_in(client), make_user_in(client)
    assert [_presigned(client, user.headers).status_code for _ in range(2)] == [201, 201]
    refused = _presigned(client, user.headers)
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "too_many_open_uploads"
    direct = client.post(
        f"{API}/videos/upload", headers=user.headers, files={"file": ("clip.mp4", small_video_path.read_bytes(), "video/mp4")}
    )
    assert direct.status_code == 429
    assert _presigned(client, other.headers).status_code == 201  # a quota per user


def _slow_body(head: bytes, stop: threading.Event) -> Iterator[bytes]:
    """A multipart upload that sends its start, then trickles until the server dies."""
    yield (
        b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\nContent-Type: video/mp4\r\n\r\n' + head
    )
    while not stop.is_set():
        yield b"\0" * 65536
        time.sleep(0.05)


@pytest.mark.integration
def test_an_api_killed_mid_upload_leaves_nothing_after_prune_uploads(
    tmp_path: Path, small_video_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_environment(monkeypatch, tmp_path)
    home = tmp_path / "home"
    env = {"VIDEOAI_HOME": str(home), "JWT_SECRET": "test-secret-" + "x" * 32, "LOG_FORMAT": "json"}
    stop = threading.Event()
    with api_server({**os.environ, **env}, free_port(), tmp_path / "api.log") as server:
        base = server.base
        engine = make_engine(f"sqlite:///{home / 'videoai.db'}")
        with session_scope(engine) as session:
            user = User(email="killed@example.com", hashed_password="x")
            session.add(user)
            session.flush()
            user_id = user.id
        from pipeline.settings import Settings

        token = create_access_token(Settings(**env), user_id).token  # type: ignore[arg-type]

        def upload() -> None:
            with contextlib.suppress(httpx.HTTPError):  # the server is killed under it
                httpx.post(
                    f"{base}{API}/videos/upload",
                    headers={"Authorization": f"Bearer {token}", "Content-Type": "multipart/form-data; boundary=b0undary"},
                    content=_slow_body(small_video_path.read_bytes(), stop),
                    timeout=60,
                )

        sender = threading.Thread(target=upload, daemon=True)
        sender.start()
        staging = home / "objects" / "staging"
        deadline = time.monotonic() + 30
        while not (staging.exists() and any(staging.iterdir())):
            assert time.monotonic() < deadline, "the upload never reached the staging area"
            time.sleep(0.1)
        time.sleep(0.5)
        os.killpg(server.pid, signal.SIGKILL)  # the crash: no cleanup code runs
        deadline = time.monotonic() + 10
        while Path(f"/proc/{server.pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        stop.set()
        sender.join(timeout=10)
    leftovers = [p.name for p in staging.iterdir()]
    assert any(name.startswith(".tmp-") for name in leftovers)  # what the crash left
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(UploadMetadata)) == 1

    subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "prune-uploads", "--older-than-hours", "0"],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert list(staging.iterdir()) == []
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(UploadMetadata)) == 0
        assert session.scalar(select(func.count()).select_from(Video)) == 0
    engine.dispose()


def test_prune_removes_orphaned_staged_objects_and_keeps_live_ones(tmp_path: Path) -> None:
    from datetime import timedelta

    from pipeline.db.session import migrate
    from pipeline.storage.local import LocalObjectStore
    from pipeline.uploads import create_video, prune_abandoned_uploads

    url = f"sqlite:///{tmp_path / 'app.db'}"
    migrate(url)
    engine = make_engine(url)
    store = LocalObjectStore(tmp_path / "objects")
    with session_scope(engine) as session:
        live = create_video(session, title="in progress")
    store.put_bytes(live.staging_key, b"partial upload")
    store.put_bytes("staging/0123456789abcdef", b"no row owns me")
    old = time.time() - 3 * 3600
    os.utime(store.root / "staging" / "0123456789abcdef", (old, old))
    partial = store.root / "staging" / ".tmp-crashed"
    partial.write_bytes(b"half a write")
    os.utime(partial, (old, old))
    with session_scope(engine) as session:
        assert prune_abandoned_uploads(session, store, older_than=timedelta(hours=1)) == []
    assert sorted(p.name for p in (store.root / "staging").iterdir()) == [live.staging_key.split("/")[-1]]
    engine.dispose()


def test_scratch_left_by_a_killed_run_is_pruned_and_live_work_is_kept(tmp_path: Path) -> None:
    from datetime import timedelta

    from pipeline.scratch import prune_scratch

    root = tmp_path / "scratch"
    dead, live = root / "videoai-ladder-dead", root / "videoai-ladder-live"
    for directory in (dead, live):
        directory.mkdir(parents=True)
        (directory / "720p.mp4").write_bytes(b"x")
    old = time.time() - 3 * 3600
    for path in (dead, dead / "720p.mp4"):
        os.utime(path, (old, old))
    assert prune_scratch(root, timedelta(hours=1)) == ["videoai-ladder-dead"]
    assert [p.name for p in root.iterdir()] == ["videoai-ladder-live"]
