from __future__ import annotations

from tests.api.conftest import API


def test_health_and_liveness(sqlite_client) -> None:
    for path in ("/health", "/health/live"):
        response = sqlite_client.get(f"{API}{path}")
        assert response.status_code == 200 and response.json()["status"] == "ok"


def test_ready_checks_database_store_and_search(client) -> None:
    response = client.get(f"{API}/health/ready")
    assert response.status_code == 200, response.text
    checks = {c["name"]: c["ok"] for c in response.json()["checks"]}
    assert checks.keys() >= {"database", "object_store"} and all(checks.values())
    assert any(name.startswith("search:") for name in checks)


def test_ready_is_503_when_a_configured_dependency_is_down(make_client, make_settings, sqlite_database_url: str) -> None:
    # Redis configured on a port nothing listens on.
    client = make_client(make_settings(DATABASE_URL=sqlite_database_url, REDIS_URL="redis://127.0.0.1:1/0"))
    response = client.get(f"{API}/health/ready")
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "not_ready"
    checks = {c["name"]: c["ok"] for c in error["details"]["checks"]}
    assert checks["redis"] is False and checks["database"] is True
