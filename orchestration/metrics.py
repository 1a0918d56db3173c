"""`videoai metrics`: what only Dagster knows about the pipeline, for Prometheus.

The API's /metrics serves what the app database knows (videos by status, `pending` being
uploads waiting for a run; the outbox backlog and lag) and its own requests. This exporter
reads the Dagster instance the daemon uses (DAGSTER_HOME) at scrape time:

- videoai_dagster_runs{status}: runs queued, starting, started and canceling (the run queue's
  depth and what runs now);
- videoai_dagster_oldest_queued_run_seconds: how long the oldest queued run has waited (0: none);
- videoai_step_duration_seconds{step} (histogram): how long each successful step (asset) took,
  from its STEP_SUCCESS event (the last attempt's own time, retries' waits excluded);
- videoai_step_failures_total{step}: steps that failed for good (STEP_FAILURE events);
- videoai_dagster_up: 1 when the instance answered this scrape.

Step events are read incrementally by their storage id: each scrape asks for those recorded
since the previous one (one indexed query per event type); after a start, the first scrapes
replay the instance's history, STEP_EVENTS_PER_SCRAPE at a time, so the counts cover every
step the instance recorded. Needs an event log with a global order: PostgreSQL or the
consolidated SQLite the embedded instance uses; with Dagster's per-run SQLite files only the
run gauges are served.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import dagster as dg
from dagster import DagsterEventType, DagsterRunStatus, EventRecordsFilter, RunsFilter
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

IN_FLIGHT = (DagsterRunStatus.QUEUED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING)
STEP_EVENTS_PER_SCRAPE = 10_000
# From a thumbnail's fraction of a second to a long video's transcription.
STEP_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200)


class DagsterCollector(Collector):
    """Prometheus collector over one Dagster instance; each collect() is one scrape."""

    def __init__(self, instance: dg.DagsterInstance) -> None:
        self._instance = instance
        self._lock = threading.Lock()  # concurrent scrapes must not count an event twice
        self._durations = Histogram(
            "videoai_step_duration_seconds",
            "Duration of successful pipeline steps.",
            ["step"],
            buckets=STEP_BUCKETS,
            registry=None,
        )
        self._failures = Counter("videoai_step_failures", "Pipeline steps that failed.", ["step"], registry=None)
        self._after: dict[DagsterEventType, int | None] = {
            DagsterEventType.STEP_SUCCESS: None,
            DagsterEventType.STEP_FAILURE: None,
        }
        self._steps_readable = not instance.event_log_storage.is_run_sharded
        if not self._steps_readable:
            log.warning(
                "the event log is stored per run: step metrics are off (use PostgreSQL or the consolidated SQLite event log)"
            )

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            try:
                runs = self._runs()
                if self._steps_readable:
                    self._read_step_events()
            except Exception:  # a scrape must answer, and say the instance did not
                log.warning("Dagster instance unavailable for metrics", exc_info=True)
                yield GaugeMetricFamily("videoai_dagster_up", "1 when the Dagster instance answered.", value=0)
                return
        yield GaugeMetricFamily("videoai_dagster_up", "1 when the Dagster instance answered.", value=1)
        yield from runs
        if self._steps_readable:
            yield from self._durations.collect()
            yield from self._failures.collect()

    def _runs(self) -> list[Metric]:
        by_status = GaugeMetricFamily("videoai_dagster_runs", "Runs queued or in progress, by status.", labels=["status"])
        for status in IN_FLIGHT:
            by_status.add_metric([status.value], self._instance.get_runs_count(RunsFilter(statuses=[status])))
        oldest = self._instance.get_run_records(
            RunsFilter(statuses=[DagsterRunStatus.QUEUED]), limit=1, order_by="create_timestamp", ascending=True
        )
        waited = time.time() - oldest[0].create_timestamp.timestamp() if oldest else 0.0
        return [
            by_status,
            GaugeMetricFamily(
                "videoai_dagster_oldest_queued_run_seconds", "How long the oldest queued run has waited.", value=max(0.0, waited)
            ),
        ]

    def _read_step_events(self) -> None:
        for event_type, after in self._after.items():
            records = self._instance.get_event_records(
                EventRecordsFilter(event_type=event_type, after_cursor=after), limit=STEP_EVENTS_PER_SCRAPE, ascending=True
            )
            for record in records:
                event = record.event_log_entry.dagster_event
                step = (event.step_key if event else None) or "unknown"
                if event_type == DagsterEventType.STEP_SUCCESS:
                    self._durations.labels(step).observe(event.event_specific_data.duration_ms / 1000)  # type: ignore[union-attr]
                else:
                    self._failures.labels(step).inc()
            if records:
                self._after[event_type] = records[-1].storage_id


def metrics_registry(instance: dg.DagsterInstance) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(DagsterCollector(instance))
    return registry


def serve_metrics(instance: dg.DagsterInstance, host: str, port: int, stop: threading.Event) -> None:
    """Serve /metrics (any path, as prometheus_client does) on host:port until `stop` is set."""
    server, thread = start_http_server(port, host, registry=metrics_registry(instance))
    log.info("serving pipeline metrics on http://%s:%d/metrics", host, port)
    try:
        stop.wait()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
