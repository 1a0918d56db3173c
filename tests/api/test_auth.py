"""Signup, login, logout and every way a token must be refused."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from fastapi.testclient import TestClient

from serving_api.security import ACCESS_AUDIENCE, create_upload_token, signing_key
from tests.api.conftest import API, PASSWORD, make_user_in, services_of


def _email() -> str:
    return f"person-{uuid.uuid4().hex[:10]}@example.com"


def _login(client, email: str, password: str = PASSWORD):
    return client.post(f"{API}/auth/login", data={"username": email, "password": password})


def test_signup_login_me_logout(client) -> None:
    email = _email()
    created = client.post(f"{API}/auth/signup", json={"email": email.upper(), "password": PASSWORD, "full_name": "Ada"})
    assert created.status_code == 201, created.text
    assert created.json()["email"] == email  # normalized
    assert "hashed_password" not in created.json()

    login = _login(client, email)
    assert login.status_code == 200, login.text
    body = login.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert {"exp", "iat", "sub", "jti"} <= claims.keys() and claims["sub"] == str(created.json()["id"])
    headers = {"Authorization": f"Bearer {body['access_token']}"}

    me = client.get(f"{API}/users/me", headers=headers)
    assert me.status_code == 200 and me.json()["email"] == email

    assert client.post(f"{API}/auth/logout", headers=headers).status_code == 204
    revoked = client.get(f"{API}/users/me", headers=headers)
    assert revoked.status_code == 401
    assert revoked.json()["error"]["code"] == "not_authenticated"
    assert "revoked" in revoked.json()["error"]["message"]
    # Another session of the same user is unaffected.
    other = _login(client, email).json()["access_token"]
    assert client.get(f"{API}/users/me", headers={"Authorization": f"Bearer {other}"}).status_code == 200


def test_signup_rejects_duplicates_bad_emails_and_weak_passwords(sqlite_client) -> None:
    email = _email()
    assert sqlite_client.post(f"{API}/auth/signup", json={"email": email, "password": PASSWORD}).status_code == 201
    again = sqlite_client.post(f"{API}/auth/signup", json={"email": email, "password": PASSWORD})
    assert again.status_code == 409 and again.json()["error"]["code"] == "email_taken"
    for body in (
        {"email": "not-an-email", "password": PASSWORD},
        {"email": _email(), "password": "short1"},
        {"email": _email(), "password": "onlyletters-no-digits"},
        {"email": "margaret@example.com", "password": "Margaret1234"},
    ):
        response = sqlite_client.post(f"{API}/auth/signup", json=body)
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == "validation_error"
        assert body["password"] not in response.text  # a rejected password is never echoed


def test_wrong_password_is_401(sqlite_client) -> None:
    user = make_user_in(sqlite_client)
    response = _login(sqlite_client, user.email, "wrong-password-1")
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_credentials"
    assert _login(sqlite_client, "nobody@example.com").status_code == 401


def _me(client, token: str) -> int:
    return client.get(f"{API}/users/me", headers={"Authorization": f"Bearer {token}"}).status_code


def test_expired_tampered_wrong_algorithm_and_foreign_tokens_are_rejected(sqlite_client) -> None:
    user = make_user_in(sqlite_client)
    settings = services_of(sqlite_client).settings
    key = signing_key(settings)
    now = datetime.now(UTC)
    claims = {"sub": str(user.id), "aud": ACCESS_AUDIENCE, "iat": now, "exp": now + timedelta(minutes=5), "jti": uuid.uuid4().hex}
    assert _me(sqlite_client, jwt.encode(claims, key, algorithm="HS256")) == 200  # the control

    expired = jwt.encode({**claims, "iat": now - timedelta(hours=2), "exp": now - timedelta(hours=1)}, key, "HS256")
    header, payload, signature = user.token.split(".")
    tampered_payload = jwt.utils.base64url_encode(
        jwt.utils.base64url_decode(payload).replace(str(user.id).encode(), str(user.id + 1).encode())
    ).decode()
    tampered = ".".join([header, tampered_payload, signature])
    resigned_elsewhere = jwt.encode(claims, "another-secret-" + "y" * 32, algorithm="HS256")
    wrong_algorithm = jwt.encode(claims, key, algorithm="HS512")
    alg_none = jwt.encode(claims, None, algorithm="none")
    missing_jti = jwt.encode({k: v for k, v in claims.items() if k != "jti"}, key, algorithm="HS256")
    upload_token = create_upload_token(settings, user.id, "some-upload").token  # another audience
    unknown_user = jwt.encode({**claims, "sub": "999999"}, key, algorithm="HS256")
    for token in (
        expired,
        tampered,
        resigned_elsewhere,
        wrong_algorithm,
        alg_none,
        missing_jti,
        upload_token,
        unknown_user,
        "not.a.jwt",
    ):
        response = sqlite_client.get(f"{API}/users/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, token
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"]["code"] == "not_authenticated"
    expired_response = sqlite_client.get(f"{API}/users/me", headers={"Authorization": f"Bearer {expired}"})
    assert "expired" in expired_response.json()["error"]["message"]


@pytest.mark.parametrize("revocation", ["database", "redis"])
def test_logout_revokes_in_the_configured_store(
    make_client, make_settings, sqlite_database_url: str, redis_url: str, revocation: str
) -> None:
    overrides = {"REDIS_URL": redis_url} if revocation == "redis" else {}
    settings = make_settings(DATABASE_URL=sqlite_database_url, **overrides)
    client = make_client(settings)
    user = make_user_in(client)
    assert client.post(f"{API}/auth/logout", headers=user.headers).status_code == 204
    assert client.get(f"{API}/users/me", headers=user.headers).status_code == 401
    assert client.post(f"{API}/auth/logout", headers=user.headers).status_code == 401
    jti = jwt.decode(user.token, options={"verify_signature": False})["jti"]
    services = services_of(client)
    assert services.revocations.is_revoked(jti)
    if revocation == "redis":
        assert services.redis is not None and 0 < services.redis.ttl(f"videoai:revoked:{jti}") <= 3601
    # A fresh app on the same stores still refuses the token: revocation survives restarts.
    assert make_client(settings).get(f"{API}/users/me", headers=user.headers).status_code == 401


@pytest.mark.parametrize("counter", ["memory", "redis"])
def test_failed_logins_are_throttled_per_account(
    make_client, make_settings, sqlite_database_url: str, redis_url: str, counter: str
) -> None:
    overrides = {"REDIS_URL": redis_url} if counter == "redis" else {}
    settings = make_settings(DATABASE_URL=sqlite_database_url, LOGIN_MAX_FAILURES="3", **overrides)
    # A client address of its own, so counters in a shared Redis never meet another test's.
    client = make_client(settings, client=(f"10.0.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}", 5000))
    user = make_user_in(client)
    for _ in range(3):
        assert _login(client, user.email, "wrong-password-1").status_code == 401
    locked = _login(client, user.email)  # even the right password waits
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "too_many_attempts"
    assert 0 < int(locked.headers["retry-after"]) <= 300


def _sqlite(make_settings, sqlite_database_url: str, **overrides: str):
    return make_settings(DATABASE_URL=sqlite_database_url, **overrides)


def test_failures_on_one_account_never_block_another_accounts_correct_password(
    make_client, make_settings, sqlite_database_url: str
) -> None:
    """Issue 13: five failures for one account locked every account behind the same address."""
    client = make_client(_sqlite(make_settings, sqlite_database_url, LOGIN_MAX_FAILURES="3"), client=("203.0.113.7", 5000))
    victim, colleague = make_user_in(client), make_user_in(client)
    for _ in range(3):
        assert _login(client, victim.email, "guess-123456").status_code == 401
    assert _login(client, victim.email).status_code == 429  # this (address, account) pair waits
    assert _login(client, colleague.email).status_code == 200  # the same address, another account: not blocked
    # The victim, from another address, is not blocked either (the account's own limit is higher).
    elsewhere = TestClient(client.app, client=("198.51.100.9", 5000))
    assert _login(elsewhere, victim.email).status_code == 200


def test_guessing_one_account_from_many_addresses_hits_the_account_limit(
    make_client, make_settings, sqlite_database_url: str
) -> None:
    settings = _sqlite(make_settings, sqlite_database_url, LOGIN_MAX_FAILURES="3", LOGIN_MAX_FAILURES_PER_ACCOUNT="4")
    first = make_client(settings, client=("203.0.113.1", 5000))
    user = make_user_in(first)
    second = TestClient(first.app, client=("203.0.113.2", 5000))
    for client in (first, first, second, second):
        assert _login(client, user.email, "guess-123456").status_code == 401
    third = TestClient(first.app, client=("203.0.113.3", 5000))
    assert _login(third, user.email).status_code == 429
    assert _login(third, make_user_in(first).email).status_code == 200  # other accounts are untouched


def test_one_address_spraying_many_accounts_hits_the_higher_address_ceiling(
    make_client, make_settings, sqlite_database_url: str
) -> None:
    settings = _sqlite(make_settings, sqlite_database_url, LOGIN_MAX_FAILURES="3", LOGIN_MAX_FAILURES_PER_ADDRESS="6")
    attacker = make_client(settings, client=("203.0.113.7", 5000))
    for _ in range(6):  # one guess each at six accounts: never three at the same one
        assert _login(attacker, _email(), "guess-123456").status_code == 401
    user = make_user_in(attacker)
    assert _login(attacker, user.email).status_code == 429
    bystander = TestClient(attacker.app, client=("198.51.100.9", 5000))
    assert _login(bystander, user.email).status_code == 200


def test_forwarded_for_is_believed_only_from_trusted_proxies(
    make_client, make_settings, tmp_path, sqlite_database_url: str
) -> None:
    # Untrusted (the default): a client cannot escape its counters by inventing addresses.
    direct = make_client(_sqlite(make_settings, sqlite_database_url, LOGIN_MAX_FAILURES="2"), client=("127.0.0.1", 5000))
    email = _email()
    for n in range(2):
        assert _login_from(direct, email, f"192.0.2.{n}").status_code == 401
    assert _login_from(direct, email, "192.0.2.99").status_code == 429

    # Behind a configured proxy, each forwarded client has its own counters.
    settings = make_settings(
        DATABASE_URL=f"sqlite:///{tmp_path / 'proxied.db'}", LOGIN_MAX_FAILURES="2", TRUSTED_PROXIES="10.0.0.5"
    )
    proxied = make_client(settings, client=("10.0.0.5", 5000))
    for _ in range(2):
        assert _login_from(proxied, email, "192.0.2.1").status_code == 401
    assert _login_from(proxied, email, "192.0.2.1").status_code == 429
    assert _login_from(proxied, email, "192.0.2.2").status_code == 401  # another client behind the proxy


def _login_from(client, email: str, forwarded_for: str):
    return client.post(
        f"{API}/auth/login", data={"username": email, "password": "guess-123456"}, headers={"X-Forwarded-For": forwarded_for}
    )


def test_check_email_is_rate_limited_per_address(make_client, make_settings, sqlite_database_url: str) -> None:
    client = make_client(
        _sqlite(make_settings, sqlite_database_url, CHECK_EMAIL_MAX_PER_MINUTE="3"), client=("203.0.113.7", 5000)
    )
    for _ in range(3):
        assert client.post(f"{API}/users/check-email", json={"email": _email()}).status_code == 200
    limited = client.post(f"{API}/users/check-email", json={"email": _email()})
    assert limited.status_code == 429 and 0 < int(limited.headers["retry-after"]) <= 60
    other = TestClient(client.app, client=("198.51.100.9", 5000))
    assert other.post(f"{API}/users/check-email", json={"email": _email()}).status_code == 200
