"""A Bloom filter of registered emails, for fast "this email is free" answers.

A Bloom filter has no false negatives for what was added to it, so "not in
the filter" means "not registered" without a database query; "maybe in it"
is confirmed against the database, so "exists" is never wrong.

The filter lives in each API process: it is built at start-up, updated by
signups this process handles, and rebuilt on a schedule (BLOOM_REBUILD_SECONDS)
to pick up signups other processes handled and to resize as users grow.
"""

from __future__ import annotations

import threading

from rbloom import Bloom
from sqlalchemy import Engine, func, select

from pipeline.db.models import User
from pipeline.db.session import session_scope

FALSE_POSITIVE_RATE = 0.01
_MIN_CAPACITY = 10_000
_BATCH = 10_000


def normalize_email(email: str) -> str:
    return email.strip().lower()


class EmailBloomFilter:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._filter = Bloom(_MIN_CAPACITY, FALSE_POSITIVE_RATE)
        # Adds during a rebuild go to both filters, so the swap cannot lose one.
        self._lock = threading.Lock()
        self._rebuilding: Bloom | None = None

    def rebuild(self) -> int:
        """Rebuild from the users table, sized with headroom for growth; returns the count."""
        with session_scope(self.engine) as session:
            count = session.scalar(select(func.count(User.id))) or 0
            fresh = Bloom(max(_MIN_CAPACITY, 2 * count), FALSE_POSITIVE_RATE)
            with self._lock:
                self._rebuilding = fresh
            emails = session.scalars(select(User.email).execution_options(yield_per=_BATCH))
            for email in emails:
                fresh.add(normalize_email(email))
        with self._lock:
            self._filter, self._rebuilding = fresh, None
        return count

    def add(self, email: str) -> None:
        with self._lock:
            self._filter.add(normalize_email(email))
            if self._rebuilding is not None:
                self._rebuilding.add(normalize_email(email))

    def might_contain(self, email: str) -> bool:
        return normalize_email(email) in self._filter
