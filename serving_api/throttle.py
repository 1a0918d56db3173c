"""Throttling of failed logins, per account and per client address.

A fixed window per key: the first failure opens a window of
LOGIN_WINDOW_SECONDS; at LOGIN_MAX_FAILURES failures the key is locked until
the window ends (429 with Retry-After). A success clears the account's
counter, not the client's, so an attacker cannot reset their address by
logging in to an account of their own. Redis shares the counters between
API processes; without it each process counts on its own.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

from redis import Redis


class FailureCounter(Protocol):
    def locked_for(self, key: str) -> int:
        """Seconds until `key` may try again (0: not locked)."""
        ...

    def record_failure(self, key: str) -> None: ...

    def clear(self, key: str) -> None: ...


class MemoryFailureCounter:
    def __init__(self, max_failures: int, window_seconds: int) -> None:
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self._windows: dict[str, tuple[int, float]] = {}  # key -> (failures, window end)
        self._lock = threading.Lock()

    def _current(self, key: str, now: float) -> tuple[int, float] | None:
        window = self._windows.get(key)
        if window is not None and window[1] <= now:
            del self._windows[key]
            return None
        return window

    def locked_for(self, key: str) -> int:
        now = time.monotonic()
        with self._lock:
            window = self._current(key, now)
            if window is None or window[0] < self.max_failures:
                return 0
            return max(1, round(window[1] - now))

    def record_failure(self, key: str) -> None:
        now = time.monotonic()
        with self._lock:
            failures, ends = self._current(key, now) or (0, now + self.window_seconds)
            self._windows[key] = (failures + 1, ends)

    def clear(self, key: str) -> None:
        with self._lock:
            self._windows.pop(key, None)


class RedisFailureCounter:
    def __init__(self, redis: Redis, max_failures: int, window_seconds: int,
                 prefix: str = "videoai:login-failures:") -> None:
        self.redis = redis
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self.prefix = prefix

    def locked_for(self, key: str) -> int:
        pipe = self.redis.pipeline()
        pipe.get(self.prefix + key)
        pipe.ttl(self.prefix + key)
        failures, ttl = pipe.execute()
        if failures is None or int(failures) < self.max_failures:
            return 0
        return max(1, int(ttl))

    def record_failure(self, key: str) -> None:
        # INCR then EXPIRE NX in one round trip: the window opens at the first failure only.
        pipe = self.redis.pipeline()
        pipe.incr(self.prefix + key)
        pipe.expire(self.prefix + key, self.window_seconds, nx=True)
        pipe.execute()

    def clear(self, key: str) -> None:
        self.redis.delete(self.prefix + key)


class LoginThrottle:
    """Applies one counter to the two keys a login attempt has."""

    def __init__(self, counter: FailureCounter) -> None:
        self.counter = counter

    @staticmethod
    def _keys(email: str, client: str) -> tuple[str, str]:
        return f"account:{email.lower()}", f"client:{client}"

    def retry_after(self, email: str, client: str) -> int:
        return max(self.counter.locked_for(key) for key in self._keys(email, client))

    def failed(self, email: str, client: str) -> None:
        for key in self._keys(email, client):
            self.counter.record_failure(key)

    def succeeded(self, email: str, client: str) -> None:
        account, _client = self._keys(email, client)
        self.counter.clear(account)
