"""Uploads: streamed multipart and the presigned flow, and what is left behind when one is refused."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from pipeline.db.models import OutboxEvent, UploadMetadata, Video, VideoStatus
from pipeline.db.session import make_engine, session_scope
from pipeline.storage import ObjectStore
from tests.api.conftest import API, make_user_in, services_of
from tests.cli.test_ingest import run_videoai


def _count(client, model) -> int:
    with session_scope(services_of(client).engine) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _keys(store: ObjectStore) -> list[str]:
    return [o.key for o in store.list("uploads/")] + [o.key for o in store.list("staging/")]


def assert_nothing_left(client) -> None:
    assert _count(client, Video) == 0
    assert _count(client, UploadMetadata) == 0
    assert _count(client, OutboxEvent) == 0
    assert _keys(services_of(client).store) == []


def _upload(client, headers, path: Path, *, title: str | None = "My clip", after_file: bool = False):
    data = {"title": title} if title else {}
    files = {"file": (path.name, path.read_bytes(), "video/mp4")}
    if not after_file:
        return client.post(f"{API}/videos/upload", data=data, files=files, headers=headers)
    # httpx puts form fields first; build the body by hand to send the title after the file.
    request = httpx.Request("POST", "http://x", files=files)
    body = request.read()
    boundary = request.headers["content-type"].split("boundary=")[1].encode()
    trailer = (
        b"--"
        + boundary
        + b'\r\nContent-Disposition: form-data; name="title"\r\n\r\n'
        + title.encode()
        + b"\r\n--"
        + boundary
        + b"--\r\n"
    )
    body = body[: body.rindex(b"--" + boundary + b"--")] + trailer
    return client.post(
        f"{API}/videos/upload",
        content=body,
        headers={**headers, "Content-Type": f"multipart/form-data; boundary={boundary.decode()}"},
    )


def test_upload_registers_row_object_and_event(client, make_user, small_video_path: Path) -> None:
    user = make_user()
    response = _upload(client, user.headers, small_video_path)
    assert response.status_code == 201, response.text
    video = response.json()
    assert video["status"] == VideoStatus.PENDING.value and video["owner_id"] == user.id
    assert video["title"] == "My clip" and video["size_bytes"] == small_video_path.stat().st_size
    services = services_of(client)
    with session_scope(services.engine) as session:
        row = session.get(Video, video["id"])
        event = session.scalars(select(OutboxEvent)).one()
        upload = session.scalars(select(UploadMetadata)).one()
    assert event.topic == "video.uploaded" and event.payload["video_id"] == video["id"]
    assert upload.state == "completed" and upload.method == "direct"
    assert services.store.get_bytes(row.source_key) == small_video_path.read_bytes()
    assert [o.key for o in services.store.list("staging/")] == []


def test_title_may_follow_the_file_and_defaults_to_the_filename(sqlite_client, small_video_path: Path) -> None:
    user = make_user_in(sqlite_client)
    after = _upload(sqlite_client, user.headers, small_video_path, title="Sent last", after_file=True)
    assert after.status_code == 201, after.text
    assert after.json()["title"] == "Sent last"
    untitled = _upload(sqlite_client, user.headers, small_video_path, title=None)
    assert untitled.json()["title"] == small_video_path.stem


def test_oversized_upload_is_413_and_leaves_nothing(
    make_client, make_settings, migrated_database_url, small_video_path: Path
) -> None:
    limit = small_video_path.stat().st_size // 2
    client = make_client(make_settings(DATABASE_URL=migrated_database_url, MAX_UPLOAD_BYTES=str(limit)))
    user = make_user_in(client)
    response = _upload(client, user.headers, small_video_path)
    assert response.status_code == 413, response.text
    assert response.json()["error"] == {
        "code": "upload_too_large",
        "details": {"max_upload_bytes": limit},
        "message": f"The upload exceeds the limit of {limit} bytes.",
    }
    assert_nothing_left(client)


def test_oversized_upload_is_refused_while_streaming(make_client, make_settings, tmp_path, small_video_path: Path) -> None:
    """413 comes once the limit is passed, without reading the rest of the body.

    Driven at the ASGI level so the test sees how much of the body the app pulled.
    """
    limit, chunk = 1 << 20, 64 * 1024
    client = make_client(make_settings(DATABASE_URL=f"sqlite:///{tmp_path / 'api.db'}", MAX_UPLOAD_BYTES=str(limit)))
    user = make_user_in(client)
    head = (
        b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\n'
        b"Content-Type: video/mp4\r\n\r\n" + small_video_path.read_bytes()
    )
    body = [head] + [bytes(chunk)] * 1024  # 64 MiB offered
    pulled, sent = 0, []

    async def receive() -> dict:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": body[pulled - 1], "more_body": pulled < len(body)}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": f"{API}/videos/upload",
        "raw_path": f"{API}/videos/upload".encode(),
        "query_string": b"",
        "root_path": "",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 1234),
        "headers": [
            (b"authorization", f"Bearer {user.token}".encode()),
            (b"content-type", b"multipart/form-data; boundary=b0undary"),
        ],
    }
    asyncio.run(client.app(scope, receive, send))
    assert sent[0]["status"] == 413
    assert pulled * chunk < limit + 4 * chunk  # stopped right after the limit, not at the end
    assert_nothing_left(client)


@pytest.mark.parametrize("fixture", ["non_video_path", "corrupt_video_path"])
def test_non_video_upload_is_415_and_leaves_nothing(sqlite_client, request, fixture: str) -> None:
    # The PDF fails the magic-byte sniff while streaming; the truncated MP4 passes it and fails ffprobe.
    path = request.getfixturevalue(fixture)
    user = make_user_in(sqlite_client)
    response = _upload(sqlite_client, user.headers, path)
    assert response.status_code == 415, response.text
    assert response.json()["error"]["code"] == "unsupported_media_type"
    assert_nothing_left(sqlite_client)


def test_upload_needs_a_token_a_file_and_multipart(sqlite_client, small_video_path: Path) -> None:
    user = make_user_in(sqlite_client)
    assert _upload(sqlite_client, {}, small_video_path).status_code == 401
    no_file = sqlite_client.post(
        f"{API}/videos/upload", data={"title": "x"}, files={"other": ("a.txt", b"hi")}, headers=user.headers
    )
    assert no_file.status_code == 422
    as_json = sqlite_client.post(f"{API}/videos/upload", json={"title": "x"}, headers=user.headers)
    assert as_json.status_code == 415
    too_long = sqlite_client.post(
        f"{API}/videos/upload",
        data={"title": "t" * 301},
        files={"file": ("a.mp4", small_video_path.read_bytes())},
        headers=user.headers,
    )
    assert too_long.status_code == 422
    assert_nothing_left(sqlite_client)


def _create_presigned(client, user, size: int, content_type: str = "video/mp4"):
    return client.post(
        f"{API}/videos/uploads",
        headers=user.headers,
        json={"title": "Presigned", "filename": "clip.mp4", "content_type": content_type, "size_bytes": size},
    )


def test_presigned_flow_on_the_local_store(client, make_user, small_video_path: Path) -> None:
    user = make_user()
    data = small_video_path.read_bytes()
    created = _create_presigned(client, user, len(data))
    assert created.status_code == 201, created.text
    plan = created.json()
    assert plan["upload_url"].startswith("http://testserver/api/v1/videos/uploads/")
    early = client.post(plan["complete_url"], headers=user.headers)
    assert early.status_code == 409 and early.json()["error"]["code"] == "upload_incomplete"

    assert client.put(plan["upload_url"].replace("token=", "token=x"), content=data).status_code == 401
    put = client.put(plan["upload_url"], content=data, headers=plan["headers"])
    assert put.status_code == 200, put.text
    assert put.json()["size_bytes"] == len(data)
    other = make_user()
    assert client.post(plan["complete_url"], headers=other.headers).status_code == 404
    done = client.post(plan["complete_url"], headers=user.headers)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "pending" and done.json()["id"] == plan["video_id"]
    assert _count(client, OutboxEvent) == 1
    assert client.put(plan["upload_url"], content=data).status_code == 409  # already completed


def test_presigned_rejections_leave_nothing(make_client, make_settings, tmp_path, non_video_path: Path) -> None:
    client = make_client(make_settings(DATABASE_URL=f"sqlite:///{tmp_path / 'api.db'}", MAX_UPLOAD_BYTES="100000"))
    user = make_user_in(client)
    assert _create_presigned(client, user, 100001).status_code == 413
    assert _create_presigned(client, user, 10, "application/pdf").status_code == 422
    plan = _create_presigned(client, user, 1000).json()
    refused = client.put(plan["upload_url"], content=non_video_path.read_bytes())
    assert refused.status_code == 415
    assert_nothing_left(client)
    plan = _create_presigned(client, user, 1000).json()
    assert client.put(plan["upload_url"], content=b"\x00" * 100_001).status_code == 413
    assert_nothing_left(client)


def test_presigned_upload_must_be_the_size_it_declared(sqlite_client, small_video_path: Path) -> None:
    """A body longer than declared is refused while it arrives (before those bytes are stored); a
    shorter one when the upload is completed."""
    user = make_user_in(sqlite_client)
    data = small_video_path.read_bytes()
    plan = _create_presigned(sqlite_client, user, len(data) - 100).json()
    longer = sqlite_client.put(plan["upload_url"], content=data, headers=plan["headers"])
    assert longer.status_code == 413 and longer.json()["error"]["code"] == "upload_too_large"
    assert_nothing_left(sqlite_client)
    chunked = _create_presigned(sqlite_client, user, len(data) - 100).json()  # no Content-Length to go by
    assert sqlite_client.put(chunked["upload_url"], content=iter([data]), headers=chunked["headers"]).status_code == 413
    assert_nothing_left(sqlite_client)
    plan = _create_presigned(sqlite_client, user, len(data) + 100).json()
    assert sqlite_client.put(plan["upload_url"], content=data, headers=plan["headers"]).status_code == 200
    done = sqlite_client.post(plan["complete_url"], headers=user.headers)
    assert done.status_code == 422 and done.json()["error"]["code"] == "size_mismatch"
    assert done.json()["error"]["details"] == {"declared_size": len(data) + 100, "uploaded_size": len(data)}
    assert_nothing_left(sqlite_client)


def test_presigned_flow_on_s3(make_client, make_settings, tmp_path, s3_endpoint, s3_bucket, small_video_path: Path) -> None:
    """The client PUTs straight to S3; completion probes the object through a presigned GET."""
    client = make_client(
        make_settings(
            DATABASE_URL=f"sqlite:///{tmp_path / 'api.db'}", OBJECT_STORE="s3", S3_BUCKET=s3_bucket, S3_ENDPOINT_URL=s3_endpoint
        )
    )
    user = make_user_in(client)
    data = small_video_path.read_bytes()
    plan = _create_presigned(client, user, len(data)).json()
    assert plan["upload_url"].startswith(s3_endpoint)
    assert httpx.put(plan["upload_url"], content=data, headers=plan["headers"]).status_code == 200
    done = client.post(plan["complete_url"], headers=user.headers)
    assert done.status_code == 200, done.text
    store = services_of(client).store
    assert [o.size for o in store.list("uploads/")] == [len(data)]
    # A streamed multipart upload goes to S3 as well.
    streamed = _upload(client, user.headers, small_video_path)
    assert streamed.status_code == 201, streamed.text
    assert len(store.list("uploads/")) == 2 and store.list("staging/") == []


def test_a_host_without_ffprobe_answers_503_not_415(sqlite_client, small_video_path: Path, monkeypatch) -> None:
    """The API image must ship ffprobe; without it the upload is refused as the server's fault."""
    monkeypatch.setenv("PATH", "/nonexistent")
    user = make_user_in(sqlite_client)
    response = _upload(sqlite_client, user.headers, small_video_path)
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "probe_unavailable"
    assert_nothing_left(sqlite_client)


