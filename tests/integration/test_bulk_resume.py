"""A bulk load whose worker dies mid-run (its flow-runs message held and never finished, its
lease expired) continues from its last durably queued page on the next scheduler tick, and
every record still arrives exactly once, even when the dead worker's message comes back."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from sandbox.pump import Pump
from shared.api.control import run_view
from shared.flows.models import RunKind, RunStatus
from shared.flows.service import RunRequest
from shared.messages import FLOW_RUNS_QUEUE, FlowRunMessage
from shared.runtime import Services
from shared.scheduler import tick
from tests.support import engine as support
from tests.support.memory_systems import Systems, assert_balanced

BULK = "creatio-intacct.bulk-accounts-to-intacct"


@pytest.fixture
async def services(
    storage_connection_string: str, table_prefix: str, systems: Systems
) -> AsyncIterator[Services]:
    async with support.engine_services(
        storage_connection_string,
        table_prefix,
        "creatio-intacct",
        {"SHUTTLE_PAGE_SIZE": "5"},
        systems.factory,
    ) as built:
        yield built


async def test_a_bulk_load_whose_worker_dies_resumes_and_syncs_each_record_once(
    services: Services, systems: Systems
) -> None:
    for n in range(32):
        systems.creatio.seed("Account", {"Name": f"Bulk {n:02d}"})
    run = await services.flows.run_now(BULK, RunRequest(), datetime.now(UTC))
    assert run.kind is RunKind.BULK
    pump = Pump(services)

    async def two_pages_queued() -> bool:
        saved = (await services.flows.runs.get(run.id)).resume
        return saved is not None and FlowRunMessage.model_validate_json(saved).page >= 2

    await pump.until(two_pages_queued)
    # The worker takes the next step and dies holding it: the message stays invisible.
    queue = services.storage.queue(FLOW_RUNS_QUEUE)
    async with queue:
        held = [m async for m in queue.receive_messages(max_messages=1, visibility_timeout=3600)]
    (lost,) = held
    assert FlowRunMessage.model_validate_json(base64.b64decode(lost.content)).run_id == run.id
    created_before = len(systems.intacct.records["CUSTOMER"])
    assert created_before < 32  # the load is really cut short

    # Past the lease, the scheduler's tick resumes the run instead of failing it.
    later = datetime.now(UTC) + services.flows.lease + timedelta(minutes=1)
    report = await tick(services.flows, later)
    assert report.recovered == [BULK]
    resumed = await services.flows.runs.get(run.id)
    assert resumed.status is RunStatus.RUNNING and resumed.resumes == 1
    assert "resumed" in resumed.message
    assert run_view(resumed).resumes == 1  # shown by GET /api/runs/{id}

    # The dead worker's message comes back too: two chains of steps, one outcome per record.
    async with queue:
        await queue.update_message(lost.id, pop_receipt=lost.pop_receipt, visibility_timeout=0)
    done = await pump.run_finished(run.id)
    assert_balanced(done)
    assert done.status is RunStatus.SUCCEEDED, (done.message, done.errors)
    assert (done.counts.read, done.counts.created, done.counts.failed) == (32, 32, 0)
    names = sorted(c.values["NAME"] for c in systems.intacct.records["CUSTOMER"].values())
    assert names == [f"Bulk {n:02d}" for n in range(32)]
