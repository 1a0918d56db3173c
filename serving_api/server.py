"""Running the API with uvicorn (`videoai serve`)."""

from __future__ import annotations

import os

import uvicorn
from fastapi import FastAPI
from threadpoolctl import threadpool_limits

from pipeline.db.session import make_engine, migrate
from pipeline.logs import configure_logging
from pipeline.search.factory import search_index_from_settings
from pipeline.settings import Settings, get_settings
from serving_api.main import create_app
from serving_api.security import signing_key


def app_from_environment() -> FastAPI:
    """One worker's app (`videoai serve --workers N` starts each in its own process, from the environment)."""
    settings = get_settings()
    configure_logging(settings)
    return create_app(settings)


def _prepare_shared_state(settings: Settings) -> None:
    """What every worker shares and the first start creates, made once before any worker starts:
    workers racing to create them would each make their own secret, or collide on the migrations."""
    signing_key(settings)
    assert settings.database.url is not None
    migrate(settings.database.url)
    engine = make_engine(settings.database.url)
    try:
        search_index_from_settings(settings.search, engine).ensure()
    finally:
        engine.dispose()


def limit_native_threads(threads: int) -> None:
    """At most `threads` threads per native library pool (API_NATIVE_THREADS), in this process and in the workers
    it starts: the environment for the libraries not loaded yet (faiss is loaded with the first large vector
    index) and for the worker processes, threadpoolctl for those loaded already."""
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = str(threads)
    threadpool_limits(limits=threads)


def serve(settings: Settings) -> None:
    configure_logging(settings)
    limit_native_threads(settings.api.native_threads)
    _prepare_shared_state(settings)
    # Several workers are processes that uvicorn starts and supervises; each builds its app from the
    # environment, so only the port and the count go through here.
    app: FastAPI | str = create_app(settings) if settings.api.workers == 1 else "serving_api.server:app_from_environment"
    # Forwarded headers are handled by the app itself, and only from TRUSTED_PROXIES
    # (serving_api/main.py); uvicorn's own handling would trust 127.0.0.1 by default.
    # No limit_concurrency: uvicorn answers its excess a bare 503 without Retry-After, counting
    # connections, not requests; the app bounds requests itself (serving_api/db_gate.py).
    uvicorn.run(
        app,
        factory=settings.api.workers > 1,
        workers=settings.api.workers,
        host=settings.api.host,
        port=settings.api.port,
        proxy_headers=False,
        log_config=None,
        log_level=settings.logging.level.lower(),
        # Longer than uvicorn's 5 s: an overloaded server must not drop idle keep-alive
        # connections that clients are about to reuse.
        timeout_keep_alive=30,
        # uvicorn restarts a worker that misses its health check (5 s by default); a worker
        # loading a large vector snapshot in the background can be slow to answer one.
        timeout_worker_healthcheck=60,
    )
