"""Drives the flow-runs and record-upserts queues in-process, as the Functions host would
(base64 bodies, redelivery after a failure, poison after five deliveries), so engine tests
and benchmarks run the real pipeline without a host subprocess. Tests can ask for every
record message to be delivered twice."""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from azure.storage.queue.aio import QueueClient

from shared.flows.models import RunRecord, utcnow
from shared.messages import (
    FLOW_RUNS_QUEUE,
    RECORD_UPSERTS_QUEUE,
    FlowRunMessage,
    parse_record_upserts,
)
from shared.runner import handle_flow_run, handle_flow_run_poison
from shared.runtime import Services

log = logging.getLogger("shuttle.pump")
MAX_DEQUEUE = 5
BATCH = 16  # the host's default queue batch size


@dataclass
class Pump:
    services: Services
    duplicate_records: bool = False  # deliver every record message twice
    concurrent_duplicates: bool = False  # deliver every record message twice at the same time
    concurrency: int = BATCH  # record messages worked at once
    deliveries: int = 0  # record deliveries (a chunk of n records counts n)
    failures: list[str] = field(default_factory=list)
    clock: Callable[[], datetime] = utcnow  # the `now` handed to the flow-runs handlers

    def _queue(self, name: str) -> QueueClient:
        return self.services.storage.queue(name)

    async def _take(self, queue: QueueClient, visibility: int = 60) -> list:  # type: ignore[type-arg]
        messages = []
        async for msg in queue.receive_messages(
            messages_per_page=32, visibility_timeout=visibility, max_messages=32
        ):
            messages.append(msg)
        return messages

    async def _flow_runs(self, queue: QueueClient) -> bool:
        taken = await self._take(queue)
        for msg in taken:
            body = FlowRunMessage.model_validate_json(base64.b64decode(msg.content))
            try:
                if msg.dequeue_count > MAX_DEQUEUE:
                    await handle_flow_run_poison(self.services.flows, body, self.clock())
                else:
                    await handle_flow_run(
                        self.services.flows, self.services.engine, body, self.clock()
                    )
            except Exception as exc:
                self.failures.append(f"flow-runs: {exc!r}")
                await queue.update_message(
                    msg.id, pop_receipt=msg.pop_receipt, visibility_timeout=0
                )  # redelivered at once
                continue
            await queue.delete_message(msg)
        return bool(taken)

    async def _records(self, queue: QueueClient) -> bool:
        taken = await self._take(queue, visibility=120)
        sem = asyncio.Semaphore(self.concurrency)

        async def one(msg) -> None:  # type: ignore[no-untyped-def]
            body = parse_record_upserts(base64.b64decode(msg.content))
            async with sem:
                try:
                    if msg.dequeue_count > MAX_DEQUEUE:
                        await self.services.records.handle_poison(body)
                    else:
                        self.deliveries += len(body.records)
                        if self.concurrent_duplicates:
                            self.deliveries += len(body.records)
                            await asyncio.gather(
                                self.services.records.handle_chunk(body),
                                self.services.records.handle_chunk(body),
                            )
                        else:
                            await self.services.records.handle_chunk(body)
                        if self.duplicate_records:
                            self.deliveries += len(body.records)
                            await self.services.records.handle_chunk(body)
                except Exception as exc:
                    self.failures.append(f"record-upserts: {exc!r}")
                    # As the host does (visibilityTimeout 0): visible again at once.
                    await queue.update_message(
                        msg.id, pop_receipt=msg.pop_receipt, visibility_timeout=0
                    )
                    return
                await queue.delete_message(msg)

        await asyncio.gather(*(one(m) for m in taken))
        return bool(taken)

    async def until(self, done: Callable[[], Awaitable[bool]], limit_s: float = 120) -> None:
        """Work both queues until `done()`; fail after `limit_s` seconds."""
        flow_runs, records = self._queue(FLOW_RUNS_QUEUE), self._queue(RECORD_UPSERTS_QUEUE)
        deadline = time.monotonic() + limit_s
        async with flow_runs, records:
            while not await done():
                if time.monotonic() > deadline:
                    raise AssertionError(f"pipeline did not settle; failures: {self.failures}")
                busy = await self._flow_runs(flow_runs)
                busy = await self._records(records) or busy
                if not busy:
                    await asyncio.sleep(0.05)

    async def run_finished(self, run_id: str, limit_s: float = 120) -> RunRecord:
        async def done() -> bool:
            return (await self.services.flows.runs.get(run_id)).status.is_final

        await self.until(done, limit_s)
        return await self.services.flows.runs.get(run_id)
