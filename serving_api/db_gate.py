"""Admission of requests to the database: queue on the event loop, never in a thread.

Why: sync dependencies and sync endpoints each run in their own call to the
threadpool (40 threads). A request's session checks out a pooled connection in
one dependency and keeps it while the request waits for a thread for the next
dependency, the endpoint and the teardown. With more requests in flight than
connections, every thread ends up blocked in a pool checkout while every
connection belongs to a request waiting for a thread: a deadlock broken only by
the pool timeout (the 500s and the ~2 req/s of issue 13).

The gate bounds the requests that may hold a session to fewer than the pool's
connections (a small reserve is left for the short, single-thread users: health
checks, token revocation lookups, upload bookkeeping). A pool checkout then never
waits for long, so every thread makes progress. Requests beyond the bound wait
here, on the event loop, holding no thread and no connection; one that waited
longer than API_DB_WAIT_SECONDS is answered 503 with Retry-After.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.types import ASGIApp, Receive, Scope, Send

from serving_api.errors import busy, error_json

# Connections kept out of the gate for users that check one out and give it back in one thread.
POOL_RESERVE = 2


def gate_capacity(pool_size: int, max_overflow: int) -> int:
    return max(1, pool_size + max_overflow - POOL_RESERVE)


class AdmissionMiddleware:
    """Bounds the requests a process serves at once (API_MAX_IN_FLIGHT); the rest wait here.

    Past the bound a request waits at most API_QUEUE_SECONDS, holding nothing but its socket,
    then is answered 503 with Retry-After. Without it an overloaded process takes every
    request, and each one waits longer than the client will (p99 36 s in issue 13); with it,
    latency stays bounded by in-flight / throughput and the excess is told to come back.
    Probes (/health/live) and /metrics are always let through.
    """

    def __init__(self, app: ASGIApp, max_in_flight: int, queue_seconds: float) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.queue_seconds = queue_seconds
        self._semaphore: asyncio.Semaphore | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in _ALWAYS_ADMITTED:
            await self.app(scope, receive, send)
            return
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.max_in_flight)
        semaphore = self._semaphore
        try:
            async with asyncio.timeout(self.queue_seconds):
                await semaphore.acquire()
        except TimeoutError:
            error = busy(1)
            response = error_json(503, error.code, str(error.detail), error.details, headers=error.headers)
            await response(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            semaphore.release()


_ALWAYS_ADMITTED = {"/metrics", "/api/v1/health/live"}


class DatabaseGate:
    def __init__(self, capacity: int, wait_seconds: float) -> None:
        self.capacity = capacity
        self.wait_seconds = wait_seconds
        self._semaphore: asyncio.Semaphore | None = None
        self.waiting = 0

    @property
    def in_use(self) -> int:
        return self.capacity - self._semaphore._value if self._semaphore is not None else 0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self._semaphore is None:  # made lazily, inside the server's event loop
            self._semaphore = asyncio.Semaphore(self.capacity)
        semaphore = self._semaphore
        self.waiting += 1
        try:
            # asyncio.timeout cancels acquire() itself, which hands back a permit it was granted meanwhile.
            async with asyncio.timeout(self.wait_seconds):
                await semaphore.acquire()
        except TimeoutError:
            raise busy(self.wait_seconds) from None
        finally:
            self.waiting -= 1
        try:
            yield
        finally:
            semaphore.release()
