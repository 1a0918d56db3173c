"""A resumable (tus) upload against the real API process, as a crash and as an attacker would meet it.

- `kill -9` of the API in the middle of a large PATCH: after the restart HEAD says exactly the bytes
  the data file holds (a prefix of the client's file), the client resumes from there, and the stored
  object is byte-identical (SHA-256) to the file, on the local store and on S3 (moto); on the local
  store the Dagster daemon takes the video to `ready`.
- The disk holding the parts fills mid-PATCH: 507 with Retry-After, HEAD says what is stored, and the
  upload resumes once space is freed.
- A 512 MiB body sent with `Upload-Length: 100` is refused without the API's memory growing.
- Neither the API's nor the daemon's log carries a JWT.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import signal
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from sqlalchemy import select

from benchmarks.support import API, api_server, dagster_daemon
from orchestration.instance import ensure_dagster_home
from orchestration.processes import free_port
from pipeline.db.models import UploadMetadata, Video
from pipeline.db.session import engine_for, session_scope
from pipeline.settings import Settings
from pipeline.storage import object_store_from_settings
from serving_api.routers.tus import part_path
from tests.e2e.support import wait_for
from tests.fixtures.disks import small_filesystem

pytestmark = pytest.mark.e2e

TUS = f"{API}/uploads/tus"
TUS_HEADERS = {"Tus-Resumable": "1.0.0"}
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")


def _padded_video(source: Path, dest: Path, size: int) -> Path:
    """A valid MP4 of about `size` bytes: the clip, then an ISO BMFF `free` box (players skip it)."""
    data = source.read_bytes()
    padding = size - len(data)
    dest.write_bytes(data + struct.pack(">I4s", padding, b"free") + os.urandom(padding - 8))
    return dest


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _metadata(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def _sign_in(client: httpx.Client) -> dict[str, str]:
    user = {"email": "resumer@example.com", "password": "Correct-Horse-9", "full_name": "Re Sumer"}
    if client.post(f"{API}/auth/signup", json=user).status_code not in (201, 409):
        raise AssertionError("signup failed")
    token = client.post(f"{API}/auth/login", data={"username": user["email"], "password": user["password"]})
    return {"Authorization": f"Bearer {token.raise_for_status().json()['access_token']}"}


def _create(client: httpx.Client, auth: dict[str, str], size: int) -> str:
    created = client.post(
        TUS,
        headers={
            **TUS_HEADERS,
            **auth,
            "Upload-Length": str(size),
            "Upload-Metadata": _metadata(filename="long.mp4", filetype="video/mp4", title="Resumed after a crash"),
        },
    )
    assert created.status_code == 201, created.text
    return httpx.URL(created.headers["location"]).path


def _raw_request(port: int, head: str) -> socket.socket:
    conn = socket.create_connection(("127.0.0.1", port))
    conn.sendall(head.encode())
    return conn


def _patch_head(port: int, path: str, auth: dict[str, str], offset: int, length: int) -> str:
    return (
        f"PATCH {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nTus-Resumable: 1.0.0\r\n"
        f"Upload-Offset: {offset}\r\nContent-Type: application/offset+octet-stream\r\n"
        f"Content-Length: {length}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in auth.items()) + "\r\n"
    )


def _send_and_read_status(conn: socket.socket, body: Iterator[bytes]) -> int:
    """Send `body` while reading the answer (a server may answer before the body ends); its status."""

    def send() -> None:
        try:
            for chunk in body:
                conn.sendall(chunk)
        except OSError:
            pass  # the server answered and closed: the rest is not wanted

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    conn.settimeout(60)
    answer = conn.recv(4096)
    sender.join(timeout=60)
    conn.close()
    return int(answer.split(b" ", 2)[1])


def _chunks(data: bytes, size: int = 1 << 20) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _offset(client: httpx.Client, path: str, auth: dict[str, str]) -> int:
    head = client.head(path, headers={**TUS_HEADERS, **auth})
    assert head.status_code == 200, head.status_code
    return int(head.headers["upload-offset"])


def _resume(client: httpx.Client, path: str, auth: dict[str, str], data: bytes, offset: int) -> int:
    """Send the rest from `offset`; returns the video id the finished upload became."""
    done = client.patch(
        path,
        content=data[offset:],
        headers={**TUS_HEADERS, **auth, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"},
    )
    assert done.status_code == 204, done.text
    assert int(done.headers["upload-offset"]) == len(data)
    return int(done.headers["content-location"].rsplit("/", 1)[1])


def _stored_sha256(settings: Settings, video_id: int) -> str:
    with session_scope(engine_for(settings.database.url)) as session:
        video = session.get(Video, video_id)
        assert video is not None and video.source_key is not None
        upload = session.scalars(select(UploadMetadata).where(UploadMetadata.video_id == video_id)).one()
        assert (upload.method, upload.state) == ("tus", "completed")
        key = video.source_key
    return _sha256(object_store_from_settings(settings.storage).get_bytes(key))


@pytest.fixture(params=["local", "s3"])
def platform(request, make_settings, tmp_path) -> tuple[Settings, dict[str, str]]:
    """Settings and the environment the API and the daemon run with, on the local store or on S3."""
    store: dict[str, str] = {}
    if request.param == "s3":
        store = {
            "OBJECT_STORE": "s3",
            "S3_BUCKET": request.getfixturevalue("s3_bucket"),
            "S3_ENDPOINT_URL": request.getfixturevalue("s3_endpoint"),
            "AWS_REGION": "us-east-1",
        }
    settings = make_settings(**store)
    env = {
        **os.environ,
        **store,
        "VIDEOAI_HOME": str(settings.videoai_home),
        "PYTHONUNBUFFERED": "1",
        "DAGSTER_HOME": str(ensure_dagster_home(settings)),
        "LOG_FORMAT": "text",
    }
    return settings, env


def test_kill_9_mid_patch_then_resume_is_byte_identical_and_ready(platform, small_video_path, tmp_path) -> None:
    settings, env = platform
    data = _padded_video(small_video_path, tmp_path / "long.mp4", 48 << 20).read_bytes()
    port, logs = free_port(), [tmp_path / "api.log", tmp_path / "daemon.log"]
    with api_server(env, port, logs[0]) as api, httpx.Client(base_url=api.base, timeout=60) as client:
        auth = _sign_in(client)
        path = _create(client, auth, len(data))
        part = part_path(settings, _user_id(settings), path.rsplit("/", 1)[1])
        conn = _raw_request(port, _patch_head(port, path, auth, 0, len(data)))
        conn.sendall(data[: len(data) * 3 // 5])  # the PATCH is well on its way...
        wait_for(
            "the API to write a third of the file",
            lambda: (part.exists() and part.stat().st_size > len(data) // 3) or None,
            every=0.05,
        )
        os.killpg(api.pid, signal.SIGKILL)  # ...when the API dies
        wait_for(
            "the API to die",
            lambda: (not psutil.pid_exists(api.pid) or psutil.Process(api.pid).status() == "zombie") or None,
            every=0.05,
        )
        conn.close()
    held = part.stat().st_size
    assert 0 < held < len(data)
    assert _sha256(part.read_bytes()) == _sha256(data[:held])  # a prefix of the file, nothing else

    with api_server(env, port, logs[0]) as api, httpx.Client(base_url=api.base, timeout=120) as client:
        assert _offset(client, path, auth) == held  # exactly what is stored
        video_id = _resume(client, path, auth, data, held)
        assert _stored_sha256(settings, video_id) == _sha256(data)
        assert not part.exists()  # the parts go once the upload is accepted
        if settings.storage.kind == "local":
            with dagster_daemon(env, logs[1]):

                def status() -> str:
                    return client.get(f"{API}/videos/{video_id}", headers=auth).raise_for_status().json()["status"]

                wait_for("the video to be ready", lambda: status() in ("ready", "failed") or None, logs, timeout=240)
            assert status() == "ready"
    found = {log.name: JWT.findall(log.read_text(errors="replace")) for log in logs if log.exists()}
    assert found == {log.name: [] for log in logs if log.exists()}  # no token in any log
    if settings.storage.kind == "local":  # one line per event (Dagster's lines came out twice)
        assert logs[1].read_text().count("Instance is configured with the following daemons") == 1


def _user_id(settings: Settings) -> int:
    with session_scope(engine_for(settings.database.url)) as session:
        return session.scalars(select(Video.owner_id).limit(1)).one() or 0


def test_a_full_disk_mid_patch_is_507_then_the_upload_resumes(platform, small_video_path, tmp_path) -> None:
    settings, env = platform
    data = _padded_video(small_video_path, tmp_path / "long.mp4", 12 << 20).read_bytes()
    port = free_port()
    with (
        small_filesystem(settings.videoai_home / "tus", "4m") as parts,
        api_server(env, port, tmp_path / "api.log") as api,
        httpx.Client(base_url=api.base, timeout=60) as client,
    ):
        auth = _sign_in(client)
        path = _create(client, auth, len(data))
        conn = _raw_request(port, _patch_head(port, path, auth, 0, len(data)))
        assert _send_and_read_status(conn, _chunks(data)) == 507
        head = client.head(path, headers={**TUS_HEADERS, **auth})
        held = int(head.headers["upload-offset"])
        part = part_path(settings, _user_id(settings), path.rsplit("/", 1)[1])
        assert 0 < held == part.stat().st_size <= 4 << 20
        assert _sha256(part.read_bytes()) == _sha256(data[:held])
        full = client.patch(
            path,
            content=data[held:],
            headers={**TUS_HEADERS, **auth, "Upload-Offset": str(held), "Content-Type": "application/offset+octet-stream"},
        )
        assert full.status_code == 507 and full.headers["retry-after"] == "60"
        subprocess.run(["mount", "-o", "remount,size=64m", str(parts)], check=True)  # space is freed
        held = _offset(client, path, auth)
        video_id = _resume(client, path, auth, data, held)
        assert _stored_sha256(settings, video_id) == _sha256(data)


def _rss_of_tree(pid: int) -> int:
    process = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)])


def test_a_512_mib_body_for_100_declared_bytes_is_refused_in_constant_memory(make_settings, tmp_path) -> None:
    settings = make_settings()
    env = {**os.environ, "VIDEOAI_HOME": str(settings.videoai_home), "PYTHONUNBUFFERED": "1", "LOG_FORMAT": "json"}
    port = free_port()
    body_size = 512 << 20
    block = os.urandom(1 << 20)
    with api_server(env, port, tmp_path / "api.log") as api, httpx.Client(base_url=api.base, timeout=60) as client:
        auth = _sign_in(client)
        creation = (
            f"POST {TUS} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nTus-Resumable: 1.0.0\r\nUpload-Length: 100\r\n"
            f"Upload-Metadata: {_metadata(filename='a.mp4', filetype='video/mp4')}\r\n"
            "Content-Type: application/offset+octet-stream\r\n" + "".join(f"{k}: {v}\r\n" for k, v in auth.items())
        )
        baseline = _rss_of_tree(api.pid)
        peak = [baseline]
        sampling = threading.Event()

        def sample() -> None:
            while not sampling.is_set():
                peak[0] = max(peak[0], _rss_of_tree(api.pid))
                time.sleep(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            declared = _raw_request(port, creation + f"Content-Length: {body_size}\r\n\r\n")
            assert _send_and_read_status(declared, (block for _ in range(body_size >> 20))) == 413
            # Without a Content-Length (chunked), the body is cut as soon as it passes the length.
            chunked = _raw_request(port, creation + "Transfer-Encoding: chunked\r\n\r\n")
            framed = (b"%x\r\n%s\r\n" % (len(block), block) for _ in range(body_size >> 20))
            assert _send_and_read_status(chunked, framed) == 413
            # The same through a PATCH of an upload declared at 100 bytes.
            path = _create(client, auth, 100)
            patch = _raw_request(port, _patch_head(port, path, auth, 0, body_size))
            assert _send_and_read_status(patch, (block for _ in range(body_size >> 20))) == 413
        finally:
            sampling.set()
            sampler.join(timeout=5)
        assert peak[0] - baseline < 64 << 20, (baseline, peak[0])
        assert _offset(client, path, auth) == 0
        # A presigned upload's token rides in its URL's query string: the access log must not keep it.
        plan = client.post(
            f"{API}/videos/uploads",
            headers=auth,
            json={"title": "t", "filename": "a.mp4", "content_type": "video/mp4", "size_bytes": 100},
        ).json()
        assert "token=eyJ" in plan["upload_url"]
        assert client.put(plan["upload_url"], content=b"\x00" * 101, headers=plan["headers"]).status_code == 413
    log = (tmp_path / "api.log").read_text()
    assert "content?token=[redacted]" in log and JWT.findall(log) == []
    stored = [p.stat().st_size for p in (settings.videoai_home / "tus").rglob("*") if p.is_file()]
    assert all(size <= 100 for size in stored), stored
    with session_scope(engine_for(settings.database.url)) as session:
        assert len(session.scalars(select(Video)).all()) == 1  # the refused creations left nothing
