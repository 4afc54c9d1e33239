"""The preflight's report: per solution and system, each missing or mismatched item with the
flows that need it and what to do (docs/deploy.md has the steps)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

ProblemKind = Literal[
    "missing_object",
    "missing_field",
    "wrong_type",
    "too_short",
    "missing_key",
    "key_not_active",
]
SystemStatus = Literal["ok", "problems", "auth", "connection", "error", "not_configured"]


class Problem(BaseModel):
    system: str
    object: str
    field: str | None = None
    kind: ProblemKind
    flows: list[str] = Field(description="the flows (solution.flow) that need it")
    message: str
    fix: str


class SystemCheck(BaseModel):
    system: str
    status: SystemStatus
    message: str = ""
    objects: int = Field(default=0, description="objects whose metadata was read")


class SolutionCheck(BaseModel):
    solution: str
    ok: bool
    systems: list[SystemCheck]
    problems: list[Problem]


class PreflightReport(BaseModel):
    checked_at: datetime
    ok: bool
    solutions: list[SolutionCheck]
