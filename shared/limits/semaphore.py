"""A counting semaphore for every worker of a deployment: lease rows in Table storage.

Intacct limits the requests in flight per company (GW-0010 above it, default 2), but each
worker process has its own client and in-process limiter (shared/connectors/retry.py), so N
workers would send 2N. Here a slot is a row `PartitionKey=<key>, RowKey=<slot number>`
holding who has it and until when (wall-clock seconds). One partition per key, so taking a
slot is one query for the partition and one ETag-guarded write; giving it back one
ETag-guarded delete. A slot whose lease has run out (its holder crashed, or lost its
connection to storage) is free again: the next caller replaces the row, guarded by the ETag
it read, so two callers never both win it.

A worker's own callers waiting for a slot are handed one directly when another of its
callers gives its slot back: the row is re-stamped (one ETag-guarded write) instead of
deleted and won again by polling (a query and a write, after a poll interval). So a busy
worker costs about one storage request per vendor request; after `max_handoffs` handoffs
in a row the slot goes back to the table, so other workers' pollers get their turn.

The lease must outlast the longest request it covers (its holder never renews it): see
`DeploymentLimits` for how it is derived from the connector's timeout. Workers compare
expiry times with their own clocks, so clock skew between them (NTP: well under a second)
just shortens or lengthens a dead holder's lease by that much.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableEntity, UpdateMode
from azure.data.tables.aio import TableClient

from shared.limits.keys import table_key

log = logging.getLogger("shuttle.limits")

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


def holder_id() -> str:
    """Who holds a lease, for operators reading the table: host, process, a random tail."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class Lease:
    key: str
    slot: str
    etag: str
    expires: float
    handoffs: int = 0  # times handed from caller to caller in this process without release


