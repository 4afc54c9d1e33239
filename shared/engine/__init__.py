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
    # While it runs: the step to queue next (and its delay in seconds), and whether counts,
    # message and errors are progress to show on the run. The flow service writes both
    # (shared/runner.py): the engine never writes a run row or a flow-runs message itself.
    next_step: FlowRunMessage | None = None
    next_delay: int = 0
    progress: bool = False


class Engine(Protocol):
    async def execute(self, ctx: RunContext) -> RunResult: ...
