"""The sync engine's side of a run, one flow-runs message per step. Each step returns what
happened and the step to take next; the flow service alone writes run rows and queues
flow-runs messages (shared/runner.py).


START   plan the window (query starts minus the overlap, up to the run's start), refuse a
        scheduled run above the flow's volume limit (pointing at its bulk flow), open the read.
PAGE    read one page, write a pending outcome row per record, queue one record-upserts
        message per record, then queue the next PAGE (or FINISH). A replayed page re-queues
        records whose outcome rows already exist; the upsert worker ignores settled ones.
FINISH  tally the outcome rows; while any record is pending, report progress and look again
        later; then end the run, moving "query starts" to the window's end — only now, when
        every record of the window is queued and settled.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
from dataclasses import KW_ONLY, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.storage.queue.aio import QueueClient

from shared.connectors.errors import ConnectorError
from shared.connectors.protocol import SyncRecord
from shared.engine import RunContext, RunResult
from shared.engine.connections import ConnectorPool
from shared.engine.decisions import Action
from shared.engine.filters import names_on
from shared.engine.intake import Queued, from_rejected, message_for, printable, refused
from shared.engine.match_keys import MatchKey, source_keys
from shared.engine.plan import FlowPlan, plan_for
from shared.engine.upsert import FUTURE_SKEW, WINDOW_FLOOR, binding_resolver, modified_field
from shared.errors import DefinitionError, ErrorCategory
from shared.flows.catalog import Catalog
from shared.flows.models import RunErrorEntry, RunKind, RunRecord, RunStatus
from shared.flows.service import BEGINNING
from shared.mapping.apply import passes
from shared.messages import CHUNK_SIZE, ChunkRecord, FlowRunMessage, RunStep, chunk_texts
from shared.storage.binding_store import BindingStore
from shared.storage.outcome_store import Outcome, OutcomeStore, Refusal

log = logging.getLogger("shuttle.engine")

SEND_CONCURRENCY = 32
MAX_QUEUED = 20  # record chunks waiting before extraction pauses
BACKPRESSURE_DELAY = 2
FINISH_FIRST_DELAY = 1.0
FINISH_MAX_DELAY = 15.0
# After a cancel, a delivery that read its rows before they were marked may still write for
# this long (host.json functionTimeout bounds an invocation); rows pending after it wait on
# the queue and are skipped by the cancel step itself.
CANCEL_GRACE = timedelta(minutes=10)

# Records no window reaches (issue 12 item 7): stamped in the future (a source clock or time
# zone gone wrong, a migration writing 9999-12-31) or before the earliest "query starts"
# (1900; a migration writing 1753-01-01, SQL Server's smallest datetime). Each run counts
# them; up to OUTSIDE_READ_LIMIT are read and synced with the run, each reported with its
# modification time (upsert.py); more are reported by their number only.
FAR_PAST = datetime(1753, 1, 1, tzinfo=UTC)
FAR_FUTURE = datetime.max.replace(tzinfo=UTC)
OUTSIDE_READ_LIMIT = 500


def finish_delay(polls: int, pending: int) -> int:
    """Look again soon when little is left (a small run ends promptly), rarely while much
    is (each look reads every outcome row of the run)."""
    growing = FINISH_FIRST_DELAY * 1.5**polls
    return round(min(growing, FINISH_FIRST_DELAY + pending / 100, FINISH_MAX_DELAY))


@dataclass(eq=False, repr=False)
class SyncEngine:
    catalog: Catalog
    connectors: ConnectorPool
    outcomes: OutcomeStore
    record_upserts: QueueClient
    _: KW_ONLY
    overlap: timedelta
    page_size: int
    max_queued: int = MAX_QUEUED
    bindings: BindingStore | None = None  # None: records sharing a match key: the worker's
    chunk_size: int = CHUNK_SIZE

    async def close(self) -> None:
        await self.outcomes.table.close()
        await self.record_upserts.close()

    async def execute(self, ctx: RunContext) -> RunResult:
        message = ctx.message or FlowRunMessage(flow_id=ctx.run.flow_id, run_id=ctx.run.id)
        try:
            plan = plan_for(self.catalog, ctx.run.flow_id)
        except DefinitionError as exc:
            return _failed(ctx, ErrorCategory.VALIDATION, str(exc))
        if ctx.run.cancel_requested_at is not None:
            return await self._cancelled(ctx, message)
        try:
            match message.step:
                case RunStep.START:
                    return await self._start(ctx, plan)
                case RunStep.PAGE:
                    return await self._page(ctx, plan, message)
                case RunStep.FINISH:
                    return await self._finish(ctx, message)
        except ConnectorError as exc:
            if exc.retryable:
                raise  # the queue redelivers the step; five failures end the run as failed
            return _failed(ctx, exc.category, f"{exc.system}: {exc.message}")
        raise AssertionError(message.step)  # pragma: no cover

    # ---- steps --------------------------------------------------------------------------

    def _window(self, run: RunRecord) -> tuple[datetime, datetime]:
        since = run.window.from_ or run.started_at
        until = run.window.to or run.started_at
        if run.kind in (RunKind.SCHEDULED, RunKind.MANUAL):
            since = since - self.overlap  # clock skew and late commits at the source
        return since, until

    async def _start(self, ctx: RunContext, plan: FlowPlan) -> RunResult:
        run = ctx.run
        source = await self.connectors.get(plan.source_system)
        obj = plan.flow.source.object
        if run.params.record_ids:
            return await self._single(ctx, plan, run.params.record_ids)
        if run.params.retry_of:  # too many failed ids for the run row (control.py)
            failed = await self.outcomes.failed_ids(run.params.retry_of)
            return await self._single(ctx, plan, failed)
        since, until = self._window(run)
        if run.kind is RunKind.SCHEDULED:
            count = await source.count_changes(obj, since=since, until=until)
            if count is not None and count > ctx.flow.volume_limit:
                bulk = plan.flow.bulk_flow or "the solution's bulk load flow"
                text = (
                    f"{count} {obj} records changed since {since.isoformat()}, more than this "
                    f"flow's volume limit ({ctx.flow.volume_limit}); nothing was synced. Stop "
                    f"the scheduled flows, run the bulk load flow "
                    f"'{plan.entry.solution.id}.{bulk}' from {since.isoformat()}, then set "
                    f"this flow's query_starts to that run's end (PATCH) and start it again."
                )
                return RunResult(status=RunStatus.SKIPPED, message=text)
        size = run.params.batch_size or self.page_size
        cursor = await source.open_changes(
            obj,
            since=since,
            until=until,
            fields=plan.mapping.source_fields or None,
            page_size=size,
        )
        then, errors = await self._outside(ctx, plan, since, until, size)
        return RunResult(
            status=RunStatus.RUNNING,
            message=f"reading {obj} changed since {since.isoformat()}",
            errors=errors,
            progress=bool(errors),
            next_step=FlowRunMessage(
                flow_id=run.flow_id,
                run_id=run.id,
                step=RunStep.PAGE,
                cursor=cursor,
                until=until,
                then=then,
            ),
        )

    async def _outside(
        self, ctx: RunContext, plan: FlowPlan, since: datetime, until: datetime, size: int
    ) -> tuple[list[dict[str, Any]], list[RunErrorEntry]]:
        """Cursors over the records whose modification time no window reaches (see
        FUTURE_SKEW): read with this run when there are few, else reported by number (the
        errors to show on the run)."""
        source = await self.connectors.get(plan.source_system)
        obj = plan.flow.source.object
        windows = [
            (
                "in the future",
                max(ctx.now + FUTURE_SKEW, until + timedelta(microseconds=1)),
                FAR_FUTURE,
            ),
            (
                f"before {WINDOW_FLOOR.date().isoformat()}",
                FAR_PAST,
                min(WINDOW_FLOOR, since) - timedelta(microseconds=1),
            ),
        ]
        cursors: list[dict[str, Any]] = []
        errors: list[RunErrorEntry] = []
        for label, lower, upper in windows:
            if upper <= lower:
                continue
            count = await source.count_changes(obj, since=lower, until=upper)
            if not count:
                continue  # none, or the system cannot tell cheaply (a report object)
            if count <= OUTSIDE_READ_LIMIT:
                cursors.append(
                    await source.open_changes(
                        obj,
                        since=lower,
                        until=upper,
                        fields=plan.mapping.source_fields or None,
                        page_size=size,
                    )
                )
                continue
            errors.append(
                RunErrorEntry(
                    category=ErrorCategory.VALIDATION,
                    field=modified_field(plan.source_system),
                    at=ctx.now,
                    message=f"{count} {plan.source_system} {obj} records have a modification time "
                    f"{label}, which no run's window reaches: they are not synced. Correct "
                    "their timestamps (or the source's clock or time zone) at the source; "
                    "see docs/operations.md, 'Records outside every window'",
                )
            )
        return cursors, errors

    async def _single(self, ctx: RunContext, plan: FlowPlan, ids: list[str]) -> RunResult:
        source = await self.connectors.get(plan.source_system)
        found: list[SyncRecord] = []
        missing: list[str] = []
        for record_id in ids:
            record = await source.get(plan.flow.source.object, record_id)
            (found.append(record) if record else missing.append(record_id))
        # An id the source does not have is a record of this run that failed: counted as
        # read and failed, so the run ends partial (or failed), never succeeded.
        for record_id in missing:
            await self.outcomes.add_pending(ctx.run.id, [(record_id, ctx.now)])
            await self.outcomes.settle(
                ctx.run.id,
                record_id,
                Outcome.FAILED,
                category=ErrorCategory.NOT_FOUND,
                message=f"{plan.source_system} has no {plan.flow.source.object} {record_id}",
            )
        await self._queue_records(ctx.run, plan, found)
        step = FlowRunMessage(flow_id=ctx.run.flow_id, run_id=ctx.run.id, step=RunStep.FINISH)
        return RunResult(status=RunStatus.RUNNING, next_step=step)

    async def _page(self, ctx: RunContext, plan: FlowPlan, message: FlowRunMessage) -> RunResult:
        source = await self.connectors.get(plan.source_system)
        assert message.cursor is not None
        # Backpressure: read the next page only when the workers have caught up, so a bulk
        # window of 500k records never sits in the queue at once (and Azurite, whose queue
        # operations slow down with depth, stays fast).
        depth = (await self.record_upserts.get_queue_properties()).approximate_message_count or 0
        if depth > self.max_queued:
            return RunResult(
                status=RunStatus.RUNNING, next_step=message, next_delay=BACKPRESSURE_DELAY
            )
        page = await source.read_changes(message.cursor)
        where = f"page {message.page + 1}"
        rejected = [
            from_rejected(r, plan.source_system, f"{where}, row {n}")
            for n, r in enumerate(page.rejected, 1)
        ]
        queued = await self._queue_records(ctx.run, plan, page.records, rejected, message.page)
        if page.cursor is not None or message.then:
            following = page.cursor if page.cursor is not None else message.then[0]
            step = FlowRunMessage(
                flow_id=ctx.run.flow_id,
                run_id=ctx.run.id,
                step=RunStep.PAGE,
                cursor=following,
                until=message.until,
                page=message.page + 1,
                then=message.then if page.cursor is not None else message.then[1:],
            )
        else:
            step = FlowRunMessage(
                flow_id=ctx.run.flow_id, run_id=ctx.run.id, step=RunStep.FINISH, until=message.until
            )
            queued += await self._deletions(ctx, plan)
        log.info(
            "run %s: page %d queued %d records",
            ctx.run.id,
            message.page + 1,
            queued,
            extra={"flow_id": ctx.run.flow_id, "run_id": ctx.run.id},
        )
        return RunResult(status=RunStatus.RUNNING, next_step=step)

    async def _queue_records(
        self,
        run: RunRecord,
        plan: FlowPlan,
        records: list[SyncRecord],
        refusals: list[Refusal] | None = None,
        page: int | None = None,
    ) -> int:
        """Queue each record that passes the flow's filter (those outside it are neither
        queued nor counted as read); a record that cannot be queued fails alone."""
        source = await self.connectors.get(plan.source_system)
        names = names_on(source)
        refusals = list(refusals or [])
        candidates: list[tuple[SyncRecord, Queued]] = []
        filtered: list[tuple[str, datetime]] = []
        for record in records:
            try:
                if not await passes(plan.mapping.filter, {**record.values}, names):
                    if run.params.dry_run:
                        filtered.append((record.id, record.modified))
                    continue
            except ConnectorError:
                raise  # the source could not answer a lookup: the step is retried
            except Exception as exc:  # a value the filter cannot compare: this record only
                text = f"the flow's filter could not be applied: {printable(str(exc))[:300]}"
                refusals.append(refused(record.id, record.modified, None, text))
                continue
            item = message_for(
                record,
                flow_id=run.flow_id,
                run_id=run.id,
                dry_run=run.params.dry_run,
                source=plan.source_system,
            )
            if isinstance(item, Queued):
                candidates.append((record, item))
            else:
                refusals.append(item)
        if filtered:  # a dry run's plan shows them; a real run neither queues nor counts them
            await self.outcomes.add_skipped(run.id, filtered, Action.SKIPPED_BY_FILTER.value)
        clashing = await self._shared_keys(plan, [r for r, _ in candidates])
        refusals.extend(clashing.values())
        queued = [q for r, q in candidates if r.id not in clashing]
        if refusals:
            await self.outcomes.add_failed(run.id, refusals)
            for r in refusals:
                log.warning(
                    "run %s: record %s refused (%s%s): %s",
                    run.id,
                    r.record_id,
                    r.category.value,
                    f", {r.field}" if r.field else "",
                    r.message,
                    extra={"flow_id": run.flow_id, "run_id": run.id, "record_id": r.record_id},
                )
        if not queued:
            return 0
        size = run.params.batch_size or self.page_size
        stem = "s" if page is None else f"p{page:05d}"
        await self._send_chunks(run, [q.item for q in queued], stem, size)
        return len(queued)

    async def _send_chunks(
        self, run: RunRecord, items: list[ChunkRecord], stem: str, expected: int
    ) -> None:
        """Queue records a chunk per message (issue 15): the worker matches, writes and
        settles them together, each with its own outcome. Each record's outcome row is
        written first (a record on the queue always has its row, so the run counts it), in
        its chunk's bucket: `stem` (the step) and a hash of the record id, so a replayed
        step puts each record in the same bucket again (outcome_store.py, row_key).
        `expected`: how many records such a step holds at most (the page size)."""
        groups = 1
        if expected > self.chunk_size:  # ~85 a bucket: few pass the chunk size and split
            groups = math.ceil(expected * 1.15 / self.chunk_size)
        buckets: dict[str, list[ChunkRecord]] = {}
        for item in items:
            digest = hashlib.blake2b(item.record_id.encode(), digest_size=4).digest()
            bucket = f"{stem}.{int.from_bytes(digest, 'big') % groups:03d}"
            buckets.setdefault(bucket, []).append(item)
        texts: list[str] = []
        for bucket, members in buckets.items():
            pending = [(i.record_id, i.modified) for i in members]
            await self.outcomes.add_pending(run.id, pending, bucket=bucket)
            texts += chunk_texts(
                run.flow_id,
                run.id,
                members,
                dry_run=run.params.dry_run,
                size=self.chunk_size,
                bucket=bucket,
            )
        for start in range(0, len(texts), SEND_CONCURRENCY):
            part = texts[start : start + SEND_CONCURRENCY]
            await asyncio.gather(*(self.record_upserts.send_message(t) for t in part))

    async def _deletions(self, ctx: RunContext, plan: FlowPlan) -> int:
        """Deletion check of a full bulk or binding run (Creatio and Intacct have no delete
        feed; see docs/engine.md, 'Deletions'): every source id bound in the pair that the
        run did not read is looked up at the source; each one the source no longer has is
        queued like a read record, and the worker reports it `deleted at source` with its
        binding (and deactivates its target if the mapping says `on_delete: deactivate`)."""
        run = ctx.run
        full = run.window.from_ is not None and run.window.from_ <= BEGINNING
        if (
            self.bindings is None
            or run.kind not in (RunKind.BULK, RunKind.BINDING)
            or not full
            or run.params.record_ids
        ):
            return 0
        bound = set(await self.bindings.bound_ids(plan.pair, plan.source_side))
        unseen = sorted(bound - await self.outcomes.record_ids(run.id))
        if not unseen:
            return 0
        source = await self.connectors.get(plan.source_system)
        limit = asyncio.Semaphore(SEND_CONCURRENCY)

        async def gone(record_id: str) -> bool:
            async with limit:
                return await source.get(plan.flow.source.object, record_id) is None

        flags = await asyncio.gather(*(gone(r) for r in unseen))
        deleted = [r for r, flag in zip(unseen, flags, strict=True) if flag]
        if not deleted:
            return 0
        # No values: the worker reads each again, finds it gone and reports it (upsert.py).
        items = [ChunkRecord(record_id=r, modified=ctx.now) for r in deleted]
        await self._send_chunks(run, items, "d", len(items))
        extra = {"flow_id": run.flow_id, "run_id": run.id}
        log.info(
            "run %s: %d bound %s records deleted at the source",
            run.id,
            len(deleted),
            plan.flow.source.object,
            extra=extra,
        )
        return len(deleted)

    async def _shared_keys(self, plan: FlowPlan, records: list[SyncRecord]) -> dict[str, Refusal]:
        """Records read together that share a match key would be written onto one target
        record (or made twins of it): each unbound one fails as a duplicate naming the others
        and the target, and none of them is written. One already bound keeps its binding;
        across pages and workers, key claims (upsert.py) keep the same promise."""
        mapping = plan.mapping
        if self.bindings is None or len(records) < 2 or not mapping.match or mapping.updates:
            return {}
        resolve = binding_resolver(self.bindings, plan.entry.solution.id, plan.source_side)
        groups: dict[str, list[tuple[SyncRecord, MatchKey]]] = {}
        for record in records:
            keys = await source_keys(
                mapping,
                plan.flow.target.object,
                record.values,
                record_id=record.id,
                modified=record.modified,
                master=plan.master,
                resolve=resolve,
            )
            for key in keys:
                groups.setdefault(key.text, []).append((record, key))
        refusals: dict[str, Refusal] = {}
        for members in groups.values():
            ids = list(dict.fromkeys(r.id for r, _ in members))
            if len(ids) < 2:
                continue
            bound = {}
            for rid in ids:
                binding = await self.bindings.get(plan.pair, plan.source_side, rid)
                if binding is not None:
                    bound[rid] = binding.id_of(plan.target_side)
            if len(bound) == len(ids):
                continue  # each already has its own target record
            key = members[0][1]
            target = await self._key_target(plan, key, bound)
            obj = plan.flow.source.object
            for record, _ in members:
                if record.id in bound or record.id in refusals:
                    continue
                others = ", ".join(o for o in ids if o != record.id)
                text = (
                    f"{plan.source_system} {obj} {record.id} shares the match key "
                    f"{key.shown()} with {obj} {others} ({target}); "
                    f"{'it is not' if bound else 'neither is'} written: two source records "
                    f"are never written onto one {plan.target_system} record. "
                    f"Merge them in {plan.source_system}, or give each its own key values, then "
                    "retry the run"
                )
                refusals[record.id] = refused(
                    record.id, record.modified, key.fields[0], text, ErrorCategory.DUPLICATE
                )
        return refusals

    async def _key_target(self, plan: FlowPlan, key: MatchKey, bound: dict[str, str]) -> str:
        """The target record a shared key points at, as an operator reads it."""
        names = f"{plan.target_system} {plan.flow.target.object}"
        if bound:
            holder, target_id = next(iter(bound.items()))
            return f"{holder} is already bound to {names} {target_id}"
        target = await self.connectors.get(plan.target_system)
        found = await target.find(plan.flow.target.object, key.criteria, limit=2)
        if len(found) == 1:
            return f"both match {names} {found[0].id}"
        if found:
            return f"{names} {', '.join(r.id for r in found)} match it too"
        return f"no {names} has it yet"

    async def _finish(self, ctx: RunContext, message: FlowRunMessage) -> RunResult:
        run = ctx.run
        tally = await self.outcomes.tally(run.id)
        counts = tally.counts
        if counts.pending:
            return RunResult(
                status=RunStatus.RUNNING,
                counts=counts,
                message=f"{counts.pending} records pending",
                progress=True,
                next_step=message.model_copy(update={"polls": message.polls + 1}),
                next_delay=finish_delay(message.polls, counts.pending),
            )
        if counts.failed == 0:
            status = RunStatus.SUCCEEDED
        elif counts.failed < counts.read:
            status = RunStatus.PARTIAL
        else:
            status = RunStatus.FAILED
        summary = (
            f"read {counts.read}: {counts.created} created, {counts.updated} updated, "
            f"{counts.unchanged} unchanged, {counts.skipped} skipped, "
            f"{counts.failed} failed"
        )
        if run.params.dry_run:
            summary = f"dry run, nothing written: {summary}"
        return RunResult(
            status=status,
            counts=counts,
            message=summary,
            errors=tally.errors,
            query_starts=self._watermark(ctx, message),
        )

    async def _cancelled(self, ctx: RunContext, message: FlowRunMessage) -> RunResult:
        """An operator cancelled the run: read no further page, let the workers skip every
        record not yet written (the rows are marked: OutcomeStore.mark_cancelled) and end
        it once none is pending, so the tally counts each record a delivery already writing
        wrote; query starts does not move. Rows still pending once no delivery that read
        them before the mark can be running (CANCEL_GRACE) are skipped here: they wait on
        the queue (a retry, a dependency) and find themselves settled when they come."""
        run = ctx.run
        assert run.cancel_requested_at is not None
        why = f"cancelled at {run.cancel_requested_at.isoformat()} before it was written"
        skipped = 0
        if ctx.now - run.cancel_requested_at >= CANCEL_GRACE:
            skipped = await self.outcomes.skip_pending(run.id, why)
        await self.outcomes.mark_cancelled(run.id, run.cancel_requested_at)
        tally = await self.outcomes.tally(run.id)
        counts = tally.counts
        pending = counts.pending
        if pending:
            return RunResult(
                status=RunStatus.RUNNING,
                counts=counts,
                message=f"cancelling: {pending} records pending",
                progress=True,
                next_step=message.model_copy(
                    update={"step": RunStep.FINISH, "polls": message.polls + 1}
                ),
                next_delay=finish_delay(message.polls, pending),
            )
        log.info(
            "run %s cancelled; %d records skipped",
            run.id,
            counts.skipped,
            extra={"flow_id": run.flow_id, "run_id": run.id},
        )
        late = f", {skipped} of them after waiting on the queue" if skipped else ""
        summary = (
            f"cancelled at {run.cancel_requested_at.isoformat()}: read {counts.read}: "
            f"{counts.created} created, {counts.updated} updated, {counts.unchanged} unchanged, "
            f"{counts.skipped} skipped{late}, "
            f"{counts.failed} failed; query starts was not moved"
        )
        return RunResult(
            status=RunStatus.CANCELLED,
            counts=counts,
            message=summary,
            errors=tally.errors,
            query_starts=None,
        )

    @staticmethod
    def _watermark(ctx: RunContext, message: FlowRunMessage) -> datetime | None:
        """Where "query starts" may move: only for runs of the flow's own schedule that read
        everything since the current watermark, never past the run's start (a window that
        ends in the future must not hide the changes still to come), never in a dry run."""
        run = ctx.run
        if run.kind not in (RunKind.SCHEDULED, RunKind.MANUAL) or run.params.dry_run:
            return None
        if message.until is None or run.window.from_ is None:
            return None
        if run.window.from_ > ctx.flow.query_starts:
            return None  # a gap before this window was not read
        return min(message.until, run.started_at)


def _failed(ctx: RunContext, category: ErrorCategory, text: str) -> RunResult:
    error = RunErrorEntry(category=category, message=text, at=ctx.now)
    return RunResult(status=RunStatus.FAILED, message=text, errors=[error])
