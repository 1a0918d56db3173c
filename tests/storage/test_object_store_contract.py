"""One contract for every object store: the local directory and S3 (moto over real HTTP)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx
import pytest

from orchestration.processes import free_port
from pipeline.storage import ObjectNotFound, ObjectStore, ObjectStoreError, local_file
from pipeline.storage.local import LocalObjectStore
from pipeline.storage.s3 import S3ObjectStore

# A small listing page makes S3 page through ListObjectsV2 with a handful of keys.
LIST_PAGE_SIZE = 3


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return LocalObjectStore(tmp_path / "objects")
    endpoint = request.getfixturevalue("s3_endpoint")
    return S3ObjectStore(request.getfixturevalue("s3_bucket"), endpoint_url=endpoint, list_page_size=LIST_PAGE_SIZE)


class _UnsizedStream(io.RawIOBase):
    """A stream with no length and no seek, like an HTTP request body."""

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return next(self._chunks, b"")


def test_bytes_round_trip_and_stat(store: ObjectStore) -> None:
    store.put_bytes("videos/1/summary.json", b'{"a": 1}', "application/json")
    assert store.get_bytes("videos/1/summary.json") == b'{"a": 1}'
    info = store.stat("videos/1/summary.json")
    assert (info.key, info.size) == ("videos/1/summary.json", 8)
    assert info.last_modified.tzinfo is not None
    assert store.exists("videos/1/summary.json")
    store.put_bytes("videos/1/summary.json", b"replaced")
    assert store.get_bytes("videos/1/summary.json") == b"replaced"


def test_put_file_and_download(store: ObjectStore, tmp_path: Path) -> None:
    source = tmp_path / "in.bin"
    source.write_bytes(bytes(range(256)) * 1000)
    assert store.put_file("videos/2/variants/720p.mp4", source, "video/mp4") == 256_000
    dest = store.download("videos/2/variants/720p.mp4", tmp_path / "out" / "copy.bin")
    assert dest.read_bytes() == source.read_bytes()


def test_put_stream_of_unknown_length_counts_bytes(store: ObjectStore) -> None:
    chunks = [b"x" * 700_000, b"y" * 700_000, b"z" * 12]
    written = store.put_stream("staging/abc", _UnsizedStream(chunks), "application/octet-stream")
    assert written == 1_400_012
    assert store.get_bytes("staging/abc") == b"".join(chunks)


def test_iter_range_follows_http_range_semantics(store: ObjectStore) -> None:
    data = bytes(range(256)) * 40
    store.put_bytes("videos/3/variants/720p.mp4", data)
    key = "videos/3/variants/720p.mp4"
    assert b"".join(store.iter_range(key)) == data
    assert b"".join(store.iter_range(key, 100, 199)) == data[100:200]
    assert b"".join(store.iter_range(key, 10_000)) == data[10_000:]
    assert b"".join(store.iter_range(key, 0, 0)) == data[:1]
    assert b"".join(store.iter_range(key, len(data) + 5)) == b""
    chunks = list(store.iter_range(key, 0, 999, chunk_size=256))
    assert b"".join(chunks) == data[:1000] and max(len(c) for c in chunks) <= 256


def test_local_file_gives_tools_a_readable_file_and_cleans_up(store: ObjectStore) -> None:
    store.put_bytes("uploads/clip.mp4", b"frames")
    own_file = store.local_path("uploads/clip.mp4")
    # The local store hands out its own file; S3 has none, so a temporary download stands in.
    assert (own_file is not None) == isinstance(store, LocalObjectStore)
    with local_file(store, "uploads/clip.mp4") as path:
        assert path.read_bytes() == b"frames"
    assert path.exists() == (own_file is not None)
    with pytest.raises(ObjectNotFound), local_file(store, "uploads/missing.mp4"):
        pass


def test_list_is_lexicographic_with_prefix_limit_and_start_after(store: ObjectStore) -> None:
    names = [f"uploads/2024010{d}T000000000000Z-{d}.mp4" for d in range(1, 10)] + ["uploads/a/nested.mp4"]
    for name in reversed(names):
        store.put_bytes(name, b"v")
    store.put_bytes("uploadsX/not-this", b"v")
    store.put_bytes("videos/9/summary.json", b"v")

    assert [o.key for o in store.list("uploads/")] == sorted(names)
    # Limit beyond one page, then resume after the last key seen: the sensor's cursor.
    first = store.list("uploads/", limit=7)
    assert [o.key for o in first] == sorted(names)[:7]
    rest = store.list("uploads/", start_after=first[-1].key, limit=100)
    assert [o.key for o in rest] == sorted(names)[7:]
    assert store.list("uploads/", start_after=sorted(names)[-1]) == []
    assert store.list("nothing-here/") == []
    assert all(o.size == 1 for o in first)


def test_delete_and_delete_prefix(store: ObjectStore) -> None:
    for i in range(8):
        store.put_bytes(f"videos/5/variants/{i}.mp4", b"v")
    store.put_bytes("videos/50/keep.json", b"v")
    store.put_bytes("videos/5/thumbnail.jpg", b"v")
    store.delete("videos/5/thumbnail.jpg")
    store.delete("videos/5/thumbnail.jpg")  # deleting twice is fine
    assert not store.exists("videos/5/thumbnail.jpg")
    assert store.delete_prefix("videos/5/") == 8
    assert store.list("videos/") == store.list("videos/50/")
    assert store.exists("videos/50/keep.json")
    assert store.delete_prefix("videos/5/") == 0


def test_move_replaces_destination_and_removes_source(store: ObjectStore) -> None:
    store.put_bytes("staging/u1", b"the upload")
    store.put_bytes("uploads/20240101T000000000000Z-1.mp4", b"old")
    store.move("staging/u1", "uploads/20240101T000000000000Z-1.mp4")
    assert not store.exists("staging/u1")
    assert store.get_bytes("uploads/20240101T000000000000Z-1.mp4") == b"the upload"
    with pytest.raises(ObjectNotFound):
        store.move("staging/u1", "uploads/other.mp4")
    assert not store.exists("uploads/other.mp4")


@pytest.mark.parametrize(
    "call",
    [
        lambda s, tmp: s.get_bytes("videos/404/x.json"),
        lambda s, tmp: s.stat("videos/404/x.json"),
        lambda s, tmp: s.download("videos/404/x.json", tmp / "x"),
        lambda s, tmp: b"".join(s.iter_range("videos/404/x.json")),
    ],
    ids=["get_bytes", "stat", "download", "iter_range"],
)
def test_missing_object_raises_object_not_found(store: ObjectStore, tmp_path: Path, call) -> None:
    with pytest.raises(ObjectNotFound) as raised:
        call(store, tmp_path)
    assert raised.value.key == "videos/404/x.json"
    assert not store.exists("videos/404/x.json")


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs", "a//b", "a/../b", "dir/", "", "spa ce", "ü.mp4"])
def test_invalid_keys_are_refused(store: ObjectStore, key: str) -> None:
    with pytest.raises(ObjectStoreError, match="invalid object key"):
        store.put_bytes(key, b"x")
    with pytest.raises(ObjectStoreError, match="invalid object key"):
        store.get_bytes(key)


def test_ping_tells_a_usable_store_from_a_missing_one(store: ObjectStore) -> None:
    store.ping()  # raises ObjectStoreError when unusable
    if isinstance(store, LocalObjectStore):
        store.root.rmdir()
    else:
        boto3.client("s3", endpoint_url=store.endpoint_url, region_name="us-east-1").delete_bucket(Bucket=store.bucket)
    with pytest.raises(ObjectStoreError):
        store.ping()


def test_presigned_urls(store: ObjectStore) -> None:
    put_url = store.presigned_put_url("staging/direct", "video/mp4", 300)
    get_url = store.presigned_get_url("staging/direct", 300, filename="Talk 1.mp4")
    if isinstance(store, LocalObjectStore):
        assert put_url is None and get_url is None  # the API serves the bytes itself
        return
    body = b"\x00\x01video bytes" * 1000
    assert httpx.put(put_url, content=body, headers={"Content-Type": "video/mp4"}, timeout=10).status_code == 200
    assert store.get_bytes("staging/direct") == body
    response = httpx.get(get_url, timeout=10)
    assert response.status_code == 200 and response.content == body
    assert response.headers["content-type"] == "video/mp4"
    assert 'filename="Talk 1.mp4"' in response.headers["content-disposition"]
    ranged = httpx.get(get_url, headers={"Range": "bytes=2-12"}, timeout=10)
    assert ranged.status_code == 206 and ranged.content == body[2:13]


# --- S3 only: what has no local equivalent -------------------------------------------------


def test_presigned_put_signs_the_content_type(s3_store: S3ObjectStore) -> None:
    # S3 and MinIO refuse a PUT whose Content-Type differs from a signed one; moto does not
    # check signatures, so assert that the header is part of the signature.
    url = s3_store.presigned_put_url("staging/typed", "video/mp4", 300)
    signed = parse_qs(urlsplit(url).query)["X-Amz-SignedHeaders"][0].split(";")
    assert "content-type" in signed
    assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == ["300"]


def test_presigned_put_signs_the_declared_length(s3_store: S3ObjectStore) -> None:
    # S3 refuses a body of another length than a signed Content-Length (SignatureDoesNotMatch) before
    # storing it; moto does not check signatures, so assert that the header is signed and that the
    # declared length goes through.
    body = b"\x00\x01video" * 100
    url = s3_store.presigned_put_url("staging/sized", "video/mp4", 300, size=len(body))
    signed = parse_qs(urlsplit(url).query)["X-Amz-SignedHeaders"][0].split(";")
    assert {"content-type", "content-length"} <= set(signed)
    assert httpx.put(url, content=body, headers={"Content-Type": "video/mp4"}, timeout=10).status_code == 200
    assert s3_store.get_bytes("staging/sized") == body


def test_presigned_urls_use_the_public_endpoint(s3_endpoint: str, s3_bucket: str) -> None:
    public = s3_endpoint.replace("127.0.0.1", "localhost")
    store = S3ObjectStore(s3_bucket, endpoint_url=s3_endpoint, public_endpoint_url=public)
    url = store.presigned_put_url("staging/public", "application/octet-stream", 60)
    assert url.startswith(f"{public}/{s3_bucket}/staging/public?")
    assert httpx.put(url, content=b"ok", headers={"Content-Type": "application/octet-stream"}, timeout=10).status_code == 200
    assert store.get_bytes("staging/public") == b"ok"


def test_ensure_bucket_creates_once_and_ping_needs_the_bucket(s3_endpoint: str, s3_credentials: None) -> None:
    store = S3ObjectStore("videoai-test-ensure", endpoint_url=s3_endpoint)
    with pytest.raises(ObjectStoreError, match="does not exist"):
        store.ping()
    store.ensure_bucket()
    store.ensure_bucket()
    store.ping()
    store.put_bytes("a/b", b"x")
    assert store.exists("a/b")
    store.delete_prefix("")


def test_unreachable_server_is_an_object_store_error(s3_credentials: None) -> None:
    store = S3ObjectStore("videoai", endpoint_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ObjectStoreError) as raised:
        store.get_bytes("videos/1/summary.json")
    assert not isinstance(raised.value, ObjectNotFound)
    with pytest.raises(ObjectStoreError):
        store.ping()
