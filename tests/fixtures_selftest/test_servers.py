"""The servers the session starts when the machine has none (tests/fixtures/servers.py), started here on purpose.

Each test forces the self-start path, even on a machine whose own PostgreSQL and Redis answer, and checks
that stopping leaves no process and no temp dir behind.
"""

from __future__ import annotations

import contextlib

import psutil
import redis
from sqlalchemy import create_engine, text

from tests.fixtures.servers import MACHINE_POSTGRES_URL, MACHINE_REDIS_URL, PrivatePostgres, PrivateRedis


def assert_gone(pid: int) -> None:
    """The process has exited (a zombie awaiting its parent's reaping has exited too)."""
    with contextlib.suppress(psutil.NoSuchProcess):
        assert psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, f"process {pid} still runs"


def test_private_postgres_serves_queries_and_leaves_nothing_behind() -> None:
    server = PrivatePostgres()
    try:
        assert server.port != 5432 and server.admin_url != MACHINE_POSTGRES_URL
        pid = server.pid
        assert pid is not None and psutil.pid_exists(pid)
        # What make_postgres_database does with it: create a database, use it, drop it.
        admin = create_engine(server.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            assert conn.execute(text("SELECT current_setting('server_encoding')")).scalar() == "UTF8"
            conn.execute(text('CREATE DATABASE "selftest"'))
        app = create_engine(server.admin_url.rsplit("/", 1)[0] + "/selftest")
        with app.begin() as conn:
            conn.execute(text("CREATE TABLE t (word text)"))
            conn.execute(text("INSERT INTO t VALUES ('grüße')"))
            # A UTF-8 locale, as on the machine's cluster: the C locale would leave ü lower-case.
            assert conn.execute(text("SELECT upper(word) FROM t")).scalar() == "GRÜßE"
        app.dispose()
        with admin.connect() as conn:
            conn.execute(text('DROP DATABASE "selftest" WITH (FORCE)'))
        admin.dispose()
    finally:
        server.stop()
    assert_gone(pid)
    assert not server.root.exists()


def test_private_redis_serves_commands_and_leaves_nothing_behind() -> None:
    server = PrivateRedis()
    try:
        assert server.port != 6379 and server.url != MACHINE_REDIS_URL
        client = redis.Redis.from_url(server.url)
        client.set("selftest", "value", ex=60)
        assert client.get("selftest") == b"value" and 0 < client.ttl("selftest") <= 60
        client.close()
    finally:
        server.stop()
    assert_gone(server.process.pid)
    assert not server.root.exists()
