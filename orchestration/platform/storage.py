"""The embedded instance's SQLite storages, each reusing one pooled SQLAlchemy engine per process.

Why: Dagster's SQLite storages build a new engine (NullPool) for every statement batch, so SQLAlchemy
compiles every statement afresh and opens a new SQLite connection each time. Creating one run from a
sensor writes an "asset planned" event per asset and check, and that per-connection overhead was most of
what a run cost the daemon (benchmarks/README.md, `backlog`). The databases, their files and schemas are
Dagster's own; only how connections are made changes, by subclassing Dagster's SQLite storages and
replacing how they connect (`connect`, `_connect`, `has_table`). `benchmarks/backlog --storage consolidated`
names Dagster's own consolidated event log in a dagster.yaml (`dagster_consolidated_event_log`) to compare.

Public replacement: Dagster's own SQLite storages (`storage: sqlite:` in dagster.yaml), slower per run,
or `dagster-postgres` (deploy/dagster.yaml), which pools. No upstream issue found.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from dagster._core.storage.event_log import ConsolidatedSqliteEventLogStorage
from dagster._core.storage.runs import SqliteRunStorage
from dagster._core.storage.schedules import SqliteScheduleStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS

_lock = threading.Lock()
_engines: dict[tuple[str, int], sa.Engine] = {}


def _set_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Dagster's databases are in WAL mode, where NORMAL stays consistent after a crash and
    # skips an fsync per commit (a power cut can lose the last commits, not corrupt them).
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


def pooled_engine(conn_string: str) -> sa.Engine:
    """The engine for a SQLite database in this process (a forked child makes its own)."""
    key = (conn_string, os.getpid())
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            # The busy timeout Dagster gives its event log: writers from the daemon, the run
            # workers and the webserver wait for each other instead of failing "database is locked".
            engine = sa.create_engine(
                conn_string,
                pool_size=4,
                max_overflow=16,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
            )
            sa.event.listen(engine, "connect", _set_pragmas)
            _engines[key] = engine
        return engine


@contextmanager
def _transaction(conn_string: str) -> Iterator[sa.Connection]:
    with pooled_engine(conn_string).connect() as connection, connection.begin():
        yield connection


class _PooledConnections:
    """For Dagster's SQLite run and schedule storages, which read `_conn_string` and open connections
    through `connect()`."""

    _conn_string: str

    @classmethod
    def from_config_value(cls, inst_data: Any, config_value: Any) -> Any:
        return cls.from_local(inst_data=inst_data, **config_value)  # type: ignore[attr-defined]  # Dagster's builds its own base class

    @contextmanager
    def connect(self) -> Iterator[sa.Connection]:
        with _transaction(self._conn_string) as connection:
            yield connection


class PooledSqliteRunStorage(_PooledConnections, SqliteRunStorage):
    pass


class PooledSqliteScheduleStorage(_PooledConnections, SqliteScheduleStorage):
    pass


class PooledSqliteEventLogStorage(ConsolidatedSqliteEventLogStorage):
    def __init__(self, base_dir: str, inst_data: Any = None) -> None:
        self._tables: set[str] = set()
        super().__init__(base_dir, inst_data)

    @contextmanager
    def _connect(self) -> Iterator[sa.Connection]:
        with _transaction(self._conn_string) as connection:
            yield connection

    def has_table(self, table_name: str) -> bool:
        # Asked before every asset check event; a table, once migrated in, stays.
        if table_name not in self._tables:
            with pooled_engine(self._conn_string).connect() as connection:
                if sa.inspect(connection).has_table(table_name):
                    self._tables.add(table_name)
        return table_name in self._tables


def dagster_consolidated_event_log() -> dict[str, str]:
    """dagster.yaml's `event_log_storage` module and class for Dagster's own consolidated SQLite event log (the
    storage the pooled one replaces), for benchmarks that compare the two."""
    return {"module": ConsolidatedSqliteEventLogStorage.__module__, "class": ConsolidatedSqliteEventLogStorage.__name__}
