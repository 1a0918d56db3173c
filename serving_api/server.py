"""Running the API with uvicorn (`videoai serve`)."""

from __future__ import annotations

import uvicorn

from pipeline.logs import configure_logging
from pipeline.settings import Settings
from serving_api.main import create_app


def serve(settings: Settings) -> None:
    configure_logging(settings)
    # Forwarded headers are handled by the app itself, and only from TRUSTED_PROXIES
    # (serving_api/main.py); uvicorn's own handling would trust 127.0.0.1 by default.
    # No limit_concurrency: uvicorn answers its excess a bare 503 without Retry-After, counting
    # connections, not requests; the app bounds requests itself (serving_api/db_gate.py).
    uvicorn.run(create_app(settings), host=settings.api_host, port=settings.api_port,
                proxy_headers=False, log_config=None, log_level=settings.log_level.lower(),
                # Longer than uvicorn's 5 s: an overloaded server must not drop idle keep-alive
                # connections that clients are about to reuse.
                timeout_keep_alive=30)
