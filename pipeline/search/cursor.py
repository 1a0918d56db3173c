"""Opaque keyset cursors: where the previous page ended in (score desc, video_id asc) order.

A cursor is urlsafe base64 (unpadded) of JSON
{"s": score, "id": video_id, "t": ties, "q": fingerprint}, where `ties` counts the
hits already returned with exactly this score (OpenSearch needs it when a server's
reported scores do not round-trip; see opensearch.py).
The fingerprint ties it to the search that issued it (terms and filters, not
the limit), so a cursor replayed against another search is refused rather than
silently skipping results. Scores survive the JSON round trip exactly (Python
floats print their shortest exact repr), which keyset comparisons rely on.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass
from typing import Any

from pipeline.db.models import MAX_ID
from pipeline.search.base import InvalidCursor


@dataclass(frozen=True)
class CursorPosition:
    score: float
    video_id: int
    ties: int = 0  # hits returned so far with exactly this score, this one included


def pack_token(payload: dict[str, Any]) -> str:
    """An opaque page token: urlsafe base64 (unpadded) of compact JSON. Every cursor uses it."""
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")


def unpack_token(token: str) -> Any:
    """The JSON inside a token; ValueError for bad base64 or bad JSON."""
    return json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))


def encode_cursor(position: CursorPosition, fingerprint: str) -> str:
    return pack_token({"s": position.score, "id": position.video_id, "t": position.ties, "q": fingerprint})


def decode_cursor(cursor: str, fingerprint: str) -> CursorPosition:
    try:
        payload = unpack_token(cursor)
        score, video_id, ties, issued_for = payload["s"], payload["id"], payload["t"], payload["q"]
    except (ValueError, KeyError, TypeError) as exc:  # bad base64, bad JSON, not an object, missing keys
        raise InvalidCursor("malformed search cursor") from exc
    if (
        not isinstance(score, (int, float))
        or isinstance(score, bool)
        or not math.isfinite(score)
        or not _is_int(video_id)
        or not 0 <= video_id <= MAX_ID
        or not _is_int(ties)
        or not 0 <= ties <= MAX_ID
    ):
        raise InvalidCursor("malformed search cursor")
    if issued_for != fingerprint:
        raise InvalidCursor("this cursor belongs to a different search")
    return CursorPosition(float(score), video_id, ties)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
