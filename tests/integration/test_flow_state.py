"""The flow state machine against real Table storage (Azurite): every transition, ETags,
shift, lease recovery, the solution rules and run accounting."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from shared.connectors.errors import ConnectorError
from shared.errors import ConflictError, ErrorCategory
from shared.flows.definitions import ErrorPolicy
from shared.flows.models import FlowState, RunKind, RunStatus, utcnow
from shared.flows.service import BULK_CLAIM_GRACE, RunRequest
from shared.messages import FlowRunMessage
from shared.runner import handle_flow_run, handle_flow_run_poison
from shared.runtime import Services
from shared.scheduler import tick
from shared.storage.entities import StaleWrite
from tests.integration.conftest import make_settings, queued_runs
from tests.support.engines import (
    FailingEngine,
    PlaceholderEngine,
    ReportingEngine,
    UnreachableSourceEngine,
)

ACCOUNTS = "creatio-intacct.accounts-to-intacct"  # scheduled, shift 0
CUSTOMERS = "creatio-intacct.customers-to-creatio"  # scheduled, shift 30 s
BIND = "creatio-intacct.bind-accounts"
BULK_A = "creatio-intacct.bulk-accounts-to-intacct"
BULK_B = "creatio-intacct.bulk-customers-to-creatio"
BULK_DYNAMICS = "creatio-dynamics.bulk-accounts-to-dataverse"


async def state(services: Services, flow_id: str):  # type: ignore[no-untyped-def]
    return await services.flows.flows.get(flow_id)


async def run_message(services: Services, run_id: str) -> FlowRunMessage:
    (message,) = [m for m in await queued_runs(services) if m.run_id == run_id]
    return message


async def test_every_flow_starts_stopped_with_its_defaults(services: Services) -> None:
    records = {r.flow_id: r for r in await services.flows.flows.list()}
    assert set(records) == {e.flow_id for e in services.catalog}
    assert all(r.state is FlowState.STOPPED and r.counter == 0 for r in records.values())
    assert records[CUSTOMERS].shift_ms == 30_000
    assert records[ACCOUNTS].interval_ms == 600_000


async def test_started_running_started_cycle(services: Services) -> None:
    svc, t0 = services.flows, utcnow()
    started = await svc.start(ACCOUNTS, t0)
    assert started.state is FlowState.STARTED and started.next_run_at == t0

    report = await tick(svc, t0 + timedelta(seconds=1))
    (run_id,) = report.claimed
    running = await state(services, ACCOUNTS)
    assert running.state is FlowState.RUNNING and running.run_id == run_id
    run = await svc.runs.get(run_id)
    assert (run.status, run.kind, run.number) == (RunStatus.RUNNING, RunKind.SCHEDULED, 1)
    assert run.window.from_ == running.query_starts

    message = await run_message(services, run_id)
    await handle_flow_run(svc, PlaceholderEngine(), message, t0 + timedelta(seconds=2))
    after = await state(services, ACCOUNTS)
    assert after.state is FlowState.STARTED
    assert after.counter == 1
    assert after.next_run_at == t0 + timedelta(milliseconds=after.interval_ms)
    assert after.last_run_id == run_id and after.run_id is None
    finished = await svc.runs.get(run_id)
    assert finished.status is RunStatus.SUCCEEDED and finished.counts.balanced
    assert finished.attempts == 1


async def test_stop_while_running_completes_then_stops(services: Services) -> None:
    svc, t0 = services.flows, utcnow()
    await svc.start(ACCOUNTS, t0)
    (run_id,) = (await tick(svc, t0)).claimed
    completing = await svc.stop(ACCOUNTS, t0 + timedelta(seconds=1))
    assert completing.state is FlowState.COMPLETING
    assert (await svc.stop(ACCOUNTS, t0)).state is FlowState.COMPLETING  # repeated stop
    # A COMPLETING flow is not claimed again, even long after its due time.
    assert (await tick(svc, t0 + timedelta(minutes=5))).claimed == []
    await handle_flow_run(svc, PlaceholderEngine(), await run_message(services, run_id), t0)
    stopped = await state(services, ACCOUNTS)
    assert stopped.state is FlowState.STOPPED and stopped.next_run_at is None
    assert stopped.counter == 1


async def test_stop_while_started_stops_at_once(services: Services) -> None:
    svc, t0 = services.flows, utcnow()
    await svc.start(ACCOUNTS, t0)
    stopped = await svc.stop(ACCOUNTS, t0)
    assert stopped.state is FlowState.STOPPED
    assert (await tick(svc, t0 + timedelta(hours=1))).claimed == []


async def test_shift_delays_the_first_run(services: Services) -> None:
    svc, t0 = services.flows, utcnow()
    await svc.start(CUSTOMERS, t0)  # shift_ms 30 000
    assert (await tick(svc, t0 + timedelta(seconds=29))).claimed == []
    assert (await state(services, CUSTOMERS)).state is FlowState.STARTED
    assert len((await tick(svc, t0 + timedelta(seconds=30))).claimed) == 1


@pytest.mark.parametrize("when", ["started", "running"])
async def test_patch_refused_unless_stopped(services: Services, when: str) -> None:
    svc, t0 = services.flows, utcnow()
    await svc.start(ACCOUNTS, t0)
    if when == "running":
        await tick(svc, t0)
    with pytest.raises(ConflictError) as exc:
        await svc.patch(ACCOUNTS, {"interval_ms": 60_000})
    assert exc.value.code == "flow_not_stopped"
    assert (await state(services, ACCOUNTS)).interval_ms == 600_000


async def test_patch_while_stopped_persists(services: Services) -> None:
    q = utcnow() - timedelta(days=3)
    await services.flows.patch(ACCOUNTS, {"interval_ms": 60_000, "query_starts": q, "counter": 7})
    rec = await state(services, ACCOUNTS)
    assert (rec.interval_ms, rec.query_starts, rec.counter) == (60_000, q, 7)


async def test_expired_lease_is_recovered_and_the_late_message_changes_nothing(
    services: Services,
) -> None:
    svc, t0 = services.flows, utcnow()
    await svc.start(ACCOUNTS, t0)
    before = await state(services, ACCOUNTS)
    (run_id,) = (await tick(svc, t0)).claimed
    # The worker died: nobody handles the message. Before the lease ends nothing happens...
    assert (await tick(svc, t0 + svc.lease - timedelta(seconds=1))).recovered == []
    # ...after it, the next tick recovers the flow.
    report = await tick(svc, t0 + svc.lease + timedelta(seconds=1))
    assert report.recovered == [ACCOUNTS]
    rec = await state(services, ACCOUNTS)
    assert rec.state is FlowState.STARTED and rec.run_id is None and rec.counter == 1
    assert rec.query_starts == before.query_starts, "a lost run must not advance the watermark"
    run = await svc.runs.get(run_id)
    assert run.status is RunStatus.FAILED and "lease expired" in run.message

    # The original message, delivered late, finds its run ended and changes nothing.
    await handle_flow_run(svc, PlaceholderEngine(), await run_message(services, run_id), t0)
    assert (await state(services, ACCOUNTS)).counter == 1
    assert (await svc.runs.get(run_id)).status is RunStatus.FAILED


async def test_expired_lease_on_completing_flow_ends_stopped(services: Services) -> None:
    svc, t0 = services.flows, utcnow()
    await svc.start(ACCOUNTS, t0)
    await tick(svc, t0)
    await svc.stop(ACCOUNTS, t0)
    await tick(svc, t0 + svc.lease + timedelta(seconds=1))
    assert (await state(services, ACCOUNTS)).state is FlowState.STOPPED


async def test_a_stale_etag_write_is_refused(services: Services) -> None:
    store = services.flows.flows
    first, second = await store.get(ACCOUNTS), await store.get(ACCOUNTS)
    await store.replace(first.model_copy(update={"counter": 1}))
    with pytest.raises(StaleWrite):
        await store.replace(second.model_copy(update={"counter": 2}))
    assert (await store.get(ACCOUNTS)).counter == 1


async def test_utility_flow_refused_while_a_scheduled_flow_is_active(services: Services) -> None:
    svc, t0 = services.flows, utcnow()
    await svc.start(ACCOUNTS, t0)
    with pytest.raises(ConflictError) as exc:
        await svc.start(BIND, t0)
    assert exc.value.code == "scheduled_flows_active" and ACCOUNTS in exc.value.message
    with pytest.raises(ConflictError):
        await svc.run_now(BULK_A, RunRequest(), t0)
    await svc.stop(ACCOUNTS, t0)
    assert (await svc.start(BIND, t0)).state is FlowState.STARTED
    with pytest.raises(ConflictError) as exc:
        await svc.start(ACCOUNTS, t0)
    assert exc.value.code == "utility_flow_active"


async def test_two_racing_bulk_loads_only_one_starts(
    storage_connection_string: str, table_prefix: str, services: Services
) -> None:
    # A second "host" with clients of its own, racing the first.
    other = await Services.create(make_settings(storage_connection_string, table_prefix))
    try:
        t0 = utcnow()
        results = await asyncio.gather(
            services.flows.start(BULK_A, t0), other.flows.start(BULK_B, t0), return_exceptions=True
        )
    finally:
        await other.close()
    refused = [r for r in results if isinstance(r, ConflictError)]
    assert len(refused) == 1 and refused[0].code == "bulk_load_active"
    states = {f: (await state(services, f)).state for f in (BULK_A, BULK_B)}
    assert sorted(states.values()) == [FlowState.STARTED, FlowState.STOPPED]


async def test_one_bulk_load_at_a_time_across_solutions(services: Services) -> None:
    svc, t0 = services.flows, utcnow()
    await svc.start(BULK_A, t0)
    with pytest.raises(ConflictError) as exc:
        await svc.start(BULK_DYNAMICS, t0 + timedelta(seconds=1))
    assert exc.value.code == "bulk_load_active" and BULK_A in exc.value.message
    with pytest.raises(ConflictError):
        await svc.run_now(BULK_DYNAMICS, RunRequest(), t0 + timedelta(seconds=1))
    assert (await state(services, BULK_DYNAMICS)).state is FlowState.STOPPED
    # Once the first has stopped, the slot is free (nobody has to release it).
    await svc.stop(BULK_A, t0 + timedelta(seconds=2))
    started = await svc.start(BULK_DYNAMICS, t0 + timedelta(seconds=3))
    assert started.state is FlowState.STARTED
    with pytest.raises(ConflictError) as exc:
        await svc.start(BULK_A, t0 + timedelta(seconds=4))
    assert exc.value.code == "bulk_load_active" and BULK_DYNAMICS in exc.value.message


async def test_two_bulk_loads_of_two_solutions_racing_only_one_starts(
    storage_connection_string: str, table_prefix: str, services: Services
) -> None:
    other = await Services.create(make_settings(storage_connection_string, table_prefix))
    try:
        t0 = utcnow()
        results = await asyncio.gather(
            services.flows.start(BULK_A, t0),
            other.flows.start(BULK_DYNAMICS, t0),
            return_exceptions=True,
        )
    finally:
        await other.close()
    refused = [r for r in results if isinstance(r, ConflictError)]
    assert len(refused) == 1 and refused[0].code == "bulk_load_active", results
    states = {f: (await state(services, f)).state for f in (BULK_A, BULK_DYNAMICS)}
    assert sorted(states.values()) == [FlowState.STARTED, FlowState.STOPPED]


async def test_a_bulk_slot_claimed_by_a_start_that_died_frees_itself(services: Services) -> None:
    """A claimer that died between taking the slot and starting its flow blocks others only
    for the grace period, and the flow list never shows the slot row."""
    svc, t0 = services.flows, utcnow()
    await svc.flows.take_bulk_slot(BULK_A, t0, await svc.flows.get_bulk_slot())
    with pytest.raises(ConflictError):
        await svc.start(BULK_DYNAMICS, t0 + timedelta(seconds=5))
    later = t0 + BULK_CLAIM_GRACE + timedelta(seconds=1)
    assert (await svc.start(BULK_DYNAMICS, later)).state is FlowState.STARTED
    assert {r.flow_id for r in await svc.flows.list()} == {e.flow_id for e in services.catalog}


async def test_run_now_from_stopped_is_a_one_off(services: Services) -> None:
    svc, t0 = services.flows, utcnow()
    run = await svc.run_now(ACCOUNTS, RunRequest(), t0)
    assert run.kind is RunKind.MANUAL
    assert (await state(services, ACCOUNTS)).state is FlowState.RUNNING
    with pytest.raises(ConflictError) as exc:
        await svc.run_now(ACCOUNTS, RunRequest(), t0)
    assert exc.value.code == "run_in_progress"
    await handle_flow_run(svc, PlaceholderEngine(), await run_message(services, run.id), t0)
    rec = await state(services, ACCOUNTS)
    assert (rec.state, rec.counter, rec.next_run_at) == (FlowState.STOPPED, 1, None)


async def test_run_now_from_started_keeps_the_schedule(services: Services) -> None:
    svc, t0 = services.flows, utcnow()
    await svc.start(CUSTOMERS, t0)
    due = (await state(services, CUSTOMERS)).next_run_at
    run = await svc.run_now(CUSTOMERS, RunRequest(), t0 + timedelta(seconds=1))
    await handle_flow_run(svc, PlaceholderEngine(), await run_message(services, run.id), t0)
    rec = await state(services, CUSTOMERS)
    assert rec.state is FlowState.STARTED and rec.next_run_at == due


async def test_engine_failure_then_poison_records_a_failed_run(services: Services) -> None:
    svc, t0 = services.flows, utcnow()
    await svc.start(ACCOUNTS, t0)
    (run_id,) = (await tick(svc, t0)).claimed
    message = await run_message(services, run_id)
    for _ in range(3):
        with pytest.raises(RuntimeError):
            await handle_flow_run(svc, FailingEngine(), message, t0)
    assert (await state(services, ACCOUNTS)).state is FlowState.RUNNING  # still retrying
    await handle_flow_run_poison(svc, message, t0)
    run = await svc.runs.get(run_id)
    assert run.status is RunStatus.FAILED and run.attempts == 3
    assert "flow-runs-poison" in run.message and "engine exploded" in run.message
    assert run.errors[0].category is ErrorCategory.INTERNAL
    rec = await state(services, ACCOUNTS)
    assert rec.state is FlowState.STARTED and rec.counter == 1
    # A repeated poison delivery does not count the run twice.
    await handle_flow_run_poison(svc, message, t0)
    assert (await state(services, ACCOUNTS)).counter == 1


async def test_a_dead_connection_in_poison_keeps_its_category_and_can_stop_the_flow(
    services: Services,
) -> None:
    svc, t0 = services.flows, utcnow()
    await svc.patch(ACCOUNTS, {"error_policy": ErrorPolicy.STOP_ON_CONNECTION_FAILURE})
    await svc.start(ACCOUNTS, t0)
    (run_id,) = (await tick(svc, t0)).claimed
    message = await run_message(services, run_id)
    with pytest.raises(ConnectorError):
        await handle_flow_run(svc, UnreachableSourceEngine(), message, t0)
    await handle_flow_run_poison(svc, message, t0)
    run = await svc.runs.get(run_id)
    assert run.errors[0].category is ErrorCategory.CONNECTION
    assert "connection refused" in run.errors[0].message
    assert (await state(services, ACCOUNTS)).state is FlowState.STOPPED  # the policy acted


@pytest.mark.parametrize(
    ("policy", "category", "expected"),
    [
        (ErrorPolicy.NEVER_STOP, ErrorCategory.CONNECTION, FlowState.STARTED),
        (ErrorPolicy.STOP_ON_CONNECTION_FAILURE, ErrorCategory.VALIDATION, FlowState.STARTED),
        (ErrorPolicy.STOP_ON_CONNECTION_FAILURE, ErrorCategory.CONNECTION, FlowState.STOPPED),
        (ErrorPolicy.STOP_ON_ERROR, ErrorCategory.VALIDATION, FlowState.STOPPED),
    ],
)
async def test_error_policy(
    services: Services, policy: ErrorPolicy, category: ErrorCategory, expected: FlowState
) -> None:
    svc, t0 = services.flows, utcnow()
    await svc.patch(ACCOUNTS, {"error_policy": policy})
    await svc.start(ACCOUNTS, t0)
    (run_id,) = (await tick(svc, t0)).claimed
    engine = ReportingEngine(RunStatus.PARTIAL, category)
    await handle_flow_run(svc, engine, await run_message(services, run_id), t0)
    assert (await state(services, ACCOUNTS)).state is expected
    run = await svc.runs.get(run_id)
    assert run.status is RunStatus.PARTIAL and run.errors[0].field == "Name"


async def test_runs_listed_newest_first(services: Services) -> None:
    svc, t0 = services.flows, utcnow()
    ids = []
    for i in range(3):
        run = await svc.run_now(ACCOUNTS, RunRequest(), t0 + timedelta(seconds=i))
        await handle_flow_run(svc, PlaceholderEngine(), await run_message(services, run.id), t0)
        ids.append(run.id)
    listed = await svc.runs.list(ACCOUNTS, 50)
    assert [r.id for r in listed] == ids[::-1]
    assert [r.number for r in listed] == [3, 2, 1]