class LeaseSemaphore:
    """At most `capacity` holders of `key` at once across every process sharing `table`.

    `slot()` waits for a free slot (polling with a short jittered backoff between
    `poll_s` bounds) and gives it back on exit, also on error, timeout or cancellation.
    The longest poll interval, 0.25 s, is below a vendor request (Intacct: 0.3 to 1 s):
    a slot given back to the table idles a fraction of a request, where 0.1 s polled
    two-thirds more for the same throughput (bench/pipeline_bench.py, 4 workers).
    When storage itself fails, the caller goes on without a slot (logged; the in-process
    limiter still bounds this worker) rather than stopping every sync on a storage hiccup:
    the vendor's own refusal (GW-0010) is retried by the client.
    """

    def __init__(
        self,
        table: TableClient,
        key: str,
        capacity: int,
        *,
        lease_s: float,
        clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
        rng: Callable[[], float] = random.random,
        poll_s: tuple[float, float] = (0.02, 0.25),
        holder: str | None = None,
        max_handoffs: int = 8,
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.table = table
        self.key = table_key(key)
        self.capacity = capacity
        self.lease_s = lease_s
        self.holder = holder or holder_id()
        self._clock = clock
        self._sleep = sleep
        self._rng = rng
        self._poll_min, self._poll_max = poll_s
        self.max_handoffs = max_handoffs
        self._waiting: deque[asyncio.Future[Lease]] = deque()
        # The one waiter of this process that polls the table; the others wait for it to
        # get a slot, or for a handoff: N local waiters polling cost N queries each round
        # (0.32 storage requests per record with 4 workers: docs/engine.md).
        self._poller: asyncio.Future[Lease] | None = None
        self.acquired = 0
        self.handoffs = 0
        self.waits = 0  # polls that found every slot taken
        self.unavailable = 0  # storage failures (the call went on without a slot)

    @property
    def waiting(self) -> int:
        """This process's callers waiting for a slot."""
        return sum(not waiter.done() for waiter in self._waiting)

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[Lease | None]:
        lease = await self.acquire()
        try:
            yield lease
        finally:
            if lease is not None:
                # Shielded: a cancelled caller still gives its slot back.
                await asyncio.shield(self.release(lease))

    async def acquire(self) -> Lease | None:
        delay = self._poll_min
        handed: asyncio.Future[Lease] | None = None  # where a local holder hands its slot
        taken = False
        try:
            while True:
                if handed is None and self._poller is not None:
                    handed = self._queue_up()  # another caller here polls: wait behind it
                if handed is None or self._poller in (None, handed):
                    try:
                        lease = await self._try_acquire()
                    except AzureError as exc:
                        self.unavailable += 1
                        log.warning(
                            "deployment-wide limit %s unavailable (%s); going on without it",
                            self.key,
                            type(exc).__name__,
                        )
                        return None
                    if lease is not None:
                        self.acquired += 1
                        return lease
                    self.waits += 1
                    if handed is None:
                        handed = self._queue_up()
                    if self._poller is None:  # a try begun before another became the
                        self._poller = handed  # poller leaves it the poller
                await self._wait(handed, delay)
                if handed.done():
                    taken = True
                    self.acquired += 1
                    return handed.result()
                delay = min(delay * 2, self._poll_max)
        finally:
            if handed is not None and self._poller is handed:
                self._poller = None  # the next waiter to wake polls
            if handed is not None:
                with contextlib.suppress(ValueError):
                    self._waiting.remove(handed)
                if not handed.done():
                    handed.cancel()
                elif not taken and not handed.cancelled():
                    # Handed a slot while giving up (cancelled): give it back.
                    await asyncio.shield(self.release(handed.result()))

    def _queue_up(self) -> asyncio.Future[Lease]:
        """A place among this process's waiters, where a local holder hands its slot."""
        handed: asyncio.Future[Lease] = asyncio.get_running_loop().create_future()
        self._waiting.append(handed)
        return handed

    async def _wait(self, handed: asyncio.Future[Lease], delay: float) -> None:
        """Until a slot is handed over or a jittered `delay` has passed."""
        sleeper = asyncio.ensure_future(self._sleep(delay * (0.5 + self._rng())))
        either: set[asyncio.Future[Any]] = {handed, sleeper}
        try:
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()

    async def _try_acquire(self) -> Lease | None:
        rows: dict[str, TableEntity] = {}
        async for found in self.table.query_entities(
            "PartitionKey eq @key", parameters={"key": self.key}
        ):
            rows[found["RowKey"]] = found
        now = self._clock()
        free = [
            (name, rows.get(name))
            for name in (f"{slot:03d}" for slot in range(self.capacity))
            if name not in rows or float(rows[name].get("expires", 0)) <= now
        ]
        # Start at a random free slot: callers polling together rarely collide.
        offset = int(self._rng() * len(free)) if free else 0
        for name, row in free[offset:] + free[:offset]:
            expires = now + self.lease_s
            entity = {
                "PartitionKey": self.key,
                "RowKey": name,
                "holder": self.holder,
                "expires": expires,
            }
            try:
                if row is None:
                    meta = await self.table.create_entity(entity)
                else:  # an expired lease: replace it only if nobody did since we read it
                    meta = await self.table.update_entity(
                        entity,
                        mode=UpdateMode.REPLACE,
                        etag=row.metadata["etag"],
                        match_condition=MatchConditions.IfNotModified,
                    )
            except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
                continue  # somebody else took it first
            if row is not None:
                log.info(
                    "took over the expired lease %s/%s of %s", self.key, name, row.get("holder")
                )
            return Lease(self.key, name, str(meta["etag"]), expires)
        return None

    async def release(self, lease: Lease) -> None:
        while self._waiting and lease.handoffs < self.max_handoffs:
            waiter = self._waiting.popleft()
            if waiter.done():
                continue
            renewed = await self._renew(lease)
            if renewed is None:  # expired and taken over meanwhile: not ours to hand on
                if not waiter.done():
                    self._waiting.appendleft(waiter)
                return
            if waiter.done():  # it got a slot of its own meanwhile: try the next one
                lease = renewed
                continue
            self.handoffs += 1
            waiter.set_result(renewed)
            return
        try:
            await self.table.delete_entity(
                lease.key,
                lease.slot,
                etag=lease.etag,
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            pass  # it expired and somebody took it over: theirs now
        except AzureError as exc:
            log.warning(
                "could not give back lease %s/%s (%s); it frees itself on expiry",
                lease.key,
                lease.slot,
                type(exc).__name__,
            )

    async def _renew(self, lease: Lease) -> Lease | None:
        """The same slot for a new holder in this process, its lease starting now."""
        expires = self._clock() + self.lease_s
        entity = {
            "PartitionKey": lease.key,
            "RowKey": lease.slot,
            "holder": self.holder,
            "expires": expires,
        }
        # The conditional replace of shared/storage/entities.py (replace_if_unchanged), written
        # out here so limits/ depends on no storage module and tells AzureError apart.
        try:
            meta = await self.table.update_entity(
                entity,
                mode=UpdateMode.REPLACE,
                etag=lease.etag,
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            return None
        except AzureError as exc:
            log.warning(
                "could not hand on lease %s/%s (%s); it frees itself on expiry",
                lease.key,
                lease.slot,
                type(exc).__name__,
            )
            return None
        return Lease(lease.key, lease.slot, str(meta["etag"]), expires, lease.handoffs + 1)