@pytest.mark.parametrize("sample", ["non_video_path", "corrupt_video_path"])
def test_videoai_ingest_rejects_a_file_with_the_reason_the_api_gives(
    sqlite_client, tmp_path: Path, sample: str, request: pytest.FixtureRequest
) -> None:
    """One upload rule: the real CLI (real ffprobe) refuses the file the API refuses, saying the same thing."""
    path: Path = request.getfixturevalue(sample)
    response = _upload(sqlite_client, make_user_in(sqlite_client).headers, path)
    assert response.status_code == 415, response.text
    api_message = response.json()["error"]["message"]
    assert api_message.startswith(("The file is not a video", "The file could not be read as a video"))
    assert_nothing_left(sqlite_client)

    home = tmp_path / "home"
    done = run_videoai(home, "ingest", str(path), "--title", "refused")
    assert done.returncode == 1, done.stdout
    # The CLI logs (JSON, off a terminal) before it reports: the error is its last line.
    assert done.stderr.strip().splitlines()[-1] == f"error: {api_message}"
    engine = make_engine(f"sqlite:///{home / 'videoai.db'}")
    with session_scope(engine) as session:  # nothing registered, nothing staged
        assert session.scalar(select(func.count()).select_from(Video)) == 0
        assert session.scalar(select(func.count()).select_from(OutboxEvent)) == 0
    engine.dispose()
    assert not any(p.is_file() for p in (home / "objects").rglob("*"))
