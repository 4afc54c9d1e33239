"""The flow state machine as pure functions: each takes a FlowRecord and returns a new one.

STOPPED --start--> STARTED --claim--> RUNNING --finish--> STARTED (or STOPPED for one-offs)
RUNNING --stop--> COMPLETING --finish--> STOPPED;  STARTED --stop--> STOPPED.
A RUNNING/COMPLETING flow whose lease expired is finished by `recover` (its worker died).
Storage and concurrency live elsewhere (flow_store); nothing here does I/O.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.errors import ConflictError
from shared.flows.definitions import FlowKind
from shared.flows.models import FlowRecord, FlowState

ACTIVE = (FlowState.RUNNING, FlowState.COMPLETING)


def _moved(rec: FlowRecord, now: datetime, **changes: object) -> FlowRecord:
    if "state" in changes and changes["state"] != rec.state:
        changes["state_changed_at"] = now
    return rec.model_copy(update=changes)


def start(rec: FlowRecord, now: datetime) -> FlowRecord:
    """STOPPED -> STARTED; the first run is due no earlier than now + shift_ms."""
    if rec.state is FlowState.RUNNING and rec.resume_state is FlowState.STOPPED:
        # A one-off run (of a stopped flow, or a utility flow) returns to STOPPED: answering
        # 200 here would drop the start silently, so say when it can be started instead.
        raise ConflictError(
            f"flow '{rec.flow_id}' is running a one-off run ({rec.run_id}) and returns to "
            "STOPPED when it ends; start it once that run has ended",
            code="one_off_running",
        )
    if rec.state in (FlowState.STARTED, FlowState.RUNNING):
        return rec  # already started: starting again changes nothing
    if rec.state is FlowState.COMPLETING:
        raise ConflictError(
            f"flow '{rec.flow_id}' is completing a stop; start it again once it is STOPPED",
            code="flow_completing",
        )
    return _moved(
        rec,
        now,
        state=FlowState.STARTED,
        next_run_at=now + timedelta(milliseconds=rec.shift_ms),
    )


def stop(rec: FlowRecord, now: datetime) -> FlowRecord:
    """STARTED -> STOPPED; RUNNING -> COMPLETING (the run finishes, then STOPPED)."""
    if rec.state is FlowState.STARTED:
        return _moved(rec, now, state=FlowState.STOPPED, next_run_at=None)
    if rec.state is FlowState.RUNNING:
        return _moved(rec, now, state=FlowState.COMPLETING, resume_state=FlowState.STOPPED)
    return rec  # STOPPED or COMPLETING already


def is_due(rec: FlowRecord, now: datetime) -> bool:
    return rec.state is FlowState.STARTED and rec.next_run_at is not None and rec.next_run_at <= now


def lease_expired(rec: FlowRecord, now: datetime) -> bool:
    return rec.state in ACTIVE and (rec.lease_until is None or rec.lease_until <= now)


def claim(
    rec: FlowRecord, run_id: str, now: datetime, lease: timedelta, *, kind: FlowKind
) -> FlowRecord:
    """Take the flow for one run: STARTED (scheduled) or STOPPED/STARTED (API) -> RUNNING.

    A run started from STOPPED, and every utility flow run, returns to STOPPED.
    """
    if rec.state in ACTIVE:
        raise ConflictError(
            f"flow '{rec.flow_id}' is already running (run {rec.run_id})", code="run_in_progress"
        )
    one_off = rec.state is FlowState.STOPPED or kind.is_utility
    return _moved(
        rec,
        now,
        state=FlowState.RUNNING,
        run_id=run_id,
        lease_until=now + lease,
        resume_state=FlowState.STOPPED if one_off else FlowState.STARTED,
        # A one-off from STOPPED has no schedule to keep; a run from STARTED keeps its due time
        # so the next one stays on the same phase (shift sequencing survives long runs).
        next_run_at=None if rec.state is FlowState.STOPPED else (rec.next_run_at or now),
    )


def renew(rec: FlowRecord, run_id: str, now: datetime, lease: timedelta) -> FlowRecord:
    if rec.state not in ACTIVE or rec.run_id != run_id:
        raise ConflictError(f"run {run_id} no longer holds flow '{rec.flow_id}'", code="stale_run")
    return rec.model_copy(update={"lease_until": now + lease})


def next_due(due: datetime, interval_ms: int, now: datetime) -> datetime:
    """The first due time on the flow's phase (due + k·interval) that is after now."""
    interval = timedelta(milliseconds=interval_ms)
    if due > now:
        return due
    missed = (now - due) // interval + 1
    return due + missed * interval


def finish(
    rec: FlowRecord,
    run_id: str,
    now: datetime,
    *,
    query_starts: datetime | None = None,
    stop: bool = False,
) -> FlowRecord:
    """End the run in progress: counter + 1, state back to where the run started from
    (STOPPED if a stop was requested meanwhile, or `stop` by the flow's error policy).

    `query_starts` moves only forward (a late or repeated finish can never move it back).
    """
    if rec.state not in ACTIVE or rec.run_id != run_id:
        raise ConflictError(f"run {run_id} no longer holds flow '{rec.flow_id}'", code="stale_run")
    resume = FlowState.STOPPED if rec.state is FlowState.COMPLETING or stop else rec.resume_state
    resume = resume or FlowState.STARTED
    watermark = rec.query_starts
    if query_starts is not None and query_starts > watermark:
        watermark = query_starts
    next_run_at = None
    if resume is FlowState.STARTED:
        next_run_at = next_due(rec.next_run_at or now, rec.interval_ms, now)
    return _moved(
        rec,
        now,
        state=resume,
        counter=rec.counter + 1,
        run_id=None,
        lease_until=None,
        resume_state=None,
        last_run_id=run_id,
        next_run_at=next_run_at,
        query_starts=watermark,
    )


PATCHABLE = frozenset(
    {"interval_ms", "shift_ms", "query_starts", "counter", "error_policy", "volume_limit"}
)


def patch(rec: FlowRecord, changes: dict[str, object]) -> FlowRecord:
    """Change properties; InterWeave's rule: only while the flow is STOPPED."""
    if rec.state is not FlowState.STOPPED:
        raise ConflictError(
            f"flow '{rec.flow_id}' is {rec.state.value}; stop it before changing its properties",
            code="flow_not_stopped",
        )
    unknown = set(changes) - PATCHABLE
    if unknown:
        raise ValueError(f"not patchable: {sorted(unknown)}")
    return rec.model_copy(update=changes)
