"""The README's operator section documents every setting there is, and only those."""

from __future__ import annotations

import re

from tests.deploy.support import EXTRA_ENV_NAMES, ROOT, known_env_names, settings_env_names

DOC = (ROOT / "README.md").read_text()


def test_every_setting_is_documented() -> None:
    missing = {name for name in settings_env_names() | EXTRA_ENV_NAMES if f"`{name}`" not in DOC}
    assert not missing, f"undocumented settings: {sorted(missing)}"


def test_every_documented_variable_exists() -> None:
    documented = set(re.findall(r"`([A-Z][A-Z0-9]*_[A-Z0-9_]+)`", DOC))
    assert documented <= known_env_names(), sorted(documented - known_env_names())
