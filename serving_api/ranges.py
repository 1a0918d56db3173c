"""Serving stored objects over HTTP with byte ranges (RFC 9110 section 14).

Used where the object store cannot presign a URL (the local store): video
players seek with `Range: bytes=start-end` and expect 206 Partial Content.
"""

from __future__ import annotations

import re

from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from pipeline.storage import ObjectNotFound, ObjectStore
from serving_api.errors import ApiError, not_found

# At most 19 digits (any real offset fits 63 bits); a longer number makes the header
# malformed, which is ignored like any other (the whole object is sent).
_SINGLE_RANGE = re.compile(r"^bytes=(\d{0,19})-(\d{0,19})$")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end) inclusive for a satisfiable single range; None to send the whole object.

    Multiple ranges and malformed headers are ignored (a server may always
    answer 200 with everything); an unsatisfiable range raises 416.
    """
    if not header:
        return None
    match = _SINGLE_RANGE.match(header.strip())
    if match is None or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if first == "":  # suffix range: the last N bytes
        length = int(last)
        if length == 0 or size == 0:
            raise _unsatisfiable(size)
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        raise _unsatisfiable(size)
    return start, end


def _unsatisfiable(size: int) -> ApiError:
    return ApiError(
        416,
        "range_not_satisfiable",
        f"The requested range is outside the object ({size} bytes).",
        headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"},
    )


class ObjectResponse(StreamingResponse):
    """A stored object's bytes; to HEAD, only the headers (players and CDNs probe size and ranges)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("method") == "HEAD":
            await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            close = getattr(self.body_iterator, "close", None) or getattr(self.body_iterator, "aclose", None)
            if close is not None:  # never started: release what it holds (a file, an S3 body)
                result = close()
                if hasattr(result, "__await__"):
                    await result
            return
        await super().__call__(scope, receive, send)


def object_response(
    store: ObjectStore,
    key: str,
    content_type: str,
    range_header: str | None,
    what: str,
    cache_control: str = "public, max-age=3600",
) -> StreamingResponse:
    try:
        size = store.stat(key).size
    except ObjectNotFound:
        raise not_found(what) from None
    headers = {"Accept-Ranges": "bytes", "Cache-Control": cache_control}
    byte_range = parse_range(range_header, size)
    if byte_range is None:
        headers["Content-Length"] = str(size)
        body = store.iter_range(key, 0, size - 1) if size else iter(())
        return ObjectResponse(body, status_code=200, media_type=content_type, headers=headers)
    start, end = byte_range
    headers["Content-Length"] = str(end - start + 1)
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return ObjectResponse(store.iter_range(key, start, end), status_code=206, media_type=content_type, headers=headers)
