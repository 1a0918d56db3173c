"""Temporary work under one directory the project owns and cleans (SCRATCH_DIR).

Runs need local files (an ffmpeg ladder's outputs, a source downloaded from S3). In
the system's temp dir a killed run would leave them forever; under SCRATCH_DIR,
`prune_scratch` (run by `videoai prune-uploads` and its nightly schedule) removes
what no process has touched for longer than the abandon window.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

log = logging.getLogger(__name__)


def scratch_root() -> Path:
    from pipeline.settings import get_settings

    root = get_settings().storage.scratch_dir
    assert root is not None  # resolved by Settings
    root.mkdir(parents=True, exist_ok=True)
    return root


@contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    """A fresh directory under SCRATCH_DIR, removed on exit (and by `prune_scratch` if the process dies)."""
    with tempfile.TemporaryDirectory(prefix=prefix, dir=scratch_root()) as path:
        yield Path(path)


def video_scratch_prefix(kind: str, video_id: int) -> str:
    """The prefix of a run's scratch directory for one video (`kind`: ladder, download...), by which
    `remove_video_scratch` finds it when the video is deleted."""
    return f"videoai-{kind}-v{video_id}-"


def remove_video_scratch(root: Path, video_id: int) -> list[str]:
    """Remove every scratch directory of the video (what a stopped or killed run of it left)."""
    # tempfile's random suffixes have no "-", so "-v12-" never matches video 1 or 120.
    removed = []
    for entry in root.glob(f"videoai-*-v{video_id}-*") if root.is_dir() else []:
        log.info("removing scratch %s of deleted video %s", entry, video_id)
        shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)
        removed.append(entry.name)
    return removed


def prune_scratch(root: Path, older_than: timedelta) -> list[str]:
    """Remove entries of `root` not modified for `older_than`: what killed processes left behind."""
    if not root.is_dir():
        return []
    cutoff = time.time() - older_than.total_seconds()
    removed = []
    for entry in root.iterdir():
        newest = (
            max([entry.stat().st_mtime, *(p.stat().st_mtime for p in entry.rglob("*"))])
            if entry.is_dir()
            else entry.stat().st_mtime
        )
        if newest < cutoff:
            log.info("removing leftover scratch %s", entry)
            shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)
            removed.append(entry.name)
    return removed
