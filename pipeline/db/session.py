"""Engine and session helpers, and running migrations to head."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from pipeline.db.packed_text import register_sqlite_functions

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def make_engine(url: str, *, pool_size: int = 10, max_overflow: int = 10, pool_timeout: float = 10.0) -> Engine:
    """An engine with a bounded pool: at most pool_size + max_overflow connections; a checkout
    waits at most pool_timeout seconds (sqlalchemy.exc.TimeoutError, which the API answers with 503)."""
    pool = {"pool_size": pool_size, "max_overflow": max_overflow, "pool_timeout": pool_timeout}
    if url.startswith("sqlite"):
        if not private_sqlite_file(url):
            pool = {}  # in-memory SQLite uses a single-connection pool
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **pool)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:
            # WAL lets the API read while the pipeline writes; foreign keys are off by default.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
            register_sqlite_functions(dbapi_connection)

        return engine
    return create_engine(url, pool_pre_ping=True, **pool)


def private_sqlite_file(url: str) -> Path | None:
    """Create a SQLite database's file owner-only (0600) before SQLite opens it, and tighten one
    made earlier: it holds emails and password hashes. SQLite gives its -wal and -shm files the
    database file's mode. None for an in-memory database."""
    path = url.split("///", 1)[-1].split("?", 1)[0]
    if not path or path == ":memory:":
        return None
    database = Path(path)
    database.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(database, os.O_WRONLY | os.O_CREAT, 0o600))  # an empty file is an empty database
    for name in (database, database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")):
        with contextlib.suppress(FileNotFoundError):
            if name.stat().st_mode & 0o077:
                name.chmod(0o600)
    return database


@lru_cache(maxsize=8)
def engine_for(url: str, pool_size: int = 10, max_overflow: int = 10, pool_timeout: float = 10.0) -> Engine:
    """One engine (and pool) per database URL (and pool shape) per process."""
    return make_engine(url, pool_size=pool_size, max_overflow=max_overflow, pool_timeout=pool_timeout)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str) -> None:
    """Bring the database at `url` to the newest schema (idempotent)."""
    if url.startswith("sqlite"):
        private_sqlite_file(url)
    command.upgrade(alembic_config(url), "head")


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A unit of work: commit on success, roll back on error."""
    factory = sessionmaker(engine, expire_on_commit=False)
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
