"""Every change of flow and run state: read, apply a lifecycle transition, write by ETag.

This is the one place that retries optimistic-concurrency losses, enforces the solution
rules, and pairs a run row with its flow's state.
"""

from __future__ import annotations

import builtins
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from azure.storage.queue.aio import QueueClient

from shared.errors import ConcurrencyError, ConflictError, ErrorCategory, NotFoundError
from shared.flows import lifecycle
from shared.flows.catalog import Catalog, CatalogEntry
from shared.flows.definitions import ErrorPolicy, FlowKind
from shared.flows.models import (
    FlowRecord,
    FlowState,
    RunCounts,
    RunErrorEntry,
    RunKind,
    RunParams,
    RunRecord,
    RunStatus,
    RunWindow,
    new_run_id,
)
from shared.messages import FlowRunMessage
from shared.schedule.gate import SleepGate
from shared.storage.entities import StaleWrite, UnreadableRowError
from shared.storage.flow_store import BrokenFlow, BulkSlot, FlowStore
from shared.storage.run_store import RunStore

log = logging.getLogger(__name__)

# Told of every run that ended (shared/notifications/runs.py sends the alerts): the run as
# recorded, and whether the flow's error policy stopped the flow with it.
RunListener = Callable[[RunRecord, bool], Awaitable[None]]

MAX_ATTEMPTS = 8  # optimistic writes lost in a row before we give up (409 to the caller)
# A bulk slot claimed by a flow that is still STOPPED belongs to a start in progress for this
# long; after it, the claimer died before starting and the slot is free again.
BULK_CLAIM_GRACE = timedelta(seconds=60)
# A bulk run whose worker keeps dying is resumed this often, then ends failed.
MAX_RESUMES = 5


@dataclass(frozen=True)
class RunRequest:
    """A run asked for through the API (or by the scheduler, with all defaults)."""

    window_from: datetime | None = None
    window_to: datetime | None = None
    params: RunParams = field(default_factory=RunParams)


@dataclass(frozen=True)
class RunEnd:
    """How a run ended, as the engine (or the poison handler) reports it."""

    status: RunStatus
    message: str = ""
    counts: RunCounts | None = None  # left as it is when None
    errors: tuple[RunErrorEntry, ...] = ()
    query_starts: datetime | None = None


def _run_kind(entry: CatalogEntry, manual: bool) -> RunKind:
    if entry.flow.kind is FlowKind.SCHEDULED:
        return RunKind.MANUAL if manual else RunKind.SCHEDULED
    return RunKind(entry.flow.kind.value)


# Binding and bulk runs without a range cover everything the source holds.
BEGINNING = datetime(2000, 1, 1, tzinfo=UTC)


def _default_from(entry: CatalogEntry, rec: FlowRecord) -> datetime:
    if entry.flow.kind in (FlowKind.BINDING, FlowKind.BULK):
        return BEGINNING
    return rec.query_starts


def _stops_flow(policy: ErrorPolicy, end: RunEnd) -> bool:
    if end.status not in (RunStatus.FAILED, RunStatus.PARTIAL):
        return False
    if policy is ErrorPolicy.STOP_ON_ERROR:
        return True
    if policy is ErrorPolicy.STOP_ON_CONNECTION_FAILURE:
        return any(e.category is ErrorCategory.CONNECTION for e in end.errors)
    return False


def _claimed_run(run_id: str, flow_id: str, rec: FlowRecord | None, now: datetime) -> RunRecord:
    """A claimed run's row written afresh (its own row missing or unreadable)."""
    return RunRecord(
        id=run_id,
        flow_id=flow_id,
        number=(rec.counter + 1) if rec else 0,
        kind=RunKind.SCHEDULED,
        started_at=now,
    )


