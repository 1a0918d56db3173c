"""Object store on a local directory: the embedded default."""

from __future__ import annotations

import heapq
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from pipeline.storage.base import ObjectNotFound, ObjectStoreError, StoredObject, validate_key

_COPY_CHUNK = 1 << 20


class LocalObjectStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / validate_key(key)

    def _existing(self, key: str) -> Path:
        path = self._path(key)
        if not path.is_file():
            raise ObjectNotFound(key)
        return path

    def _write_atomically(self, key: str, write: Callable[[BinaryIO], int]) -> int:
        # Write to a temp file beside the target, then rename: readers never see half an object.
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                written = write(out)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return written

    def put_file(self, key: str, path: Path, content_type: str | None = None) -> int:
        with open(path, "rb") as source:
            return self.put_stream(key, source, content_type)

    def put_stream(self, key: str, stream: BinaryIO, content_type: str | None = None) -> int:
        def copy(out: BinaryIO) -> int:
            total = 0
            while chunk := stream.read(_COPY_CHUNK):
                out.write(chunk)
                total += len(chunk)
            return total

        return self._write_atomically(key, copy)

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        self._write_atomically(key, lambda out: out.write(data))

    def get_bytes(self, key: str) -> bytes:
        return self._existing(key).read_bytes()

    def download(self, key: str, dest: Path) -> Path:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self._existing(key), dest)
        return dest

    def local_path(self, key: str) -> Path | None:
        return self._existing(key)

    def iter_range(self, key: str, start: int = 0, end: int | None = None, chunk_size: int = _COPY_CHUNK) -> Iterator[bytes]:
        path = self._existing(key)
        last = path.stat().st_size - 1 if end is None else end
        with open(path, "rb") as source:
            source.seek(start)
            remaining = last - start + 1
            while remaining > 0:
                chunk = source.read(min(chunk_size, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
                yield chunk

    def stat(self, key: str) -> StoredObject:
        info = self._existing(key).stat()
        return StoredObject(key, info.st_size, datetime.fromtimestamp(info.st_mtime, UTC))

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> int:
        doomed = [obj.key for obj in self._walk(prefix)]
        for key in doomed:
            self.delete(key)
        if prefix.endswith("/") and prefix.strip("/"):
            # A whole "folder" (a deleted video's videos/<id>/): its directories go too, with any
            # write a killed process left unfinished in them (`.tmp-*`, invisible to listing).
            shutil.rmtree(self._path(prefix.rstrip("/")), ignore_errors=True)
        return len(doomed)

    def move(self, src: str, dst: str) -> None:
        source = self._existing(src)
        target = self._path(dst)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)

    def _prefix_dir(self, prefix: str) -> Path:
        """The directory that holds every key under `prefix` (its part up to the last "/")."""
        return self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root

    def _keys(self, prefix: str) -> Iterator[str]:
        """Keys under `prefix`, unordered, from directory entries alone (no stat per object)."""
        # Walk only below the prefix's directory: listing uploads/ must not scan every variant.
        base = str(self._prefix_dir(prefix))
        skip = len(str(self.root)) + 1
        pending = [base]
        while pending:
            try:
                entries = os.scandir(pending.pop())
            except (FileNotFoundError, NotADirectoryError):
                continue
            with entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(entry.path)
                    elif not entry.name.startswith(".tmp-"):
                        key = entry.path[skip:].replace(os.sep, "/")
                        if key.startswith(prefix):
                            yield key

    def _stored(self, key: str) -> StoredObject | None:
        try:
            info = (self.root / key).stat()
        except FileNotFoundError:  # removed since it was listed
            return None
        return StoredObject(key, info.st_size, datetime.fromtimestamp(info.st_mtime, UTC))

    def _walk(self, prefix: str) -> Iterator[StoredObject]:
        for key in self._keys(prefix):
            if (stored := self._stored(key)) is not None:
                yield stored

    def listing_version(self, prefix: str) -> object | None:
        # A directory's mtime changes when an entry is created, removed or renamed into it (a finished
        # write is a rename); its inode, when the directory itself is replaced.
        try:
            info = os.stat(self._prefix_dir(prefix))
        except FileNotFoundError:
            return "absent"
        return (info.st_ino, info.st_mtime_ns)

    def delete_partial_writes(self, prefix: str, started_before: datetime) -> int:
        base = self._prefix_dir(prefix)
        removed = 0
        for dirpath, _dirs, files in os.walk(base):
            for name in files:
                path = Path(dirpath, name)
                if not name.startswith(".tmp-") or not path.relative_to(self.root).as_posix().startswith(prefix):
                    continue
                try:
                    if datetime.fromtimestamp(path.stat().st_mtime, UTC) < started_before:
                        path.unlink()
                        removed += 1
                except FileNotFoundError:  # finished (renamed) or removed meanwhile
                    pass
        return removed

    def list(self, prefix: str, start_after: str | None = None, limit: int = 1000) -> list[StoredObject]:
        # Names first, then stat only the page: a backlog of 50,000 uploads is listed
        # page by page without statting all of them for every page.
        keys = heapq.nsmallest(limit, (key for key in self._keys(prefix) if start_after is None or key > start_after))
        return [stored for key in keys if (stored := self._stored(key)) is not None]

    def presigned_get_url(self, key: str, expires_seconds: int, filename: str | None = None) -> str | None:
        return None

    def presigned_put_url(self, key: str, content_type: str, expires_seconds: int, size: int | None = None) -> str | None:
        return None

    def ping(self) -> None:
        if not os.access(self.root, os.W_OK):
            raise ObjectStoreError(f"object store directory is not writable: {self.root}")
