"""Which Dagster executor runs the steps of a run, chosen by `DAGSTER_EXECUTOR`.

- `in_process` (default): every step in the run's own process. The least overhead, which
  is what a small machine needs: a process per step starts an interpreter and imports
  everything again (benchmarks/README.md, `executor_overhead`); ffmpeg and whisper use the
  cores anyway.
- `multiprocess`: one process per step, at most `DAGSTER_MAX_CONCURRENT` at once
  (default: the CPU count, capped at 4), so transcoding and transcription overlap.
- `k8s`: one Kubernetes Job per step (dagster-k8s `k8s_job_executor`), for runs
  launched by the K8sRunLauncher; per-step pod resources come from the
  `dagster-k8s/config` op tag. `DAGSTER_MAX_CONCURRENT`, when set, caps pods per run
  (the local CPU count means nothing to a cluster).
"""

from __future__ import annotations

import os

import dagster as dg

from pipeline.settings import Settings


def executor_for(settings: Settings) -> dg.ExecutorDefinition:
    cap = settings.dagster.max_concurrent
    if settings.dagster.executor == "in_process":
        return dg.in_process_executor
    if settings.dagster.executor == "k8s":
        from dagster_k8s import k8s_job_executor

        return k8s_job_executor.configured({"max_concurrent": cap} if cap else {}, name="k8s_job_executor")
    return dg.multiprocess_executor.configured(
        {"max_concurrent": cap or min(4, os.cpu_count() or 1)}, name="multiprocess_executor"
    )
