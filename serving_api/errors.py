"""One error body for every error the API answers.

    {"error": {"code": "not_found", "message": "Video 42 was not found.", "details": null}}

`code` is stable and machine-readable; `message` is for people; `details`
carries structured context (validation errors, a video's status, ...).
HTTPExceptions, request validation errors and unexpected exceptions all go
through the handlers installed here, so clients parse one shape.
"""

from __future__ import annotations

import errno
import logging
import math
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipeline.storage import ObjectNotFound, ObjectStoreError
from pipeline.uploads import UploadRejected

logger = logging.getLogger(__name__)

DEPENDENCY_RETRY_SECONDS = 5


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class ApiError(HTTPException):
    """An HTTPException with a stable machine-readable code."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        details: Any | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status_code=status_code, detail=message, headers=headers)
        self.code = code
        self.details = details


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} was not found.")


def busy(retry_after_seconds: float, message: str = "The server is busy; try again shortly.") -> ApiError:
    """503 with Retry-After: the request was not served, and the same request may simply be retried."""
    retry = max(1, math.ceil(retry_after_seconds))
    return ApiError(503, "server_busy", message, details={"retry_after_seconds": retry}, headers={"Retry-After": str(retry)})


def error_responses(*status_codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries documenting the error body for these statuses."""
    return {code: {"model": ErrorResponse, "description": HTTPStatus(code).phrase} for code in status_codes}


def _code_for_status(status_code: int) -> str:
    try:
        return HTTPStatus(status_code).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"


def error_json(
    status_code: int, code: str, message: str, details: Any = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    body = ErrorResponse(error=ErrorBody(code=code, message=message, details=jsonable_encoder(details)))
    return JSONResponse(body.model_dump(), status_code=status_code, headers=headers)


async def _http_exception(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = exc.code if isinstance(exc, ApiError) else _code_for_status(exc.status_code)
    details = exc.details if isinstance(exc, ApiError) else None
    message = exc.detail if isinstance(exc.detail, str) else _code_for_status(exc.status_code).replace("_", " ")
    return error_json(exc.status_code, code, message, details, headers=exc.headers)


# The upload rule's reasons (pipeline.uploads) as HTTP statuses and codes.
UPLOAD_REJECTIONS: dict[str, tuple[int, str]] = {
    "too_large": (413, "upload_too_large"),
    "not_a_video": (415, "unsupported_media_type"),
    "probe_unavailable": (503, "probe_unavailable"),
    "size_mismatch": (422, "size_mismatch"),
}


async def _upload_rejected(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, UploadRejected)
    status_code, code = UPLOAD_REJECTIONS[exc.reason]
    return error_json(status_code, code, exc.message, exc.details)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Pydantic echoes the rejected input; a rejected password must not come back in the body.
    details = [{"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")} for err in exc.errors()]
    return error_json(422, "validation_error", "The request is invalid.", details)


async def _pool_timeout(request: Request, exc: Exception) -> JSONResponse:
    # Every pooled connection stayed busy for DB_POOL_TIMEOUT: overload, not a bug.
    logger.warning("database pool exhausted: %s", exc)
    return await _http_exception(request, busy(1, "The database is busy; try again shortly."))


async def _dependency_lost(request: Request, exc: Exception) -> JSONResponse:
    # The database, Redis or the object store cannot be reached (down, restarting, failing over):
    # the request was not served and may be retried; the details are for operators, in the log.
    if isinstance(exc, ObjectNotFound):
        return await _unexpected_error(request, exc)
    if "disk is full" in str(exc):  # SQLite's SQLITE_FULL: the database's disk, not its availability
        return _insufficient_storage(exc)
    logger.error("a dependency is unavailable: %s: %s", type(exc).__name__, exc)
    return await _http_exception(
        request, busy(DEPENDENCY_RETRY_SECONDS, "A service the API needs is unavailable; try again shortly.")
    )


async def _os_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OSError)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return _insufficient_storage(exc)
    return await _unexpected_error(request, exc)


def _insufficient_storage(exc: Exception) -> JSONResponse:
    logger.error("out of storage space: %s", exc)
    return error_json(
        507, "insufficient_storage", "The server is out of storage space; try again later.", headers={"Retry-After": "60"}
    )


async def _unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error", exc_info=exc)
    return error_json(500, "internal_error", "An unexpected error occurred.")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(UploadRejected, _upload_rejected)
    app.add_exception_handler(PoolTimeoutError, _pool_timeout)
    app.add_exception_handler(OSError, _os_error)
    for lost in (OperationalError, InterfaceError, RedisConnectionError, RedisTimeoutError, ObjectStoreError):
        app.add_exception_handler(lost, _dependency_lost)
    app.add_exception_handler(Exception, _unexpected_error)
