"""`/users/me` and the Bloom-filtered email check."""

from __future__ import annotations

import time

from sqlalchemy import event

from pipeline.db.models import User
from pipeline.db.session import session_scope
from tests.api.conftest import API, PASSWORD, make_user_in, services_of


def _exists(client, email: str) -> bool:
    response = client.post(f"{API}/users/check-email", json={"email": email})
    assert response.status_code == 200, response.text
    return response.json()["exists"]


def test_me_needs_a_token(client, make_user) -> None:
    user = make_user()
    assert client.get(f"{API}/users/me", headers=user.headers).json()["id"] == user.id
    assert client.get(f"{API}/users/me").status_code == 401


def test_check_email_is_exact_and_answers_negatives_without_the_database(client, make_user) -> None:
    services = services_of(client)
    registered = make_user().email
    services.emails.rebuild()  # make_user writes the row directly, as another API process would
    assert _exists(client, registered) and _exists(client, registered.upper())

    users_queries: list[str] = []

    def record(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        if "users" in statement:
            users_queries.append(statement)

    event.listen(services.engine, "before_cursor_execute", record)
    try:
        assert not _exists(client, "free-address@example.com")
    finally:
        event.remove(services.engine, "before_cursor_execute", record)
    assert users_queries == []  # a Bloom negative never reaches the database
    assert client.post(f"{API}/users/check-email", json={"email": "nope"}).status_code == 422


def test_filter_is_built_at_startup_and_updated_on_signup(make_client, sqlite_settings) -> None:
    first = make_client(sqlite_settings)
    existing = make_user_in(first).email
    restarted = make_client(sqlite_settings)  # start-up builds the filter from the table
    assert _exists(restarted, existing)
    signed_up = "newcomer@example.com"
    assert not _exists(restarted, signed_up)
    assert restarted.post(f"{API}/auth/signup", json={"email": signed_up, "password": PASSWORD}).status_code == 201
    assert _exists(restarted, signed_up)


def test_filter_is_rebuilt_on_a_schedule(make_client, make_settings, tmp_path) -> None:
    client = make_client(make_settings(DATABASE_URL=f"sqlite:///{tmp_path / 'api.db'}", BLOOM_REBUILD_SECONDS="1"))
    with session_scope(services_of(client).engine) as session:  # signed up through another process
        session.add(User(email="elsewhere@example.com", hashed_password="x"))
    deadline = time.monotonic() + 10
    while not _exists(client, "elsewhere@example.com"):
        assert time.monotonic() < deadline, "the periodic rebuild never picked up the new user"
        time.sleep(0.2)
