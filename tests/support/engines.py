"""Engines for tests. `--preload tests.support.failing_engine` installs the failing one in a
local host process."""

from __future__ import annotations

from shared.engine import RunContext, RunResult
from shared.errors import ErrorCategory
from shared.flows.models import RunErrorEntry, RunStatus


class FailingEngine:
    """Raises on every run, as an engine with a bug or a dead dependency would."""

    def __init__(self) -> None:
        self.calls = 0

    async def execute(self, ctx: RunContext) -> RunResult:
        self.calls += 1
        raise RuntimeError(f"engine exploded on {ctx.run.id}")


class ReportingEngine:
    """Returns a fixed result, to drive the run-end paths."""

    def __init__(self, status: RunStatus, category: ErrorCategory | None = None) -> None:
        self.status = status
        self.category = category

    async def execute(self, ctx: RunContext) -> RunResult:
        errors = []
        if self.category is not None:
            errors.append(RunErrorEntry(record="r-1", category=self.category, field="Name",
                                        message="rejected", at=ctx.now))  # fmt: skip
        return RunResult(status=self.status, errors=errors, query_starts=ctx.run.window.to)


class UnreachableSourceEngine:
    """Every step fails because the source system does not answer."""

    async def execute(self, ctx: RunContext) -> RunResult:
        from shared.connectors.errors import ConnectorError

        raise ConnectorError("connection refused by 127.0.0.1:9", system="creatio",
                             category=ErrorCategory.CONNECTION)  # fmt: skip
