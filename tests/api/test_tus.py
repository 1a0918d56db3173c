"""Resumable uploads (tus): a connection dropped mid-body resumes from the offset the server holds,
and the finished file goes through the same acceptance as every upload, on the local store and on S3;
every limit is enforced before bytes are stored. (Crashes and full disks: tests/e2e/test_tus_crash.py.)"""

from __future__ import annotations

import base64
import hashlib
import socket
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import hypothesis
import pytest
from fastapi.testclient import TestClient
from hypothesis import strategies as st
from sqlalchemy import select

from pipeline.db.models import OutboxEvent, UploadMetadata, Video, VideoStatus
from pipeline.db.session import session_scope
from pipeline.settings import Settings
from pipeline.uploads import prune_abandoned_uploads
from serving_api.main import create_app
from serving_api.routers.tus import part_path, prune_orphaned_parts, tus_root
from tests.api.conftest import API, make_user_in
from tests.fixtures.database import isolate_environment
from tests.fixtures.live import serve

TUS = "/api/v1/uploads/tus"
HEADERS = {"Tus-Resumable": "1.0.0"}
MP4_HEAD = b"\x00\x00\x00\x18ftypmp42"  # the bytes a video's upload begins with (its container signature)


def _metadata(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def _create(api: httpx.Client, auth: dict, path: Path, title: str) -> str:
    created = api.post(
        TUS,
        headers={
            **HEADERS,
            **auth,
            "Upload-Length": str(path.stat().st_size),
            "Upload-Metadata": _metadata(filename=path.name, filetype="video/mp4", title=title, description="resumed"),
        },
    )
    assert created.status_code == 201, created.text
    return created.headers["location"]


def _patch_then_drop(port: int, path_and_query: str, auth: dict, body: bytes, declared: int) -> None:
    """A PATCH whose connection drops after `body`, short of the `declared` Content-Length."""
    head = (
        f"PATCH {path_and_query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nTus-Resumable: 1.0.0\r\n"
        f"Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\n"
        f"Content-Length: {declared}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in auth.items()) + "\r\n"
    )
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(head.encode() + body)
        time.sleep(0.3)  # the server reads what arrived, then sees the connection go


def _offset(api: httpx.Client, location: str, auth: dict) -> int:
    head = api.head(location, headers={**HEADERS, **auth})
    assert head.status_code == 200, head.text
    return int(head.headers["upload-offset"])


def _offset_once_stored(api: httpx.Client, location: str, auth: dict, arrived: int, timeout: float = 10.0) -> int:
    """The offset HEAD gives once the server has stored the `arrived` bytes of a dropped PATCH, or after `timeout`.

    The offset is the data file's size, and the dropped PATCH writes what it buffered only when it sees the
    connection go: on a loaded machine that took longer than the drop's 0.3 s, and HEAD said 0 meanwhile.
    """
    deadline = time.monotonic() + timeout
    while (offset := _offset(api, location, auth)) < arrived and time.monotonic() < deadline:
        time.sleep(0.05)
    return offset


@pytest.fixture(params=["local", "s3"])
def store_settings(request, make_settings, tmp_path):
    if request.param == "local":
        return make_settings(DATABASE_URL=f"sqlite:///{tmp_path / 'api.db'}")
    endpoint, bucket = request.getfixturevalue("s3_endpoint"), request.getfixturevalue("s3_bucket")
    return make_settings(
        DATABASE_URL=f"sqlite:///{tmp_path / 'api.db'}", OBJECT_STORE="s3", S3_BUCKET=bucket, S3_ENDPOINT_URL=endpoint
    )


def test_a_dropped_upload_resumes_from_the_stored_offset_and_is_accepted(
    make_client, store_settings, small_video_path: Path
) -> None:
    client = make_client(store_settings)  # migrates and seeds like the other API tests
    owner, other = make_user_in(client), make_user_in(client)
    data = small_video_path.read_bytes()
    with serve(create_app(store_settings)) as live, httpx.Client(base_url=live.url, timeout=30) as api:
        location = _create(api, owner.headers, small_video_path, "Resumed <b>talk</b>")
        path = httpx.URL(location).path
        first = len(data) * 2 // 5
        _patch_then_drop(live.port, path, owner.headers, data[:first], declared=len(data))
        stored = _offset_once_stored(api, location, owner.headers, first)
        assert stored == first  # everything that arrived is kept
        # Nobody else can see, resume or finish it; nobody signed out can either.
        assert api.head(location, headers={**HEADERS, **other.headers}).status_code == 404
        assert api.head(location, headers=HEADERS).status_code == 401
        rest = data[stored:]
        resumed = api.patch(
            location,
            content=rest,
            headers={**HEADERS, **owner.headers, "Upload-Offset": str(stored), "Content-Type": "application/offset+octet-stream"},
        )
        assert resumed.status_code == 204, resumed.text
        assert int(resumed.headers["upload-offset"]) == len(data)
        assert first + len(rest) == len(data)  # bytes sent in all: the file, once

    with session_scope(client.app.state.services.engine) as session:  # type: ignore[attr-defined]
        video = session.scalars(select(Video).where(Video.owner_id == owner.id)).one()
        upload = session.scalars(select(UploadMetadata).where(UploadMetadata.video_id == video.id)).one()
        topics = list(session.scalars(select(OutboxEvent.topic).where(OutboxEvent.key == str(video.id))))
        assert (video.status, video.title, video.size_bytes) == (VideoStatus.PENDING.value, "Resumed <b>talk</b>", len(data))
        assert (upload.method, upload.state) == ("tus", "completed")
        assert topics == ["video.uploaded"]
        store = client.app.state.services.store  # type: ignore[attr-defined]
        stored_bytes = store.get_bytes(video.source_key)  # in the object store, whole
        assert hashlib.sha256(stored_bytes).hexdigest() == hashlib.sha256(data).hexdigest()
    leftovers = [p for p in (store_settings.videoai_home / "tus" / str(owner.id)).rglob("*") if p.is_file()]
    assert leftovers == []  # the parts are removed once the upload is accepted


def test_a_tus_upload_that_is_not_a_video_is_refused_and_leaves_nothing(
    make_client, make_settings, tmp_path, non_video_path: Path
) -> None:
    settings = make_settings(DATABASE_URL=f"sqlite:///{tmp_path / 'api.db'}")
    client = make_client(settings)
    owner = make_user_in(client)
    with serve(create_app(settings)) as live, httpx.Client(base_url=live.url, timeout=30) as api:
        location = _create(api, owner.headers, non_video_path, "Not a video")
        done = api.patch(
            location,
            content=non_video_path.read_bytes(),
            headers={**HEADERS, **owner.headers, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
        )
        assert done.status_code == 415, done.text
        assert "not a video" in done.json()["error"]["message"].lower()
        too_big = api.post(
            TUS,
            headers={
                **HEADERS,
                **owner.headers,
                "Upload-Length": str(10**15),
                "Upload-Metadata": _metadata(filename="big.mp4", filetype="video/mp4"),
            },
        )
        assert too_big.status_code == 413
    with session_scope(client.app.state.services.engine) as session:  # type: ignore[attr-defined]
        assert session.scalars(select(Video)).all() == []


def _patch(api, location: str, auth: dict, body: bytes, offset: int, **headers: str) -> httpx.Response:
    return api.patch(
        location,
        content=body,
        headers={**HEADERS, **auth, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream", **headers},
    )


def _videos(client) -> list[Video]:
    with session_scope(client.app.state.services.engine) as session:
        return list(session.scalars(select(Video)))


def test_every_length_rule_holds_before_a_byte_is_stored(make_client, make_settings, tmp_path) -> None:
    settings = make_settings(DATABASE_URL=f"sqlite:///{tmp_path / 'api.db'}", MAX_UPLOAD_BYTES="1000")
    client = make_client(settings)
    user = make_user_in(client)
    auth = {**HEADERS, **user.headers, "Upload-Metadata": _metadata(filename="a.mp4", filetype="video/mp4")}

    def create(**headers: str) -> httpx.Response:
        return client.post(TUS, headers={**auth, **headers})

    assert create().status_code == 400  # no length at all
    assert create(**{"Upload-Length": "-1"}).status_code == 400
    assert create(**{"Upload-Length": "12abc"}).status_code == 400
    assert create(**{"Upload-Length": "1001"}).status_code == 413
    assert create(**{"Upload-Length": "10", "Upload-Defer-Length": "1"}).status_code == 400
    assert create(**{"Upload-Defer-Length": "2"}).status_code == 400
    assert create(**{"Upload-Length": "10", "Upload-Concat": "partial"}).status_code == 400
    assert client.post(TUS, headers={**user.headers, "Upload-Length": "10"}).status_code == 412  # no Tus-Resumable
    # Creation with upload: a body longer than the declared length is refused before it is read.
    assert (
        create(
            **{"Upload-Length": "100", "Content-Type": "application/offset+octet-stream"},
        ).status_code
        == 201
    )  # an empty body is a plain creation
    longer = client.post(
        TUS, content=b"x" * 500, headers={**auth, "Upload-Length": "100", "Content-Type": "application/offset+octet-stream"}
    )
    assert longer.status_code == 413, longer.text
    assert len(_videos(client)) == 1  # only the plain creation

    location = create(**{"Upload-Length": "100"}).headers["location"]
    assert _patch(client, location, user.headers, b"x" * 101, 0).status_code == 413
    assert _offset(client, location, user.headers) == 0  # nothing of it was stored
    assert _patch(client, location, user.headers, MP4_HEAD + b"x" * (40 - len(MP4_HEAD)), 0).status_code == 204
    stale = _patch(client, location, user.headers, b"x" * 10, 0)
    assert stale.status_code == 409 and stale.headers["upload-offset"] == "40"  # the offset held wins
    assert _patch(client, location, user.headers, b"x", 40, **{"Upload-Length": "99"}).status_code == 400
    wrong_type = client.patch(location, content=b"x", headers={**HEADERS, **user.headers, "Upload-Offset": "40"})
    assert wrong_type.status_code == 415

    # A deferred length is bounded by MAX_UPLOAD_BYTES, both in the bytes sent and once declared.
    deferred = create(**{"Upload-Defer-Length": "1"}).headers["location"]
    assert client.head(deferred, headers={**HEADERS, **user.headers}).headers["upload-defer-length"] == "1"
    assert _patch(client, deferred, user.headers, b"x" * 1001, 0).status_code == 413
    assert _patch(client, deferred, user.headers, b"x" * 10, 0, **{"Upload-Length": "1001"}).status_code == 413
    assert _patch(client, deferred, user.headers, b"x" * 10, 0, **{"Upload-Length": "20"}).status_code == 204
    head = client.head(deferred, headers={**HEADERS, **user.headers})
    assert (head.headers["upload-length"], head.headers["upload-offset"]) == ("20", "10")
    assert _patch(client, deferred, user.headers, b"x" * 11, 10).status_code == 413
    assert [p.stat().st_size for p in sorted((tus_root(settings) / str(user.id)).iterdir(), key=lambda p: p.stat().st_size)] == [
        10,
        40,
    ]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("filename", "clip\x00.mp4"),
        ("filename", "f" * 5000 + ".mp4"),
        ("title", "a\x00b"),
        ("title", "t" * 301),
        ("description", "d" * 5001),
        ("filetype", "video/" + "x" * 300),
    ],
)
def test_metadata_the_database_cannot_hold_is_refused_at_creation(sqlite_client, key: str, value: str) -> None:
    user = make_user_in(sqlite_client)
    fields = {"filename": "clip.mp4", "filetype": "video/mp4", key: value}
    refused = sqlite_client.post(
        TUS, headers={**HEADERS, **user.headers, "Upload-Length": "10", "Upload-Metadata": _metadata(**fields)}
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["details"][0]["loc"][:2] == ["header", "Upload-Metadata"]
    assert _videos(sqlite_client) == []


@pytest.mark.parametrize(
    "header", ["filename", "filename !!!", "filename YQ==,filename Yg==", "a b c", "filename /w==", "filetype dmlkZW8vbXA0"]
)
def test_malformed_or_incomplete_metadata_is_refused(sqlite_client, header: str) -> None:
    user = make_user_in(sqlite_client)
    refused = sqlite_client.post(TUS, headers={**HEADERS, **user.headers, "Upload-Length": "10", "Upload-Metadata": header})
    assert refused.status_code in (400, 422), refused.text
    assert _videos(sqlite_client) == []


def test_open_uploads_are_counted_across_every_path(make_client, make_settings, tmp_path) -> None:
    client = make_client(make_settings(DATABASE_URL=f"sqlite:///{tmp_path / 'api.db'}"))
    user = make_user_in(client)
    limit = client.app.state.services.settings.uploads.max_open_per_user  # type: ignore[attr-defined]
    assert limit == 20
    tus = {**HEADERS, **user.headers, "Upload-Length": "10", "Upload-Metadata": _metadata(filename="a.mp4", filetype="video/mp4")}
    locations = []
    for n in range(limit):
        if n % 2:
            made = client.post(
                f"{API}/videos/uploads",
                headers=user.headers,
                json={"filename": "a.mp4", "content_type": "video/mp4", "size_bytes": 10, "title": "presigned"},
            )
        else:
            made = client.post(TUS, headers=tus)
            locations.append(made.headers.get("location"))
        assert made.status_code == 201, made.text
    refused = client.post(TUS, headers=tus)
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "too_many_open_uploads"
    assert (
        client.post(
            f"{API}/videos/uploads",
            headers=user.headers,
            json={"filename": "a.mp4", "content_type": "video/mp4", "size_bytes": 10, "title": "x"},
        ).status_code
        == 429
    )
    # Terminating one frees its place.
    assert client.delete(locations[0], headers={**HEADERS, **user.headers}).status_code == 204
    assert client.post(TUS, headers=tus).status_code == 201
    assert client.post(TUS, headers=tus).status_code == 429


def test_termination_and_expiry_use_the_upload_rules(make_client, make_settings, tmp_path) -> None:
    settings = make_settings(DATABASE_URL=f"sqlite:///{tmp_path / 'api.db'}", UPLOAD_ABANDON_HOURS="1")
    client = make_client(settings)
    user = make_user_in(client)
    tus = {
        **HEADERS,
        **user.headers,
        "Upload-Length": "100",
        "Upload-Metadata": _metadata(filename="a.mp4", filetype="video/mp4"),
    }
    kept, ended, expired = (client.post(TUS, headers=tus).headers["location"] for _ in range(3))
    for location in (kept, ended, expired):
        assert _patch(client, location, user.headers, b"x" * 10, 0).status_code == 204
    assert client.delete(ended, headers={**HEADERS, **user.headers}).status_code == 204
    assert client.head(ended, headers={**HEADERS, **user.headers}).status_code == 404
    services = client.app.state.services  # type: ignore[attr-defined]
    expired_id = httpx.URL(expired).path.rsplit("/", 1)[1]
    with session_scope(services.engine) as session:
        upload = session.scalars(select(UploadMetadata).where(UploadMetadata.upload_id == expired_id)).one()
        upload.created_at = upload.created_at - timedelta(hours=2)
    assert client.head(expired, headers={**HEADERS, **user.headers}).status_code == 410
    # The API's prune removes the data files of uploads gone or expired, and keeps the rest.
    orphan = part_path(settings, user.id, "f" * 32)
    orphan.write_bytes(b"left by a crash")
    assert prune_orphaned_parts(services) == 2
    kept_id = httpx.URL(kept).path.rsplit("/", 1)[1]
    assert [p.name for p in (tus_root(settings) / str(user.id)).iterdir()] == [kept_id]
    assert oct(part_path(settings, user.id, kept_id).stat().st_mode & 0o777) == "0o600"
    # `videoai prune-uploads` abandons the expired one like any other upload.
    with session_scope(services.engine) as session:
        assert prune_abandoned_uploads(session, services.store, older_than=timedelta(hours=1)) != []
        assert session.scalars(select(UploadMetadata.upload_id)).all() == [kept_id]


def test_an_empty_title_falls_back_to_the_file_name(sqlite_client) -> None:
    user = make_user_in(sqlite_client)
    created = sqlite_client.post(
        TUS,
        headers={
            **HEADERS,
            **user.headers,
            "Upload-Length": "10",
            "Upload-Metadata": _metadata(filename="Holiday talk.mp4", filetype="video/mp4", title=" "),
        },
    )
    assert created.status_code == 201, created.text
    assert [video.title for video in _videos(sqlite_client)] == ["Holiday talk"]
    head = sqlite_client.head(created.headers["location"], headers={**HEADERS, **user.headers})
    metadata = dict(pair.split(" ") for pair in head.headers["upload-metadata"].split(","))
    assert base64.b64decode(metadata["filename"]).decode() == "Holiday talk.mp4"


_HEADER_VALUES = st.one_of(
    st.sampled_from(["", "-1", "0", "1", "10", "1e3", " 7 ", "9" * 19, "9" * 40, "0x10"]),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
)


@hypothesis.settings(
    max_examples=150, derandomize=True, deadline=None, database=None, suppress_health_check=list(hypothesis.HealthCheck)
)
@hypothesis.given(
    method=st.sampled_from(["POST", "HEAD", "PATCH", "DELETE", "OPTIONS", "PUT", "GET"]),
    upload_id=st.sampled_from(["", "/" + "a" * 32, "/xyz", "/" + "9" * 40, "/%00"]),
    headers=st.dictionaries(
        st.sampled_from(
            [
                "Upload-Length",
                "Upload-Offset",
                "Upload-Defer-Length",
                "Upload-Metadata",
                "Upload-Concat",
                "Content-Type",
                "Tus-Resumable",
            ]
        ),
        _HEADER_VALUES,
        max_size=5,
    ),
    body=st.binary(max_size=64),
)
def test_generated_tus_requests_never_get_a_5xx(
    tus_fuzz_client, method: str, upload_id: str, headers: dict[str, str], body: bytes
) -> None:
    client, auth = tus_fuzz_client
    response = client.request(
        method, TUS + upload_id, headers={**HEADERS, **auth, **headers}, content=body if method in ("POST", "PATCH") else None
    )
    assert response.status_code < 500, (method, upload_id, headers, response.text)


@pytest.fixture(scope="module")
def tus_fuzz_client(tmp_path_factory) -> Iterator[tuple[TestClient, dict[str, str]]]:
    home = tmp_path_factory.mktemp("tus-fuzz")
    with pytest.MonkeyPatch.context() as monkeypatch:
        isolate_environment(monkeypatch, home)
        settings = Settings(VIDEOAI_HOME=str(home), MAX_UPLOAD_BYTES="1000")  # type: ignore[call-arg]
        with TestClient(create_app(settings)) as client:
            yield client, make_user_in(client).headers
