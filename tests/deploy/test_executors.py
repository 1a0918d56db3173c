"""The executor switch: each choice builds with the expected configuration, bad values are refused."""

from __future__ import annotations

import os

import dagster as dg
import pytest

from orchestration.executors import executor_for


def resolved_config(executor: dg.ExecutorDefinition) -> dict:
    result = executor.apply_config_mapping({})
    assert result.success, result.errors
    return result.value["config"]


def test_default_is_in_process(make_settings) -> None:
    assert executor_for(make_settings()) is dg.in_process_executor


def test_multiprocess_is_capped_by_cpus(make_settings) -> None:
    executor = executor_for(make_settings(DAGSTER_EXECUTOR="multiprocess"))
    assert executor.name == "multiprocess_executor"
    assert resolved_config(executor)["max_concurrent"] == min(4, os.cpu_count() or 1)


def test_max_concurrent_overrides_the_cap(make_settings) -> None:
    settings = make_settings(DAGSTER_EXECUTOR="multiprocess", DAGSTER_MAX_CONCURRENT="7")
    assert resolved_config(executor_for(settings))["max_concurrent"] == 7


def test_k8s_job_executor_caps_pods_only_when_asked(make_settings) -> None:
    executor = executor_for(make_settings(DAGSTER_EXECUTOR="k8s"))
    assert executor.name == "k8s_job_executor"
    assert resolved_config(executor).get("max_concurrent") is None
    capped = executor_for(make_settings(DAGSTER_EXECUTOR="k8s", DAGSTER_MAX_CONCURRENT="5"))
    assert resolved_config(capped)["max_concurrent"] == 5


@pytest.mark.parametrize(
    "env", [{"DAGSTER_EXECUTOR": "celery"}, {"DAGSTER_MAX_CONCURRENT": "0"}, {"DAGSTER_MAX_CONCURRENT": "many"}]
)
def test_bad_values_are_refused(make_settings, env: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="DAGSTER_"):
        executor_for(make_settings(**env))
