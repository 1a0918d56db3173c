"""What the end-to-end tests share: waiting on a live platform, starting `videoai` commands, signing in."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

import httpx

from benchmarks.support import REPO

T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T | None], logs: Iterable[Path] = (), timeout: float = 150, every: float = 0.2) -> T:
    """`probe()`'s first answer that is not None; on timeout, an error that shows the tails of `logs`."""
    deadline = time.monotonic() + timeout
    while (found := probe()) is None:
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {log.name}:\n{log.read_text(errors='replace')[-4000:]}" for log in logs if log.exists())
            raise AssertionError(f"timed out waiting for {what}\n{tails}")
        time.sleep(every)
    return found


def start_videoai(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`videoai COMMAND` with exactly `env`, in its own process group (the caller stops it), output to `log`."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "orchestration.cli", *command],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def sign_up_and_in(client: httpx.Client, email: str, full_name: str) -> None:
    """A new account through the API; `client` sends its bearer token from now on."""
    user = {"email": email, "password": "Correct-Horse-9", "full_name": full_name}
    client.post("/auth/signup", json=user).raise_for_status()
    token = client.post("/auth/login", data={"username": email, "password": user["password"]})
    client.headers["Authorization"] = f"Bearer {token.raise_for_status().json()['access_token']}"
