"""Files holding secrets or user data are owner-only from their first byte, whatever the umask."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from pipeline.db.session import make_engine, migrate
from serving_api.security import signing_key


@pytest.fixture
def open_umask() -> Iterator[None]:
    previous = os.umask(0o000)  # the worst a process could be started with
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_generated_jwt_secret_is_0600_and_the_same_for_every_process(make_settings, open_umask) -> None:
    settings = make_settings()
    secrets: list[str] = []
    threads = [threading.Thread(target=lambda: secrets.append(signing_key(settings))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    path = settings.videoai_home / "jwt_secret"
    assert _mode(path) == 0o600
    assert len(set(secrets)) == 1 and secrets[0] == path.read_text() and len(secrets[0]) >= 48
    assert [p.name for p in path.parent.iterdir()] == ["jwt_secret"]  # no temp file left


def test_the_sqlite_database_and_its_wal_are_0600(tmp_path: Path, open_umask) -> None:
    database = tmp_path / "home" / "videoai.db"
    url = f"sqlite:///{database}"
    migrate(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("SELECT count(*) FROM users"))
    assert {p.name: oct(_mode(p)) for p in database.parent.iterdir()} == {
        name: "0o600" for name in ("videoai.db", "videoai.db-wal", "videoai.db-shm") if (database.parent / name).exists()
    }
    engine.dispose()
    database.chmod(0o644)  # one made before: tightened when opened again
    make_engine(url).dispose()
    assert _mode(database) == 0o600
