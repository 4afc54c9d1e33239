"""Timer triggers: one loop per function, so two invocations of a timer never overlap."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from azure.functions.timer import TimerRequest

from sandbox.host.app import FunctionSpec
from sandbox.host.invoke import new_invocation_id
from sandbox.host.schedule import CronSchedule, IntervalSchedule

log = logging.getLogger("shuttle.timer")

Run = Callable[[FunctionSpec, Any, str], Awaitable[Any]]


def utcnow() -> datetime:
    return datetime.now(UTC)


class TimerRunner:
    def __init__(
        self,
        spec: FunctionSpec,
        schedule: CronSchedule | IntervalSchedule,
        run: Run,
        *,
        run_on_startup: bool = False,
    ) -> None:
        self.spec = spec
        self.schedule = schedule
        self.run_on_startup = run_on_startup
        self._run = run
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last: datetime | None = None
        self.invocations = 0

    def describe(self) -> str:
        startup = ", runOnStartup" if self.run_on_startup else ""
        return f"{self.spec.name}: timer {self.schedule.describe()}{startup}"

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=f"timer:{self.spec.name}")

    async def _sleep_until(self, due: datetime) -> bool:
        """True when it is time to fire, False when the host is stopping."""
        delay = (due - utcnow()).total_seconds()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
        return not self._stopping.is_set()

    async def _loop(self) -> None:
        if self.run_on_startup and not self._stopping.is_set():
            now = utcnow()
            await self._fire(scheduled=now, past_due=False)
        while not self._stopping.is_set():
            # The next occurrence after now (and after the last one we fired, in case the
            # clock reads a hair early): occurrences missed while a long invocation ran are
            # skipped, not queued up, as in the real TimerListener.
            base = utcnow() if self._last is None else max(utcnow(), self._last)
            due = self.schedule.next_after(base)
            period = self.schedule.next_after(due) - due
            if not await self._sleep_until(due):
                break
            lateness = utcnow() - due
            await self._fire(scheduled=due, past_due=lateness > period)

    async def _fire(self, *, scheduled: datetime, past_due: bool) -> None:
        self._last = scheduled
        invocation_id = new_invocation_id()
        now = utcnow()
        request = TimerRequest(
            past_due=past_due,
            schedule_status={
                "Last": scheduled.isoformat(),
                "Next": self.schedule.next_after(max(now, scheduled)).isoformat(),
                "LastUpdated": now.isoformat(),
            },
            schedule={"AdjustForDST": True},
        )
        started = time.perf_counter()
        outcome = "succeeded"
        try:
            await self._run(self.spec, request, invocation_id)
        except asyncio.CancelledError:
            outcome = "cancelled (host stopping)"
            raise
        except Exception:
            outcome = "failed"
            # No retry for timers: the next occurrence is the retry, as in Azure.
            log.exception("timer '%s' failed (invocation %s)", self.spec.name, invocation_id)
        finally:
            self.invocations += 1
            log.info(
                "timer %s scheduled %s%s -> %s (%.0f ms)",
                self.spec.name,
                scheduled.strftime("%H:%M:%S"),
                " past due" if past_due else "",
                outcome,
                (time.perf_counter() - started) * 1000,
            )

    def stop_scheduling(self) -> None:
        self._stopping.set()

    async def idle(self) -> None:
        """Returns once the invocation in flight (if any) has finished."""
        if self._task is not None:
            await asyncio.wait({self._task})
            if not self._task.cancelled() and self._task.exception() is not None:
                log.error("timer %s crashed: %r", self.spec.name, self._task.exception())

    async def cancel(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
