"""The README's Layout section names every top-level folder of the tree, and only those."""

from __future__ import annotations

import re
import subprocess
import tomllib

import pytest

from tests.deploy.support import ROOT


def _layout_folders() -> set[str]:
    doc = (ROOT / "README.md").read_text()
    block = doc.split("## Layout\n", 1)[1].split("```", 2)[1]
    return {match.rstrip("/") for match in re.findall(r"^(\S+/)", block, re.M)}


def _tracked_folders() -> set[str]:
    try:
        files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the tracked tree is unknown")
    return {path.split("/", 1)[0] for path in files.splitlines() if "/" in path}


def test_layout_matches_the_top_level_folders() -> None:
    assert _layout_folders() == _tracked_folders()


def test_layout_describes_the_python_packages_by_what_they_import() -> None:
    # The order is the import-linter layering (pyproject.toml): each imports only those below it.
    doc = (ROOT / "README.md").read_text()
    block = doc.split("## Layout\n", 1)[1].split("```", 2)[1]
    order = [line.split("/", 1)[0] for line in block.splitlines() if re.match(r"^\w+/", line)]
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    [layers] = [contract["layers"] for contract in contracts if contract["type"] == "layers"]
    assert [name for name in order if name in layers] == layers
