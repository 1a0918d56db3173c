"""Admission of requests, and the gates of scarce resources: queue on the event loop, never in a thread.

Why: sync dependencies and sync endpoints each run in their own call to the
threadpool (40 threads). A request's session checks out a pooled connection in
one dependency and keeps it while the request waits for a thread for the next
dependency, the endpoint and the teardown. With more requests in flight than
connections, every thread ends up blocked in a pool checkout while every
connection belongs to a request waiting for a thread: a deadlock broken only by
the pool timeout: 500s, and a server stuck at a few requests a second.

The database gate bounds the requests that may hold a session to fewer than the
pool's connections (a small reserve is left for the short, single-thread users:
health checks, token revocation lookups, upload bookkeeping). A pool checkout
then never waits for long, so every thread makes progress. The password gate
bounds the Argon2 hashes computed at once (~0.15 s of CPU each): logins beyond it
wait instead of taking every core from the cheap requests.

Requests beyond a bound wait, on the event loop, holding no thread and no
connection, in arrival order. A request has one queue budget, API_QUEUE_SECONDS,
for all its waits together (admission, then a gate): past it, it is answered 503
with Retry-After, so no request queues longer than the budget, however many gates
it passes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from serving_api.errors import ApiError, busy, error_json

# Connections kept out of the gate for users that check one out and give it back in one thread.
POOL_RESERVE = 2
# Where a request keeps the loop time by which its waits must be over (scope["state"], i.e. request.state).
_DEADLINE = "queue_deadline"


def gate_capacity(pool_size: int, max_overflow: int, concurrency: int) -> int:
    """Requests that may hold a session at once: `concurrency`, within what the pool can serve."""
    return max(1, min(concurrency, pool_size + max_overflow - POOL_RESERVE))


def queue_deadline(request: Request) -> float:
    """The event-loop time by which this request must have left every queue (set on admission)."""
    return getattr(request.state, _DEADLINE)


class AdmissionMiddleware:
    """Bounds the requests a process serves at once (API_MAX_IN_FLIGHT); the rest wait here.

    Past the bound a request waits, holding nothing but its socket, until its queue budget
    (API_QUEUE_SECONDS from arrival) runs out, then is answered 503 with Retry-After. Without
    it an overloaded process takes every request, and each one waits longer than the client
    will; with it, latency stays bounded by in-flight / throughput and
    the excess is told to come back. Probes (/health/live) and /metrics are always let through.
    """

    def __init__(self, app: ASGIApp, max_in_flight: int, queue_seconds: float) -> None:
        self.app = app
        self.queue_seconds = queue_seconds
        self.admitted = Gate(max_in_flight)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = asyncio.get_running_loop().time() + self.queue_seconds
        scope.setdefault("state", {})[_DEADLINE] = deadline  # the gates further in wait no longer than this
        if scope["path"] in ALWAYS_ADMITTED:
            await self.app(scope, receive, send)
            return
        try:
            await self.admitted.acquire(deadline)
        except ApiError as error:
            response = error_json(503, error.code, str(error.detail), error.details, headers=error.headers)
            await response(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.admitted.release()


ALWAYS_ADMITTED = {"/metrics", "/api/v1/health/live"}


class Gate:
    """At most `capacity` holders at once; the others wait in arrival order, each until its deadline."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._semaphore: asyncio.Semaphore | None = None
        self.waiting = 0

    @property
    def in_use(self) -> int:
        return self.capacity - self._semaphore._value if self._semaphore is not None else 0

    async def acquire(self, deadline: float) -> None:
        """Take a slot; 503 with Retry-After (ApiError) if none is free by `deadline` (loop time)."""
        if self._semaphore is None:  # made lazily, inside the server's event loop
            self._semaphore = asyncio.Semaphore(self.capacity)
        self.waiting += 1
        try:
            # asyncio.timeout_at cancels acquire() itself, which hands back a permit it was granted meanwhile.
            async with asyncio.timeout_at(deadline):
                await self._semaphore.acquire()
        except TimeoutError:
            raise busy(1) from None
        finally:
            self.waiting -= 1

    def release(self) -> None:
        assert self._semaphore is not None
        self._semaphore.release()

    @asynccontextmanager
    async def slot(self, deadline: float) -> AsyncIterator[None]:
        await self.acquire(deadline)
        try:
            yield
        finally:
            self.release()
