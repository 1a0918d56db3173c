"""Logging for every videoai process: structured JSON for machines, text on a terminal.

`configure_logging(settings)` is called once per process (every CLI command, the API
server). LOG_FORMAT picks the format: `json` (one object per line: time, level, logger,
message, request_id when a request is being served, exception), `text`, or `auto`
(the default: text when stderr is a terminal, JSON otherwise, as in containers).
The API sets `request_id_var` for each request (serving_api/observability.py), so
every line written while serving it, uvicorn's access line included, carries its id.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.settings import Settings

_CHATTY = ("alembic", "httpx", "botocore", "urllib3", "kafka")

request_id_var: ContextVar[str | None] = ContextVar("videoai_request_id", default=None)

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "request_id"}


class RequestIdFilter(logging.Filter):
    """Puts the current request's id (or None) on every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


# A credential in a URL's query string (?token=..., &access_token=...) or anywhere as a JWT: an
# access log line must not hand a reader a working token.
_SECRET_PARAMETER = re.compile(
    r"([?&;](?:[A-Za-z_]*token|password|secret|signature|X-Amz-Signature|X-Amz-Credential"
    r"|X-Amz-Security-Token)=)[^&;\s\"']+",
    re.IGNORECASE,
)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
REDACTED = "[redacted]"


def redact(text: str) -> str:
    return _JWT.sub(REDACTED, _SECRET_PARAMETER.sub(lambda m: m.group(1) + REDACTED, text))


class RedactSecretsFilter(logging.Filter):
    """Takes credentials out of every record's message (uvicorn's access line carries the query string)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        # Structured extras (logger.info("...", extra={"video_id": 3})) become fields.
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = getattr(record, "request_id", None)
        return f"{line} [request {request_id}]" if request_id else line


class PrintedElsewhereFilter(logging.Filter):
    """Drops a record that a handler below the root has printed already: Dagster's daemon gives its
    `dagster` logger a handler of its own (in the format we pass it, see orchestration/daemon.py),
    and without this every one of its lines came out twice."""

    def filter(self, record: logging.LogRecord) -> bool:
        logger: logging.Logger | None = logging.getLogger(record.name)
        while logger is not None and logger.parent is not None:  # up to, not including, the root
            if logger.handlers:
                return False
            logger = logger.parent if logger.propagate else None
        return True


def resolved_format(settings: Settings | None, stream: IO[str] | None = None) -> str:
    """`json` or `text`: LOG_FORMAT, with `auto` resolved for `stream` (stderr by default)."""
    log_format = settings.logging.format if settings is not None else "auto"
    if log_format == "auto":
        return "text" if getattr(stream or sys.stderr, "isatty", lambda: False)() else "json"
    return log_format


def configure_logging(settings: Settings | None = None, *, stream: IO[str] | None = None) -> None:
    """Route every logger (uvicorn's, Dagster's libraries', ours) to one handler on stderr."""
    level = settings.logging.level.upper() if settings is not None else "INFO"
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if resolved_format(settings, stream) == "json" else TextFormatter())
    handler.addFilter(PrintedElsewhereFilter())
    handler.addFilter(RequestIdFilter())
    handler.addFilter(RedactSecretsFilter())
    root = logging.getLogger()
    for existing in [h for h in root.handlers if getattr(h, "_videoai", False)]:
        root.removeHandler(existing)
    handler._videoai = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    for name in _CHATTY:  # their info lines describe routine internals (each migration step's plugins)
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        # uvicorn's own handlers would print a second, unstructured copy.
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
