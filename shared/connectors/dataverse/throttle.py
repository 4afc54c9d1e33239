"""Staying inside Dataverse's service protection limits (docs/wire-notes.md D6).

The server keeps three limits per application user: requests and combined execution time
over a sliding window (`window_s`, five minutes), and requests at once. A `$batch` is one
request whose whole duration is execution time (D5), so for chunked writes the execution
time is what binds.

- The two window limits are mirrored here (shared/connectors/dataverse/window.py): each
  answered call counts one request and its duration; calls in flight count as requests
  already and reserve their expected execution time (their operations x the recent
  seconds per operation). The limits are read off the answers'
  `x-ms-ratelimit-burst-remaining-xrm-requests` and
  `x-ms-ratelimit-time-remaining-xrm-requests` headers (remaining budget + what this client
  had spent), or learned from a 429 of that limit when the headers are missing. A call waits
  until the window has room, the moment the oldest entries age out, instead of being sent
  to be refused: the client runs at the server's rate with about no 429 at all.
- a 429's Retry-After pauses *every* new call of this connection, not just the one that
  was refused (Microsoft's guidance: the limit is per user, so all calls would be refused).
- the calls allowed in flight adapt (`limit`, at most `max_concurrency`, 52 by default).
  Slow start: `limit` starts at one (the first call goes alone, so a burst never starts
  before the server said how much of its window is left) and doubles each time a whole
  round of `limit` calls was answered without a 429 (doubling per round, not +1 per answer:
  answers of calls on warm connections would otherwise raise it while calls on new
  connections are still in their TLS handshake, and those then reach the server together).
  The first concurrency 429 (0x80072326) ends slow start and halves `limit`; after that a
  concurrency 429 sets it just below the calls in flight when the refused one was sent. A
  429 without a known code halves it, once per burst. `limit` grows back by one per
  `regrow_s` without a cut. Request-count (0x80072322) and execution-time (0x80072321)
  refusals leave `limit` alone: the windows pace those.

Across workers: the window headers are the server's count for the user, so every worker
keeps to what the others left; the concurrency cap is published (shared/limits/cap.py,
attached by shared/limits/deployment.py) to a row every worker reads at most every
`shared.refresh_s`, and a worker adopts the row's cap (ending its slow start).

Throttling never fails a record: callers wait and send again (bounded by the config's
`throttle_max_wait_s`).
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

from shared.connectors.dataverse.window import SlidingWindow

BUDGET_HEADER = "x-ms-ratelimit-burst-remaining-xrm-requests"
TIME_HEADER = "x-ms-ratelimit-time-remaining-xrm-requests"  # milliseconds
WINDOW_S = 300.0  # the limits' sliding window (docs/wire-notes.md D6)
MEAN_WEIGHT = 0.2  # of the latest answer in the seconds per operation
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
    generation of `limit` (so one burst of 429s cuts it once), the slow-start round, when
    it left and how many operations it holds (a `$batch`: many)."""

    in_flight: int
    epoch: int
    round: int = 0
    sent_at: float = 0.0
    operations: int = 1


