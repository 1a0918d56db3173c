"""deploy/helm/values.yaml has the structure the dagster/dagster chart reads (no helm binary here)."""

from __future__ import annotations

import importlib.util
import json
import re

import yaml
from dagster_k8s.job import USER_DEFINED_K8S_CONFIG_KEY, get_user_defined_k8s_config

from pipeline.settings import Settings
from tests.deploy.support import ROOT, is_pinned, known_env_names

HELM = ROOT / "deploy" / "helm"
VALUES = yaml.safe_load((HELM / "values.yaml").read_text())


def test_code_location_is_the_videoai_module_in_a_pinned_image() -> None:
    subchart = VALUES["dagster-user-deployments"]
    assert subchart["enabled"] is True and subchart["enableSubchart"] is True
    [deployment] = subchart["deployments"]
    assert deployment["codeServerArgs"] == ["-m", "orchestration.definitions"]
    assert importlib.util.find_spec("orchestration.definitions") is not None
    assert is_pinned(f"{deployment['image']['repository']}:{deployment['image']['tag']}")
    assert isinstance(deployment["port"], int)
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True


def test_runs_launch_as_kubernetes_jobs_with_env_from_config_and_secret() -> None:
    launcher = VALUES["runLauncher"]
    assert launcher["type"] == "K8sRunLauncher"
    config = launcher["config"]["k8sRunLauncher"]
    assert {"name": "videoai-env"} in config["envSecrets"]
    assert {"name": "videoai-config"} in config["envConfigMaps"]
    assert set(config["runK8sConfig"]) <= {
        "containerConfig",
        "podSpecConfig",
        "podTemplateSpecMetadata",
        "jobSpecConfig",
        "jobMetadata",
    }


def test_dagster_storage_is_an_external_postgres_with_a_password_from_a_secret() -> None:
    postgres = VALUES["postgresql"]
    assert postgres["enabled"] is False
    assert postgres["postgresqlHost"] and postgres["postgresqlUsername"] and postgres["postgresqlDatabase"]
    assert postgres["postgresqlScheme"] == "postgresql+psycopg2"
    assert "postgresqlPassword" not in postgres
    assert VALUES["generatePostgresqlPasswordSecret"] is False and VALUES["global"]["postgresqlSecretName"]


def test_compute_logs_go_to_s3() -> None:
    manager = VALUES["computeLogManager"]
    assert manager["type"] == "S3ComputeLogManager"
    assert manager["config"]["s3ComputeLogManager"]["bucket"]


def test_concurrency_is_set_in_one_place_only() -> None:
    # The chart fails if both concurrency.runs and the queued coordinator set maxConcurrentRuns.
    assert VALUES["concurrency"]["runs"]["maxConcurrentRuns"] > 0
    assert "maxConcurrentRuns" not in VALUES["dagsterDaemon"]["runCoordinator"].get("config", {}).get("queuedRunCoordinator", {})
    assert VALUES["concurrency"]["pools"]["granularity"] in {"op", "run"}


def test_settings_config_map_uses_real_setting_names_and_holds_no_secrets() -> None:
    [config_map] = [m for m in VALUES["extraManifests"] if m["kind"] == "ConfigMap"]
    assert config_map["metadata"]["name"] == "videoai-config"
    names = set(config_map["data"])
    assert names <= known_env_names()
    assert not {n for n in names if re.search("PASSWORD|SECRET|API_KEY|ACCESS_KEY|DATABASE_URL", n)}
    assert Settings(DAGSTER_EXECUTOR=config_map["data"]["DAGSTER_EXECUTOR"]).dagster.executor == "k8s"
    assert all(isinstance(v, str) for v in config_map["data"].values())


def test_documented_step_resources_tag_is_valid_for_dagster_k8s() -> None:
    readme = (HELM / "README.md").read_text()
    [block] = [b for b in re.findall(r"```yaml\n(.*?)```", readme, re.S) if USER_DEFINED_K8S_CONFIG_KEY in b]
    tag_value = yaml.safe_load(block)[USER_DEFINED_K8S_CONFIG_KEY]
    parsed = get_user_defined_k8s_config({USER_DEFINED_K8S_CONFIG_KEY: json.dumps(tag_value)})
    assert parsed.container_config["resources"]["requests"]["memory"] == "4Gi"
