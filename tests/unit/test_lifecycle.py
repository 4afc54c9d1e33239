"""The flow state machine as pure transitions (no storage)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.errors import ConflictError
from shared.flows import lifecycle
from shared.flows.definitions import FlowKind
from shared.flows.models import FlowRecord, FlowState

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=10)
SCHEDULED = FlowKind.SCHEDULED


def flow(**overrides: object) -> FlowRecord:
    base = {
        "flow_id": "s.f",
        "interval_ms": 600_000,
        "shift_ms": 30_000,
        "query_starts": T0 - timedelta(days=1),
        "volume_limit": 100,
        "state_changed_at": T0,
    }
    return FlowRecord.model_validate({**base, **overrides})


def test_start_schedules_first_run_after_shift() -> None:
    started = lifecycle.start(flow(), T0)
    assert started.state is FlowState.STARTED
    assert started.next_run_at == T0 + timedelta(seconds=30)
    assert not lifecycle.is_due(started, T0 + timedelta(seconds=29))
    assert lifecycle.is_due(started, T0 + timedelta(seconds=30))


def test_start_is_idempotent_but_refused_while_completing() -> None:
    started = lifecycle.start(flow(), T0)
    assert lifecycle.start(started, T0 + timedelta(hours=1)) is started
    completing = flow(state=FlowState.COMPLETING, run_id="r")
    with pytest.raises(ConflictError) as exc:
        lifecycle.start(completing, T0)
    assert exc.value.code == "flow_completing"


def test_stop_from_each_state() -> None:
    started = lifecycle.start(flow(), T0)
    assert lifecycle.stop(started, T0).state is FlowState.STOPPED
    assert lifecycle.stop(started, T0).next_run_at is None
    running = lifecycle.claim(started, "r1", T0 + timedelta(minutes=1), LEASE, kind=SCHEDULED)
    completing = lifecycle.stop(running, T0)
    assert completing.state is FlowState.COMPLETING
    assert lifecycle.stop(completing, T0) is completing
    stopped = flow()
    assert lifecycle.stop(stopped, T0) is stopped


def test_run_cycle_started_running_started_keeps_phase_and_counts() -> None:
    started = lifecycle.start(flow(shift_ms=0), T0)
    running = lifecycle.claim(started, "r1", T0, LEASE, kind=SCHEDULED)
    assert (running.state, running.run_id, running.lease_until) == (
        FlowState.RUNNING,
        "r1",
        T0 + LEASE,
    )
    # The run took 13 minutes: the next one keeps the flow's phase (T0 + 20 min), no burst.
    done = lifecycle.finish(running, "r1", T0 + timedelta(minutes=13))
    assert done.state is FlowState.STARTED
    assert done.counter == 1
    assert done.next_run_at == T0 + timedelta(minutes=20)
    assert done.run_id is None and done.last_run_id == "r1"


def test_completing_ends_stopped() -> None:
    running = lifecycle.claim(lifecycle.start(flow(), T0), "r1", T0, LEASE, kind=SCHEDULED)
    done = lifecycle.finish(lifecycle.stop(running, T0), "r1", T0 + timedelta(seconds=5))
    assert done.state is FlowState.STOPPED
    assert done.next_run_at is None
    assert done.counter == 1


def test_one_off_from_stopped_and_utility_runs_return_to_stopped() -> None:
    one_off = lifecycle.claim(flow(), "r1", T0, LEASE, kind=SCHEDULED)
    assert lifecycle.finish(one_off, "r1", T0).state is FlowState.STOPPED
    utility = lifecycle.claim(lifecycle.start(flow(), T0), "r2", T0, LEASE, kind=FlowKind.BULK)
    assert lifecycle.finish(utility, "r2", T0).state is FlowState.STOPPED


def test_claim_refused_while_a_run_is_in_progress() -> None:
    running = lifecycle.claim(flow(), "r1", T0, LEASE, kind=SCHEDULED)
    with pytest.raises(ConflictError) as exc:
        lifecycle.claim(running, "r2", T0, LEASE, kind=SCHEDULED)
    assert exc.value.code == "run_in_progress"


def test_finish_by_a_stale_run_is_refused() -> None:
    running = lifecycle.claim(flow(), "r1", T0, LEASE, kind=SCHEDULED)
    with pytest.raises(ConflictError) as exc:
        lifecycle.finish(running, "other", T0)
    assert exc.value.code == "stale_run"
    with pytest.raises(ConflictError):
        lifecycle.renew(lifecycle.finish(running, "r1", T0), "r1", T0, LEASE)


def test_query_starts_only_moves_forward() -> None:
    running = lifecycle.claim(flow(), "r1", T0, LEASE, kind=SCHEDULED)
    earlier = T0 - timedelta(days=30)
    assert lifecycle.finish(running, "r1", T0, query_starts=earlier).query_starts == T0 - timedelta(
        days=1
    )
    assert lifecycle.finish(running, "r1", T0, query_starts=T0).query_starts == T0


def test_error_policy_stop_sends_flow_to_stopped() -> None:
    running = lifecycle.claim(lifecycle.start(flow(), T0), "r1", T0, LEASE, kind=SCHEDULED)
    assert lifecycle.finish(running, "r1", T0, stop=True).state is FlowState.STOPPED


def test_lease_expiry() -> None:
    running = lifecycle.claim(flow(), "r1", T0, LEASE, kind=SCHEDULED)
    assert not lifecycle.lease_expired(running, T0 + LEASE - timedelta(seconds=1))
    assert lifecycle.lease_expired(running, T0 + LEASE)
    renewed = lifecycle.renew(running, "r1", T0 + timedelta(minutes=9), LEASE)
    assert not lifecycle.lease_expired(renewed, T0 + LEASE)


@pytest.mark.parametrize("state", [FlowState.STARTED, FlowState.RUNNING, FlowState.COMPLETING])
def test_patch_only_while_stopped(state: FlowState) -> None:
    with pytest.raises(ConflictError) as exc:
        lifecycle.patch(flow(state=state, run_id="r"), {"interval_ms": 5000})
    assert exc.value.code == "flow_not_stopped"
    assert lifecycle.patch(flow(), {"interval_ms": 5000}).interval_ms == 5000


def test_next_due_stays_on_phase() -> None:
    due = T0
    assert lifecycle.next_due(due, 60_000, T0 - timedelta(seconds=1)) == T0
    assert lifecycle.next_due(due, 60_000, T0) == T0 + timedelta(minutes=1)
    assert lifecycle.next_due(due, 60_000, T0 + timedelta(minutes=5, seconds=1)) == T0 + timedelta(
        minutes=6
    )
