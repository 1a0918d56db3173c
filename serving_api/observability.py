"""Operators' view of the API: Prometheus /metrics, and a request id on every log line.

/metrics (prometheus-fastapi-instrumentator, one registry per app):
- http_requests_total{method,handler,status}, http_request_duration_seconds (histogram): the
  instrumentator's; http_requests_inprogress: ours (the instrumentator's own in-progress gauge
  ignores the app's registry, so two apps in one process would collide);
- videoai_upload_bytes_total: bytes received by uploads;
- videoai_db_pool_checked_out / videoai_db_pool_size, videoai_db_gate_in_use /
  videoai_db_gate_waiting (and videoai_password_gate_*): the connection pool and the gates
  of the database and of password hashing (serving_api/db_gate.py);
- videoai_videos{status}, and where an outbox relay runs (KAFKA_BOOTSTRAP_SERVERS set)
  videoai_outbox_unpublished, videoai_outbox_oldest_unpublished_seconds, videoai_outbox_failing:
  the pipeline as the app database shows it (queue depth, outbox lag, relay failures), read at
  scrape time.

Request ids: `X-Request-ID` from the client (when it looks like an id) or a new one; it is
echoed on the response and attached to every log record written while the request runs
(see pipeline/logs.py for the formats).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from prometheus_fastapi_instrumentator import Instrumentator
from sqlalchemy import func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline.db.models import OutboxEvent, Video, utcnow
from pipeline.logs import request_id_var

if TYPE_CHECKING:
    from fastapi import FastAPI

    from serving_api.services import Services

logger = logging.getLogger(__name__)

_GOOD_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Gives each request an id (the client's X-Request-ID if sane) for its log lines and its response,
    and counts the requests in flight."""

    def __init__(self, app: ASGIApp, in_flight: Gauge) -> None:
        self.app = app
        self.in_flight = in_flight

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = sent if _GOOD_ID.match(sent) else uuid.uuid4().hex
        token = request_id_var.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        self.in_flight.inc()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self.in_flight.dec()
            request_id_var.reset(token)


class _StateCollector(Collector):
    """Gauges read when Prometheus scrapes: the pool, the gate, and the pipeline's tables."""

    def __init__(self, services_of: Any) -> None:
        self._services_of = services_of

    def collect(self) -> Iterator[GaugeMetricFamily]:
        services: Services | None = self._services_of()
        if services is None:  # scraped before start-up finished
            return
        pool = services.engine.pool
        checked_out = getattr(pool, "checkedout", None)
        if callable(checked_out):
            yield GaugeMetricFamily("videoai_db_pool_checked_out", "Pooled connections in use.", value=checked_out())
            size = getattr(pool, "size", None)
            if callable(size):
                yield GaugeMetricFamily("videoai_db_pool_size", "Connections the pool keeps.", value=size())
        for name, gate, what in (
            ("db", services.db_gate, "a database slot"),
            ("password", services.password_gate, "a password hash"),
        ):
            yield GaugeMetricFamily(f"videoai_{name}_gate_in_use", f"Requests holding {what}.", value=gate.in_use)
            yield GaugeMetricFamily(f"videoai_{name}_gate_waiting", f"Requests queued for {what}.", value=gate.waiting)
            yield GaugeMetricFamily(f"videoai_{name}_gate_capacity", f"Slots for {what}.", value=gate.capacity)
        try:
            yield from self._pipeline(services)
        except Exception:  # a scrape must not fail because the database is slow or down
            logger.warning("pipeline metrics unavailable", exc_info=True)

    @staticmethod
    def _pipeline(services: Services) -> Iterator[GaugeMetricFamily]:
        with services.sessions() as session:
            by_status = dict(session.execute(select(Video.status, func.count()).group_by(Video.status)).all())
        videos = GaugeMetricFamily("videoai_videos", "Videos by status (queue depth: pending..indexing).", labels=["status"])
        for status, count in sorted(by_status.items()):
            videos.add_metric([status], count)
        yield videos
        # The outbox is relayed only where Kafka is configured (KAFKA_BOOTSTRAP_SERVERS, `videoai relay`); without
        # one its rows are never published by design, so a relay-lag gauge would only grow, and the README's
        # "stuck relay" alert would fire on every install without Kafka.
        if services.settings.events.kafka_bootstrap_servers:
            yield from _outbox(services)


def _outbox(services: Services) -> Iterator[GaugeMetricFamily]:
    with services.sessions() as session:
        unpublished = select(OutboxEvent).where(OutboxEvent.published_at.is_(None)).subquery()
        pending, oldest, failing = session.execute(
            select(func.count(), func.min(unpublished.c.created_at), func.count().filter(unpublished.c.attempts > 0))
        ).one()
    yield GaugeMetricFamily("videoai_outbox_unpublished", "Outbox events not yet relayed.", value=pending)
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=utcnow().tzinfo)
    lag = (utcnow() - oldest).total_seconds() if oldest is not None else 0.0
    yield GaugeMetricFamily(
        "videoai_outbox_oldest_unpublished_seconds", "Age of the oldest unrelayed outbox event (relay lag).", value=max(0.0, lag)
    )
    yield GaugeMetricFamily("videoai_outbox_failing", "Unrelayed outbox events whose relay failed at least once.", value=failing)


class ApiMetrics:
    """The app's registry and the counters code outside the instrumentator updates."""

    def __init__(self, app: FastAPI) -> None:
        self.registry = CollectorRegistry()
        self.upload_bytes = Counter("videoai_upload_bytes", "Bytes received by uploads.", registry=self.registry)
        self.in_flight = Gauge("http_requests_inprogress", "HTTP requests being served.", registry=self.registry)
        self.registry.register(_StateCollector(lambda: getattr(app.state, "services", None)))
        Instrumentator(
            should_group_status_codes=False,
            excluded_handlers=["/metrics"],
            registry=self.registry,
        ).instrument(app).expose(app, include_in_schema=False)


def install_observability(app: FastAPI) -> ApiMetrics:
    metrics = ApiMetrics(app)
    app.state.metrics = metrics
    app.add_middleware(RequestIdMiddleware, in_flight=metrics.in_flight)
    return metrics
