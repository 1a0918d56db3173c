"""Run one relay pass that dies (SIGKILL) after the broker acknowledged, before marking.

Used by the relay-crash test as a separate process: `python -m tests.messaging.crashing_relay DB_URL BOOTSTRAP`.
"""

from __future__ import annotations

import os
import signal
import sys

from pipeline.db.session import make_engine
from pipeline.messaging import relay


def _die_before_marking(engine, ids) -> None:  # type: ignore[no-untyped-def]
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    database_url, bootstrap = sys.argv[1:3]
    relay._mark_published = _die_before_marking
    relay.relay_outbox(make_engine(database_url), relay.make_producer(bootstrap, send_timeout=10))
    sys.exit("the relay should have been killed before marking")
