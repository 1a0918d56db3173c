"""The serving API: `create_app(settings)` builds the FastAPI application.

Everything under /api/v1; OpenAPI docs at /docs. The lifespan builds the
services once (database migrated to head, object store, search index,
revocation store, login throttle, the email Bloom filter) and keeps the
filter fresh with a periodic rebuild.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from pipeline.settings import Settings, get_settings
from serving_api.bloom import EmailBloomFilter
from serving_api.deps import API_PREFIX
from serving_api.errors import ErrorResponse, error_responses, install_error_handlers
from serving_api.routers import auth, health, playback, uploads, users, videos
from serving_api.services import build_services

logger = logging.getLogger(__name__)


async def _rebuild_periodically(emails: EmailBloomFilter, every_seconds: int) -> None:
    while True:
        await asyncio.sleep(every_seconds)
        try:
            count = await run_in_threadpool(emails.rebuild)
            logger.info("email Bloom filter rebuilt with %d users", count)
        except Exception:  # a failed rebuild keeps the previous filter, which stays correct
            logger.exception("email Bloom filter rebuild failed")


def _version() -> str:
    try:
        return version("videoai")
    except PackageNotFoundError:
        return "0.0.0"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = await run_in_threadpool(build_services, settings)
        app.state.services = services
        rebuild = asyncio.create_task(_rebuild_periodically(services.emails, settings.bloom_rebuild_seconds))
        try:
            yield
        finally:
            rebuild.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await rebuild
            services.close()

    app = FastAPI(
        title="videoai API",
        version=_version(),
        description="Upload, watch and search videos that the videoai pipeline transcodes, transcribes and summarizes.",
        lifespan=lifespan,
        responses={500: {"model": ErrorResponse, "description": "Unexpected error"}},
    )
    install_error_handlers(app)
    app.include_router(health.router, prefix=API_PREFIX)
    # Documents our error body for 422 instead of FastAPI's default HTTPValidationError.
    for router in (auth.router, users.router, uploads.router, videos.router, playback.router):
        app.include_router(router, prefix=API_PREFIX, responses=error_responses(422))
    return app
