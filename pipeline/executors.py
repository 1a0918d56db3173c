"""Which Dagster executor runs the steps of a run, chosen by `DAGSTER_EXECUTOR`.

- `multiprocess` (default): one process per step, at most `DAGSTER_MAX_CONCURRENT`
  at once (default: the CPU count, capped at 4, so a small host is not swamped).
- `in_process`: every step in the run's own process; least overhead, no parallelism.
- `k8s`: one Kubernetes Job per step (dagster-k8s `k8s_job_executor`), for runs
  launched by the K8sRunLauncher; per-step pod resources come from the
  `dagster-k8s/config` op tag. `DAGSTER_MAX_CONCURRENT`, when set, caps pods per run
  (the local CPU count means nothing to a cluster).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import dagster as dg

EXECUTORS = ("in_process", "multiprocess", "k8s")


def executor_from_env(env: Mapping[str, str] = os.environ) -> dg.ExecutorDefinition:
    kind = env.get("DAGSTER_EXECUTOR", "multiprocess").strip().lower() or "multiprocess"
    if kind not in EXECUTORS:
        raise ValueError(f"DAGSTER_EXECUTOR must be one of {', '.join(EXECUTORS)}, not {kind!r}")
    if kind == "in_process":
        return dg.in_process_executor
    if kind == "k8s":
        from dagster_k8s import k8s_job_executor

        cap = {"max_concurrent": _max_concurrent(env)} if env.get("DAGSTER_MAX_CONCURRENT", "").strip() else {}
        return k8s_job_executor.configured(cap, name="k8s_job_executor")
    max_concurrent = _max_concurrent(env) if env.get("DAGSTER_MAX_CONCURRENT", "").strip() else min(4, os.cpu_count() or 1)
    return dg.multiprocess_executor.configured({"max_concurrent": max_concurrent}, name="multiprocess_executor")


def _max_concurrent(env: Mapping[str, str]) -> int:
    value = int(env["DAGSTER_MAX_CONCURRENT"])
    if value < 1:
        raise ValueError(f"DAGSTER_MAX_CONCURRENT must be at least 1, not {value}")
    return value
