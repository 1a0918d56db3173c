"""No 500 for bad input or a lost dependency: ids past the id columns, cursors carrying them, token
claims that do not parse (401), and a database that goes away (503 with Retry-After, then served
again once it is back)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from pipeline.search.cursor import pack_token
from serving_api.security import ACCESS_AUDIENCE, create_access_token, signing_key
from tests.api.conftest import API, make_user_in, services_of

HUGE_IDS = ["2147483648", "9223372036854775808", "99999999999999999999999999999999999999"]


@pytest.mark.parametrize("video_id", HUGE_IDS)
def test_ids_past_the_columns_are_not_found_or_invalid_never_500(client, video_id: str) -> None:
    """On both databases (PostgreSQL's INTEGER ends at 2**31 - 1; SQLite's at 2**63 - 1)."""
    page = client.get(f"/watch/{video_id}")
    assert page.status_code == 404 and "text/html" in page.headers["content-type"]
    for path in (f"{API}/videos/{video_id}", f"{API}/videos/{video_id}/watch", f"{API}/videos/list?owner_id={video_id}"):
        assert client.get(path).status_code == 422, path


def test_cursors_carrying_ids_past_the_columns_are_invalid(client) -> None:
    listing = pack_token({"c": datetime.now(UTC).isoformat(), "i": 2**63})
    assert client.get(f"{API}/videos/list", params={"cursor": listing}).status_code == 400
    search = pack_token({"s": 1.0, "id": 2**63, "t": 1, "q": "x"})
    assert client.get(f"{API}/videos/search", params={"q": "volcano", "cursor": search}).status_code == 400


def _signed(client, **claims: object) -> dict[str, str]:
    settings = services_of(client).settings
    now = datetime.now(UTC)
    payload = {"aud": ACCESS_AUDIENCE, "iat": now, "exp": now + timedelta(minutes=5), "jti": "a" * 32, **claims}
    token = jwt.encode(payload, signing_key(settings), algorithm=settings.auth.jwt_algorithm)
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "1" * 40},
        {"sub": "2147483648"},
        {"sub": "0"},
        {"sub": 7},
        {"sub": "-1"},
        {"sub": "１"},
        {"sub": "1", "jti": "j" * 65},
        {"sub": "1", "jti": ["list"]},
        {"sub": "1", "iat": 10**20},
        {"sub": "1", "iat": "yesterday"},
    ],
)
def test_a_validly_signed_token_whose_claims_do_not_parse_is_401(client, claims: dict) -> None:
    make_user_in(client)
    for path in (f"{API}/users/me", f"{API}/videos/list?owner_id=1"):
        response = client.get(path, headers=_signed(client, **claims))
        assert response.status_code == 401, (path, response.text)
    assert (
        client.get("/", headers={"Cookie": "videoai_session=" + _signed(client, **claims)["Authorization"][7:]}).status_code
        == 200
    )  # a page just treats it as signed out


def test_a_lost_database_is_503_with_retry_after_then_served_again(make_client, make_settings, make_postgres_database) -> None:
    url = make_postgres_database()
    client = make_client(make_settings(DATABASE_URL=url), raise_server_exceptions=False)
    user = make_user_in(client)
    assert client.get(f"{API}/users/me", headers=user.headers).status_code == 200
    name = make_url(url).database
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:  # the database goes away: refuses connections, and drops those it had
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"), {"name": name})
        for path in (f"{API}/users/me", f"{API}/videos/list", f"{API}/videos/1"):
            lost = client.get(path, headers=user.headers)
            assert lost.status_code == 503, (path, lost.text)
            assert lost.headers["retry-after"] == "5" and lost.json()["error"]["code"] == "server_busy"
        assert client.get("/").status_code == 503
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        admin.dispose()
    assert client.get(f"{API}/users/me", headers=user.headers).status_code == 200  # back: served again


def test_public_readiness_names_no_path_host_or_port(make_client, make_settings, tmp_path, sqlite_database_url: str) -> None:
    settings = make_settings(DATABASE_URL=sqlite_database_url, REDIS_URL="redis://127.0.0.1:9/0", MIN_FREE_DISK_MB=str(10**12))
    client = make_client(settings)
    response = client.get(f"{API}/health/ready")
    assert response.status_code == 503
    checks = {c["name"]: c for c in response.json()["error"]["details"]["checks"]}
    assert checks["redis"]["ok"] is False and checks["disk"]["ok"] is False
    body = response.text
    for secret in ("127.0.0.1", ":9", str(tmp_path), str(settings.videoai_home), "/"):
        assert secret not in body.replace("/health", ""), secret


def test_a_lost_redis_is_503_with_retry_after(make_client, make_settings, sqlite_database_url: str) -> None:
    """Redis holds revocations and login throttles when configured: unreachable, a signed-in request is 503."""
    settings = make_settings(DATABASE_URL=sqlite_database_url, REDIS_URL="redis://127.0.0.1:9/0")
    client = make_client(settings, raise_server_exceptions=False)
    token = create_access_token(settings, 1).token
    lost = client.get(f"{API}/users/me", headers={"Authorization": f"Bearer {token}"})
    assert lost.status_code == 503, lost.text
    assert lost.headers["retry-after"] == "5" and "127.0.0.1" not in lost.text
