"""Staying inside Dataverse's service protection limits (api-facts §3.9).

- at most `max_concurrency` calls in flight (52 by default, the server's limit);
- a 429's Retry-After pauses *every* new call of this connection, not just the one that
  was refused (Microsoft's guidance: the limit is per user, so all calls would be refused);
- the `x-ms-ratelimit-burst-remaining-xrm-requests` header of each answer is a budget: when
  the server says the window is spent, new calls wait for an answer in flight instead of
  being sent to be refused; with nothing in flight one call goes as a probe (it either
  reopens the budget or earns a Retry-After). The very first call is such a probe too.
- the calls allowed in flight adapt (`limit`). The limits are per *application user*,
  shared by every worker of a scaled-out app, so the server may refuse far below our own
  cap. Slow start: `limit` starts at one and doubles each time a whole round of `limit`
  calls was answered without a 429, up to `max_concurrency` (doubling per round, not +1
  per answer: answers of calls on warm connections would otherwise raise it while calls
  on new connections are still in their TLS handshake, and those then reach the server
  together). The first 429 ends slow start: `limit` halves (and, for a concurrency 429,
  goes below the calls in flight when the refused one was sent). After that a concurrency
  429 (0x80072326) sets `limit` just below the calls in flight when the refused one was
  sent; an execution-time 429 (0x80072321, or a 429 without a known code) halves it, once
  per burst; `limit` grows back by one per `regrow_s` without a cut: a refusal costs a
  Retry-After pause for every call, so probing for freed capacity is slow on purpose. A
  request-count 429 (0x80072322) leaves `limit` alone: the budget above paces those.

Across workers: with `shared` set (shared/limits/cap.py, attached by
shared/limits/deployment.py), a cut or a regrow is published to a row every worker reads at
most every `shared.refresh_s`, and a worker adopts the row's cap (ending its slow start): the
limits are per application user, so what one worker learned holds for all of them.

So the client runs at the server's pace with about one 429 per window instead of a burst of
refusals. Throttling never fails a record: callers wait and send again (bounded by the
config's `throttle_max_wait_s`).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import httpx

BUDGET_HEADER = "x-ms-ratelimit-burst-remaining-xrm-requests"
REQUESTS_LIMIT = "0x80072322"
TIME_LIMIT = "0x80072321"
CONCURRENCY_LIMIT = "0x80072326"


class CapExchange(Protocol):
    """A cap shared with other workers (shared/limits/cap.py)."""

    refresh_s: float

    async def exchange(self, local: float, *, publish: bool) -> float | None: ...


@dataclass(frozen=True)
class Ticket:
    """What a call knew when it was let through: the calls in flight counting itself, the
    generation of `limit` (so one burst of 429s cuts it once) and the slow-start round."""

    in_flight: int
    epoch: int
    round: int = 0


class ServiceProtection:
    def __init__(
        self,
        max_concurrency: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        regrow_s: float = 10.0,
    ) -> None:
        self.max_concurrency = max_concurrency
        self.regrow_s = regrow_s
        self._clock = clock
        self._sleep = sleep
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._condition = asyncio.Condition()
        self.paused_until = 0.0
        # Unknown until the first answer: the first call goes alone, so a burst never
        # starts before the server has said how much of its window is left.
        self.budget: int | None = 0
        self.limit = 1.0
        self._slow_start = True
        self._round = 0
        self._round_answered = 0
        self._epoch = 0
        self._changed_at = 0.0
        self.in_flight = 0
        self.max_in_flight = 0
        self.sent = 0
        self.throttled = 0
        self.cuts = 0
        self.shared: CapExchange | None = None
        self._publish = False  # this worker changed `limit` since it last wrote the row
        self._synced_at = -math.inf
        self._sharing = False

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[Ticket]:
        async with self._semaphore:
            ticket = await self._admit()
            try:
                yield ticket
            finally:
                async with self._condition:
                    self.in_flight -= 1
                    self._condition.notify_all()

    def _blocked(self) -> bool:
        if self.in_flight == 0:
            return False  # one call always goes: it reopens the budget or earns a 429
        spent = self.budget is not None and self.budget <= 0
        return spent or self.in_flight >= int(self.limit)

    async def _share(self) -> None:
        """Publish this worker's change of `limit`, or adopt the deployment's (one exchange
        at a time; at most every `refresh_s` unless there is a change to publish)."""
        shared = self.shared
        if shared is None or self._sharing:
            return
        if not self._publish and self._clock() - self._synced_at < shared.refresh_s:
            return
        self._sharing = True
        publish, self._publish = self._publish, False
        sent = self.limit
        try:
            cap = await shared.exchange(sent, publish=publish)
        finally:
            self._sharing = False
            self._synced_at = self._clock()
        if cap is None or cap == self.limit or self.limit != sent:
            return  # nothing new, or this worker cut/regrew meanwhile (published next call)
        cap = min(float(self.max_concurrency), max(1.0, cap))
        self._slow_start = False
        self._changed_at = self._clock()  # regrow from here, not at once
        if cap < self.limit:
            self.cuts += 1
            self._epoch += 1
        self.limit = cap

    async def _admit(self) -> Ticket:
        await self._share()
        while True:
            wait = self.paused_until - self._clock()
            if wait > 0:
                # Sleeping outside the condition: the pause may grow meanwhile (re-checked).
                await self._sleep(wait)
                continue
            async with self._condition:
                if self.paused_until > self._clock():
                    continue
                self._regrow()
                if self._blocked():
                    await self._condition.wait()
                    continue
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
                self.sent += 1
                if self.budget is not None:
                    self.budget -= 1
                return Ticket(self.in_flight, self._epoch, self._round)

    def _regrow(self) -> None:
        if self._slow_start or self.limit >= self.max_concurrency:
            return
        if self._clock() - self._changed_at >= self.regrow_s:
            self.limit = min(float(self.max_concurrency), self.limit + 1)
            self._changed_at = self._clock()
            self._publish = True

    def observe(self, response: httpx.Response, ticket: Ticket | None = None) -> None:
        """An answer (inside its slot): learn the server's remaining budget; in slow start,
        count it toward its round."""
        counts = ticket is not None and ticket.round == self._round
        if self._slow_start and response.status_code != 429 and counts:
            self._round_answered += 1
            if self._round_answered >= int(self.limit):
                self.limit = min(float(self.max_concurrency), self.limit * 2)
                self._round += 1
                self._round_answered = 0
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

    def throttled_for(
        self, seconds: float, ticket: Ticket | None = None, code: str | None = None
    ) -> None:
        """The server answered 429 (error `code`) to the call let through with `ticket`:
        pause every new call for `seconds`; afterwards one probe call reopens the budget.
        Concurrency and execution-time refusals also lower `limit`."""
        self.throttled += 1
        self.paused_until = max(self.paused_until, self._clock() + max(seconds, 0.05))
        self.budget = 0
        if ticket is None or code == REQUESTS_LIMIT:
            return
        # Halve on the first 429 of calls sent since the last cut (a burst is one signal):
        # always when it ends slow start, and for refusals that do not say how many fit.
        first = ticket.epoch == self._epoch
        halve = first and (self._slow_start or code != CONCURRENCY_LIMIT)
        limit = self.limit / 2 if halve else self.limit
        if code == CONCURRENCY_LIMIT:
            # The server refused the call that made `ticket.in_flight`: fewer than that fit.
            limit = min(limit, ticket.in_flight - 1.0)
        self._cut(max(1.0, limit))

    def _cut(self, limit: float) -> None:
        self._slow_start = False
        self._changed_at = self._clock()
        if limit < self.limit:
            self.limit = limit
            self.cuts += 1
            self._epoch += 1
            self._publish = True
