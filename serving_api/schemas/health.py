from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class HealthOut(BaseModel):
    status: Literal["ok"] = "ok"
    service: str = "videoai-api"
    version: str


class CheckOut(BaseModel):
    name: str
    ok: bool
    detail: str | None = None


class ReadinessOut(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: list[CheckOut]
