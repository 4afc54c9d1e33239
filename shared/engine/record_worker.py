"""The record-upserts worker's logic: one chunk of records → one settled outcome per record,
or records put back on the queue with a delay (dependency wait, 429 with Retry-After,
connection failure) instead of sleeping inside the invocation."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import KW_ONLY, dataclass
from datetime import datetime
from typing import TypeVar

from azure.core.exceptions import AzureError, ServiceRequestError, ServiceResponseError
from azure.data.tables import TableEntity
from azure.storage.queue.aio import QueueClient

from shared.connectors.errors import ConnectorError
from shared.engine.chunk_calls import Batcher, ChunkBindings, ChunkTarget
from shared.engine.connections import ConnectorPool
from shared.engine.decisions import Action
from shared.engine.plan import FlowPlan, plan_for
from shared.engine.upsert import RecordSync, Result, Retry, Settled, classify, utcnow
from shared.errors import DefinitionError, ErrorCategory, NotFoundError
from shared.flows.catalog import Catalog
from shared.messages import ChunkRecord, RecordChunk, RecordMessage, chunk_texts
from shared.schedule.gate import SleepGate
from shared.storage.binding_store import BindingStore
from shared.storage.outcome_store import Outcome, OutcomeStore, Settlement, outcome_of

log = logging.getLogger("shuttle.engine")

MAX_RETRIES = 8  # transient failures, with growing delays (or Retry-After)
MAX_WAITS = 10  # dependency waits: 5 s, 10 s, 20 s … capped at 120 s — about 12 minutes
MAX_VISIBILITY_DELAY = 3600
# A record retried this often after transient failures goes on alone, not with its chunk:
# a chunk whose whole request keeps failing is tried whole, then split (issue 15).
SPLIT_AFTER = 2


def wait_delay(waits: int, base: float = 5.0) -> float:
    return float(min(base * 2**waits, 120.0))


T = TypeVar("T")
STORAGE_ATTEMPTS = 4


async def _steadily(step: Callable[[], Awaitable[T]]) -> T:
    """A chunk's binding writes and settlement, tried again on a transient storage failure:
    the chunk's vendor writes are done, and a redelivery would find their records already
    written and count them updated instead of created (issue 15 item 6)."""
    for attempt in range(STORAGE_ATTEMPTS):
        try:
            return await step()
        except (ServiceRequestError, ServiceResponseError):
            if attempt == STORAGE_ATTEMPTS - 1:
                raise
            await asyncio.sleep(0.5 * 2**attempt)
    raise AssertionError("unreachable")


def _iso(at: object) -> str:
    return at.isoformat() if isinstance(at, datetime) else str(at)


def _texts(chunk: RecordChunk, items: list[ChunkRecord], *, single: bool) -> list[str]:
    """Messages for some of a chunk's records, in the chunk's outcome bucket still."""
    return chunk_texts(
        chunk.flow_id,
        chunk.run_id,
        items,
        dry_run=chunk.dry_run,
        single=single,
        bucket=chunk.bucket,
    )


@dataclass(frozen=True)
class Crashed:
    """A record whose sync raised something no connector classified (a bug)."""

    error: Exception


@dataclass(eq=False, repr=False)
class RecordWorker:
    """Works record-upserts messages: a chunk of one run's records at a time. Each record is
    synced by its own task with its own decisions (upsert.py); their vendor calls and Table
    reads leave in batches (chunk_calls.py); their bindings are written in transactions,
    then their outcomes settled together; records to retry go back on the queue with their
    own counters."""

    catalog: Catalog
    connectors: ConnectorPool
    bindings: BindingStore
    outcomes: OutcomeStore
    queue: QueueClient
    _: KW_ONLY
    max_retries: int = MAX_RETRIES
    max_waits: int = MAX_WAITS
    wait_base: float = 5.0
    clock: Callable[[], datetime] = utcnow
    sleep: SleepGate | None = None  # inside a sleep window records wait (schedule/gate.py)
    batch_window: float = 0.05

    async def handle(self, message: RecordMessage) -> Outcome | None:
        """One record (a chunk of one): its settled outcome, or None when it was put back to
        wait or was already settled by an earlier delivery."""
        return (await self.handle_chunk(RecordChunk.of(message))).get(message.record_id)

    async def handle_chunk(self, chunk: RecordChunk) -> dict[str, Outcome]:
        """The outcome each record of the chunk settled with by this delivery (records put
        back to wait, and those an earlier delivery settled, are left out)."""
        if await self._hold(chunk):
            return {}
        extra = {"flow_id": chunk.flow_id, "run_id": chunk.run_id}
        ids = [r.record_id for r in chunk.records]
        # The chunk's rows, read once: their ETags also guard the settlement (settle_many).
        rows = await self.outcomes.rows(chunk.run_id, ids, bucket=chunk.bucket)
        todo = [r for r in chunk.records if not outcome_of(rows.get(r.record_id)).is_final]
        if len(todo) < len(chunk.records):
            log.info(
                "run %s: %d of %d records already settled; duplicate delivery ignored for them",
                chunk.run_id,
                len(chunk.records) - len(todo),
                len(chunk.records),
                extra=extra,
            )
        if not todo:
            return {}
        held = await self._skip_cancelled(chunk, todo, rows)
        todo = [r for r in todo if r.record_id not in held]
        if not todo:
            return held
        results = await self._sync(chunk, todo)
        return held | await self._conclude(chunk, todo, results, rows)

    async def _skip_cancelled(
        self, chunk: RecordChunk, todo: list[ChunkRecord], rows: Mapping[str, TableEntity]
    ) -> dict[str, Outcome]:
        """Records whose run was cancelled (their rows marked by the cancel step:
        OutcomeStore.mark_cancelled) settle skipped without a vendor call. A delivery that
        read its rows before the mark writes its records and settles what it wrote, so the
        cancelled run counts every record written (issue 16)."""
        stopped = []
        for item in todo:
            row = rows.get(item.record_id)
            at = row.get("cancelled") if row is not None else None
            if at:
                text = f"cancelled at {_iso(at)} before it was written"
                stopped.append((item, Settled(Outcome.SKIPPED, message=text)))
        if stopped:
            log.info(
                "run %s cancelled: %d records skipped unwritten",
                chunk.run_id,
                len(stopped),
                extra={"flow_id": chunk.flow_id, "run_id": chunk.run_id},
            )
        return await self._settle(chunk, stopped, rows)

    async def _hold(self, chunk: RecordChunk) -> bool:
        """Inside a sleep window the chunk goes back unchanged until it ends (gate.py)."""
        gate = self.sleep
        if gate is None:
            return False
        now = gate.clock()
        until = await gate.sleeping_until(now)
        if until is None:
            return False
        await self.queue.send_message(
            chunk.model_dump_json(), visibility_timeout=gate.hide_for(now, until)
        )
        log.info(
            "run %s: %d records wait for the sleep window to end at %s",
            chunk.run_id,
            len(chunk.records),
            until.isoformat(),
            extra={"flow_id": chunk.flow_id, "run_id": chunk.run_id},
        )
        return True

    async def _sync(self, chunk: RecordChunk, todo: list[ChunkRecord]) -> list[Result | Crashed]:
        try:
            plan = plan_for(self.catalog, chunk.flow_id)
        except (DefinitionError, NotFoundError) as exc:
            failed = Settled(Outcome.FAILED, category=ErrorCategory.INTERNAL, message=str(exc))
            return [failed] * len(todo)
        try:
            # Inside the try: a system without its settings fails each record with an auth
            # error naming the setting, not as an anonymous crash in the poison queue.
            source = await self.connectors.get(plan.source_system)
            target = await self.connectors.get(plan.target_system)
        except ConnectorError as exc:
            return [classify(exc, r.retries, self.max_retries) for r in todo]
        batcher = Batcher(len(todo), self.batch_window)
        bindings = ChunkBindings(self.bindings, batcher)
        chunk_target = ChunkTarget(target, batcher)
        results = await asyncio.gather(
            *(self._one(plan, source, chunk_target, bindings, batcher, chunk, r) for r in todo)
        )
        # Bindings before outcomes: a settled record always has its binding. A failure here
        # fails the delivery; the queue brings the chunk back (creates are idempotent).
        await _steadily(bindings.flush)
        log.debug(
            "run %s: %d records in %d batches",
            chunk.run_id,
            len(todo),
            batcher.batches,
            extra={"flow_id": chunk.flow_id, "run_id": chunk.run_id},
        )
        return list(results)

    async def _one(
        self,
        plan: FlowPlan,
        source: object,
        target: ChunkTarget,
        bindings: ChunkBindings,
        batcher: Batcher,
        chunk: RecordChunk,
        item: ChunkRecord,
    ) -> Result | Crashed:
        try:
            sync = RecordSync(plan, source, target, bindings, self.clock)  # type: ignore[arg-type]
            return await sync.sync(chunk.message_of(item))
        except ConnectorError as exc:
            return classify(exc, item.retries, self.max_retries)
        except AzureError as exc:  # Table storage unreachable or failing: a transient wait
            text = f"storage: {type(exc).__name__}: {exc}"[:500]
            if item.retries < self.max_retries:
                return Retry(
                    delay=min(2.0**item.retries, 60.0),
                    reason=text,
                    category=ErrorCategory.CONNECTION,
                )
            return Settled(
                Outcome.FAILED,
                category=ErrorCategory.CONNECTION,
                message=f"gave up after {item.retries} retries: {text}",
            )
        except Exception as exc:  # a bug met by this record: see _conclude
            log.exception(
                "record %s: unexpected error",
                item.record_id,
                extra={
                    "flow_id": chunk.flow_id,
                    "run_id": chunk.run_id,
                    "record_id": item.record_id,
                },
            )
            return Crashed(exc)
        finally:
            batcher.finished()

    async def _conclude(
        self,
        chunk: RecordChunk,
        todo: list[ChunkRecord],
        results: list[Result | Crashed],
        rows: Mapping[str, TableEntity],
    ) -> dict[str, Outcome]:
        settled: list[tuple[ChunkRecord, Settled]] = []
        again: list[tuple[ChunkRecord, float, Retry]] = []
        crashed = [(i, r) for i, r in zip(todo, results, strict=True) if isinstance(r, Crashed)]
        if crashed and len(todo) == 1:
            # A record alone that crashes the worker fails the delivery: the queue tries it
            # again, and after five deliveries its poison handler fails it on the run.
            raise crashed[0][1].error
        for item, result in zip(todo, results, strict=True):
            if isinstance(result, Crashed):
                continue
            if isinstance(result, Settled):
                settled.append((item, result))
                continue
            if result.wait and chunk.dry_run:
                # A dry run writes no parent, so waiting would only end in a failure: the
                # plan says what the record waits for, at once.
                settled.append(
                    (
                        item,
                        Settled(
                            Outcome.SKIPPED,
                            category=ErrorCategory.DEPENDENCY,
                            field=result.field,
                            note=f"waiting for a dependency: {result.reason}",
                            action=Action.WAITING_FOR_DEPENDENCY,
                        ),
                    )
                )
                continue
            # Alike in shape to the dry-run case above, but another outcome, text and action.
            if result.wait and item.waits >= self.max_waits:
                reason = result.reason.removesuffix("; the record waits for it")
                text = (
                    f"{reason}; gave up after waiting {item.waits} times: sync the "
                    "parent, then retry the run"
                )
                settled.append(
                    (
                        item,
                        Settled(
                            Outcome.FAILED,
                            category=ErrorCategory.DEPENDENCY,
                            field=result.field,
                            message=text,
                        ),
                    )
                )
            elif result.wait:
                again.append(
                    (
                        item.model_copy(update={"waits": item.waits + 1}),
                        wait_delay(item.waits, self.wait_base),
                        result,
                    )
                )
            else:
                again.append(
                    (item.model_copy(update={"retries": item.retries + 1}), result.delay, result)
                )
        held = await self._settle(chunk, settled, rows)
        if again:
            await self._put_back(chunk, again)
        if crashed:
            # The rest of the chunk is settled; each record that crashed goes on alone.
            texts = [t for item, _ in crashed for t in _texts(chunk, [item], single=True)]
            await asyncio.gather(*(self.queue.send_message(t) for t in texts))
        return held

    async def _settle(
        self,
        chunk: RecordChunk,
        settled: list[tuple[ChunkRecord, Settled]],
        rows: Mapping[str, TableEntity] | None = None,
    ) -> dict[str, Outcome]:
        if not settled:
            return {}
        # Each row keeps the first write's outcome when deliveries overlap (outcome_store.py).
        # Settled (engine) goes to Settlement (storage) field by field: storage must not
        # import the engine, so the two keep their own, alike, field lists.
        held = await _steadily(
            lambda: self.outcomes.settle_many(
                chunk.run_id,
                [
                    Settlement(
                        item.record_id,
                        r.outcome,
                        target_id=r.target_id,
                        category=r.category,
                        field=r.field,
                        message=r.message,
                        note=r.note,
                        action=r.action.value if r.action else None,
                        changes=r.changes,
                    )
                    for item, r in settled
                ],
                known=rows,
                bucket=chunk.bucket,
            )
        )
        for item, result in settled:
            extra = {"flow_id": chunk.flow_id, "run_id": chunk.run_id, "record_id": item.record_id}
            now = held.get(item.record_id, result.outcome)
            if now is not result.outcome:
                log.info(
                    "record %s: %s by this delivery, but another delivery already settled it %s",
                    item.record_id,
                    result.outcome.value,
                    now.value,
                    extra=extra,
                )
                continue
            level = logging.WARNING if result.outcome is Outcome.FAILED else logging.DEBUG
            log.log(
                level,
                "record %s: %s%s",
                item.record_id,
                result.outcome.value,
                f" ({result.category}: {result.message})" if result.message else "",
                extra=extra,
            )
        return held

    async def _put_back(
        self, chunk: RecordChunk, again: list[tuple[ChunkRecord, float, Retry]]
    ) -> None:
        await self.outcomes.note_waits(
            chunk.run_id,
            [(item.record_id, r.category, r.reason) for item, _, r in again],
            bucket=chunk.bucket,
        )
        groups: dict[int, list[ChunkRecord]] = {}
        alone: list[tuple[ChunkRecord, int]] = []
        for item, delay, retry in again:
            seconds = max(0, min(round(delay), MAX_VISIBILITY_DELAY))
            if item.retries >= SPLIT_AFTER and not retry.wait:
                alone.append((item, seconds))
            else:
                groups.setdefault(seconds, []).append(item)
            log.info(
                "record %s waits %.0f s (%s): %s",
                item.record_id,
                delay,
                retry.category.value,
                retry.reason,
                extra={
                    "flow_id": chunk.flow_id,
                    "run_id": chunk.run_id,
                    "record_id": item.record_id,
                },
            )
        sends = [
            (text, seconds)
            for seconds, items in groups.items()
            for text in _texts(chunk, items, single=chunk.single)
        ]
        sends += [
            (text, seconds)
            for item, seconds in alone
            for text in _texts(chunk, [item], single=True)
        ]
        await asyncio.gather(*(self.queue.send_message(t, visibility_timeout=s) for t, s in sends))

    async def handle_poison(self, message: RecordMessage | RecordChunk) -> None:
        """A message that exhausted its deliveries (a bug or a crash each time). A chunk is
        split: each record goes back alone, so one poison record never fails its
        neighbours; a record alone fails on its run instead of vanishing."""
        chunk = message if isinstance(message, RecordChunk) else RecordChunk.of(message)
        if not chunk.single and len(chunk.records) > 1:
            texts = [t for item in chunk.records for t in _texts(chunk, [item], single=True)]
            await asyncio.gather(*(self.queue.send_message(t) for t in texts))
            log.warning(
                "run %s: a chunk of %d records failed on every delivery; each record "
                "is retried alone",
                chunk.run_id,
                len(chunk.records),
                extra={"flow_id": chunk.flow_id, "run_id": chunk.run_id},
            )
            return
        text = (
            "gave up after 5 deliveries: the worker failed on this record each time "
            "(see the function logs for the record id); retry the run once fixed"
        )
        failed = Settled(Outcome.FAILED, category=ErrorCategory.INTERNAL, message=text)
        ids = [r.record_id for r in chunk.records]
        rows = await self.outcomes.rows(chunk.run_id, ids, bucket=chunk.bucket)
        left = [r for r in chunk.records if not outcome_of(rows.get(r.record_id)).is_final]
        await self._settle(chunk, [(r, failed) for r in left], rows)
