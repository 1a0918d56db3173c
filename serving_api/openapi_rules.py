"""The limits that come from settings, stated in the OpenAPI document.

Rules fixed in code are on the schemas themselves (lengths, patterns: the password policy, the
cursor format, the id range); these depend on the deployment, so they are written into the
document when it is first generated: a request the document calls valid is not refused for a
size it did not mention.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from pipeline.settings import Settings


def state_settings_limits(app: FastAPI, settings: Settings) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        limit = settings.uploads.max_bytes
        size = schema["components"]["schemas"]["PresignedUploadIn"]["properties"]["size_bytes"]
        size["maximum"] = limit
        size["description"] = f"{size.get('description', '')} At most MAX_UPLOAD_BYTES ({limit} bytes).".strip()
        upload = schema["paths"]["/api/v1/videos/upload"]["post"]
        upload["description"] = (
            f"{upload.get('description', '')}\n\nThe file may be at most MAX_UPLOAD_BYTES "
            f"({limit} bytes); a larger one is refused (413) as soon as it passes the limit."
        )
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
