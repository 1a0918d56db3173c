"""The embedded instance's SQLite storages, each reusing one pooled SQLAlchemy engine per process.

Why: Dagster's SQLite storages build a new engine (NullPool) for every statement batch, so SQLAlchemy
compiles every statement afresh and opens a new SQLite connection each time. Creating one run from a
sensor writes an "asset planned" event per asset and check, and that per-connection overhead was most of
what a run cost the daemon (benchmarks/README.md, `backlog`). The databases, their files and schemas are
Dagster's own; only how connections are made changes, by subclassing Dagster's SQLite storages and
replacing how they connect (`connect`, `_connect`, `has_table`). `benchmarks/backlog --storage consolidated`
names Dagster's own consolidated event log in a dagster.yaml (`dagster_consolidated_event_log`) to compare.

The event log also keeps the `videos` partition keys it has read, and reads only what was added since
(`get_dynamic_partitions`). Dagster reads every key of the partitions definition to answer the UI's
Partitions tab, the asset page's partition health and every sensor or backfill that resolves the
partitions; at 250,000 videos that read was 40 % of the webserver's CPU for the Partitions tab (py-spy),
most of it SQLAlchemy building 250,000 row objects (benchmarks/partitions_scale).

Public replacement: Dagster's own SQLite storages (`storage: sqlite:` in dagster.yaml), slower per run,
or `dagster-postgres` (deploy/dagster.yaml), which pools. No upstream issue found. The partition keys:
a paginated Partitions tab (dagster-io/dagster #21002, #15679) would make reading them all unnecessary.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from dagster._core.storage.event_log import ConsolidatedSqliteEventLogStorage
from dagster._core.storage.event_log.schema import DynamicPartitionsTable
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


@dataclass
class _KnownKeys:
    """A partitions definition's keys as last read, in Dagster's order (by row id)."""

    keys: list[str]
    last_id: int  # the row of the last key: a row added later gets a higher id, unless that row was deleted
    last_created: str  # when that row was written (SQLite's CURRENT_TIMESTAMP, to the second)


class PooledSqliteEventLogStorage(ConsolidatedSqliteEventLogStorage):
    def __init__(self, base_dir: str, inst_data: Any = None) -> None:
        self._tables: set[str] = set()
        self._known_keys: dict[str, _KnownKeys] = {}
        self._known_keys_lock = threading.Lock()
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

    def get_dynamic_partitions(self, partitions_def_name: str) -> Sequence[str]:
        """Dagster's answer (every key, in the order added), from the keys read before and the rows added since.

        The keys read before still hold when the row of the last of them is the same row and the count is
        theirs plus the rows added since. A new row gets the highest id plus one: above every key read, so it
        is among the rows added since, unless the last key's row was deleted first; then that row is gone or
        is a new one, written later than the keys were read. Keys are kept only once their last row is older
        than the read (timestamps are to the second), so the new one's time differs.
        """
        self._check_partitions_table()
        table = DynamicPartitionsTable.c
        named = table.partitions_def_name == partitions_def_name
        created = sa.cast(table.create_timestamp, sa.String)
        with self._known_keys_lock, self.index_connection() as conn:  # one transaction: one snapshot
            known = self._known_keys.pop(partitions_def_name, None)
            keys: list[str] | None = None
            if known is not None:
                count = conn.execute(sa.select(sa.func.count()).where(named)).scalar_one()
                last = conn.execute(sa.select(table.partition, created).where(named, table.id == known.last_id)).one_or_none()
                added = _ids_and_keys(conn, partitions_def_name, known.last_id)
                unchanged = last is not None and tuple(last) == (known.keys[-1], known.last_created)
                if unchanged and len(known.keys) + len(added) == count:
                    if not added:  # its last row is still older than the read that kept it
                        self._known_keys[partitions_def_name] = known
                        return list(known.keys)
                    known.keys.extend(key for _, key in added)
                    keys, last_id = known.keys, added[-1][0]
            if keys is None:
                rows = _ids_and_keys(conn, partitions_def_name)
                keys, last_id = [key for _, key in rows], rows[-1][0] if rows else 0
            if keys:
                last_created, now = conn.execute(
                    sa.select(created, sa.cast(sa.func.current_timestamp(), sa.String)).where(table.id == last_id)
                ).one()
                if last_created is not None and last_created < now:
                    self._known_keys[partitions_def_name] = _KnownKeys(keys, last_id, last_created)
        return list(keys)


def _ids_and_keys(conn: sa.Connection, partitions_def_name: str, after_id: int = 0) -> list[tuple[int, str]]:
    """(row id, key) of the keys added after row `after_id`, by id, read through the SQLite driver:
    SQLAlchemy's row objects cost ~3 µs each."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]  # a live pooled connection
    try:
        return cursor.execute(
            "SELECT id, partition FROM dynamic_partitions WHERE partitions_def_name = ? AND id > ? ORDER BY id",
            (partitions_def_name, after_id),
        ).fetchall()
    finally:
        cursor.close()


def dagster_consolidated_event_log() -> dict[str, str]:
    """dagster.yaml's `event_log_storage` module and class for Dagster's own consolidated SQLite event log (the
    storage the pooled one replaces), for benchmarks that compare the two."""
    return {"module": ConsolidatedSqliteEventLogStorage.__module__, "class": ConsolidatedSqliteEventLogStorage.__name__}
