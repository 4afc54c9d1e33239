"""Virtual clocks: for connector tests, time that moves only when someone sleeps on it (retry
and pacing logic is tested without real waiting or timing asserts); for schedules, a wall
clock the test sets (sleep windows, DST days)."""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Coroutine
from datetime import datetime
from typing import Any, TypeVar

T = TypeVar("T")


class VirtualTime:
    """Sleepers at the same moment share the time: each wakes at its own deadline, and the
    clock never runs backwards."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        target = self.now + seconds
        await asyncio.sleep(0)
        self.now = max(self.now, target)


class EventTime:
    """A discrete-event clock for concurrent callers: sleepers wake one at a time in the order
    of their deadlines, and time jumps to the next deadline only once every task has run as
    far as it can. `run(main)` drives `main` to its end on this clock (tasks must wait only
    on this clock's `sleep` or on each other, never on real I/O)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._heap: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = 0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._heap, (self.now + max(seconds, 0.0), self._seq, future))
        self._seq += 1
        await future

    async def run(self, main: Coroutine[Any, Any, T]) -> T:
        task = asyncio.ensure_future(main)
        while not task.done():
            for _ in range(100):  # let every runnable task reach its next wait
                await asyncio.sleep(0)
            if task.done():
                break
            if not self._heap:
                raise RuntimeError("every task waits and nobody sleeps: a deadlock")
            deadline, _, future = heapq.heappop(self._heap)
            self.now = max(self.now, deadline)
            future.set_result(None)
        return task.result()


class WallClock:
    """An injected `now` (aware, UTC) that moves only when the test moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, now: datetime) -> None:
        self.now = now
