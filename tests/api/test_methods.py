"""OPTIONS and 405 answer exactly the methods the OpenAPI document gives each path."""

from __future__ import annotations

import re

from tests.api.conftest import API

METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


def _concrete(path: str) -> str:
    """A path of the document with its parameters filled (an id, or a word where a word goes)."""
    return re.sub(r"\{[^}]*\}", lambda m: "1" if m.group(0).endswith("id}") else "a", path)


def test_options_and_405_list_every_documented_method_of_each_path(sqlite_client) -> None:
    document = sqlite_client.get("/openapi.json").json()
    checked = 0
    for path, operations in document["paths"].items():
        documented = {method.upper() for method in operations} & METHODS
        url = _concrete(path)
        options = sqlite_client.options(url)
        assert options.status_code == 204, (path, options.status_code)
        allowed = {m.strip() for m in options.headers["allow"].split(",")} - {"HEAD", "OPTIONS"}
        assert allowed == documented, (path, options.headers["allow"])
        for method in sorted(METHODS - documented):
            refused = sqlite_client.request(method, url)
            assert refused.status_code == 405, (method, path, refused.status_code, refused.text[:200])
            assert refused.headers["allow"] == options.headers["allow"]
            assert refused.json()["error"]["code"] == "method_not_allowed"
            checked += 1
    assert checked > 50


def test_a_literal_path_is_not_taken_for_a_parameter(sqlite_client) -> None:
    wrong = sqlite_client.patch(f"{API}/videos/upload")  # /videos/upload takes POST only, not /videos/{video_id}
    assert wrong.status_code == 405 and wrong.headers["allow"] == "OPTIONS, POST"
    assert sqlite_client.patch(f"{API}/videos/12", json={}).status_code == 401  # the parameter route still routes
