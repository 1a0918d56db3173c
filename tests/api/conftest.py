"""The real app over HTTP (TestClient) on a real database, with helpers to seed
what the pipeline would have materialized.

Most tests get their users from `make_user`, which inserts the row and mints a
token with the app's own `create_access_token`: an Argon2 hash costs ~0.25 s on
these two cores, so only the auth tests go through signup and login.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

import pytest
from fastapi.testclient import TestClient

from pipeline import keys
from pipeline.db.models import TranscriptSegment, User, Video, VideoStatus, VideoSummary, VideoTranscript, VideoVariant
from pipeline.db.session import session_scope
from pipeline.search import SearchDocument
from pipeline.settings import Settings
from pipeline.text import TimedSegment
from serving_api.main import create_app
from serving_api.security import create_access_token, hash_password
from serving_api.services import Services

PASSWORD = "correct-horse-42"
API = "/api/v1"


@cache
def _password_hash() -> str:
    return hash_password(PASSWORD)


@pytest.fixture
def make_client() -> Iterator[Callable[..., TestClient]]:
    """Start the real app (lifespan included) for some settings; stopped at teardown."""
    clients: list[TestClient] = []

    def start(settings: Settings, **client_options: object) -> TestClient:
        client = TestClient(create_app(settings), **client_options)  # type: ignore[arg-type]
        client.__enter__()
        clients.append(client)
        return client

    yield start
    for client in reversed(clients):
        client.__exit__(None, None, None)


@pytest.fixture
def api_settings(make_settings, migrated_database_url: str) -> Settings:
    """Settings on SQLite and on PostgreSQL (the `migrated_database_url` parameter)."""
    return make_settings(DATABASE_URL=migrated_database_url, JWT_SECRET="test-secret-" + "x" * 32)


@pytest.fixture
def sqlite_settings(make_settings, sqlite_database_url: str) -> Settings:
    return make_settings(DATABASE_URL=sqlite_database_url, JWT_SECRET="test-secret-" + "x" * 32)


@pytest.fixture
def client(make_client, api_settings: Settings) -> TestClient:
    return make_client(api_settings)


@pytest.fixture
def sqlite_client(make_client, sqlite_settings: Settings) -> TestClient:
    return make_client(sqlite_settings)


def services_of(client: TestClient) -> Services:
    return client.app.state.services  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ApiUser:
    id: int
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def make_user_in(client: TestClient, email: str | None = None) -> ApiUser:
    services = services_of(client)
    email = email or f"user-{uuid.uuid4().hex[:10]}@example.com"
    with session_scope(services.engine) as session:
        user = User(email=email, full_name="Test User", hashed_password=_password_hash())
        session.add(user)
        session.flush()
        user_id = user.id
    return ApiUser(user_id, email, create_access_token(services.settings, user_id).token)


@pytest.fixture
def make_user(client: TestClient) -> Callable[..., ApiUser]:
    return lambda email=None: make_user_in(client, email)


_clock = itertools.count()


def seed_video(
    client: TestClient,
    owner: ApiUser | None,
    *,
    status: VideoStatus = VideoStatus.READY,
    title: str = "A video",
    created_at: datetime | None = None,
    materialize: bool = False,
    variant_bytes: bytes = b"",
    index_text: str | None = None,
) -> int:
    """A video row as the pipeline leaves it; `materialize` adds a 360p variant, thumbnail,
    transcript (with segments and VTT), summary and their objects; `index_text` a search document."""
    services = services_of(client)
    store = services.store
    # Distinct, increasing timestamps unless given: list order is then known.
    created = created_at or datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=next(_clock))
    with session_scope(services.engine) as session:
        video = Video(
            title=title,
            description=f"About {title}",
            owner_id=owner.id if owner else None,
            status=status.value,
            created_at=created,
            updated_at=created,
            duration_seconds=4.0,
        )
        session.add(video)
        session.flush()
        vid = video.id
        if materialize:
            store.put_bytes(keys.variant_key(vid, "360p"), variant_bytes, "video/mp4")
            store.put_bytes(keys.thumbnail_key(vid), b"\xff\xd8\xff jpeg", "image/jpeg")
            vtt = "WEBVTT\n\n1\n00:00:00.000 --> 00:00:02.000\nhello world\n\n"
            store.put_bytes(keys.transcript_vtt_key(vid), vtt.encode(), "text/vtt")
            video.thumbnail_key = keys.thumbnail_key(vid)
            session.add(
                VideoVariant(
                    video_id=vid,
                    label="360p",
                    width=640,
                    height=360,
                    video_codec="h264",
                    audio_codec="aac",
                    bitrate=500_000,
                    size_bytes=len(variant_bytes),
                    object_key=keys.variant_key(vid, "360p"),
                )
            )
            session.add(
                VideoTranscript(
                    video_id=vid,
                    language="en",
                    text="hello world. the river flows.",
                    word_count=5,
                    segment_count=2,
                    vtt_key=keys.transcript_vtt_key(vid),
                )
            )
            session.add_all(
                [
                    TranscriptSegment(video_id=vid, position=0, start_seconds=0.0, end_seconds=2.0, text="hello world."),
                    TranscriptSegment(video_id=vid, position=1, start_seconds=2.0, end_seconds=4.0, text="the river flows."),
                ]
            )
            session.add(
                VideoSummary(
                    video_id=vid,
                    summary="A greeting and a river.",
                    sentence_count=1,
                    chunk_count=1,
                    quality_score=0.9,
                    model_info={"provider": "extractive"},
                )
            )
    if index_text is not None:
        services.search.upsert(
            SearchDocument(
                video_id=vid,
                title=title,
                description=f"About {title}",
                owner_id=owner.id if owner else None,
                owner_name=None,
                transcript=index_text,
                summary="",
                status=status.value,
                language="en",
                created_at=created,
                updated_at=created,
                duration_seconds=4.0,
                segments=(TimedSegment(0.0, 2.0, "introduction"), TimedSegment(2.0, 4.0, index_text)),
            )
        )
    return vid
