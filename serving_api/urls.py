"""Absolute URLs for clients: the API's own routes, or the object store's presigned ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import Request

from serving_api.services import Services


def api_url(request: Request, services: Services, route_name: str, query: str = "", **path_params: object) -> str:
    """A route's absolute URL, on PUBLIC_BASE_URL when set (behind a proxy) or the request's host."""
    path = request.app.url_path_for(route_name, **{k: str(v) for k, v in path_params.items()})
    return services.settings.public_url(path, fallback=str(request.base_url)) + (f"?{query}" if query else "")


class ObjectLinks:
    """URLs for stored objects: presigned where the store can, else the API route that serves them."""

    def __init__(self, request: Request, services: Services) -> None:
        self.request, self.services = request, services
        self.presigned_any = False

    def url(self, key: str, route_name: str, **path_params: object) -> str:
        presigned = self.services.store.presigned_get_url(key, self.services.settings.storage.presign_seconds)
        if presigned is not None:
            self.presigned_any = True
            return presigned
        return api_url(self.request, self.services, route_name, **{k: str(v) for k, v in path_params.items()})

    def api_url(self, route_name: str, **path_params: object) -> str:
        """A route of the API itself (never presigned)."""
        return api_url(self.request, self.services, route_name, "", **path_params)

    def expires_at(self) -> datetime | None:
        if not self.presigned_any:
            return None
        return datetime.now(UTC) + timedelta(seconds=self.services.settings.storage.presign_seconds)
