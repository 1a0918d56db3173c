"""Which methods a path allows, answered the same way for `OPTIONS` and for a 405.

Starlette answers a method no route of a path takes from the first route whose path matched
(`Allow: GET` for `/videos/{id}`, which also takes PATCH and DELETE), and lets a parameter
route swallow a literal path (`PATCH /videos/upload` reached `PATCH /videos/{id}` and failed
as a bad id, 422). Here a path's routes are grouped by their path template; the most literal
template that matches wins (fewest parameters), and:

- a method it takes goes on to the router;
- `OPTIONS` it does not take itself (CORS preflights are answered before this) is 204 with
  `Allow` listing exactly its methods;
- any other method is 405 with the same `Allow` and the usual error body.
"""

from __future__ import annotations

import re
from collections import defaultdict
from functools import cached_property

from fastapi.routing import iter_route_contexts
from starlette.responses import Response
from starlette.routing import BaseRoute, compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from serving_api.errors import error_json


def _allow(methods: set[str]) -> str:
    implicit = {"HEAD"} if "GET" in methods else set()
    return ", ".join(sorted(methods | implicit | {"OPTIONS"}))


class AllowedMethodsMiddleware:
    def __init__(self, app: ASGIApp, routes: list[BaseRoute]) -> None:
        self.app, self._all_routes = app, routes

    @cached_property
    def _templates(self) -> list[tuple[int, re.Pattern[str], set[str]]]:
        """(parameters, the template's pattern, its methods), most literal first."""
        methods: dict[str, set[str]] = defaultdict(set)
        for route in iter_route_contexts(self._all_routes):
            if route.path is not None and route.methods:
                methods[route.path].update(route.methods)
        templates = []
        for path, allowed in methods.items():
            pattern, _, convertors = compile_path(path)
            templates.append((len(convertors), pattern, allowed))
        return sorted(templates, key=lambda entry: entry[0])

    def _methods_for(self, path: str) -> set[str] | None:
        for _, pattern, methods in self._templates:
            if pattern.match(path):
                return methods
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        methods = self._methods_for(scope["path"])
        method = scope["method"]
        if methods is None or method in methods or (method == "HEAD" and "GET" in methods):
            await self.app(scope, receive, send)
            return
        allow = {"Allow": _allow(methods)}
        if method == "OPTIONS":
            response = Response(status_code=204, headers=allow)
        else:
            response = error_json(
                405, "method_not_allowed", f"{method} is not allowed here; allowed: {allow['Allow']}.", headers=allow
            )
        await response(scope, receive, send)
