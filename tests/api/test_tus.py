"""Resumable uploads (tus) against a real uvicorn: a connection dropped mid-body resumes from the
offset the server holds, and the finished file goes through the same acceptance as every upload,
on the local store and on S3."""

from __future__ import annotations

import base64
import os
import socket
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from pipeline.db.models import OutboxEvent, UploadMetadata, Video, VideoStatus
from pipeline.db.session import session_scope
from serving_api.main import create_app
from serving_api.routers.tus import prune_stale_parts, tus_root
from tests.api.conftest import make_user_in
from tests.fixtures.live import serve

TUS = "/api/v1/uploads/tus"
HEADERS = {"Tus-Resumable": "1.0.0"}


def _metadata(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def _create(api: httpx.Client, auth: dict, path: Path, title: str) -> str:
    created = api.post(TUS, headers={**HEADERS, **auth, "Upload-Length": str(path.stat().st_size),
                                     "Upload-Metadata": _metadata(filename=path.name, filetype="video/mp4",
                                                                  title=title, description="resumed")})
    assert created.status_code == 201, created.text
    return created.headers["location"]


def _patch_then_drop(port: int, path_and_query: str, auth: dict, body: bytes, declared: int) -> None:
    """A PATCH whose connection drops after `body`, short of the `declared` Content-Length."""
    head = (f"PATCH {path_and_query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nTus-Resumable: 1.0.0\r\n"
            f"Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\n"
            f"Content-Length: {declared}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in auth.items()) + "\r\n")
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(head.encode() + body)
        time.sleep(0.3)  # the server reads what arrived, then sees the connection go


def _offset(api: httpx.Client, location: str, auth: dict) -> int:
    head = api.head(location, headers={**HEADERS, **auth})
    assert head.status_code == 200, head.text
    return int(head.headers["upload-offset"])


@pytest.fixture(params=["local", "s3"])
def store_settings(request, make_settings, tmp_path):
    if request.param == "local":
        return make_settings(DATABASE_URL=f"sqlite:///{tmp_path / 'api.db'}")
    endpoint, bucket = request.getfixturevalue("s3_endpoint"), request.getfixturevalue("s3_bucket")
    return make_settings(DATABASE_URL=f"sqlite:///{tmp_path / 'api.db'}", OBJECT_STORE="s3", S3_BUCKET=bucket,
                         S3_ENDPOINT_URL=endpoint)


def test_a_dropped_upload_resumes_from_the_stored_offset_and_is_accepted(make_client, store_settings,
                                                                         small_video_path: Path) -> None:
    client = make_client(store_settings)  # migrates and seeds like the other API tests
    owner, other = make_user_in(client), make_user_in(client)
    data = small_video_path.read_bytes()
    with serve(create_app(store_settings)) as live, httpx.Client(base_url=live.url, timeout=30) as api:
        location = _create(api, owner.headers, small_video_path, "Resumed <b>talk</b>")
        path = httpx.URL(location).path
        first = len(data) * 2 // 5
        _patch_then_drop(live.port, path, owner.headers, data[:first], declared=len(data))
        stored = _offset(api, location, owner.headers)
        assert stored == first  # everything that arrived is kept
        # Nobody else can see, resume or finish it; nobody signed out can either.
        assert api.head(location, headers={**HEADERS, **other.headers}).status_code == 404
        assert api.head(location, headers=HEADERS).status_code == 401
        rest = data[stored:]
        resumed = api.patch(location, content=rest, headers={
            **HEADERS, **owner.headers, "Upload-Offset": str(stored),
            "Content-Type": "application/offset+octet-stream"})
        assert resumed.status_code == 204, resumed.text
        assert int(resumed.headers["upload-offset"]) == len(data)
        assert first + len(rest) == len(data)  # bytes sent in all: the file, once

    with session_scope(client.app.state.services.engine) as session:  # type: ignore[attr-defined]
        video = session.scalars(select(Video).where(Video.owner_id == owner.id)).one()
        upload = session.scalars(select(UploadMetadata).where(UploadMetadata.video_id == video.id)).one()
        topics = list(session.scalars(select(OutboxEvent.topic).where(OutboxEvent.key == str(video.id))))
        assert (video.status, video.title, video.size_bytes) == (VideoStatus.PENDING.value, "Resumed <b>talk</b>",
                                                                 len(data))
        assert (upload.method, upload.state) == ("tus", "completed")
        assert topics == ["video.uploaded"]
        store = client.app.state.services.store  # type: ignore[attr-defined]
        assert store.get_bytes(video.source_key) == data  # in the object store, whole
    leftovers = [p for p in (store_settings.videoai_home / "tus" / str(owner.id)).rglob("*") if p.is_file()]
    assert leftovers == []  # the parts are removed once the upload is accepted


def test_a_tus_upload_that_is_not_a_video_is_refused_and_leaves_nothing(make_client, make_settings, tmp_path,
                                                                        non_video_path: Path) -> None:
    settings = make_settings(DATABASE_URL=f"sqlite:///{tmp_path / 'api.db'}")
    client = make_client(settings)
    owner = make_user_in(client)
    with serve(create_app(settings)) as live, httpx.Client(base_url=live.url, timeout=30) as api:
        location = _create(api, owner.headers, non_video_path, "Not a video")
        done = api.patch(location, content=non_video_path.read_bytes(), headers={
            **HEADERS, **owner.headers, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
        assert done.status_code == 415, done.text
        assert "not a video" in done.json()["error"]["message"].lower()
        too_big = api.post(TUS, headers={**HEADERS, **owner.headers, "Upload-Length": str(10**15),
                                         "Upload-Metadata": _metadata(filename="big.mp4", filetype="video/mp4")})
        assert too_big.status_code == 413
    with session_scope(client.app.state.services.engine) as session:  # type: ignore[attr-defined]
        assert session.scalars(select(Video)).all() == []


def test_tus_parts_a_client_never_finished_are_pruned(make_settings) -> None:
    settings = make_settings(UPLOAD_ABANDON_HOURS="1")
    user_dir = tus_root(settings) / "7"
    user_dir.mkdir(parents=True)
    stale, fresh = user_dir / ("a" * 32), user_dir / ("b" * 32)
    for path in (stale, fresh, stale.with_name(stale.name + ".info")):
        path.write_bytes(b"part")
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    os.utime(stale.with_name(stale.name + ".info"), (old, old))
    assert prune_stale_parts(settings) == 2
    assert sorted(p.name for p in user_dir.iterdir()) == [fresh.name]
