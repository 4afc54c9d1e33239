"""A virtual clock for connector tests: time moves only when someone sleeps on it, so retry
and pacing logic is tested without real waiting or timing asserts."""

from __future__ import annotations

import asyncio


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
