"""The Intacct emulator's benchmarking knobs over real HTTP: per-function server time (on the
injected sleep, the request in flight meanwhile), the most requests seen at once (refused
ones included), and indexed lookups that examine only matching rows among 10,000 customers
while answering exactly what a scan would."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from sandbox.emulators.intacct import GATEWAY_PATH, IntacctEmulator, Options
from sandbox.emulators.server import EmulatorServer
from shared.connectors.intacct import Call, IntacctClient
from shared.connectors.intacct import functions as fn
from tests.support.intacct import Admin, RunningIntacct, config, envelope, login_auth
from tests.support.polling import eventually


class RecordedSleep:
    def __init__(self) -> None:
        self.sleeps: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await asyncio.sleep(0)


@pytest.fixture
def sleep() -> RecordedSleep:
    return RecordedSleep()


@pytest.fixture
def emulator(sleep: RecordedSleep) -> Iterator[RunningIntacct]:
    app = IntacctEmulator(Options(), sleep=sleep)
    with EmulatorServer(app.asgi, name="intacct-bench-knobs") as server:
        admin = Admin(server.url)
        try:
            yield RunningIntacct(app, server, admin)
        finally:
            admin.close()


async def test_server_time_per_function(emulator: RunningIntacct, sleep: RecordedSleep) -> None:
    emulator.admin.options(function_time_ms=5)
    emulator.admin.knobs(latency_ms=300)
    async with IntacctClient(config(emulator.endpoint)) as client:
        await client.check()  # the login: one function
        creates = [
            Call(fn.create("CUSTOMER", {"CUSTOMERID": f"C{i}", "NAME": "n"}), "create")
            for i in range(10)
        ]
        await client.execute(creates)
    # Per request: the latency, then the server time of its functions (login: 1, check: 1,
    # then 10 creates in one request).
    assert sleep.sleeps == pytest.approx([0.3, 0.005, 0.3, 0.005, 0.3, 0.05])


async def test_the_most_requests_seen_at_once_counts_the_refused_one(
    emulator: RunningIntacct,
) -> None:
    emulator.admin.knobs(timeout_s=60)
    emulator.admin.faults({"fault": "hang", "times": 2})
    login = envelope(fn.get_api_session(), auth=login_auth())
    async with httpx.AsyncClient(base_url=emulator.url, timeout=60) as http:
        held = [asyncio.create_task(http.post(GATEWAY_PATH, content=login)) for _ in range(2)]
        await eventually(emulator.admin.stats, until=lambda s: s["held"] == 2, what="2 held")
        third = await http.post(GATEWAY_PATH, content=login)
        assert third.status_code == 429 and "GW-0010" in third.text
        for task in held:
            task.cancel()
        await asyncio.gather(*held, return_exceptions=True)
    stats = emulator.admin.stats()
    assert stats["gateway_in_flight_max"] == 3 and stats["gateway_rejected"] == 1


def _names(page: object) -> list[str]:
    return sorted(str(r["CUSTOMERID"]) for r in getattr(page, "records"))  # noqa: B009


async def test_lookups_by_value_use_an_index_and_match_a_scan(emulator: RunningIntacct) -> None:
    customers = [
        {"CUSTOMERID": f"C{i:05}", "NAME": f"Name {i % 5000}", "STATUS": "active"}
        for i in range(10_000)
    ]
    emulator.admin.seed({"CUSTOMER": customers})
    async with IntacctClient(config(emulator.endpoint)) as client:
        await client.check()
        before = emulator.admin.stats()["rows_examined"]
        page = await client.query("CUSTOMER", ["CUSTOMERID"], filter=fn.eq("NAME", "Name 7"))
        assert _names(page) == ["C00007", "C05007"]
        either = fn.compare("in", "CUSTOMERID", "C00001", "C09999", "nope")
        page = await client.query("CUSTOMER", ["CUSTOMERID"], filter=either)
        assert _names(page) == ["C00001", "C09999"]
        # Case-insensitive, inside an `and` with a condition the index does not cover.
        both = fn.all_of(fn.eq("NAME", "name 7"), fn.eq("CUSTOMERID", "C05007"))
        page = await client.query("CUSTOMER", ["CUSTOMERID"], filter=both, case_insensitive=True)
        assert _names(page) == ["C05007"]
        examined = emulator.admin.stats()["rows_examined"] - before
        assert examined <= 8  # 2 + 2 + 2 candidates, not 3 x 10,000 rows

        # The index follows writes: an update moves a row, a delete removes it, a create
        # adds it.
        await client.update("CUSTOMER", {"CUSTOMERID": "C00007", "NAME": "Renamed"})
        page = await client.query("CUSTOMER", ["RECORDNO"], filter=fn.eq("CUSTOMERID", "C05007"))
        await client.delete("CUSTOMER", [page.records[0]["RECORDNO"]])
        await client.create("CUSTOMER", {"CUSTOMERID": "NEW", "NAME": "Name 7"})
        page = await client.query("CUSTOMER", ["CUSTOMERID"], filter=fn.eq("NAME", "Name 7"))
        assert _names(page) == ["NEW"]
        page = await client.query("CUSTOMER", ["CUSTOMERID"], filter=fn.eq("NAME", "Renamed"))
        assert _names(page) == ["C00007"]