class ServiceProtection:
    def __init__(
        self,
        max_concurrency: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        regrow_s: float = 10.0,
        window_s: float = WINDOW_S,
    ) -> None:
        self.max_concurrency = max_concurrency
        self.regrow_s = regrow_s
        self._clock = clock
        self._sleep = sleep
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._condition = asyncio.Condition()
        self.paused_until = 0.0
        self.requests = SlidingWindow(window_s)
        self.execution = SlidingWindow(window_s)  # seconds
        # The requests left in the window, as the last answer said (for the health monitor).
        self.budget: int | None = None
        self.limit = 1.0
        self._slow_start = True
        self._round = 0
        self._round_answered = 0
        self._epoch = 0
        self._changed_at = 0.0
        self.in_flight = 0
        # When each call in flight was let through, and its operations.
        self._running: list[tuple[float, int]] = []
        self.per_operation_s = 0.0  # execution seconds per operation, lately (a moving mean)
        self._took = self._operations = 0.0
        self.max_in_flight = 0
        self.sent = 0
        self.throttled = 0
        self.cuts = 0
        self.paced = 0  # waits for a window to have room
        self.shared: CapExchange | None = None
        self._publish = False  # this worker changed `limit` since it last wrote the row
        self._synced_at = -math.inf
        self._sharing = False

    @contextlib.asynccontextmanager
    async def slot(self, operations: int = 1) -> AsyncIterator[Ticket]:
        """A call of `operations` (a `$batch` holds many): its expected execution time is
        that many times the seconds per operation answers have taken lately."""
        async with self._semaphore:
            ticket = await self._admit(operations)
            try:
                yield ticket
            finally:
                async with self._condition:
                    self.in_flight -= 1
                    self._running.remove((ticket.sent_at, ticket.operations))
                    self._condition.notify_all()

    def _blocked(self) -> bool:
        return self.in_flight > 0 and self.in_flight >= int(self.limit)

    def _room_at(self, now: float) -> float | None:
        """When both windows have room (None: not before an answer; with nothing in flight
        one call goes anyway, and earns a Retry-After if the server is full)."""
        # Calls in flight will add what they have run so far, or what such a call takes.
        running = sum(
            max(now - started, operations * self.per_operation_s)
            for started, operations in self._running
        )
        times = [
            self.requests.free_at(now, self.in_flight),
            self.execution.free_at(now, running),
        ]
        if any(t is None for t in times):
            return None if self.in_flight else now
        return max(t for t in times if t is not None)

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

    async def _admit(self, operations: int) -> Ticket:
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
                now = self._clock()
                room = self._room_at(now)
                if room is None:
                    await self._condition.wait()  # an answer will tell more
                    continue
                if room > now:
                    pace = room - now
                else:
                    self.in_flight += 1
                    self._running.append((now, operations))
                    self.max_in_flight = max(self.max_in_flight, self.in_flight)
                    self.sent += 1
                    return Ticket(
                        self.in_flight,
                        self._epoch,
                        self._round,
                        sent_at=now,
                        operations=operations,
                    )
            self.paced += 1
            await self._sleep(pace)  # outside the condition: answers keep coming meanwhile

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
        now = self._clock()
        if response.status_code == 429:
            return  # a refused call is not counted by the server
        if ticket is not None:
            took = max(0.0, now - ticket.sent_at)
            self.requests.add(now, 1.0, sent_at=ticket.sent_at)
            self.execution.add(now, took)  # the server counts it when it ends
            # Seconds per operation as a ratio of decaying sums, so a big $batch weighs
            # more than a one-operation query with its fixed overhead.
            self._took = (1 - MEAN_WEIGHT) * self._took + took
            self._operations = (1 - MEAN_WEIGHT) * self._operations + ticket.operations
            self.per_operation_s = self._took / self._operations
        remaining = _number(response.headers.get(BUDGET_HEADER))
        self.budget = None if remaining is None else int(remaining)
        if ticket is None:
            return
        if remaining is not None:
            spent = self.requests.recent(now, answered_by=ticket.sent_at) + 1  # and this one
            self.requests.hear(now, remaining, spent)
        time_left = _number(response.headers.get(TIME_HEADER))
        if time_left is not None:
            spent = self.execution.recent(now, answered_by=ticket.sent_at)
            self.execution.hear(now, time_left / 1000, spent)

    def throttled_for(
        self, seconds: float, ticket: Ticket | None = None, code: str | None = None
    ) -> None:
        """The server answered 429 (error `code`) to the call let through with `ticket`:
        pause every new call for `seconds`.
        Request-count and execution-time refusals cap their window; the others lower
        `limit`."""
        self.throttled += 1
        now = self._clock()
        self.paused_until = max(self.paused_until, now + max(seconds, 0.05))
        if code == REQUESTS_LIMIT:
            self.requests.refused(now)
            return
        if code == TIME_LIMIT:
            self.execution.refused(now)
            return
        if ticket is None:
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


def _number(value: str | None) -> float | None:
    """A header's number (Dataverse may group digits with commas); None if absent or not one."""
    if value is None:
        return None
    try:
        number = float(value.replace(",", ""))
    except ValueError:
        return None
    return number if math.isfinite(number) else None
