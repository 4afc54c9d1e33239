"""The engine: what one flow run does. This package holds its contract; the sync engine in
`sync_engine` implements it (tests/support/engines.py holds the engines tests swap in)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, Field

from shared.flows.catalog import CatalogEntry
from shared.flows.models import FlowRecord, RunCounts, RunErrorEntry, RunRecord, RunStatus
from shared.messages import FlowRunMessage


@dataclass(frozen=True)
class RunContext:
    entry: CatalogEntry
    flow: FlowRecord
    run: RunRecord
    now: datetime
    message: FlowRunMessage | None = None  # the step asked for (None: start)


class RunResult(BaseModel):
    # RUNNING: the step is done and the run goes on (its next step is queued).
    status: RunStatus
    counts: RunCounts = Field(default_factory=RunCounts)
    message: str = ""
    errors: list[RunErrorEntry] = Field(default_factory=list)
    # The new watermark, applied only forward and only once the run is finished.
    query_starts: datetime | None = None


class Engine(Protocol):
    async def execute(self, ctx: RunContext) -> RunResult: ...
