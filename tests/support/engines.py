"""Engines for tests, handed to `handle_flow_run` directly or swapped into a worker's
services with `engine_swapped`. (A local host process gets a failing engine by patching:
`--preload tests.support.failing_engine`.) The product has no hook for any of them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from shared.engine import Engine, RunContext, RunResult
from shared.errors import ErrorCategory
from shared.flows.models import RunErrorEntry, RunStatus
from shared.runtime import Services


class PlaceholderEngine:
    """Reads nothing, writes nothing: an empty successful run (control-plane tests that run
    no connector)."""

    async def execute(self, ctx: RunContext) -> RunResult:
        return RunResult(status=RunStatus.SUCCEEDED, message="placeholder engine: nothing read")


@contextmanager
def engine_swapped(services: Services, engine: Engine) -> Iterator[Engine]:
    """Inside the block the worker's sync engine (`services.engine`, what functions/flow_runs.py
    runs) executes every run step with `engine`; its outcome store and the rest stay real."""
    services.engine.execute = engine.execute  # type: ignore[method-assign]
    try:
        yield engine
    finally:
        del services.engine.execute


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
            errors.append(
                RunErrorEntry(
                    record="r-1",
                    category=self.category,
                    field="Name",
                    message="rejected",
                    at=ctx.now,
                )
            )
        return RunResult(status=self.status, errors=errors, query_starts=ctx.run.window.to)


class UnreachableSourceEngine:
    """Every step fails because the source system does not answer."""

    async def execute(self, ctx: RunContext) -> RunResult:
        from shared.connectors.errors import ConnectorError

        raise ConnectorError(
            "connection refused by 127.0.0.1:9", system="creatio", category=ErrorCategory.CONNECTION
        )
