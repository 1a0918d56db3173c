"""Security headers on every response, a Content-Security-Policy on every HTML page.

A plain ASGI middleware (no BaseHTTPMiddleware: streamed video bodies pass
through untouched). The pages load scripts, styles and media from this
origin only; where objects are served from the object store by presigned
URLs (S3), that origin is allowed for images and media too. HSTS is sent
only when the request arrived over TLS (directly, or as the proxy reports
through uvicorn's proxy headers): over plain HTTP it would mean nothing.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline.settings import Settings

# Swagger UI and ReDoc (served locally by fastapi-offline) start from an inline script.
DOCS_PATHS = ("/docs", "/redoc")

COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}
HSTS = "max-age=31536000; includeSubDomains"


def _origin(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def content_security_policy(settings: Settings, *, docs: bool = False) -> str:
    media = " ".join(
        [
            "'self'",
            "blob:",
            *(o for o in {_origin(settings.storage.s3_public_endpoint_url or settings.storage.s3_endpoint_url)} if o),
        ]
    )
    if settings.storage.kind == "s3" and not (settings.storage.s3_public_endpoint_url or settings.storage.s3_endpoint_url):
        media += " https://*.amazonaws.com"
    scripts = "'self' 'unsafe-inline'" if docs else "'self'"
    styles = "'self' 'unsafe-inline'" if docs else "'self'"
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src {scripts}",
            f"style-src {styles}",
            f"img-src {media} data:",
            f"media-src {media}",
            "connect-src 'self'",
            "worker-src 'self' blob:",
            "font-src 'self' data:",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "form-action 'self'",
        ]
    )


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.page_policy = content_security_policy(settings)
        self.docs_policy = content_security_policy(settings, docs=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        tls = scope.get("scheme") == "https"
        policy = self.docs_policy if path.startswith(DOCS_PATHS) else self.page_policy

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in COMMON_HEADERS.items():
                    headers.setdefault(name, value)
                if headers.get("content-type", "").startswith("text/html"):
                    headers["Content-Security-Policy"] = policy
                if tls:
                    headers["Strict-Transport-Security"] = HSTS
            await send(message)

        await self.app(scope, receive, send_with_headers)
