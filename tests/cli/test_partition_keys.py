"""The embedded event log's `videos` partition keys, read incrementally, always equal Dagster's own read.

The storage keeps the keys it read and afterwards reads only the rows added since (orchestration/platform/
storage.py). Every change a partitions definition can see is tried here in a seeded random order, reads
between them, and each read is compared with Dagster's `SqlEventLogStorage.get_dynamic_partitions`.
Rows are dated as if written in earlier seconds ("time passes"), since the storage keeps keys only once
their last row is older than the read; a row written again after a read keeps its real, later time.
"""

from __future__ import annotations

import random

import dagster as dg
import pytest
import sqlalchemy as sa
from dagster._core.storage.event_log.sql_event_log import SqlEventLogStorage

from orchestration.instance import dagster_yaml
from orchestration.platform.storage import PooledSqliteEventLogStorage, pooled_engine

NAME = "videos"


@pytest.fixture
def instance(tmp_path):
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text(dagster_yaml(home))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        yield instance


class Clock:
    """Dates the rows written since the last tick one (fake) second later than those before them."""

    def __init__(self, storage: PooledSqliteEventLogStorage) -> None:
        self._engine = pooled_engine(storage._conn_string)
        self._second = 0

    def tick(self) -> None:
        self._second += 1
        with self._engine.begin() as conn:
            conn.execute(
                sa.text(
                    "UPDATE dynamic_partitions SET create_timestamp = datetime('2000-01-01', :offset) "
                    "WHERE create_timestamp > '2001'"
                ),
                {"offset": f"+{self._second} seconds"},
            )


def dagsters_read(storage: PooledSqliteEventLogStorage) -> list[str]:
    return list(SqlEventLogStorage.get_dynamic_partitions(storage, NAME))


def test_keys_read_incrementally_equal_dagsters_read_through_every_change(instance):
    storage = instance.event_log_storage
    clock = Clock(storage)
    rng = random.Random(19)
    live: list[str] = []
    deleted: list[str] = []
    kept_reads = 0
    for step in range(300):
        change = rng.choice(["add", "add", "delete", "delete_newest", "add_again", "tick", "tick"])
        if change == "add":
            new = [f"v{step}-{i}" for i in range(rng.randint(1, 3))]
            instance.add_dynamic_partitions(NAME, new)
            live += new
        elif change in ("delete", "delete_newest") and live:
            # The newest rows' ids are given again to the next rows added: the case a count cannot see.
            for key in live[-rng.randint(1, 2) :] if change == "delete_newest" else [rng.choice(live)]:
                instance.delete_dynamic_partition(NAME, key)
                live.remove(key)
                deleted.append(key)
        elif change == "add_again" and deleted:
            key = deleted.pop(rng.randrange(len(deleted)))
            instance.add_dynamic_partitions(NAME, [key])
            live.append(key)
        elif change == "tick":
            clock.tick()
        read = list(storage.get_dynamic_partitions(NAME))
        assert read == dagsters_read(storage) == live, f"step {step}, after {change}"
        kept_reads += NAME in storage._known_keys
    # The incremental path was taken, not only full reads.
    assert kept_reads > 100


def test_a_deleted_newest_key_added_again_after_other_rows_is_seen(instance):
    """Delete the two newest keys, add another, add the newest again: the same count, the same last row id
    and key as read before; only the last row's time tells them apart."""
    storage = instance.event_log_storage
    clock = Clock(storage)
    instance.add_dynamic_partitions(NAME, ["1", "2", "3", "4"])
    clock.tick()
    assert storage.get_dynamic_partitions(NAME) == ["1", "2", "3", "4"]
    assert NAME in storage._known_keys
    instance.delete_dynamic_partition(NAME, "3")
    instance.delete_dynamic_partition(NAME, "4")
    instance.add_dynamic_partitions(NAME, ["5"])
    instance.add_dynamic_partitions(NAME, ["4"])
    assert storage.get_dynamic_partitions(NAME) == dagsters_read(storage) == ["1", "2", "5", "4"]


def test_keys_of_the_current_second_are_read_again(instance):
    """Rows written in the second of the read are not kept: a row written again within that second would
    carry the same time."""
    storage = instance.event_log_storage
    instance.add_dynamic_partitions(NAME, ["1", "2"])
    assert storage.get_dynamic_partitions(NAME) == ["1", "2"]
    assert NAME not in storage._known_keys
