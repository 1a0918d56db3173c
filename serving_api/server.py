"""Running the API with uvicorn (`videoai serve`)."""

from __future__ import annotations

import uvicorn

from pipeline.settings import Settings
from serving_api.main import create_app


def serve(settings: Settings) -> None:
    uvicorn.run(create_app(settings), host=settings.api_host, port=settings.api_port,
                proxy_headers=True, log_level="info")
