"""docker-compose.yml and the Dockerfiles, checked offline (no Docker engine here): the stack is
complete, pinned, health-checked, configured only through real settings, and secrets come from .env."""

from __future__ import annotations

import fnmatch
import importlib.util
import re
import shlex
from pathlib import Path

import pytest
import yaml

from orchestration.cli import build_parser
from tests.deploy.support import ROOT, is_pinned, known_env_names

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
ONE_SHOT = {"minio-init", "migrate"}
OUR_IMAGES = {"Dockerfile", "Dockerfile.api"}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|API_KEY|ACCESS_KEY")
DOCKERFILES = ["Dockerfile", "Dockerfile.api"]


def ours(service: dict) -> bool:
    return service.get("build", {}).get("dockerfile") in OUR_IMAGES


def test_the_whole_stack_is_there() -> None:
    assert set(SERVICES) == {
        "postgres",
        "redpanda",
        "minio",
        "minio-init",
        "opensearch",
        "migrate",
        "code",
        "dagster-webserver",
        "dagster-daemon",
        "api",
        "relay",
        "metrics",
    }


def test_every_image_is_pinned() -> None:
    for name, service in SERVICES.items():
        assert is_pinned(service["image"]), f"{name}: {service['image']}"


def test_long_running_services_restart_and_report_health() -> None:
    for name, service in SERVICES.items():
        if name in ONE_SHOT:
            assert "restart" not in service, name
            continue
        assert service["restart"] == "unless-stopped", name
        check = service["healthcheck"]
        assert check.get("test") or (name == "relay" and check.get("disable")), name


def test_dependencies_exist_with_valid_conditions() -> None:
    for name, service in SERVICES.items():
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in SERVICES, f"{name} -> {dependency}"
            expected = "service_completed_successfully" if dependency in ONE_SHOT else "service_healthy"
            assert condition["condition"] == expected, f"{name} -> {dependency}"


def test_videoai_services_are_configured_only_by_known_settings() -> None:
    known = known_env_names()
    for name, service in SERVICES.items():
        if ours(service):
            unknown = set(service["environment"]) - known
            assert not unknown, f"{name} sets {unknown}, which no settings read"


def test_secrets_come_from_the_env_file_never_from_compose() -> None:
    for name, service in SERVICES.items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(key) or "@" in str(value):
                assert "${" in str(value) and ":?" in str(value), f"{name}.{key} must be a required ${{VAR}}"
    example = (ROOT / ".env.example").read_text()
    required = set(re.findall(r"\$\{(\w+):\?", (ROOT / "docker-compose.yml").read_text()))
    assert required <= set(re.findall(r"^(\w+)=", example, re.M))
    assert ".env" in (ROOT / ".gitignore").read_text().split()


def test_commands_exist() -> None:
    subcommands = build_parser()._subparsers._group_actions[0].choices  # argparse keeps them here
    for name, service in SERVICES.items():
        command = service.get("command")
        if ours(service) and command and command[0] == "videoai":
            assert command[1] in subcommands, f"{name}: videoai {command[1]}"


def test_mounted_files_exist_and_the_workspace_points_at_the_code_server() -> None:
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).is_file(), f"{name}: {source}"
    workspace = yaml.safe_load((ROOT / "deploy/compose/workspace.yaml").read_text())
    [location] = workspace["load_from"]
    assert location["grpc_server"]["host"] == "code"
    code_cmd = dockerfile_cmd(ROOT / "Dockerfile")
    assert str(location["grpc_server"]["port"]) == code_cmd[code_cmd.index("-p") + 1]


def dockerfile_cmd(path: Path) -> list[str]:
    [line] = [text for text in path.read_text().splitlines() if text.startswith("CMD ")]
    return yaml.safe_load(line.removeprefix("CMD "))


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_dockerfile_copies_existing_files_from_pinned_bases(dockerfile: str) -> None:
    text = (ROOT / dockerfile).read_text()
    ignored = [
        line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip() and not line.startswith("#")
    ]
    stages = set(re.findall(r"^FROM \S+ AS (\S+)", text, re.M))  # this file's own build stages
    for source in re.findall(r"^FROM (\S+)", text, re.M) + re.findall(r"--from=(\S+)", text):
        assert source in stages or is_pinned(source), source
    for line in re.findall(r"^COPY (?!--from)(.+)$", text, re.M):
        *sources, _dest = shlex.split(line)
        for source in sources:
            assert (ROOT / source).exists(), f"{dockerfile}: COPY {source}"
            assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), f"{source} is .dockerignored"
    assert "uv sync --frozen --no-dev" in text


def test_images_start_the_right_programs() -> None:
    code = dockerfile_cmd(ROOT / "Dockerfile")
    assert code[:3] == ["dagster", "code-server", "start"]
    assert importlib.util.find_spec(code[code.index("-m") + 1]) is not None
    # The pipeline transcodes with ffmpeg; the API probes uploads with ffprobe.
    for dockerfile in DOCKERFILES:
        assert "apt-get install -y --no-install-recommends ffmpeg" in (ROOT / dockerfile).read_text()
    api = dockerfile_cmd(ROOT / "Dockerfile.api")
    assert api == ["videoai", "serve"]
    assert (ROOT / "deploy/dagster.yaml").is_file()
