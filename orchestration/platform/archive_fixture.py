"""An archive's history written straight into Dagster's storages, for benchmarks at hundreds of thousands of videos.

Why: benchmarks/partitions_scale needs 100,000-250,000 videos, each with one successful run and a
materialization of every per-video asset carrying the provenance Dagster records (code version, data
version, input data versions and event pointers), so that Dagster's staleness, the UI's partition statuses
and the runs list answer as they would on a real archive. Running the pipeline is out of the question at
that size, and building and serializing each event with Dagster's classes took ~3 ms per video here (12 min
for 250,000 on 2 cores, far more under load). So one event per asset and one run are built with Dagster's
own classes and serialized once, with placeholders; each video's rows are that text with its own values,
inserted in batches into Dagster's own tables (the event log, its indexed asset-event tags, the runs and
their tags), and each asset's index row is then updated as Dagster does it for its latest event.

Private: the event's materialization payload (`StepMaterializationData`), the provenance tag names and
the data-version hash (`dagster._core.definitions.data_version`), the storages' tables and their rows
(`_event_to_row`, `_store_asset_event`, `get_asset_tags_to_index`, the runs and run-tags tables).

Public replacement: none for bulk writes. `DagsterInstance.report_runless_asset_event` writes one event at a
time without a run or provenance, and `add_run` one run at a time; a public bulk-import API for history is
not planned upstream (no issue found).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

import dagster as dg
import sqlalchemy as sa
from dagster._core.definitions.data_version import (
    CODE_VERSION_TAG,
    DATA_VERSION_TAG,
    DataVersion,
    compute_logical_data_version,
    get_input_data_version_tag,
    get_input_event_pointer_tag,
)
from dagster._core.events import StepMaterializationData
from dagster._core.storage.event_log.schema import AssetEventTagsTable, SqlEventLogStorageTable
from dagster._core.storage.runs.schema import RunsTable, RunTagsTable
from dagster._core.storage.tags import PARTITION_NAME_TAG

_BATCH = 20_000
_PLACEHOLDER = re.compile(r"@@(\w+)@@")
_PLAIN = re.compile(r"[\w ./:-]*", re.ASCII)  # needs no escaping inside a JSON string


def _template(serialized: str) -> Callable[[dict[str, str]], str]:
    """`serialized` with each `@@name@@` a slot filled from a mapping, JSON-escaped."""
    parts = _PLACEHOLDER.split(serialized)  # text, name, text, name, ..., text

    def fill(values: dict[str, str]) -> str:
        out = list(parts)
        for i in range(1, len(out), 2):
            value = values[out[i]]
            out[i] = value if _PLAIN.fullmatch(value) else json.dumps(value)[1:-1]
        return "".join(out)

    return fill


def _slot(name: str) -> str:
    return f"@@{name}@@"


def _next_id(conn: sa.Connection, table: sa.Table) -> int:
    return (conn.execute(sa.select(sa.func.max(table.c.id))).scalar() or 0) + 1


def _insert(conn: sa.Connection, table: sa.Table, rows: list[dict]) -> None:
    """`rows` (all with the same columns, in the table's column types) inserted through the driver: SQLAlchemy's
    per-row parameter processing was half the time of a bulk insert."""
    if not rows:
        return
    columns = list(rows[0])
    processors = [table.c[name].type.bind_processor(conn.dialect) for name in columns]
    statement = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    conn.exec_driver_sql(
        statement,
        [tuple(p(row[c]) if p else row[c] for c, p in zip(columns, processors, strict=True)) for row in rows],
    )


def write_runs(instance: dg.DagsterInstance, job_name: str, runs: Sequence[tuple[str, Mapping[str, str]]]) -> list[str]:
    """One successful run of `job_name` per (partition key, tags), all with the same tag names; their run ids."""
    now = time.time()
    moment = datetime.fromtimestamp(now, UTC).replace(tzinfo=None)
    run_ids = [f"archive-{partition}" for partition, _ in runs]
    tag_names = sorted({PARTITION_NAME_TAG, *(runs[0][1] if runs else ())})
    body = _template(
        dg.serialize_value(
            dg.DagsterRun(
                job_name=job_name,
                run_id=_slot("run"),
                status=dg.DagsterRunStatus.SUCCESS,
                tags={name: _slot(f"tag{i}") for i, name in enumerate(tag_names)},
            )
        )
    )
    with instance.run_storage.connect() as conn:  # type: ignore[attr-defined]  # Dagster's SQL run storages
        for start in range(0, len(runs), _BATCH):
            run_rows: list[dict] = []
            tag_rows: list[dict] = []
            for (partition, tags), run_id in zip(runs[start : start + _BATCH], run_ids[start : start + _BATCH], strict=True):
                values = {**tags, PARTITION_NAME_TAG: partition}
                run_rows.append(
                    {
                        "run_id": run_id,
                        "pipeline_name": job_name,
                        "status": dg.DagsterRunStatus.SUCCESS.value,
                        "run_body": body({"run": run_id, **{f"tag{i}": values[n] for i, n in enumerate(tag_names)}}),
                        "snapshot_id": None,
                        "partition": partition,
                        "partition_set": None,
                        "create_timestamp": moment,
                        "update_timestamp": moment,
                        "start_time": now,
                        "end_time": now,
                    }
                )
                tag_rows.extend({"run_id": run_id, "key": n, "value": v} for n, v in values.items())
            _insert(conn, RunsTable, run_rows)
            _insert(conn, RunTagsTable, tag_rows)
    return run_ids


def write_materializations(
    instance: dg.DagsterInstance,
    asset_graph,  # a resolved asset graph (Dagster's BaseAssetGraph)
    assets: Sequence[dg.AssetKey],
    partitions: Sequence[str],
    run_ids: Sequence[str],
    job_name: str,
) -> None:
    """A materialization of each of `assets` (in lineage order) for each partition, by that partition's run, with
    the provenance Dagster records: code version, data version, each input's data version and event pointer."""
    storage = instance.event_log_storage
    now = time.time()
    data_versions: dict[dg.AssetKey, list[str]] = {}
    storage_ids: dict[dg.AssetKey, list[int]] = {}
    for asset in assets:
        node = asset_graph.get(asset)
        parents = sorted(node.parent_keys, key=str)
        code_version = node.code_version
        slots = {CODE_VERSION_TAG: "code", DATA_VERSION_TAG: "version"}  # tag -> the value that fills it
        for i, parent in enumerate(parents):
            slots[get_input_data_version_tag(parent)] = f"in{i}"
            slots[get_input_event_pointer_tag(parent)] = f"ptr{i}"
        tags = {name: _slot(slot) for name, slot in slots.items()}
        template_event = dg.EventLogEntry(
            error_info=None,
            level="DEBUG",
            user_message="",
            run_id=_slot("run"),
            timestamp=now,
            step_key=asset.to_user_string(),
            job_name=job_name,
            dagster_event=dg.DagsterEvent(
                dg.DagsterEventType.ASSET_MATERIALIZATION.value,
                job_name=job_name,
                step_key=asset.to_user_string(),
                event_specific_data=StepMaterializationData(
                    dg.AssetMaterialization(asset_key=asset, partition=_slot("partition"), tags=tags)
                ),
            ),
        )
        row = storage._event_to_row(template_event)  # type: ignore[attr-defined]
        event_text = _template(row["event"])
        indexed = storage.get_asset_tags_to_index(set(tags))
        versions: list[str] = []
        ids: list[int] = []
        for start in range(0, len(partitions), _BATCH):
            rows: list[dict] = []
            tag_rows: list[dict] = []
            with storage.index_transaction() as conn:  # type: ignore[attr-defined]
                first = _next_id(conn, SqlEventLogStorageTable)
                for offset, partition in enumerate(partitions[start : start + _BATCH]):
                    i = start + offset
                    # Dagster uses the run id as the code version of an asset that declares none.
                    code = code_version or run_ids[i]
                    version = compute_logical_data_version(code, {p: DataVersion(data_versions[p][i]) for p in parents}).value
                    values = {"run": run_ids[i], "partition": partition, "code": code, "version": version}
                    for j, parent in enumerate(parents):
                        values[f"in{j}"] = data_versions[parent][i]
                        values[f"ptr{j}"] = str(storage_ids[parent][i])
                    rows.append({**row, "run_id": run_ids[i], "event": event_text(values), "partition": partition})
                    tag_rows.extend(
                        {
                            "event_id": first + offset,
                            "asset_key": row["asset_key"],
                            "key": name,
                            "value": values[slot],
                            "event_timestamp": row["timestamp"],
                        }
                        for name, slot in slots.items()
                        if name in indexed
                    )
                    versions.append(version)
                _insert(conn, SqlEventLogStorageTable, rows)
                _insert(conn, AssetEventTagsTable, tag_rows)
                ids.extend(range(first, first + len(rows)))
                if start + _BATCH >= len(partitions):  # the asset's index row, as Dagster keeps it for its latest event
                    latest = dg.deserialize_value(rows[-1]["event"], dg.EventLogEntry)
                    storage._store_asset_event(conn, latest, ids[-1])  # type: ignore[attr-defined]
        data_versions[asset], storage_ids[asset] = versions, ids
