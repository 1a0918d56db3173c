"""The OpenAPI document: operation ids, and the error responses each operation can really answer.

Each route declares the errors of its own logic (404 for a video it cannot see, 409 for one
not ready, ...). What follows from how a route is built is added here, from its dependencies
and its method, so the document cannot drift from the code:

- 400, a body that cannot be parsed: routes that take a body;
- 401, a Bearer token that is invalid, expired or revoked: routes that read credentials
  (a token sent to a public route is checked too);
- 403, a state-changing request signed by the session cookie without its page's CSRF token;
- 422, input outside the schema: routes with any parameter or body;
- 503 with Retry-After, overload (the admission gate, the database gate or pool): every route
  but the probes the gate always admits;
- 507, storage full: routes that write (any method but GET, HEAD and OPTIONS);
- 500: anything unexpected, anywhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from http import HTTPStatus

from fastapi import APIRouter
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from serving_api.db_gate import ALWAYS_ADMITTED
from serving_api.deps import SAFE_METHODS, get_credentials, get_token_claims


def operation_id(route: APIRoute) -> str:
    """An operation's id: its endpoint's name in camelCase (`list_videos` -> `listVideos`)."""
    first, *rest = route.name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    """The route's own dependant and, recursively, its dependencies'."""
    yield dependant
    for dependency in dependant.dependencies:
        yield from _dependants(dependency)


def implied_errors(route: APIRoute, path: str) -> set[int]:
    """The error statuses a route (served at `path`) can answer because of how it is built (see the
    module's docstring)."""
    every = list(_dependants(route.dependant))
    calls = {d.call for d in every}
    takes_body = route.body_field is not None
    has_input = takes_body or any(d.path_params or d.query_params or d.header_params or d.cookie_params for d in every)
    writes = bool((route.methods or set()) - SAFE_METHODS)
    codes = {500}
    if takes_body:
        codes.add(400)
    if get_credentials in calls:
        codes.add(401)
    if get_token_claims in calls and writes:
        codes.add(403)
    if has_input:
        codes.add(422)
    if path not in ALWAYS_ADMITTED:
        codes.add(503)
    if writes:
        codes.add(507)
    return codes


# The error body by reference: a route's response models are built when it is created, too early.
_ERROR_BODY = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}


def document_errors(router: APIRouter, prefix: str) -> None:
    """Add the implied error responses of each documented route of `router` (to be included at
    `prefix`) to those it declares."""
    for route in router.routes:
        if isinstance(route, APIRoute) and route.include_in_schema:
            for code in implied_errors(route, prefix + route.path_format):
                if code not in route.responses and str(code) not in route.responses:
                    phrase = "Unexpected error" if code == 500 else HTTPStatus(code).phrase
                    route.responses[code] = {"description": phrase, "content": _ERROR_BODY}


# The tus routes speak tus's headers, not JSON bodies, so they are described here, once, for the
# "uploads" tag (a client uses a tus library: tus-js-client, tus-py-client, TUSKit, ...).
TUS_UPLOADS = """Three ways to upload: one streamed multipart `POST /api/v1/videos/upload`; the presigned flow
(`POST /api/v1/videos/uploads`, PUT the bytes, then `.../complete`); or **resumable uploads over the
[tus protocol 1.0.0](https://tus.io/protocols/resumable-upload)** (extensions creation,
creation-with-upload, creation-defer-length, termination, expiration), for large files and flaky
networks. Every tus request carries `Tus-Resumable: 1.0.0` (else 412) and the user's Bearer token
(or the web session cookie with its `X-CSRF-Token`); an upload is its owner's only (404 for anyone else).

- `OPTIONS /api/v1/uploads/tus` (public): 204 with `Tus-Version`, `Tus-Extension`, `Tus-Max-Size`.
- `POST /api/v1/uploads/tus` with `Upload-Length` (or `Upload-Defer-Length: 1`) and `Upload-Metadata`
  (base64 values: `filename` and `filetype` required, `title`, `description`), optionally a first chunk
  as `application/offset+octet-stream`: 201 with the upload's `Location` and `Upload-Expires`; 400 bad
  headers, 413 over `MAX_UPLOAD_BYTES`, 422 metadata the rules refuse, 429 too many open uploads.
- `HEAD /api/v1/uploads/tus/{id}`: 200 with `Upload-Offset` (the bytes the server holds: resume from
  there), `Upload-Length`, `Upload-Expires`, and once accepted `Content-Location` of the video; 404,
  410 expired.
- `PATCH /api/v1/uploads/tus/{id}` with `Upload-Offset` (what HEAD said), `Content-Type:
  application/offset+octet-stream` and the next bytes: 204 with the new `Upload-Offset`; the last one
  answers once the file is accepted, with `Content-Location: /api/v1/videos/{video_id}`. 409 offset
  mismatch (its `Upload-Offset` says where to resume), 413 past the declared length, 415 not a video
  (judged on the first bytes: the upload is dropped), 423 another request is writing it, 507 storage
  full (resume later).
- `DELETE /api/v1/uploads/tus/{id}`: 204, the upload and its bytes are gone.

Errors carry the API's error body (`{"error": {"code", "message", "details"}}`) and `Tus-Resumable`."""

OPENAPI_TAGS = [
    {"name": "auth", "description": "Sign up, log in (OAuth2 password flow: a Bearer token), log out (revokes it)."},
    {"name": "users", "description": "The signed-in user; whether an email is registered."},
    {"name": "uploads", "description": TUS_UPLOADS},
    {
        "name": "videos",
        "description": "List, search, read, change, delete and retry videos; transcripts, chapters and summaries.",
    },
    {
        "name": "playback",
        "description": "What players fetch: renditions, HLS, thumbnails, captions and chapters "
        "tracks (Range honoured; HEAD like GET).",
    },
    {
        "name": "ask",
        "description": "Questions answered from what was said in the videos, every claim cited to its second.",
    },
    {"name": "health", "description": "Liveness and readiness probes."},
]
