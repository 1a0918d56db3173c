"""What every per-video asset needs: its video id, status writes, and failing a video clearly."""


import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg

from pipeline.db.models import VideoStatus
from pipeline.lifecycle import advance_status, mark_failed
from pipeline.partitions import video_id_of
from pipeline.storage import ObjectStore
from pipeline.storage.local import LocalObjectStore
from resources.database import DatabaseResource


def video_id(context: dg.AssetExecutionContext) -> int:
    return video_id_of(context.partition_key)


def advance(db: DatabaseResource, vid: int, status: VideoStatus, event: str | None = None,
            payload: dict[str, Any] | None = None) -> None:
    with db.session() as session:
        advance_status(session, vid, status, event=event, payload=payload)


def fail_video(db: DatabaseResource, vid: int, message: str) -> dg.Failure:
    """Mark the video failed with `message` and return the Failure that stops its run.

    Bad input cannot get better by retrying, so retries are off.
    """
    with db.session() as session:
        mark_failed(session, vid, message)
    return dg.Failure(description=message, metadata={"video_id": vid}, allow_retries=False)


@contextmanager
def local_copy(store: ObjectStore, key: str) -> Iterator[Path]:
    """The object as a local file: the file itself on the local store, a temp download otherwise."""
    if isinstance(store, LocalObjectStore):
        yield store.root / key
        return
    workdir = Path(tempfile.mkdtemp(prefix="videoai-src-"))
    try:
        yield store.download(key, workdir / Path(key).name)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def scratch_dir() -> Iterator[Path]:
    workdir = Path(tempfile.mkdtemp(prefix="videoai-work-"))
    try:
        yield workdir
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
