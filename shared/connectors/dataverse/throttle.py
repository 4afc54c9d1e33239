"""Staying inside Dataverse's service protection limits (api-facts §3.9).

- at most `max_concurrency` calls in flight (52 by default, the server's limit);
- a 429's Retry-After pauses *every* new call of this connection, not just the one that
  was refused (Microsoft's guidance: the limit is per user, so all calls would be refused);
- the `x-ms-ratelimit-burst-remaining-xrm-requests` header of each answer is a budget: when
  the server says the window is spent, new calls wait for an answer in flight instead of
  being sent to be refused; with nothing in flight one call goes as a probe (it either
  reopens the budget or earns a Retry-After). The very first call is such a probe too.

So the client runs at the server's pace with about one 429 per window instead of a burst of
refusals. Throttling never fails a record: callers wait and send again (bounded by the
config's `throttle_max_wait_s`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

import httpx

BUDGET_HEADER = "x-ms-ratelimit-burst-remaining-xrm-requests"


class ServiceProtection:
    def __init__(self, max_concurrency: int, *, clock: Callable[[], float] = time.monotonic):
        self.max_concurrency = max_concurrency
        self._clock = clock
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._condition = asyncio.Condition()
        self.paused_until = 0.0
        # Unknown until the first answer: the first call goes alone, so a burst never
        # starts before the server has said how much of its window is left.
        self.budget: int | None = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.sent = 0
        self.throttled = 0

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self._semaphore:
            await self._admit()
            try:
                yield
            finally:
                async with self._condition:
                    self.in_flight -= 1
                    self._condition.notify_all()

    async def _admit(self) -> None:
        async with self._condition:
            while True:
                wait = self.paused_until - self._clock()
                if wait > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._condition.wait(), wait)
                    continue
                if self.budget is not None and self.budget <= 0 and self.in_flight > 0:
                    await self._condition.wait()
                    continue
                break
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.sent += 1
            if self.budget is not None:
                self.budget -= 1

    def observe(self, response: httpx.Response) -> None:
        """An answer (inside its slot): learn the server's remaining budget."""
        value = response.headers.get(BUDGET_HEADER)
        if value is None:
            if response.status_code != 429:
                self.budget = None  # a server that does not tell: no budget to keep
            return
        try:
            remaining = int(float(value.replace(",", "")))
        except ValueError:
            return
        # Calls still in flight may not be counted by the server yet: assume they are not.
        self.budget = remaining - (self.in_flight - 1)

    def throttled_for(self, seconds: float) -> None:
        """The server answered 429: pause every new call for `seconds`; afterwards, one
        probe call reopens the budget."""
        self.throttled += 1
        self.paused_until = max(self.paused_until, self._clock() + max(seconds, 0.05))
        self.budget = 0
