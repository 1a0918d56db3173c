"""The object store interface every backend implements.

Keys are '/'-separated strings (``videos/42/variants/720p.mp4``). Listing is in
lexicographic key order, as S3's ListObjectsV2 returns it, so a cursor can be
the last key seen.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Protocol, runtime_checkable

_KEY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-/]*$")


class ObjectStoreError(Exception):
    """The store could not do what was asked (unreachable, refused, bad key)."""


class ObjectNotFound(ObjectStoreError):
    def __init__(self, key: str) -> None:
        super().__init__(f"object not found: {key}")
        self.key = key


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    last_modified: datetime


def validate_key(key: str) -> str:
    """Reject keys that could escape a directory or confuse S3 listings."""
    if not _KEY_PATTERN.match(key) or ".." in key.split("/") or "//" in key or key.endswith("/"):
        raise ObjectStoreError(f"invalid object key: {key!r}")
    return key


@runtime_checkable
class ObjectStore(Protocol):
    def put_file(self, key: str, path: Path, content_type: str | None = None) -> int: ...

    def put_stream(self, key: str, stream: BinaryIO, content_type: str | None = None) -> int:
        """Store a stream of unknown length in bounded memory; returns bytes written."""
        ...

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None: ...

    def get_bytes(self, key: str) -> bytes: ...

    def download(self, key: str, dest: Path) -> Path: ...

    def local_path(self, key: str) -> Path | None:
        """The object's own file where the store keeps it on this machine, else None."""
        ...

    def iter_range(self, key: str, start: int = 0, end: int | None = None, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """Bytes ``start..end`` inclusive (HTTP Range semantics), in chunks."""
        ...

    def stat(self, key: str) -> StoredObject: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...

    def delete_prefix(self, prefix: str) -> int: ...

    def move(self, src: str, dst: str) -> None: ...

    def list(self, prefix: str, start_after: str | None = None, limit: int = 1000) -> list[StoredObject]: ...

    def listing_version(self, prefix: str) -> object | None:
        """A token that changes whenever a key directly under `prefix` appears or goes (compare two with `!=`),
        so a caller can wait for new objects without listing again; None where the store cannot tell cheaply
        (S3: the upload sensor lists `uploads/` again on its next tick)."""
        ...

    def delete_partial_writes(self, prefix: str, started_before: datetime) -> int:
        """Remove writes under `prefix` that never finished (a process killed mid-write) and were
        started before `started_before`: the local store's temp files, S3's incomplete multipart
        uploads. They are invisible to `list`; returns how many were removed."""
        ...

    def presigned_get_url(self, key: str, expires_seconds: int, filename: str | None = None) -> str | None:
        """A URL a browser can GET directly, or None where the API must serve the bytes."""
        ...

    def presigned_put_url(self, key: str, content_type: str, expires_seconds: int, size: int | None = None) -> str | None:
        """A URL a client can PUT to directly, or None where the store has no such thing. With `size`, the
        length is signed too: the store refuses a body of any other length before storing it."""
        ...

    def ping(self) -> None:
        """Raise ObjectStoreError unless the store is reachable and writable."""
        ...


@contextmanager
def local_file(store: ObjectStore, key: str, scratch_prefix: str = "videoai-download-") -> Iterator[Path]:
    """The object as a local file for tools that need one (ffmpeg, whisper): the store's own
    file where there is one, else a temporary download (in a scratch directory named by
    `scratch_prefix`) removed afterwards."""
    path = store.local_path(key)
    if path is not None:
        yield path
        return
    from pipeline.scratch import scratch_dir

    with scratch_dir(scratch_prefix) as workdir:
        yield store.download(key, workdir / PurePosixPath(key).name)
