"""Resumable uploads over the tus protocol (https://tus.io), served by `tuspyserver`.

A client creates an upload (`POST /api/v1/uploads/tus`, with `Upload-Length`
and `Upload-Metadata`: `filename`, `filetype`, optional `title` and
`description`), then PATCHes bytes at `Upload-Offset`; after a dropped
connection it asks `HEAD` for the offset the server holds and sends only the
rest. Every request needs the user (Bearer token, or the web session cookie
with its CSRF header), and each user's uploads live in a directory of their
own, so nobody else can read, resume or finish them.

The parts gather on the API host's disk (`VIDEOAI_HOME/tus/<user id>`). The
last PATCH hands the whole file to the same path as every other upload:
`pipeline.uploads.ingest_file`, as `videoai ingest` does: registered, stored at
its staging key in the object store (local or S3), then checked by the upload
rule (size, container signature, ffprobe) and published as `pending` with its
`video.uploaded` event, or rejected leaving nothing behind.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import APIRouter, HTTPException
from starlette.concurrency import run_in_threadpool
from tuspyserver import create_tus_router

from pipeline.settings import Settings
from pipeline.uploads import UploadRules, check_size, ingest_file
from serving_api.deps import CurrentUser, ServicesDep
from serving_api.schemas.videos import DESCRIPTION_MAX_LENGTH, TITLE_MAX_LENGTH
from serving_api.services import Services

logger = logging.getLogger(__name__)

TUS_PATH = "/uploads/tus"


def tus_root(settings: Settings) -> Path:
    return settings.videoai_home / "tus"


def _user_dir(settings: Settings, user_id: int) -> Path:
    path = tus_root(settings) / str(user_id)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _title(metadata: dict) -> str:
    title = (metadata.get("title") or "").strip() or Path(metadata.get("filename") or "").stem or "Untitled"
    return title[:TITLE_MAX_LENGTH]


def accept_tus_file(services: Services, owner_id: int, path: Path, metadata: dict) -> int:
    """Register a finished tus upload like any other upload and accept it; returns the video id."""
    video = ingest_file(services.engine, services.store, path, UploadRules.from_settings(services.settings),
                        title=_title(metadata), description=(metadata.get("description") or "")[:DESCRIPTION_MAX_LENGTH],
                        owner_id=owner_id, filename=metadata.get("filename"),
                        content_type=metadata.get("filetype") or "application/octet-stream", method="tus")
    return video.id


def _remove_upload(path: Path) -> None:
    """tuspyserver keeps the data file and an `.info` file beside it."""
    for leftover in (path, path.with_name(path.name + ".info")):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)


def prune_stale_parts(settings: Settings, now: float | None = None) -> int:
    """Remove tus uploads not touched for UPLOAD_ABANDON_HOURS (a client that never came back);
    returns how many files were removed."""
    cutoff = (now if now is not None else time.time()) - settings.upload_abandon_hours * 3600
    removed = 0
    root = tus_root(settings)
    for path in root.glob("*/*") if root.is_dir() else ():
        if path.is_file() and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


async def prune_periodically(settings: Settings, every_seconds: float = 3600) -> None:
    while True:
        try:
            removed = await asyncio.to_thread(prune_stale_parts, settings)
            if removed:
                logger.info("removed %d stale tus upload file(s)", removed)
        except OSError:
            logger.exception("pruning stale tus uploads failed")
        await asyncio.sleep(every_seconds)


def build_tus_router(settings: Settings) -> APIRouter:
    def require_user(user: CurrentUser) -> None:
        """Every tus request is signed in (Bearer, or the session cookie + CSRF header)."""

    def user_files(user: CurrentUser) -> Callable[[dict], dict]:
        return lambda _metadata: {"files_dir": str(_user_dir(settings, user.id))}

    def pre_create(services: ServicesDep) -> Callable[[dict, dict], None]:
        def check(metadata: dict, info: dict) -> None:
            size = info.get("size")
            if size is not None:
                check_size(size, services.settings.max_upload_bytes)
            if not metadata.get("filename") or not metadata.get("filetype"):
                raise HTTPException(400, "Upload-Metadata needs filename and filetype.")
        return check

    def on_complete(user: CurrentUser, services: ServicesDep) -> Callable[[str, dict], Awaitable[None]]:
        async def publish(file_path: str, metadata: dict) -> None:
            path = Path(file_path)
            try:
                video_id = await run_in_threadpool(accept_tus_file, services, user.id, path, metadata)
                logger.info("tus upload %s became video %d", path.name, video_id)
            finally:
                _remove_upload(path)
        return publish

    # tuspyserver annotates its hooks as plain callables; they are FastAPI dependencies (with parameters).
    router = create_tus_router(
        prefix=TUS_PATH,
        files_dir=str(tus_root(settings)),
        max_size=settings.max_upload_bytes,
        auth=require_user,  # type: ignore[arg-type]
        days_to_keep=max(1, round(settings.upload_abandon_hours / 24)),
        upload_complete_dep=on_complete,  # type: ignore[arg-type]
        pre_create_dep=pre_create,
        file_dep=user_files,  # type: ignore[arg-type]
        tags=["uploads"],
    )
    # The tus protocol is documented by tus.io, not by our OpenAPI document (its routes answer
    # with tus headers rather than our JSON bodies).
    for route in router.routes:
        route.include_in_schema = False
    return router
