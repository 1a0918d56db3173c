"""Where logged-out tokens are remembered until they would have expired anyway.

The database is the default store (no extra server); Redis, when REDIS_URL is
set, answers the per-request check without touching the database and expires
entries by itself.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from redis import Redis
from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import IntegrityError

from pipeline.db.models import RevokedToken
from pipeline.db.session import session_scope


class RevocationStore(Protocol):
    def revoke(self, jti: str, expires_at: datetime) -> None: ...

    def is_revoked(self, jti: str) -> bool: ...


class DatabaseRevocationStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def revoke(self, jti: str, expires_at: datetime) -> None:
        try:
            with session_scope(self.engine) as session:
                # Entries past their token's expiry are useless: prune them as we go.
                session.execute(delete(RevokedToken).where(RevokedToken.expires_at < datetime.now(UTC)))
                session.add(RevokedToken(jti=jti, expires_at=expires_at))
        except IntegrityError:
            pass  # already revoked: logging out twice is not an error

    def is_revoked(self, jti: str) -> bool:
        with session_scope(self.engine) as session:
            return session.scalar(select(RevokedToken.jti).where(RevokedToken.jti == jti)) is not None


class RedisRevocationStore:
    def __init__(self, redis: Redis, prefix: str = "videoai:revoked:") -> None:
        self.redis = redis
        self.prefix = prefix

    def revoke(self, jti: str, expires_at: datetime) -> None:
        ttl = max(1, int((expires_at - datetime.now(UTC)).total_seconds()) + 1)
        self.redis.set(self.prefix + jti, b"1", ex=ttl)

    def is_revoked(self, jti: str) -> bool:
        return bool(self.redis.exists(self.prefix + jti))
