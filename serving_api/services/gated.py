"""Work that holds a scarce resource (a database connection, a core for a password hash) only while it runs.

Both wait at most until `deadline` (the event loop's clock, set by the admission
middleware: `serving_api.db_gate.queue_deadline`), then answer 503 with Retry-After.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from serving_api.services.container import Services

T = TypeVar("T")
P = ParamSpec("P")


async def in_session(services: Services, deadline: float, work: Callable[[Session], T]) -> T:
    """`work(session)` in a worker thread, with a session of its own, once the database gate admits it.

    For work that also does slow things without the database (password hashing): the
    connection is held for the queries only, not through the rest.
    """

    def run() -> T:
        with services.sessions() as session:
            return work(session)

    async with services.db_gate.slot(deadline):
        return await run_in_threadpool(run)


async def password_work(services: Services, deadline: float, hashing: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """An Argon2 hash or check, once the password gate admits it (PASSWORD_HASH_CONCURRENCY at once).

    It runs on a thread of its own, outside the shared threadpool's limit: the gate is its bound.
    """
    async with services.password_gate.slot(deadline):
        return await anyio.to_thread.run_sync(functools.partial(hashing, *args, **kwargs), limiter=CapacityLimiter(1))
