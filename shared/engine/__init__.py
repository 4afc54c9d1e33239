"""The engine: what one flow run does. This package holds its contract (the sync engine in
`sync_engine` implements it) and a placeholder engine that records an empty successful run,
for tests of the control plane."""

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


class PlaceholderEngine:
    """Reads nothing, writes nothing: an empty successful run (until the sync engine lands)."""

    async def execute(self, ctx: RunContext) -> RunResult:
        return RunResult(
            status=RunStatus.SUCCEEDED,
            message="placeholder engine: no records read (the sync engine is not installed)",
        )


_engine: Engine | None = None


def get_engine() -> Engine | None:
    """The engine installed with set_engine, or None for the worker's sync engine."""
    return _engine


def set_engine(engine: Engine | None) -> None:
    """Swap the engine for this process (the sandbox host's --preload uses it in tests)."""
    global _engine
    _engine = engine
