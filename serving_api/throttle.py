"""Throttling by counting events in fixed windows: failed logins, and email checks.

A fixed window per key: the first event opens a window of `window_seconds`; at
`limit` events the key is locked until the window ends (429 with Retry-After).
Redis shares the counters between API processes; without it each process counts
on its own.

Failed logins are counted under three keys, so that one person's mistakes (or an
attacker's guesses) never lock out anyone else:

- (address, account): LOGIN_MAX_FAILURES, the tight limit on guessing one account
  from one place;
- account: LOGIN_MAX_FAILURES_PER_ACCOUNT, against guessing one account from many
  addresses;
- address: LOGIN_MAX_FAILURES_PER_ADDRESS, a much higher ceiling against spraying
  many accounts from one place (behind a proxy or NAT many users share an address).

A success clears the account's counters, not the address's, so an attacker cannot
reset their address by logging in to an account of their own. A correct password
for another account from the same address is never refused unless that address
has reached the per-address ceiling.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Protocol

from redis import Redis


class EventCounter(Protocol):
    def locked_for(self, key: str, limit: int) -> int:
        """Seconds until `key` may try again (0: fewer than `limit` events in its window)."""
        ...

    def record(self, key: str, window_seconds: int) -> None: ...

    def clear(self, key: str) -> None: ...


class MemoryEventCounter:
    def __init__(self) -> None:
        self._windows: dict[str, tuple[int, float]] = {}  # key -> (events, window end)
        self._lock = threading.Lock()

    def _current(self, key: str, now: float) -> tuple[int, float] | None:
        window = self._windows.get(key)
        if window is not None and window[1] <= now:
            del self._windows[key]
            return None
        return window

    def locked_for(self, key: str, limit: int) -> int:
        now = time.monotonic()
        with self._lock:
            window = self._current(key, now)
            if window is None or window[0] < limit:
                return 0
            return max(1, round(window[1] - now))

    def record(self, key: str, window_seconds: int) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._windows) > 100_000:  # bound memory under a flood of distinct keys
                for stale in [k for k, (_, ends) in self._windows.items() if ends <= now]:
                    del self._windows[stale]
            events, ends = self._current(key, now) or (0, now + window_seconds)
            self._windows[key] = (events + 1, ends)

    def clear(self, key: str) -> None:
        with self._lock:
            self._windows.pop(key, None)


class RedisEventCounter:
    def __init__(self, redis: Redis, prefix: str = "videoai:throttle:") -> None:
        self.redis = redis
        self.prefix = prefix

    def locked_for(self, key: str, limit: int) -> int:
        pipe = self.redis.pipeline()
        pipe.get(self.prefix + key)
        pipe.ttl(self.prefix + key)
        events, ttl = pipe.execute()
        if events is None or int(events) < limit:
            return 0
        return max(1, int(ttl))

    def record(self, key: str, window_seconds: int) -> None:
        # INCR then EXPIRE NX in one round trip: the window opens at the first event only.
        pipe = self.redis.pipeline()
        pipe.incr(self.prefix + key)
        pipe.expire(self.prefix + key, window_seconds, nx=True)
        pipe.execute()

    def clear(self, key: str) -> None:
        self.redis.delete(self.prefix + key)


@dataclass(frozen=True)
class LoginLimits:
    per_pair: int = 5
    per_account: int = 20
    per_address: int = 100
    window_seconds: int = 300


class LoginThrottle:
    def __init__(self, counter: EventCounter, limits: LoginLimits) -> None:
        self.counter = counter
        self.limits = limits

    def _keys(self, email: str, client: str) -> list[tuple[str, int]]:
        email = email.lower()
        return [
            (f"login:pair:{client}:{email}", self.limits.per_pair),
            (f"login:account:{email}", self.limits.per_account),
            (f"login:address:{client}", self.limits.per_address),
        ]

    def retry_after(self, email: str, client: str) -> int:
        return max(self.counter.locked_for(key, limit) for key, limit in self._keys(email, client))

    def failed(self, email: str, client: str) -> None:
        for key, _limit in self._keys(email, client):
            self.counter.record(key, self.limits.window_seconds)

    def succeeded(self, email: str, client: str) -> None:
        pair, account, _address = self._keys(email, client)
        self.counter.clear(pair[0])
        self.counter.clear(account[0])


class RateLimit:
    """At most `limit` requests per `window_seconds` per key (e.g. per client address)."""

    def __init__(self, counter: EventCounter, name: str, limit: int, window_seconds: int) -> None:
        self.counter, self.name, self.limit, self.window_seconds = counter, name, limit, window_seconds

    def hit(self, key: str) -> int:
        """Count one request; the seconds to wait when over the limit (0: allowed)."""
        full_key = f"{self.name}:{key}"
        wait = self.counter.locked_for(full_key, self.limit)
        if not wait:
            self.counter.record(full_key, self.window_seconds)
        return wait
