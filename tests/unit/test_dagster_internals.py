"""Dagster's internals are touched through one door, orchestration/platform/, and this test lists what is used.

A new private name (an import, a patched attribute, a module named in a string) changes the list below:
a visible change in review, with its note in the platform module (why, the public API that would replace
it, the upstream issue). `scripts/run upgrade-check` runs the suite against Dagster's newest release.
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

from tests.contracts import private_import

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("orchestration", "sensors", "assets", "resources", "pipeline", "serving_api", "scripts", "benchmarks")
PLATFORM = "orchestration/platform/"
NOT_YET_THROUGH_THE_DOOR: set[str] = set()

PRIVATE_NAMES = {
    "orchestration/platform/archive_fixture.py": [
        "dagster._core.definitions.data_version.CODE_VERSION_TAG",
        "dagster._core.definitions.data_version.DATA_VERSION_TAG",
        "dagster._core.definitions.data_version.DataVersion",
        "dagster._core.definitions.data_version.compute_logical_data_version",
        "dagster._core.definitions.data_version.get_input_data_version_tag",
        "dagster._core.definitions.data_version.get_input_event_pointer_tag",
        "dagster._core.events.StepMaterializationData",
        "dagster._core.storage.event_log.schema.AssetEventTagsTable",
        "dagster._core.storage.event_log.schema.SqlEventLogStorageTable",
        "dagster._core.storage.runs.schema.RunTagsTable",
        "dagster._core.storage.runs.schema.RunsTable",
        "dagster._core.storage.tags.PARTITION_NAME_TAG",
    ],
    "orchestration/platform/backfills.py": [
        "dagster._core.definitions.assets.graph.asset_graph_subset.AssetGraphSubset",
        "dagster._core.definitions.events.AssetKeyPartitionKey",
        "dagster._core.execution.backfill.BulkActionStatus",
        "dagster._core.execution.backfill.BulkActionsFilter",
    ],
    "orchestration/platform/daemon.py": [
        "dagster._daemon.cli.main",
        "dagster._daemon.sensor",
        "dagster._daemon.sensor.MIN_INTERVAL_LOOP_TIME",
    ],
    "orchestration/platform/launcher.py": [
        "dagster._core.launcher.CheckRunHealthResult",
        "dagster._core.launcher.LaunchRunContext",
        "dagster._core.launcher.WorkerStatus",
        "dagster._core.storage.tags.GRPC_INFO_TAG",
        "dagster._grpc.types.ExecuteRunArgs",
    ],
    "orchestration/platform/run_queue.py": [],
    "orchestration/platform/run_workers.py": [
        "dagster._cli.api",
        "dagster._cli.api.execute_run_command",
        "dagster._core.execution.backfill",
        "dagster._utils.interrupts.setup_interrupt_handlers",
    ],
    "orchestration/platform/storage.py": [
        "dagster._core.storage.event_log.ConsolidatedSqliteEventLogStorage",
        "dagster._core.storage.event_log.schema.DynamicPartitionsTable",
        "dagster._core.storage.runs.SqliteRunStorage",
        "dagster._core.storage.schedules.SqliteScheduleStorage",
        "dagster._core.storage.sqlite.SQLITE_BUSY_TIMEOUT_SECONDS",
    ],
    "orchestration/platform/staleness.py": [
        "dagster._core.definitions.assets.graph.asset_graph_subset.AssetGraphSubset",
        "dagster._core.definitions.assets.graph.base_asset_graph.BaseAssetGraph",
        "dagster._core.definitions.data_version.CachingStaleStatusResolver",
        "dagster._core.definitions.data_version.DATA_VERSION_TAG",
        "dagster._core.definitions.data_version.extract_data_provenance_from_entry",
        "dagster._core.execution.backfill.BulkActionStatus",
        "dagster._core.execution.backfill.PartitionBackfill",
        "dagster._core.loader.DataLoader",
        "dagster._core.loader.LoadingContext",
        "dagster._core.utils.make_new_backfill_id",
        "dagster._time.get_current_timestamp",
    ],
}


def private_names(source: str) -> list[str]:
    """The private Dagster names a module uses: what it imports from `dagster._…`, the attributes it reads or
    sets on a private module it imported, and module paths it names in strings."""
    tree = ast.parse(source)
    names: set[str] = set()
    private_modules: dict[str, str] = {}  # local name -> module
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dagster._"):
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module == "dagster":
            names.update(f"dagster.{alias.name}" for alias in node.names if alias.name.startswith("_"))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("dagster._"):
                    names.add(alias.name)
                    if alias.asname:
                        private_modules[alias.asname] = alias.name
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and re.fullmatch(r"dagster\._[\w.]+", node.value):
            names.add(node.value)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in private_modules:
            names.add(f"{private_modules[node.value.id]}.{node.attr}")
    return sorted(names)


def _shipped_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", *SHIPPED],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return sorted(path for path in listed if path.endswith(".py") and (ROOT / path).exists())


def test_the_private_dagster_names_in_use_are_exactly_the_listed_ones():
    used = {
        path: private_names((ROOT / path).read_text())
        for path in _shipped_files()
        if path.startswith(PLATFORM) or path in NOT_YET_THROUGH_THE_DOOR
    }
    assert {path: names for path, names in used.items() if names or path in PRIVATE_NAMES} == PRIVATE_NAMES


def test_no_shipped_module_outside_the_platform_package_names_dagster_internals():
    """Not in an import, not in a string (a module path for importlib or a dagster.yaml): nowhere."""
    outside = [
        f"{path}:{number}: {line.strip()}"
        for path in _shipped_files()
        if not path.startswith(PLATFORM) and path not in NOT_YET_THROUGH_THE_DOOR
        for number, line in enumerate((ROOT / path).read_text().splitlines(), 1)
        if "dagster._" in line
    ]
    assert outside == []


def test_every_platform_module_says_why_what_would_replace_it_and_is_listed():
    for path in sorted((ROOT / PLATFORM).glob("*.py")):
        if path.name == "__init__.py":
            continue
        note = ast.get_docstring(ast.parse(path.read_text())) or ""
        assert "Why:" in note or "Private:" in note, f"{path.name}: its note does not say why it needs the internals"
        assert "Public replacement:" in note, f"{path.name}: its note does not name the public API that would replace it"
        assert f"`{path.stem}`" in (ROOT / PLATFORM / "__init__.py").read_text(), f"{path.name} is not in the package's index"


def test_the_contract_recognises_private_imports():
    assert private_import("from dagster._core.events import DagsterEventType", "dagster")
    assert private_import("import dagster._daemon.sensor as sensor_daemon", "dagster")
    assert private_import("from dagster import Field, _check", "dagster")
    assert not private_import("import dagster as dg", "dagster")
    assert not private_import("from dagster import DagsterRun, serialize_value", "dagster")
    assert not private_import("from dagster_aws.s3 import S3Resource", "dagster")
