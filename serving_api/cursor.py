"""Opaque keyset cursors for listing videos newest first.

A cursor is the (created_at, id) of the last row of a page, urlsafe-base64
JSON. The next page is every row strictly after it in (created_at desc, id
desc) order, so videos created meanwhile (which sort before it) neither shift
nor repeat what follows, unlike OFFSET.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from pydantic import BaseModel, ValidationError
from sqlalchemy import ColumnElement, and_, or_

from pipeline.db.models import Video


class InvalidCursor(ValueError):
    pass


class VideoCursor(BaseModel):
    created_at: datetime
    id: int

    def encode(self) -> str:
        raw = json.dumps({"c": self.created_at.isoformat(), "i": self.id}, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> VideoCursor:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            data = json.loads(raw)
            cursor = cls(created_at=data["c"], id=data["i"])
        except (binascii.Error, ValueError, KeyError, TypeError, ValidationError) as exc:
            raise InvalidCursor("The cursor is malformed; use a next_cursor this API returned.") from exc
        if cursor.created_at.tzinfo is None:
            raise InvalidCursor("The cursor is malformed; use a next_cursor this API returned.")
        return cursor

    def after(self) -> ColumnElement[bool]:
        """Rows after this cursor in newest-first order."""
        return or_(Video.created_at < self.created_at,
                   and_(Video.created_at == self.created_at, Video.id < self.id))
