"""Load test of the real API server: many concurrent clients, on SQLite and on PostgreSQL.

Starts `videoai serve` (uvicorn, in a subprocess, loopback only) on a temporary
install seeded with users and ready videos, then drives 10, 50, 100 and 200
concurrent clients for 30 s each with a mix of search, detail, list, watch and
login requests. Per level it prints req/s, p50, p99 and the slowest request,
and checks the issue-13 targets:

- no 5xx other than 503 with Retry-After,
- no request slower than 10 s,
- throughput at the highest level >= 80 % of the peak.

    .venv/bin/python -m benchmarks api_load                         # both databases, 30 s per level
    .venv/bin/python -m benchmarks api_load --seconds 10 --levels 10,50 --databases sqlite

PostgreSQL: VIDEOAI_BENCH_POSTGRES_URL (an admin URL; a throwaway database is made
and dropped), else the machine's at 127.0.0.1:5432. The load generator runs in this
process (asyncio + aiohttp, one session per client), the server in another; on a small
machine they share the cores, so each level also prints the CPU both used (in cores):
compare levels within one run, not absolute figures between machines. A request is timed
as its client sees it, and one unanswered within 30 s counts as a failure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import psutil

from benchmarks.support import API, api_server, temporary_database
from orchestration.processes import free_port

PASSWORD = "load-test-password-7"
WORDS = (
    "river",
    "mountain",
    "kitchen",
    "engine",
    "garden",
    "planet",
    "violin",
    "harbor",
    "forest",
    "desert",
    "market",
    "bridge",
    "lantern",
    "glacier",
    "canyon",
    "orchard",
)
DEFAULT_MIX = {"search": 30, "detail": 25, "list": 20, "watch": 20, "login": 5}
SLOW_SECONDS = 10.0


# --- The server --------------------------------------------------------------------------------


@dataclass
class Seeded:
    video_ids: list[int]
    emails: list[str]
    tokens: list[str]


def seed(env: dict[str, str], videos: int = 200, users: int = 20) -> Seeded:
    """Ready videos (with a variant, transcript and search document) and users, as the pipeline leaves them."""
    from pipeline import keys
    from pipeline.db.models import TranscriptSegment, User, Video, VideoStatus, VideoTranscript, VideoVariant
    from pipeline.db.session import make_engine, migrate, session_scope
    from pipeline.search import SearchDocument
    from pipeline.search.factory import search_index_from_settings
    from pipeline.settings import Settings
    from pipeline.storage import object_store_from_settings
    from pipeline.text import TimedSegment
    from serving_api.security import create_access_token, hash_password

    settings = Settings(**env)
    migrate(settings.database.url)
    engine = make_engine(settings.database.url)
    store = object_store_from_settings(settings.storage)
    search = search_index_from_settings(settings.search, engine)
    search.ensure()
    rng = random.Random(13)
    hashed = hash_password(PASSWORD)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with session_scope(engine) as session:
        people = [
            User(email=f"load-{n}-{uuid.uuid4().hex[:6]}@example.com", full_name=f"User {n}", hashed_password=hashed)
            for n in range(users)
        ]
        session.add_all(people)
        session.flush()
        user_ids, emails = [u.id for u in people], [u.email for u in people]
        video_ids: list[int] = []
        documents = []
        for n in range(videos):
            words = rng.sample(WORDS, 4)
            created = start + timedelta(minutes=n)
            video = Video(
                title=f"{words[0]} {words[1]} #{n}",
                description=f"About the {words[2]}",
                owner_id=user_ids[n % users],
                status=VideoStatus.READY.value,
                created_at=created,
                updated_at=created,
                duration_seconds=30.0,
                width=640,
                height=360,
            )
            session.add(video)
            session.flush()
            vid = video.id
            video_ids.append(vid)
            store.put_bytes(keys.variant_key(vid, "360p"), b"\x00" * 1024, "video/mp4")
            session.add(
                VideoVariant(
                    video_id=vid,
                    label="360p",
                    width=640,
                    height=360,
                    video_codec="h264",
                    audio_codec="aac",
                    bitrate=500_000,
                    size_bytes=1024,
                    object_key=keys.variant_key(vid, "360p"),
                )
            )
            text = " ".join(rng.choice(WORDS) for _ in range(60))
            session.add(VideoTranscript(video_id=vid, language="en", text=text, word_count=60, segment_count=2))
            session.add_all(
                [
                    TranscriptSegment(video_id=vid, position=0, start_seconds=0.0, end_seconds=15.0, text=text[: len(text) // 2]),
                    TranscriptSegment(
                        video_id=vid, position=1, start_seconds=15.0, end_seconds=30.0, text=text[len(text) // 2 :]
                    ),
                ]
            )
            documents.append(
                SearchDocument(
                    video_id=vid,
                    title=video.title,
                    description=video.description,
                    owner_id=video.owner_id,
                    owner_name=None,
                    transcript=text,
                    summary=f"A video about {words[3]}.",
                    status=VideoStatus.READY.value,
                    language="en",
                    created_at=created,
                    updated_at=created,
                    duration_seconds=30.0,
                    segments=(TimedSegment(0.0, 15.0, text[: len(text) // 2]), TimedSegment(15.0, 30.0, text[len(text) // 2 :])),
                )
            )
    for document in documents:
        search.upsert(document)
    tokens = [create_access_token(settings, uid).token for uid in user_ids]
    engine.dispose()
    return Seeded(video_ids, emails, tokens)


# --- The load ----------------------------------------------------------------------------------


@dataclass
class LevelResult:
    clients: int
    seconds: float
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))  # by operation
    statuses: Counter = field(default_factory=Counter)
    by_op: Counter = field(default_factory=Counter)
    bad_503: int = 0  # 503 without Retry-After
    errors: Counter = field(default_factory=Counter)  # no answer: transport errors, and timeouts
    client_cpu: float = 0.0  # cores the load generator itself used (it shares the machine with the server)
    server_cpu: float | None = None  # cores the API server used, where measured

    @property
    def all_latencies(self) -> list[float]:
        return sorted(t for times in self.latencies.values() for t in times)

    @property
    def requests(self) -> int:
        return sum(len(times) for times in self.latencies.values())

    @property
    def rate(self) -> float:
        """Requests served (every answer but 503) per second."""
        served = self.requests - self.statuses[503] - sum(self.errors.values())
        return served / self.seconds if self.seconds else 0.0

    def quantile(self, q: float, op: str | None = None) -> float:
        ordered = self.all_latencies if op is None else sorted(self.latencies[op])
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def server_errors(self) -> int:
        """5xx other than 503 with Retry-After, plus requests that never got an answer (timeouts included)."""
        return (
            sum(n for code, n in self.statuses.items() if code >= 500 and code != 503) + self.bad_503 + sum(self.errors.values())
        )

    @property
    def slowest(self) -> float:
        return max((max(times) for times in self.latencies.values() if times), default=0.0)

    def line(self) -> str:
        codes = " ".join(f"{code}:{n}" for code, n in sorted(self.statuses.items()))
        errors = f" errors {dict(self.errors)}" if self.errors else ""
        cpu = f"  cpu: client {self.client_cpu:.2f}" + (f" server {self.server_cpu:.2f}" if self.server_cpu is not None else "")
        return (
            f"{self.clients:>4} clients  {self.rate:8.1f} req/s  p50 {self.quantile(0.5) * 1000:7.1f} ms  "
            f"p99 {self.quantile(0.99) * 1000:7.1f} ms  max {self.slowest:6.2f} s  [{codes}]{errors}{cpu}"
        )

    def ops_line(self) -> str:
        return "  ".join(f"{op} p99 {self.quantile(0.99, op) * 1000:.0f} ms" for op in sorted(self.latencies))


def _request_for(op: str, rng: random.Random, seeded: Seeded) -> tuple[str, str, dict]:
    token = rng.choice(seeded.tokens)
    auth = {"headers": {"Authorization": f"Bearer {token}"}} if rng.random() < 0.5 else {}
    video = rng.choice(seeded.video_ids)
    if op == "search":
        return "GET", f"{API}/videos/search", {"params": {"q": " ".join(rng.sample(WORDS, 2))}, **auth}
    if op == "detail":
        return "GET", f"{API}/videos/{video}", auth
    if op == "list":
        return "GET", f"{API}/videos/list", {"params": {"limit": 20}, **auth}
    if op == "watch":
        return "GET", f"{API}/videos/{video}/watch", auth
    if op == "login":
        return "POST", f"{API}/auth/login", {"data": {"username": rng.choice(seeded.emails), "password": PASSWORD}}
    raise ValueError(op)


async def _drive(base: str, clients: int, seconds: float, seeded: Seeded, mix: dict[str, int], timeout: float) -> LevelResult:
    result = LevelResult(clients, seconds)
    ops, weights = list(mix), list(mix.values())
    started = time.perf_counter()
    deadline = started + seconds

    async def client(n: int) -> None:
        # Each client is its own browser: its own session and keep-alive connection. (One shared
        # pool of hundreds of connections cost the generator far more CPU per request than
        # the requests themselves, on the cores the server needs.)
        rng = random.Random(n)
        session_timeout = aiohttp.ClientTimeout(total=timeout)  # the whole request, as the client waits
        async with aiohttp.ClientSession(base, timeout=session_timeout, connector=aiohttp.TCPConnector(limit=1)) as http:
            while time.perf_counter() < deadline:
                op = rng.choices(ops, weights)[0]
                method, url, options = _request_for(op, rng, seeded)
                t0 = time.perf_counter()
                try:
                    async with http.request(method, url, **options) as response:
                        await response.read()
                except (aiohttp.ClientError, TimeoutError) as exc:
                    result.latencies[op].append(time.perf_counter() - t0)
                    result.errors["timeout" if isinstance(exc, TimeoutError) else type(exc).__name__] += 1
                    continue
                result.latencies[op].append(time.perf_counter() - t0)
                result.statuses[response.status] += 1
                result.by_op[(op, response.status)] += 1
                if response.status == 503:
                    if "Retry-After" not in response.headers:
                        result.bad_503 += 1
                    else:  # a well-behaved client backs off as told (capped, to keep the load on)
                        await asyncio.sleep(min(1.0, float(response.headers["Retry-After"])))

    cpu_before = time.process_time()
    await asyncio.gather(*(client(n) for n in range(clients)))
    result.seconds = time.perf_counter() - started
    result.client_cpu = (time.process_time() - cpu_before) / result.seconds
    return result


def drive(
    base: str, clients: int, seconds: float, seeded: Seeded, mix: dict[str, int] | None = None, timeout: float = 30.0
) -> LevelResult:
    """Run `clients` concurrent clients against `base` for `seconds`; every answer is recorded.

    A request is timed from its send to the end of its body, as its client sees it; one with no
    answer within `timeout` counts as a failure, with the time waited as its latency.
    """
    return asyncio.run(_drive(base, clients, seconds, seeded, mix or DEFAULT_MIX, timeout))


# --- The benchmark -----------------------------------------------------------------------------


def run_database(kind: str, levels: list[int], seconds: float) -> tuple[list[LevelResult], list[str]]:
    with (
        tempfile.TemporaryDirectory(prefix="videoai-load-") as tmp,
        temporary_database(
            kind,
            Path(tmp),
            os.environ.get("VIDEOAI_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
            "videoai_bench",
        ) as url,
    ):
        env = {
            "VIDEOAI_HOME": str(Path(tmp) / "home"),
            "DATABASE_URL": url,
            "JWT_SECRET": "load-test-secret-" + "x" * 32,
            "OBJECT_STORE": "local",
            "SEARCH_BACKEND": "database",
            "LOGIN_MAX_FAILURES": "1000000",
        }
        seeded = seed(env)
        results: list[LevelResult] = []
        with api_server({**os.environ, **env}, free_port(), Path(tmp) / "api.log") as server:
            base = server.base
            drive(base, 10, 2, seeded)  # warm-up: imports, caches, pool
            for clients in levels:
                before = _cpu_seconds(server.pid)
                result = drive(base, clients, seconds, seeded)
                result.server_cpu = (_cpu_seconds(server.pid) - before) / result.seconds
                print(
                    f"  {kind:<10} {result.line()}  load {os.getloadavg()[0]:.1f}\n  {'':<10}       {result.ops_line()}",
                    flush=True,
                )
                results.append(result)
    return results, check(results)


def _cpu_seconds(pid: int) -> float:
    """CPU time of a process and its children (uvicorn's workers)."""
    process = psutil.Process(pid)
    total = 0.0
    for each in (process, *process.children(recursive=True)):
        with contextlib.suppress(psutil.NoSuchProcess):
            times = each.cpu_times()
            total += times.user + times.system
    return total


def check(results: list[LevelResult]) -> list[str]:
    problems = []
    for r in results:
        if r.server_errors:
            problems.append(f"{r.clients} clients: {r.server_errors} answers were 5xx (not 503+Retry-After) or missing")
        if r.slowest > SLOW_SECONDS:
            problems.append(f"{r.clients} clients: slowest request {r.slowest:.1f} s > {SLOW_SECONDS:g} s")
    peak = max((r.rate for r in results), default=0.0)
    if results and results[-1].rate < 0.8 * peak:
        problems.append(f"{results[-1].clients} clients: {results[-1].rate:.0f} req/s < 80% of the peak {peak:.0f}")
    return problems


def _load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min) {five:.2f} (5 min) on {os.cpu_count()} cores"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="10,50,100,200", help="concurrent clients per level")
    parser.add_argument("--seconds", type=float, default=30.0, help="duration of each level")
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args(argv)
    levels = [int(n) for n in args.levels.split(",")]
    failures = []
    print(f"mix {DEFAULT_MIX}; {args.seconds:g} s per level; {_load_average()}", flush=True)
    for kind in args.databases.split(","):
        _, problems = run_database(kind, levels, args.seconds)
        failures += [f"{kind}: {p}" for p in problems]
        print(f"  {kind:<10} after: {_load_average()}", flush=True)
    for failure in failures:
        print(f"FAIL {failure}")
    print("targets met" if not failures else f"{len(failures)} target(s) missed")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
