"""Sleep windows on Azurite with an injected clock: the settings row (GET/PUT, 422, racing
PUTs, a broken row), the scheduler across midnight and Berlin's spring-forward night (nothing
claimed inside, next_run_at kept, resumed on its phase after), sleeping_until in the API, and
409 for utility flows started by hand inside a window."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.api.control import ControlApi
from shared.errors import ConflictError, RequestValidationError
from shared.flows.definitions import FlowKind
from shared.flows.models import FlowState, RunStatus
from shared.flows.service import RunEnd, RunRequest
from shared.messages import RECORD_UPSERTS_QUEUE, RecordMessage, parse_record_upserts
from shared.runtime import Services
from shared.schedule.gate import SleepGate
from shared.schedule.store import PARTITION, ROW, UnreadableWindows
from shared.scheduler import tick
from tests.integration.conftest import make_settings
from tests.support.clock import WallClock
from tests.support.polling import eventually

# Berlin springs forward on 2027-03-28 at 01:00 UTC (02:00 CET -> 03:00 CEST).
NIGHT = {"start": "23:00:00", "end": "03:30:00", "time_zone": "Europe/Berlin"}
OPENS = datetime(2027, 3, 27, 22, 0, tzinfo=UTC)  # 23:00 CET
ENDS = datetime(2027, 3, 28, 1, 30, tzinfo=UTC)  # 03:30 CEST: 3.5 h later, not 4.5
BIND = "creatio-intacct.bind-accounts"
BULK = "creatio-intacct.bulk-accounts-to-intacct"


def body(*windows: dict[str, Any]) -> bytes:
    return json.dumps({"windows": list(windows)}).encode()


@pytest.fixture
def clock() -> WallClock:
    return WallClock(OPENS - timedelta(minutes=20))


@pytest.fixture
def api(services: Services, clock: WallClock) -> ControlApi:
    services.sleep.clock = clock
    return ControlApi(services.flows, services.settings, services.engine.outcomes)


async def test_windows_are_stored_read_back_and_seen_by_another_worker(
    api: ControlApi, services: Services, storage_connection_string: str, table_prefix: str
) -> None:
    assert (await api.get_sleep_windows())[1].model_dump() == {"windows": []}
    weekend = {"start": "12:00:00", "end": "12:30:00", "time_zone": "UTC", "days": ["sat"]}
    status, saved = await api.put_sleep_windows(body(NIGHT, weekend), OPENS)
    assert status == 200
    assert saved.model_dump(mode="json") == {"windows": [{**NIGHT, "days": None}, weekend]}

    other = await Services.create(make_settings(storage_connection_string, table_prefix))
    try:
        assert (await other.sleep.windows(OPENS)) == saved
        assert await other.flows.sleeping_until(OPENS + timedelta(hours=1)) == ENDS
    finally:
        await other.close()

    # Replaced whole, and an empty list turns sleeping off.
    await api.put_sleep_windows(body(), OPENS)
    assert (await api.get_sleep_windows())[1].windows == []
    assert await services.flows.sleeping_until(OPENS + timedelta(hours=1)) is None


async def test_bad_windows_are_422_naming_the_field_and_change_nothing(api: ControlApi) -> None:
    await api.put_sleep_windows(body(NIGHT), OPENS)
    cases = [
        (body({**NIGHT, "start": "25:00:00"}), "windows.0.start"),
        (body({**NIGHT, "time_zone": "Europe/Atlantis"}), "windows.0.time_zone"),
        (body({**NIGHT, "end": NIGHT["start"]}), "windows.0.end"),
        (body({**NIGHT, "days": ["mon", "someday"]}), "windows.0.days.1"),
        (body({**NIGHT, "days": "mon"}), "windows.0.days"),
        (b'{"windows": "23:00:00"}', "windows"),
        (b"not json", None),
        # Every hour of the week inside a window: flows would never run again.
        (
            body(
                {**NIGHT, "end": "23:00:00", "start": "00:00:00"},
                {**NIGHT, "start": "23:00:00", "end": "00:00:00"},
            ),
            "windows",
        ),
    ]
    for raw, field in cases:
        with pytest.raises(RequestValidationError) as raised:
            await api.put_sleep_windows(raw, OPENS)
        assert raised.value.field == field, raw
    assert (await api.get_sleep_windows())[1].model_dump() == {"windows": [{**NIGHT, "days": None}]}


async def test_racing_puts_each_land_whole(api: ControlApi, services: Services) -> None:
    variants = [
        [
            {**NIGHT, "start": f"2{n}:00:00"},
            {"start": "10:00:00", "end": f"1{n}:30:00", "time_zone": "UTC"},
        ]
        for n in range(1, 4)
    ]
    results = await asyncio.gather(*(api.put_sleep_windows(body(*v), OPENS) for v in variants))
    assert all(status == 200 for status, _ in results)
    stored = (await services.sleep.store.get()).model_dump(mode="json", exclude_none=True)
    assert stored["windows"] in variants  # one PUT's list, never a mix of two


async def test_a_broken_row_keeps_flows_awake_and_a_put_repairs_it(
    api: ControlApi, services: Services, clock: WallClock
) -> None:
    await services.sleep.store.table.upsert_entity(
        {"PartitionKey": PARTITION, "RowKey": ROW, "windows": '[{"start": "99"}]'}
    )
    with pytest.raises(UnreadableWindows) as raised:
        await api.get_sleep_windows()
    assert "PUT /api/settings/sleep-windows" in raised.value.message
    flow = "creatio-intacct.accounts-to-intacct"
    await services.flows.patch(flow, {"shift_ms": 0})
    await services.flows.start(flow, OPENS)
    report = await tick(services.flows, OPENS + timedelta(minutes=5))  # would be asleep
    assert len(report.claimed) == 1 and report.sleeping_until is None

    await api.put_sleep_windows(body(NIGHT), OPENS)
    assert (await api.get_sleep_windows())[1].windows[0].start == "23:00:00"


# (case, window, opens, ends, moments inside): a window across midnight on Berlin's spring-
# forward night, and one on New York's fall-back night, where 01:00-02:00 happens twice.
NIGHTS = [
    (
        "berlin-spring-forward",
        NIGHT,
        OPENS,
        ENDS,
        [
            datetime(2027, 3, 27, 23, 0, 1, tzinfo=UTC),  # 00:00:01 CET, after midnight
            datetime(
                2027, 3, 28, 0, 59, 59, tzinfo=UTC
            ),  # 01:59:59 CET, the second before the jump
            datetime(2027, 3, 28, 1, 0, 0, tzinfo=UTC),  # 03:00:00 CEST, right after it
        ],
    ),
    (
        "new-york-fall-back",
        {"start": "22:00:00", "end": "01:30:00", "time_zone": "America/New_York"},
        datetime(2027, 11, 7, 2, 0, tzinfo=UTC),  # 22:00 EDT on Nov 6
        datetime(2027, 11, 7, 6, 30, tzinfo=UTC),  # the second 01:30, in EST: 4.5 h later
        [
            datetime(2027, 11, 7, 4, 0, 1, tzinfo=UTC),  # 00:00:01 EDT, after midnight
            datetime(2027, 11, 7, 5, 30, 0, tzinfo=UTC),  # the first 01:30 (EDT)
            datetime(
                2027, 11, 7, 5, 59, 59, tzinfo=UTC
            ),  # 01:59:59 EDT, before the clock goes back
            datetime(2027, 11, 7, 6, 0, 0, tzinfo=UTC),  # 01:00:00 EST, the repeated hour
        ],
    ),
]


@pytest.mark.parametrize(
    ("case", "window", "opens", "ends", "moments"), NIGHTS, ids=[n[0] for n in NIGHTS]
)
async def test_nothing_is_claimed_inside_the_window_across_midnight_and_a_dst_change(
    api: ControlApi,
    services: Services,
    clock: WallClock,
    case: str,
    window: dict[str, str],
    opens: datetime,
    ends: datetime,
    moments: list[datetime],
) -> None:
    clock.set(opens - timedelta(minutes=20))
    await api.put_sleep_windows(body(window), clock())
    scheduled = [e.flow_id for e in services.catalog if e.flow.kind is FlowKind.SCHEDULED]
    due = opens + timedelta(minutes=5)
    for flow_id in scheduled:
        # Started before the window, first due 5 minutes into it, every 10 minutes.
        await services.flows.patch(flow_id, {"shift_ms": 25 * 60_000, "interval_ms": 600_000})
        await services.flows.start(flow_id, clock())
    kept = {r.flow_id: r.next_run_at for _, r in await services.flows.list()}
    assert {kept[f] for f in scheduled} == {due}

    assert (await tick(services.flows, opens - timedelta(seconds=1))).sleeping_until is None
    for moment in [due, *moments, ends - timedelta(seconds=1)]:
        clock.set(moment)
        report = await tick(services.flows, moment)
        assert report.claimed == [] and report.recovered == [], moment
        assert report.sleeping_until == ends, moment
    for _, rec in await services.flows.list():
        assert rec.next_run_at == kept[rec.flow_id]  # kept, not moved on by the sleep
        assert rec.state is (FlowState.STARTED if rec.flow_id in scheduled else FlowState.STOPPED)
        assert await services.flows.runs.list(rec.flow_id) == []

    # The API shows when the sleep ends, on every flow and in /api/status.
    flows = (await api.list_flows())[1].flows
    assert {f.sleeping_until for f in flows} == {ends}
    assert (await api.status(clock()))[1].sleeping_until == ends

    # At the window's end every flow resumes: claimed once, then back on its 10-minute phase.
    clock.set(ends)
    report = await tick(services.flows, ends)
    assert sorted(r.rsplit(".", 1)[0] for r in report.claimed) == sorted(scheduled)
    assert (await tick(services.flows, ends)).claimed == []
    assert {f.sleeping_until for f in (await api.list_flows())[1].flows} == {None}
    assert (await api.status(ends))[1].sleeping_until is None
    done = ends + timedelta(minutes=1)
    for run_id in report.claimed:
        await services.flows.finish_run(run_id, RunEnd(status=RunStatus.SUCCEEDED), done)
    for flow_id in scheduled:
        rec = await services.flows.flows.get(flow_id)
        assert rec.state is FlowState.STARTED and rec.counter == 1
        # due + k·10 min (both windows last a whole number of 10 minutes): 4 min after done.
        assert rec.next_run_at == ends + timedelta(minutes=5)


async def test_utility_flows_started_by_hand_inside_a_window_are_refused_with_409(
    api: ControlApi, services: Services, clock: WallClock
) -> None:
    await api.put_sleep_windows(body(NIGHT), clock())
    clock.set(OPENS + timedelta(hours=2))  # 01:00 CET, after midnight
    for attempt in (
        lambda: api.start_flow(BIND, clock()),
        lambda: api.run_flow(BULK, b"", clock()),
        lambda: api.run_flow(BIND, b"", clock()),
    ):
        with pytest.raises(ConflictError) as raised:
            await attempt()
        assert raised.value.code == "sleeping"
        assert "23:00:00-03:30:00 Europe/Berlin" in raised.value.message
        assert ENDS.isoformat() in raised.value.message
    for flow_id in (BIND, BULK):
        rec = await services.flows.flows.get(flow_id)
        assert rec.state is FlowState.STOPPED and rec.counter == 0
        assert await services.flows.runs.list(flow_id) == []
    # A run by hand of a scheduled flow would only wait: refused the same way.
    with pytest.raises(ConflictError):
        await services.flows.run_now("creatio-intacct.accounts-to-intacct", RunRequest(), clock())
    # Starting a scheduled flow is fine: it runs on its schedule once the window ends.
    started = await services.flows.start("creatio-intacct.accounts-to-intacct", clock())
    assert started.state is FlowState.STARTED
    await services.flows.stop("creatio-intacct.accounts-to-intacct", clock())

    clock.set(ENDS)  # after the window the same commands are accepted
    assert (await api.start_flow(BIND, clock()))[1].state is FlowState.STARTED
    await api.stop_flow(BIND, clock())
    status, accepted = await api.run_flow(BULK, b"", clock())
    assert status == 202 and accepted.run_id


async def test_a_held_record_keeps_its_counters_and_a_removed_window_releases_it(
    api: ControlApi, services: Services, clock: WallClock
) -> None:
    queue = services.storage.queue(RECORD_UPSERTS_QUEUE)
    await queue.clear_messages()
    services.sleep.recheck_seconds = 1
    await api.put_sleep_windows(body(NIGHT), clock())
    clock.set(OPENS + timedelta(hours=1))
    message = RecordMessage(
        flow_id="creatio-intacct.accounts-to-intacct",
        run_id="r-held",
        record_id="acct-1",
        modified=OPENS,
        values={"Name": "Held"},
        waits=2,
        retries=3,
    )
    assert await services.records.handle(message) is None
    assert await services.engine.outcomes.status("r-held", "acct-1") is None  # not settled

    await api.put_sleep_windows(body(), clock())  # the window is removed while it waits

    async def visible() -> list[RecordMessage]:
        found = [
            chunk.message_of(chunk.records[0])
            async for m in queue.receive_messages(max_messages=32, visibility_timeout=1)
            for chunk in [parse_record_upserts(base64.b64decode(m.content))]
        ]
        return found

    (back,) = await eventually(visible, what="the held record to come back", timeout=30)
    assert back == message  # the same record, its wait and retry counters untouched
    await queue.close()


def test_a_held_message_hides_until_the_sleep_ends_but_no_longer_than_the_recheck() -> None:
    gate = SleepGate(store=None, recheck_seconds=900)  # type: ignore[arg-type]
    assert gate.hide_for(OPENS, OPENS + timedelta(hours=3)) == 900
    assert gate.hide_for(OPENS, OPENS + timedelta(seconds=10.2)) == 11  # never a moment early
    assert gate.hide_for(OPENS, OPENS + timedelta(milliseconds=1)) == 1
