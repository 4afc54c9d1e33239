"""A sleep window falling on a run in progress, end to end: Creatio and Intacct emulators over
HTTP, Azurite queues and tables, the in-process queue driver, and an injected clock across
Berlin's spring-forward night. The page being read when the window opens finishes; its record
messages wait (put back, never failed or poisoned, however often they come round); no further
page is read and query_starts stays while asleep; afterwards the run ends, the flow resumes on
its phase, and every record — also those changed during the window — is synced exactly once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sandbox.pump import Pump
from shared.api.control import ControlApi
from shared.flows.models import FlowState, RunStatus
from shared.messages import RECORD_UPSERTS_POISON_QUEUE
from shared.runtime import Services
from shared.scheduler import tick
from tests.support.clock import WallClock
from tests.support.creatio import RunningCreatio
from tests.support.intacct import RunningIntacct

FLOW = "creatio-intacct.accounts-to-intacct"
NIGHT = {"start": "23:00:00", "end": "03:30:00", "time_zone": "Europe/Berlin"}
OPENS = datetime(2027, 3, 27, 22, 0, tzinfo=UTC)  # 23:00 CET
ENDS = datetime(2027, 3, 28, 1, 30, tzinfo=UTC)  # 03:30 CEST, after the 02:00 -> 03:00 jump
CLAIMED = OPENS - timedelta(minutes=10)
PAGE = 5


@pytest.fixture
def intacct_engine_settings() -> dict[str, str]:
    return {"SHUTTLE_PAGE_SIZE": str(PAGE)}


@pytest.fixture
def services(intacct_services: Services) -> Services:
    return intacct_services


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def accounts(prefix: str, count: int, modified: datetime) -> list[dict[str, Any]]:
    return [
        {
            "Name": f"{prefix} {n:02d}",
            "Code": f"{prefix}{n:02d}",
            "ModifiedOn": stamp(modified + timedelta(seconds=n)),
        }
        for n in range(count)
    ]


async def test_a_window_opening_mid_run_holds_the_run_and_loses_nothing(
    services: Services, creatio_emulator: RunningCreatio, intacct_emulator: RunningIntacct
) -> None:
    clock = WallClock(CLAIMED)
    services.sleep.clock = clock
    services.sleep.recheck_seconds = 1  # put-back messages come round every second (real)
    api = ControlApi(services.flows, services.settings, services.engine.outcomes)
    await api.put_sleep_windows(json.dumps({"windows": [NIGHT]}).encode(), clock())

    creatio_emulator.admin.seed({"Account": accounts("BEFORE", 12, CLAIMED - timedelta(hours=1))})
    await services.flows.patch(
        FLOW, {"query_starts": CLAIMED - timedelta(hours=2), "shift_ms": 0, "interval_ms": 600_000}
    )
    await services.flows.start(FLOW, clock())
    (run_id,) = (await tick(services.flows, clock())).claimed

    # The window opens while the first page is being read.
    source = await services.connectors.get("creatio")
    read = source.read_changes
    pages: list[datetime] = []

    async def read_as_the_window_opens(cursor: Any) -> Any:
        page = await read(cursor)
        pages.append(clock())
        if len(pages) == 1:
            clock.set(OPENS + timedelta(minutes=5))
        return page

    source.read_changes = read_as_the_window_opens  # type: ignore[method-assign]
    pump = Pump(services, clock=clock)

    async def first_page_queued() -> bool:
        return len(pages) == 1 and (await services.engine.outcomes.tally(run_id)).counts.read > 0

    await pump.until(first_page_queued)

    # Asleep: each record message comes round again and again (more often than the five
    # deliveries after which a message is poisoned) and is put back each time.
    deliveries = pump.deliveries

    async def records_came_round_six_times() -> bool:
        counts = (await services.engine.outcomes.tally(run_id)).counts
        if counts.pending < counts.read:
            return True  # a record settled while asleep: the checks below fail on it
        return pump.deliveries >= deliveries + 6 * PAGE

    await pump.until(records_came_round_six_times)
    for moment in (datetime(2027, 3, 27, 23, 30, tzinfo=UTC), ENDS - timedelta(seconds=1)):
        clock.set(moment)  # after midnight; after the DST jump
        report = await tick(services.flows, moment)
        assert report.claimed == [] and report.recovered == []  # the sleeping run is not "dead"
    deliveries = pump.deliveries
    await pump.until(records_came_round_six_times)

    tally = (await services.engine.outcomes.tally(run_id)).counts
    assert (tally.read, tally.pending) == (PAGE, PAGE)  # the page in progress finished
    assert len(pages) == 1  # and no further page was read
    assert intacct_emulator.admin.rows("CUSTOMER") == []
    assert sum(intacct_emulator.admin.stats()["writes"].values()) == 0
    flow = await services.flows.flows.get(FLOW)
    assert flow.state is FlowState.RUNNING and flow.run_id == run_id
    assert flow.query_starts == CLAIMED - timedelta(hours=2)
    assert flow.lease_until is not None and flow.lease_until > ENDS
    run = await services.flows.runs.get(run_id)
    assert run.status is RunStatus.RUNNING and run.errors == []
    assert (await api.get_flow(FLOW))[1].sleeping_until == ENDS
    assert pump.failures == []

    # Changed at the source while asleep: read by the first scheduled run after the window.
    creatio_emulator.admin.seed({"Account": accounts("ASLEEP", 3, OPENS + timedelta(hours=1))})

    clock.set(ENDS)
    assert (await tick(services.flows, ENDS)).claimed == []  # still running its run
    finished = await pump.run_finished(run_id)
    assert finished.status is RunStatus.SUCCEEDED, finished.errors
    assert (finished.counts.read, finished.counts.created, finished.counts.failed) == (12, 12, 0)
    flow = await services.flows.flows.get(FLOW)
    assert flow.query_starts == CLAIMED  # moved only now, to the run's window end
    # Resumed on its phase: 21:50 UTC + k·10 min, the first after the window's end.
    assert flow.state is FlowState.STARTED
    assert flow.next_run_at == datetime(2027, 3, 28, 1, 40, tzinfo=UTC)

    clock.set(flow.next_run_at)
    (second,) = (await tick(services.flows, clock())).claimed
    after = await pump.run_finished(second)
    assert (after.counts.read, after.counts.created, after.counts.failed) == (3, 3, 0)

    customers = [r["CUSTOMERID"] for r in intacct_emulator.admin.rows("CUSTOMER")]
    expected = [f"BEFORE{n:02d}" for n in range(12)] + [f"ASLEEP{n:02d}" for n in range(3)]
    assert sorted(customers) == sorted(expected)  # every record, each exactly once
    assert sum(intacct_emulator.admin.stats()["writes"].values()) == 15
    poison = services.storage.queue(RECORD_UPSERTS_POISON_QUEUE)
    async with poison:
        peeked = await poison.peek_messages(max_messages=32)
    assert not any(run_id in m.content or second in m.content for m in peeked)
