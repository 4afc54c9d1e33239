"""The engine: what one flow run does. This package holds its contract and, until the sync
engine lands, a placeholder that records an empty successful run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, Field

from shared.flows.catalog import CatalogEntry
from shared.flows.models import FlowRecord, RunCounts, RunErrorEntry, RunRecord, RunStatus


@dataclass(frozen=True)
class RunContext:
    entry: CatalogEntry
    flow: FlowRecord
    run: RunRecord
    now: datetime


class RunResult(BaseModel):
    status: RunStatus
    counts: RunCounts = Field(default_factory=RunCounts)
    message: str = ""
    errors: list[RunErrorEntry] = Field(default_factory=list)
    # The new watermark, applied only forward and only once the run is finished.
    query_starts: datetime | None = None


class Engine(Protocol):
    async def execute(self, ctx: RunContext) -> RunResult: ...


class PlaceholderEngine:
    """Reads nothing, writes nothing: an empty successful run (until the sync engine lands)."""

    async def execute(self, ctx: RunContext) -> RunResult:
        return RunResult(
            status=RunStatus.SUCCEEDED,
            message="placeholder engine: no records read (the sync engine is not installed)",
        )


_engine: Engine = PlaceholderEngine()


def get_engine() -> Engine:
    return _engine


def set_engine(engine: Engine) -> None:
    """Swap the engine for this process (the sandbox host's --preload uses it in tests)."""
    global _engine
    _engine = engine
