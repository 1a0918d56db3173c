"""Everything the API talks to, built once per process from settings."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from redis import Redis
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from pipeline.ask import Asker, EvidenceFinder
from pipeline.db.session import engine_for, migrate
from pipeline.embeddings import Embedder
from pipeline.search import SearchIndex
from pipeline.search.factory import search_index_from_settings
from pipeline.search.hybrid import HybridSearch
from pipeline.search.moments import MomentFinder, shared_wordllama
from pipeline.search.vectors import VectorIndex, vector_index_for, vector_search_unavailable_reason
from pipeline.settings import Settings
from pipeline.storage import ObjectStore, object_store_from_settings
from pipeline.summarization.providers import OpenAIChatSummarizer
from serving_api.bloom import EmailBloomFilter
from serving_api.db_gate import Gate, gate_capacity
from serving_api.revocation import DatabaseRevocationStore, RedisRevocationStore, RevocationStore
from serving_api.throttle import (
    EventCounter,
    LoginLimits,
    LoginThrottle,
    MemoryEventCounter,
    RateLimit,
    RedisEventCounter,
)


@dataclass
class Services:
    settings: Settings
    engine: Engine
    sessions: sessionmaker
    store: ObjectStore
    search: SearchIndex
    vectors: VectorIndex | None
    hybrid: HybridSearch
    asker: Asker
    revocations: RevocationStore
    login_throttle: LoginThrottle
    email_checks: RateLimit
    emails: EmailBloomFilter
    redis: Redis | None
    db_gate: Gate
    password_gate: Gate

    def close(self) -> None:
        if self.redis is not None:
            self.redis.close()
        if isinstance(self.asker.model, OpenAIChatSummarizer):
            self.asker.model.close()


def build_services(settings: Settings) -> Services:
    # Migrating on start-up lets a fresh embedded install (SQLite) serve at once;
    # on PostgreSQL it is a no-op once the schema is at head.
    migrate(settings.database.url)
    engine = engine_for(
        settings.database.url, settings.database.pool_size, settings.database.max_overflow, settings.database.pool_timeout
    )
    search = search_index_from_settings(settings.search, engine)
    search.ensure()
    vectors = vector_index_for(settings.search.backend, engine, settings.search.vector_snapshot_dir)
    hybrid = HybridSearch(
        search,
        vectors,
        _lazy_embedder(settings),
        settings.search.semantic_min_similarity,
        None if vectors is not None else vector_search_unavailable_reason(settings.search.backend),
        MomentFinder(engine),
    )
    redis = Redis.from_url(settings.auth.redis_url) if settings.auth.redis_url else None
    counter: EventCounter
    if redis is not None:
        revocations: RevocationStore = RedisRevocationStore(redis)
        counter = RedisEventCounter(redis)
    else:
        revocations = DatabaseRevocationStore(engine)
        counter = MemoryEventCounter()
    emails = EmailBloomFilter(engine)
    emails.rebuild()
    return Services(
        settings=settings,
        engine=engine,
        sessions=sessionmaker(engine, expire_on_commit=False),
        store=object_store_from_settings(settings.storage),
        search=search,
        vectors=vectors,
        hybrid=hybrid,
        asker=asker_for(settings, engine, hybrid),
        revocations=revocations,
        login_throttle=LoginThrottle(
            counter,
            LoginLimits(
                per_pair=settings.auth.login_max_failures,
                per_account=settings.auth.login_max_failures_per_account,
                per_address=settings.auth.login_max_failures_per_address,
                window_seconds=settings.auth.login_window_seconds,
            ),
        ),
        email_checks=RateLimit(counter, "check-email", settings.auth.check_email_max_per_minute, 60),
        emails=emails,
        redis=redis,
        db_gate=Gate(gate_capacity(settings.database.pool_size, settings.database.max_overflow, settings.api.db_concurrency)),
        password_gate=Gate(settings.api.password_hash_concurrency),
    )


def asker_for(settings: Settings, engine: Engine, hybrid: HybridSearch) -> Asker:
    """The answerer ASK_PROVIDER names: embedded, or the summarizer's OpenAI-compatible chat API."""
    model = None
    if settings.ask.provider == "openai":
        model = OpenAIChatSummarizer(
            model=settings.summarization.model,
            api_key=settings.openai.api_key.get_secret_value(),
            base_url=settings.openai.base_url,
            timeout=settings.openai.timeout_seconds,
            max_retries=settings.openai.max_retries,
        )
    return Asker(EvidenceFinder(hybrid, engine, shared_wordllama), settings.ask.min_score, model)


def _lazy_embedder(settings: Settings) -> Callable[[], Embedder]:
    """The query embedder, loaded on the first semantic or hybrid search (not at start-up)."""
    loaded: list[Embedder] = []
    lock = threading.Lock()

    def get() -> Embedder:
        with lock:
            if not loaded:
                from pipeline.embeddings import embedder_from_settings

                loaded.append(embedder_from_settings(settings.embeddings, settings.openai))
            return loaded[0]

    return get
