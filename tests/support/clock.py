"""Virtual clocks: for connector tests, time that moves only when someone sleeps on it (retry
and pacing logic is tested without real waiting or timing asserts); for schedules, a wall
clock the test sets (sleep windows, DST days)."""

from __future__ import annotations

import asyncio
from datetime import datetime


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


class WallClock:
    """An injected `now` (aware, UTC) that moves only when the test moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, now: datetime) -> None:
        self.now = now
