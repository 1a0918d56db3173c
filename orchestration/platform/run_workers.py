"""Run workers forked from a warm process: Dagster's `dagster api execute_run` without its seconds of imports.

Why: Dagster's default run launcher has the code server start each run worker with multiprocessing's
"spawn": a fresh interpreter that imports Dagster, SQLAlchemy, the code location and, in its steps, the
models' libraries, seconds before the run's first step (benchmarks/README.md, `upload_to_ready`).

Here one fork server, started by the process that launches runs (the daemon), imports those libraries once
and forks a worker per run. It imports nothing of this project, so each worker imports the project's own
modules itself and a code reload reaches the next run. The worker runs the body of Dagster's own
`dagster api execute_run`, the entry point the Kubernetes and Docker launchers run: it logs its pid ("Started
process for run"), which the launcher's health check reads, and SIGTERM interrupts it as it does there.

Private: the click command's callback (`dagster._cli.api.execute_run_command.callback`) and Dagster's
interrupt handlers (`dagster._utils.interrupts.setup_interrupt_handlers`), called in the forked worker.
Public replacement: the `dagster api execute_run` command in a fresh process (what `DefaultRunLauncher`
starts), at the price of the imports. Slow run starts are dagster-io/dagster#26194.

The fork server reads one serialized `ExecuteRunArgs` per line on one pipe and answers the worker's pid on
another. When the launching process goes away, its end of the pipe closes and the fork server exits; the
workers it forked finish their runs.
"""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import threading
import traceback
from typing import TextIO

# What a run of the embedded default imports besides this project: Dagster's run worker, the database
# layer, and the libraries its steps load (ffmpeg-python, faster-whisper, the tokenizer, the embedder).
PRELOADED = (
    "dagster",
    "dagster._cli.api",
    "dagster._core.execution.backfill",
    "sqlite3",
    "mmap",
    "sqlalchemy.orm",
    "alembic.runtime.migration",
    "alembic.context",
    "pydantic_settings",
    "psutil",
    "numpy",
    "ffmpeg",
    "faster_whisper",
    "bpe_openai",
    "wordllama",
)


class ForkServerError(RuntimeError):
    """The fork server could not start a run worker."""


def serve(requests_fd: int, replies_fd: int) -> None:
    """The fork server's loop (in its own process): import PRELOADED, then fork a worker per request line."""
    for name in PRELOADED:
        try:
            importlib.import_module(name)
        except ImportError:  # an optional library not installed: the worker imports what it needs itself
            continue
    # fork() copies only the calling thread: a lock held by another thread would stay locked in every worker.
    if threading.active_count() != 1:
        raise ForkServerError(
            f"importing {PRELOADED} started threads ({threading.enumerate()}); the fork server cannot fork safely"
        )
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps finished workers: no zombies
    with os.fdopen(requests_fd, "r") as requests, os.fdopen(replies_fd, "w", buffering=1) as replies:
        for line in requests:
            pid = os.fork()
            if pid == 0:
                requests.close()
                replies.close()
                _work(line.strip())
            replies.write(f"{pid}\n")


def _work(serialized_args: str) -> None:
    """In a forked worker: execute the run as `dagster api execute_run` would, then exit with its code."""
    from dagster._cli.api import execute_run_command
    from dagster._utils.interrupts import setup_interrupt_handlers

    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the steps wait for their own children (ffmpeg)
    setup_interrupt_handlers()  # SIGTERM interrupts the run, as under the container launchers
    code = 1
    try:
        assert execute_run_command.callback is not None
        execute_run_command.callback(input_json=serialized_args, compressed_input_json=None)
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


class ForkServer:
    """The launching process's handle on its fork server, started on first use (or by `start`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._requests: TextIO | None = None
        self._replies: TextIO | None = None

    def start(self) -> None:
        """Start the fork server now (it imports in the background), so that the first run need not wait."""
        with self._lock:
            self._ensure_running()

    def _ensure_running(self) -> None:
        if self._process is not None and self._process.poll() is None:
            return
        self._close()
        requests_read, requests_write = os.pipe()
        replies_read, replies_write = os.pipe()
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "orchestration.platform.run_workers", str(requests_read), str(replies_write)],
                pass_fds=(requests_read, replies_write),
                stdin=subprocess.DEVNULL,
            )
        finally:
            os.close(requests_read)
            os.close(replies_write)
        self._requests = os.fdopen(requests_write, "w", buffering=1)
        self._replies = os.fdopen(replies_read, "r")

    def stop(self, timeout: float = 10) -> None:
        """Let the fork server exit (its workers finish their runs)."""
        with self._lock:
            self._close()
            if self._process is not None:
                self._process.wait(timeout=timeout)
                self._process = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None and self._process.poll() is None else None

    def _close(self) -> None:
        for pipe in (self._requests, self._replies):
            if pipe is not None:
                pipe.close()
        self._requests = self._replies = None

    def fork_worker(self, serialized_args: str) -> int:
        """Fork a run worker for one serialized `ExecuteRunArgs`; its pid. A fork server that died is started again."""
        if "\n" in serialized_args:
            raise ValueError("the serialized run arguments must be one line")
        with self._lock:
            for attempt in (1, 2):
                self._ensure_running()
                assert self._requests is not None and self._replies is not None
                try:
                    self._requests.write(serialized_args + "\n")
                    answer = self._replies.readline()
                except OSError:  # a broken pipe: the fork server is gone
                    answer = ""
                if answer.strip().isdigit():
                    return int(answer)
                if attempt == 1 and self._process is not None:
                    self._process.wait(timeout=10)  # it exited (killed?): start a new one
            raise ForkServerError(
                f"the run-worker fork server exited (code {self._process and self._process.returncode}) "
                "without starting the worker; see the daemon's log"
            )


# One per process: the daemon prestarts it (orchestration/daemon.py) and its run launcher uses the same one.
fork_server = ForkServer()


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]))
