"""The serving API: `create_app(settings)` builds the FastAPI application.

Everything under /api/v1; OpenAPI docs at /docs. The lifespan builds the
services once (database migrated to head, object store, search index,
revocation store, login throttle, the email Bloom filter), loads what a first
semantic search needs, and keeps the filter fresh with a periodic rebuild.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline
from starlette.concurrency import run_in_threadpool
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from pipeline.settings import Settings, get_settings
from serving_api.bloom import EmailBloomFilter
from serving_api.db_gate import AdmissionMiddleware
from serving_api.deps import API_PREFIX
from serving_api.errors import install_error_handlers
from serving_api.headers import SecurityHeadersMiddleware
from serving_api.methods import AllowedMethodsMiddleware
from serving_api.observability import install_observability
from serving_api.openapi import OPENAPI_TAGS, document_errors, operation_id
from serving_api.openapi_rules import state_settings_limits
from serving_api.routers import ask, auth, health, playback, uploads, users, videos
from serving_api.routers.tus import build_tus_router, prune_periodically
from serving_api.services import build_services
from serving_api.web import install_web_app

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
        try:
            await run_in_threadpool(services.hybrid.warm_up)
        except Exception:  # a search that needs what failed to load says why; every other route serves
            logger.exception("search warm-up failed")
        # What start-up built (the app, the services, the models, the libraries) lives as long as the process:
        # left to the collector, each full collection walked all of it (25-65 ms, at points the allocations
        # set: a p99 of every search mode, benchmarks/README.md, `search_scale`); frozen, it is skipped.
        gc.freeze()
        background = [
            asyncio.create_task(_rebuild_periodically(services.emails, settings.auth.bloom_rebuild_seconds)),
            asyncio.create_task(prune_periodically(services)),
        ]  # resumable uploads never finished
        try:
            yield
        finally:
            for task in background:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            services.close()

    # Swagger UI and ReDoc assets are served from the fastapi-offline package: /docs works offline.
    app = FastAPIOffline(
        title="videoai API",
        version=_version(),
        description="Upload, watch and search videos that the videoai pipeline transcodes, transcribes and summarizes.",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        openapi_tags=OPENAPI_TAGS,
    )
    install_error_handlers(app)
    if settings.api.trusted_proxies.strip():
        # X-Forwarded-For/-Proto from these peers only: anyone else could claim any address
        # (and so escape the login throttle, or pin it on someone else).
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.api.trusted_proxies)
    for router in (
        health.router,
        auth.router,
        users.router,
        uploads.router,
        videos.router,
        playback.router,
        ask.router,
        build_tus_router(),
    ):
        document_errors(router, API_PREFIX)  # what each route can answer beyond its own errors
        app.include_router(router, prefix=API_PREFIX)
    install_web_app(app)
    state_settings_limits(app, settings)
    # OPTIONS and 405 answer every method of a path (inside CORS: a preflight is answered before).
    app.add_middleware(AllowedMethodsMiddleware, routes=app.router.routes)
    if settings.api.cors_origin_list:
        # Other front-ends call the API with Bearer tokens: no credentials (cookies) cross origins.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.api.cors_origin_list,
            allow_credentials=False,
            allow_methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "Range",
                "Tus-Resumable",
                "Upload-Length",
                "Upload-Offset",
                "Upload-Metadata",
                "Upload-Defer-Length",
                "Upload-Concat",
            ],
            expose_headers=[
                "Location",
                "Content-Range",
                "Accept-Ranges",
                "Tus-Resumable",
                "Upload-Offset",
                "Upload-Length",
                "Upload-Expires",
                "Retry-After",
            ],
            max_age=600,
        )
    app.add_middleware(SecurityHeadersMiddleware, settings=settings)  # outermost: on every response
    # At most API_MAX_IN_FLIGHT requests at once; the excess waits briefly, then gets 503 + Retry-After.
    app.add_middleware(AdmissionMiddleware, max_in_flight=settings.api.max_in_flight, queue_seconds=settings.api.queue_seconds)
    # /metrics, and a request id on every response and log line (outermost of all).
    install_observability(app)
    return app