class FlowService:
    def __init__(
        self,
        catalog: Catalog,
        flows: FlowStore,
        runs: RunStore,
        flow_runs_queue: QueueClient,
        *,
        lease: timedelta,
        sleep: SleepGate | None = None,
    ) -> None:
        self.catalog = catalog
        self.flows = flows
        self.runs = runs
        self.queue = flow_runs_queue
        self.lease = lease
        self.sleep = sleep  # sleep windows (shared/schedule); None: never asleep
        self.listeners: list[RunListener] = []

    # ---- reading -------------------------------------------------------------------------

    async def get(self, flow_id: str) -> tuple[CatalogEntry, FlowRecord]:
        entry = self.catalog.get(flow_id)
        return entry, await self.flows.get(flow_id)

    async def list(self) -> list[tuple[CatalogEntry, FlowRecord]]:
        return (await self.survey())[0]

    # builtins.list: the method `list` above shadows the builtin inside this class body.
    async def survey(
        self,
    ) -> tuple[builtins.list[tuple[CatalogEntry, FlowRecord]], builtins.list[BrokenFlow]]:
        """Every catalogued flow that can be read, and those whose row cannot (reported,
        never in the way of the others)."""
        scan = await self.flows.scan()
        records = {r.flow_id: r for r in scan.records}
        pairs = [(e, records[e.flow_id]) for e in self.catalog if e.flow_id in records]
        return pairs, [b for b in scan.broken if b.flow_id in self.catalog.ids]

    # ---- operator commands ---------------------------------------------------------------

    async def start(self, flow_id: str, now: datetime) -> FlowRecord:
        entry = self.catalog.get(flow_id)
        if entry.flow.kind.is_utility:
            await self._refuse_while_asleep(f"starting utility flow '{flow_id}'", now)
        return await self._leave_stopped(entry, now, lambda rec: lifecycle.start(rec, now))

    async def stop(self, flow_id: str, now: datetime) -> FlowRecord:
        self.catalog.get(flow_id)
        return await self._mutate(flow_id, lambda rec: lifecycle.stop(rec, now))

    async def patch(self, flow_id: str, changes: dict[str, object]) -> FlowRecord:
        self.catalog.get(flow_id)
        return await self._mutate(flow_id, lambda rec: lifecycle.patch(rec, changes))

    async def run_now(self, flow_id: str, request: RunRequest, now: datetime) -> RunRecord:
        """Claim the flow for one run right away (202 from the API): from STARTED it keeps
        its schedule, from STOPPED it returns to STOPPED afterwards."""
        entry = self.catalog.get(flow_id)
        await self._refuse_while_asleep(f"a run of '{flow_id}'", now)
        run_id = new_run_id(flow_id, now)
        rec = await self._leave_stopped(
            entry, now, lambda r: lifecycle.claim(r, run_id, now, self.lease, kind=entry.flow.kind)
        )
        return await self._launch(entry, rec, run_id, now, request, manual=True)

    async def _refuse_while_asleep(self, what: str, now: datetime) -> None:
        if self.sleep is not None:
            await self.sleep.refuse_while_asleep(what, now)

    async def sleeping_until(self, now: datetime) -> datetime | None:
        """The end of the sleep window `now` falls in; None when awake (or no windows)."""
        return await self.sleep.sleeping_until(now) if self.sleep is not None else None

    # ---- scheduler -----------------------------------------------------------------------

    async def claim_due(self, rec: FlowRecord, now: datetime) -> RunRecord | None:
        """Claim one due flow for a scheduled run; None when another tick got it first."""
        entry = self.catalog.get(rec.flow_id)
        if not lifecycle.is_due(rec, now):
            return None
        run_id = new_run_id(rec.flow_id, now)
        claimed = lifecycle.claim(rec, run_id, now, self.lease, kind=entry.flow.kind)
        try:
            claimed = await self.flows.replace(claimed)
        except StaleWrite:
            return None  # another tick (or an operator) changed it first
        return await self._launch(entry, claimed, run_id, now, RunRequest(), manual=False)

    async def recover(self, rec: FlowRecord, now: datetime) -> bool:
        """Finish a RUNNING/COMPLETING flow whose lease expired (a bulk run with a saved step
        continues from it instead); True if we did either."""
        if not lifecycle.lease_expired(rec, now) or rec.run_id is None:
            return False
        run_id = rec.run_id
        if await self._resume_bulk(rec, run_id, now):
            return True
        try:
            await self.flows.replace(lifecycle.finish(rec, run_id, now))
        except StaleWrite:
            return False  # renewed or finished meanwhile
        log.warning("flow %s: run %s lost its lease; marked failed", rec.flow_id, run_id)
        message = (
            f"the worker running this run stopped answering (lease expired at "
            f"{rec.lease_until.isoformat() if rec.lease_until else 'unknown'}); query starts "
            "was not advanced, so the next run reads this window again"
        )
        run = await self._close_run(
            rec.flow_id, run_id, now, RunEnd(status=RunStatus.FAILED, message=message), rec
        )
        await self._tell(run, stopped=False)
        return True

    async def _resume_bulk(self, rec: FlowRecord, run_id: str, now: datetime) -> bool:
        """A bulk run whose worker died continues from its last durably queued step (the
        engine saves it: shared/engine/sync_engine.py): pages already queued are not read
        again, and a replayed one re-queues only records whose rows are not settled, so each
        record is still synced exactly once. At most MAX_RESUMES times per run."""
        try:
            run = await self.runs.get(run_id)
        except (NotFoundError, UnreadableRowError):
            return False
        if (
            run.kind is not RunKind.BULK
            or not run.resume
            or run.status.is_final
            or run.cancel_requested_at is not None
            or run.resumes >= MAX_RESUMES
        ):
            return False
        try:
            await self.flows.replace(lifecycle.renew(rec, run_id, now, self.lease))
        except (StaleWrite, ConflictError):
            return False  # renewed or finished meanwhile
        step = FlowRunMessage.model_validate_json(run.resume)
        await self.queue.send_message(step.model_dump_json())
        text = (
            f"resumed at {now.isoformat(timespec='seconds')} from its last queued step "
            f"({step.step.value}, page {step.page + 1}) after its worker stopped answering"
        )
        with contextlib.suppress(StaleWrite):  # the count is advisory; the step is queued
            await self.runs.replace(
                run.model_copy(update={"resumes": run.resumes + 1, "message": text})
            )
        log.warning(
            "flow %s: run %s lost its lease; %s",
            rec.flow_id,
            run_id,
            text,
            extra={"flow_id": rec.flow_id, "run_id": run_id},
        )
        return True

    # ---- runs ----------------------------------------------------------------------------

    async def renew(self, run_id: str, flow_id: str, now: datetime) -> FlowRecord:
        return await self._mutate(flow_id, lambda r: lifecycle.renew(r, run_id, now, self.lease))

    async def finish_run(self, run_id: str, end: RunEnd, now: datetime) -> RunRecord:
        """Record the run's end, then return its flow to STARTED/STOPPED. Idempotent: a
        repeated or late call changes nothing that is already final."""
        run = await self.runs.get(run_id)
        run = await self._close_run(run.flow_id, run_id, now, end, None, run)
        before = await self.flows.get(run.flow_id)
        stop = _stops_flow(before.error_policy, end)
        try:
            await self._mutate(
                run.flow_id,
                lambda r: lifecycle.finish(
                    r, run_id, now, query_starts=end.query_starts, stop=stop
                ),
            )
        except ConflictError as exc:
            if exc.code != "stale_run":
                raise
            log.info("run %s: flow %s had already moved on", run_id, run.flow_id)
        # Stopped by the policy only when the run would otherwise have left it STARTED.
        resumes = before.resume_state or FlowState.STARTED
        by_policy = (
            stop
            and before.run_id == run_id
            and before.state is FlowState.RUNNING
            and resumes is FlowState.STARTED
        )
        await self._tell(run, stopped=by_policy)
        return run

    async def _tell(self, run: RunRecord, *, stopped: bool) -> None:
        """Run listeners never fail the run's end (an alert that cannot go out is recorded
        by the notifier itself)."""
        for listener in self.listeners:
            try:
                await listener(run, stopped)
            except Exception:
                log.exception(
                    "run %s: a run-end listener failed",
                    run.id,
                    extra={"flow_id": run.flow_id, "run_id": run.id},
                )

    async def cancel(self, run_id: str, now: datetime) -> RunRecord:
        """Ask a running run to stop; the engine ends it `cancelled` at its next step (between
        pages, or as soon as its queued records are reached). Asking again changes nothing."""
        for _ in range(MAX_ATTEMPTS):
            run = await self.runs.get(run_id)
            if run.status.is_final:
                raise ConflictError(
                    f"run '{run_id}' has already ended ({run.status.value}); nothing to cancel",
                    code="run_final",
                )
            if run.cancel_requested_at is not None:
                return run
            try:
                return await self.runs.replace(run.model_copy(update={"cancel_requested_at": now}))
            except StaleWrite:
                continue
        raise ConcurrencyError(f"run {run_id}: too many concurrent updates")

    async def record_attempt(
        self, run: RunRecord, error: str | None = None, category: ErrorCategory | None = None
    ) -> RunRecord:
        """Count one delivery of the run's message (and its error, for the poison handler)."""
        update: dict[str, object] = {"attempts": run.attempts + (0 if error else 1)}
        if error is not None:
            update["last_error"] = error[:2000]
            update["last_error_category"] = category or ErrorCategory.INTERNAL
        try:
            return await self.runs.replace(run.model_copy(update=update))
        except StaleWrite:
            return await self.runs.get(run.id)

    async def continue_run(
        self, step: FlowRunMessage, delay: int = 0, *, kind: RunKind | None = None
    ) -> None:
        """Queue a running run's next step (the engine says which). A bulk run keeps it on
        its row too: if its worker dies, the run continues from there (_resume_bulk). Saved
        after the step is queued, so it is never ahead of the queue; a step saved late only
        replays a page."""
        await self.queue.send_message(step.model_dump_json(), visibility_timeout=delay)
        if kind is RunKind.BULK:
            await self.runs.save_resume(step.run_id, step.model_dump_json())

    async def record_progress(
        self,
        run_id: str,
        *,
        counts: RunCounts | None = None,
        message: str | None = None,
        errors: Sequence[RunErrorEntry] = (),
    ) -> None:
        """Show a running run's progress: counts and message replace, errors add up. A
        concurrent write wins (the next step reports again), except for errors, which are
        kept by trying again."""
        for _ in range(5):
            run = await self.runs.get(run_id)
            if run.status.is_final:
                return
            update: dict[str, object] = {}
            if counts is not None:
                update["counts"] = counts
            if message is not None:
                update["message"] = message
            if errors:
                update["errors"] = [*run.errors, *errors]
            try:
                await self.runs.replace(run.model_copy(update=update))
                return
            except StaleWrite:
                if not errors:
                    return
        raise ConcurrencyError(f"run {run_id}: too many concurrent updates")

    # ---- internals -----------------------------------------------------------------------

    async def _launch(
        self,
        entry: CatalogEntry,
        rec: FlowRecord,
        run_id: str,
        now: datetime,
        request: RunRequest,
        *,
        manual: bool,
    ) -> RunRecord:
        """After a successful claim: write the run row, then queue its message. If either
        fails the claim is undone (or, if we die here, the lease expiry undoes it)."""
        run = RunRecord(
            id=run_id,
            flow_id=rec.flow_id,
            number=rec.counter + 1,
            kind=_run_kind(entry, manual),
            started_at=now,
            window=RunWindow(
                from_=request.window_from or _default_from(entry, rec), to=request.window_to or now
            ),
            params=request.params,
        )
        try:
            run = await self.runs.create(run)
            await self.queue.send_message(
                FlowRunMessage(flow_id=rec.flow_id, run_id=run_id).model_dump_json()
            )
        except Exception as exc:
            log.exception("flow %s: could not launch run %s", rec.flow_id, run_id)
            end = RunEnd(status=RunStatus.FAILED, message=f"could not queue the run: {exc}")
            await self._close_run(rec.flow_id, run_id, now, end, rec)
            await self._mutate(rec.flow_id, lambda r: lifecycle.finish(r, run_id, now))
            raise
        log.info("flow %s: run %s (#%d) queued", rec.flow_id, run_id, run.number)
        return run

    async def _close_run(
        self,
        flow_id: str,
        run_id: str,
        now: datetime,
        end: RunEnd,
        rec: FlowRecord | None,
        run: RunRecord | None = None,
    ) -> RunRecord:
        for _ in range(MAX_ATTEMPTS):
            if run is None:
                try:
                    run = await self.runs.get(run_id)
                except NotFoundError:
                    # Claimed but never recorded (the claimer died): record it now.
                    run = await self.runs.create(_claimed_run(run_id, flow_id, rec, now))
                except UnreadableRowError as exc:
                    # Its row cannot be read: end it on a fresh row that says why, so the
                    # flow is not held RUNNING for ever.
                    log.error("run %s: %s", run_id, exc.message)
                    run = _claimed_run(run_id, flow_id, rec, now)
                    run.message = f"replaced an unreadable run row: {exc.message}"
                    run = await self.runs.overwrite(run)
                    end = replace(end, message=f"{end.message} ({run.message})")
            if run.status.is_final:
                return run
            update: dict[str, object] = {
                "status": end.status,
                "finished_at": now,
                "message": end.message,
                "errors": [*run.errors, *end.errors],
            }
            if end.counts is not None:
                update["counts"] = end.counts
            try:
                return await self.runs.replace(run.model_copy(update=update))
            except StaleWrite:
                run = None
        raise ConcurrencyError(f"run {run_id}: too many concurrent updates")

    async def _mutate(self, flow_id: str, change: Callable[[FlowRecord], FlowRecord]) -> FlowRecord:
        for _ in range(MAX_ATTEMPTS):
            rec = await self.flows.get(flow_id)
            new = change(rec)
            if new is rec:
                return rec
            try:
                return await self.flows.replace(new)
            except StaleWrite:
                continue
        raise ConcurrencyError(f"flow '{flow_id}' is being changed by others; try again")

    async def _leave_stopped(
        self, entry: CatalogEntry, now: datetime, change: Callable[[FlowRecord], FlowRecord]
    ) -> FlowRecord:
        """Apply a change that may take the flow out of STOPPED; such changes are checked
        against the solution rules and written atomically with the solution guard row."""
        solution = entry.solution.id
        for _ in range(MAX_ATTEMPTS):
            guard = await self.flows.get_guard(solution)
            scan = await self.flows.scan(solution)
            for broken in scan.broken:
                if broken.flow_id == entry.flow_id:
                    raise UnreadableRowError(f"flow '{broken.flow_id}'", broken.row)
            # Another flow's unreadable row is left out of the rules: only a PATCH (allowed
            # while STOPPED) or a hand edit can break a row, so it holds no run.
            records = {r.flow_id: r for r in scan.records}
            rec = records.get(entry.flow_id)
            if rec is None:
                raise NotFoundError(f"unknown flow '{entry.flow_id}'", code="flow_not_found")
            new = change(rec)
            if new is rec:
                return rec
            try:
                if rec.state is FlowState.STOPPED:
                    self._check_rules(entry, records)
                    if entry.flow.kind is FlowKind.BULK:
                        await self._take_bulk_slot(entry.flow_id, now)
                    return await self.flows.replace_guarded(new, guard)
                return await self.flows.replace(new)
            except StaleWrite:
                continue
        raise ConcurrencyError(f"flow '{entry.flow_id}' is being changed by others; try again")

    async def _take_bulk_slot(self, flow_id: str, now: datetime) -> None:
        """One bulk load at a time in the whole deployment, across solutions. The slot is
        never released: it is free once its holder is STOPPED again after claiming it."""
        slot = await self.flows.get_bulk_slot()
        if slot.holder is not None and slot.holder != flow_id and await self._holds(slot, now):
            raise ConflictError(
                f"only one bulk load runs at a time; {slot.holder} is active",
                code="bulk_load_active",
            )
        await self.flows.take_bulk_slot(flow_id, now, slot)  # StaleWrite: the caller retries

    async def _holds(self, slot: BulkSlot, now: datetime) -> bool:
        assert slot.holder is not None and slot.claimed_at is not None
        try:
            holder = await self.flows.get(slot.holder)
        except NotFoundError:
            return False  # its solution is no longer enabled
        except UnreadableRowError:
            return False  # only a PATCH (while STOPPED) or a hand edit breaks a row
        if holder.state is not FlowState.STOPPED:
            return True
        started_since = holder.state_changed_at >= slot.claimed_at
        return not started_since and now - slot.claimed_at < BULK_CLAIM_GRACE

    def _check_rules(self, entry: CatalogEntry, records: dict[str, FlowRecord]) -> None:
        active = [
            (e, records[e.flow_id])
            for e in self.catalog.in_solution(entry.solution.id)
            if e.flow_id in records
            and e.flow_id != entry.flow_id
            and records[e.flow_id].state is not FlowState.STOPPED
        ]
        kind = entry.flow.kind
        if kind.is_utility:
            scheduled = [e.flow_id for e, _ in active if e.flow.kind is FlowKind.SCHEDULED]
            if scheduled:
                raise ConflictError(
                    f"stop every scheduled flow of {entry.solution.id} before starting a "
                    f"utility flow; still active: {', '.join(sorted(scheduled))}",
                    code="scheduled_flows_active",
                )
            if kind is FlowKind.BULK:
                bulk = [e.flow_id for e, _ in active if e.flow.kind is FlowKind.BULK]
                if bulk:
                    raise ConflictError(
                        f"only one bulk load runs at a time; {bulk[0]} is active",
                        code="bulk_load_active",
                    )
        else:
            utility = [e.flow_id for e, _ in active if e.flow.kind.is_utility]
            if utility:
                raise ConflictError(
                    f"utility flow {utility[0]} is active in {entry.solution.id}; "
                    "start scheduled flows once it has stopped",
                    code="utility_flow_active",
                )
