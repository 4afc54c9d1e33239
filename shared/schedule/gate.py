"""The sleep gate every worker asks before it works: is the deployment inside a sleep window,
and until when? It reads the windows row at most every CACHE_SECONDS per worker (a check per
queue message would double the storage requests per record), and it puts a message that
arrives during a sleep back on its queue, invisible until the sleep ends.

Putting back means sending a copy and letting the trigger complete (which deletes the
original): a queue-triggered function cannot keep its own message invisible, and the copy
starts with a dequeue count of 0, so waiting never pushes a message towards its poison queue.
A copy is hidden for at most RECHECK_SECONDS, then checked again: a window shortened or
removed meanwhile releases the waiting messages within that time.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime, timedelta

from azure.storage.queue.aio import QueueClient

from shared.errors import ConflictError
from shared.flows.models import utcnow
from shared.messages import RecordMessage, record_message_text
from shared.schedule import windows as sleep
from shared.schedule.store import SleepWindowStore, UnreadableWindows
from shared.schedule.windows import SleepWindow, SleepWindows

log = logging.getLogger("shuttle.sleep")

CACHE_SECONDS = 30
RECHECK_SECONDS = 900


@dataclass(frozen=True)
class Sleep:
    window: SleepWindow  # the window "now" falls in (the first listed, if several)
    until: datetime  # when the sleep ends (chained windows count as one sleep)

    def describe(self) -> str:
        return f"sleep window {self.window.describe()} (asleep until {self.until.isoformat()})"


@dataclass(eq=False, repr=False)
class SleepGate:
    store: SleepWindowStore
    _: KW_ONLY
    clock: Callable[[], datetime] = utcnow
    cache_seconds: float = CACHE_SECONDS
    recheck_seconds: int = RECHECK_SECONDS
    _cached: SleepWindows | None = field(default=None, init=False)
    _read_at: datetime | None = field(default=None, init=False)

    # ---- the windows ---------------------------------------------------------------------

    async def windows(self, now: datetime | None = None) -> SleepWindows:
        now = now or self.clock()
        fresh = (
            self._cached is not None
            and self._read_at is not None
            and self._read_at <= now < self._read_at + timedelta(seconds=self.cache_seconds)
        )
        if not fresh:
            try:
                self._cached = await self.store.get()
            except UnreadableWindows as exc:
                # A broken row must not stop every flow: log it, and stay awake until an
                # operator PUTs the windows again.
                log.error("%s; sleeping is off until the windows are set again", exc)
                self._cached = SleepWindows(windows=[])
            self._read_at = now
        assert self._cached is not None
        return self._cached

    async def put(self, windows: SleepWindows) -> SleepWindows:
        saved = await self.store.put(windows)
        self._cached, self._read_at = saved, self.clock()
        return saved

    async def current(self, now: datetime | None = None) -> Sleep | None:
        """The sleep `now` is in, or None when awake."""
        now = now or self.clock()
        windows = await self.windows(now)
        window = sleep.active(windows, now)
        until = sleep.sleeping_until(windows, now)
        if window is None or until is None:
            return None
        return Sleep(window, until)

    async def sleeping_until(self, now: datetime | None = None) -> datetime | None:
        current = await self.current(now)
        return current.until if current else None

    # ---- what workers and commands do with it -------------------------------------------

    async def refuse_while_asleep(self, what: str, now: datetime) -> None:
        """409 for a command that would start work inside a window."""
        current = await self.current(now)
        if current is not None:
            raise ConflictError(
                f"{what} is refused inside {current.describe()}; run it after the window",
                code="sleeping",
            )

    def hide_for(self, now: datetime, until: datetime) -> int:
        """Seconds a put-back message stays invisible: until the sleep ends (rounded up, so
        it never reappears a moment early), at most `recheck_seconds`."""
        return max(1, min(math.ceil((until - now).total_seconds()), self.recheck_seconds))

    async def hold_record(self, queue: QueueClient, message: RecordMessage) -> bool:
        """Put a record message back until the sleep ends; False (do the work) when awake."""
        now = self.clock()
        until = await self.sleeping_until(now)
        if until is None:
            return False
        # Unchanged copy: its retry and wait counters are the record's, not the sleep's.
        await queue.send_message(
            record_message_text(message), visibility_timeout=self.hide_for(now, until)
        )
        log.info(
            "record %s waits for the sleep window to end at %s",
            message.record_id,
            until.isoformat(),
            extra={
                "flow_id": message.flow_id,
                "run_id": message.run_id,
                "record_id": message.record_id,
            },
        )
        return True
