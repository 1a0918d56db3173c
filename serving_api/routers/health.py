"""Liveness and readiness. All public: orchestrators probe them without credentials."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable

from fastapi import APIRouter, Request
from sqlalchemy import text

from pipeline.settings import Settings
from serving_api.deps import PUBLIC, ServicesDep
from serving_api.errors import ApiError, error_responses
from serving_api.schemas.health import CheckOut, HealthOut, ReadinessOut
from serving_api.services import Services

router = APIRouter(prefix="/health", tags=["health"])
logger = logging.getLogger(__name__)


@router.get("", response_model=HealthOut, openapi_extra=PUBLIC)
def health(request: Request) -> HealthOut:
    """The API answers, and its version (no dependency is checked: see `/health/ready`)."""
    return HealthOut(version=request.app.version)


@router.get("/live", response_model=HealthOut, openapi_extra=PUBLIC)
def live(request: Request) -> HealthOut:
    """The process is up and answering; says nothing about its dependencies."""
    return HealthOut(version=request.app.version)


def _checks(services: Services) -> dict[str, Callable[[], object]]:
    def database() -> None:
        with services.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    checks: dict[str, Callable[[], object]] = {
        "database": database,
        "object_store": services.store.ping,
        f"search:{services.search.backend_name}": services.search.ping,
    }
    if services.redis is not None:
        checks["redis"] = services.redis.ping
    checks["disk"] = lambda: check_free_disk(services.settings)
    return checks


def check_free_disk(settings: Settings) -> None:
    """Raise when a directory this process writes to has less than MIN_FREE_DISK_MB free: a
    full disk fails uploads (507), so the process must not claim to be ready."""
    needed = settings.api.min_free_disk_mb * 2**20
    paths = {settings.videoai_home, settings.storage.scratch_dir}
    if settings.storage.kind == "local":
        paths.add(settings.storage.directory)
    for path in sorted(p for p in paths if p is not None):
        existing = next((p for p in (path, *path.parents) if p.exists()), path.anchor)
        free = shutil.disk_usage(existing).free
        if free < needed:
            raise OSError(f"{free // 2**20} MiB free under {path}, below MIN_FREE_DISK_MB ({settings.api.min_free_disk_mb})")


def _semantic_search(services: Services) -> CheckOut:
    """Not a dependency: says how semantic/hybrid search runs here, or why it falls back to text."""
    vectors = services.vectors
    if vectors is None:
        return CheckOut(name="semantic_search", ok=True, detail=services.hybrid.unavailable_reason)
    return CheckOut(name="semantic_search", ok=True, detail=vectors.describe())


def _public_failure(name: str, exc: Exception, settings: Settings) -> str:
    """What the public answer says of a failed check: its kind, never a path, a host or a port
    (those are in the API's log, for operators)."""
    if name == "disk":
        return f"less free space than MIN_FREE_DISK_MB ({settings.api.min_free_disk_mb} MiB)"
    return f"unavailable ({type(exc).__name__})"


@router.get("/ready", response_model=ReadinessOut, responses=error_responses(503), openapi_extra=PUBLIC)
def ready(services: ServicesDep) -> ReadinessOut:
    """Every dependency this process is configured with answers; 503 (with each check) otherwise.

    Public, for load balancers: each check's name and whether it passed; why one failed is logged."""
    results = []
    for name, check in _checks(services).items():
        try:
            check()
            results.append(CheckOut(name=name, ok=True))
        except Exception as exc:  # any failure of a dependency means "not ready", whatever its type
            logger.warning("readiness check %s failed: %s: %s", name, type(exc).__name__, exc)
            results.append(CheckOut(name=name, ok=False, detail=_public_failure(name, exc, services.settings)))
    try:
        results.append(_semantic_search(services))
    except Exception as exc:  # the description is informative only; its failure must not fail readiness
        results.append(CheckOut(name="semantic_search", ok=True, detail=f"unknown: {type(exc).__name__}"))
    if not all(result.ok for result in results):
        raise ApiError(
            503,
            "not_ready",
            "A dependency is unavailable.",
            details=ReadinessOut(status="not_ready", checks=results).model_dump(),
        )
    return ReadinessOut(status="ready", checks=results)
