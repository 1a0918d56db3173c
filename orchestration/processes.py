"""Starting the servers the demo, the benchmarks, the scripts and the tests run on a free port, waiting for
them, and stopping them with everything they spawned."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process_group(process: subprocess.Popen, timeout: float = 20) -> None:
    """Stop a process started with start_new_session, and everything it spawned."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=timeout)


def wait_until_answers(
    url: str,
    process: subprocess.Popen,
    what: str,
    log: Path,
    *,
    timeout: float = 180,
    answered: Callable[[int], bool] = lambda status: status < 500,
) -> None:
    """Poll `url` until `process` answers it with a status `answered` accepts; fail with the end of
    its log if it exits or does not answer within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited early (code {process.returncode}); {_log_tail(log)}")
        try:
            if answered(httpx.get(url, timeout=2).status_code):
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not answer {url} within {timeout:.0f} s; {_log_tail(log)}")
        time.sleep(0.2)


def _log_tail(log: Path) -> str:
    text = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    return f"the end of {log}:\n{text}"
