"""The app database as a Dagster resource."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from pipeline.db.session import engine_for, migrate, session_scope

_migrated: set[str] = set()


class DatabaseResource(dg.ConfigurableResource):
    """SQLAlchemy access to the app database (SQLite by default, PostgreSQL in production)."""

    url: str

    def engine(self) -> Engine:
        # Migrate once per process: each step of a multiprocess run is its own process.
        if self.url not in _migrated:
            migrate(self.url)
            _migrated.add(self.url)
        return engine_for(self.url)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with session_scope(self.engine()) as session:
            yield session
