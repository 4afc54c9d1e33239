"""The chunked path (issue 15) against the Creatio and Intacct emulators: a page of records
travels as one record-upserts message, its vendor calls leave in batches, and still every
record keeps its own outcome, field and retry."""

from __future__ import annotations

import asyncio
import inspect
from datetime import UTC, datetime
from typing import Any

import pytest

from sandbox.pump import Pump
from shared.engine.record_worker import SPLIT_AFTER
from shared.errors import ErrorCategory
from shared.flows.models import RunParams, RunStatus
from shared.flows.service import RunRequest
from shared.messages import parse_record_upserts
from shared.runtime import Services
from tests.support.creatio import RunningCreatio
from tests.support.engine import run_flow
from tests.support.intacct import RunningIntacct

ACCOUNTS_TO_INTACCT = "creatio-intacct.accounts-to-intacct"
ORDERS_TO_INVOICES = "creatio-intacct.orders-to-invoices"
GATEWAY = "/ia/xml/xmlgw.phtml"


@pytest.fixture
def services(intacct_services: Services) -> Services:
    """creatio-intacct over both emulators, pages of 100 (tests/support/emulator_fixtures.py)."""
    return intacct_services


def gateway_calls(admin: Any) -> int:
    return sum(n for key, n in admin.stats()["calls"].items() if GATEWAY in key)


async def test_a_chunk_of_100_with_3_bad_records_writes_97_and_fails_3_by_name_and_field(
    services: Services, creatio_emulator: RunningCreatio, intacct_emulator: RunningIntacct
) -> None:
    bad = {7, 42, 99}  # the mapping refuses a NAME over 100 characters (Intacct's limit)
    creatio_emulator.admin.seed(
        {
            "Account": [
                {
                    "Name": ("Too long " * 20 if n in bad else "Fine ") + f"{n:03d}",
                    "Code": f"C{n:03d}",
                }
                for n in range(100)
            ]
        }
    )
    before = gateway_calls(intacct_emulator.admin)
    run = await run_flow(services, ACCOUNTS_TO_INTACCT)
    assert run.status is RunStatus.PARTIAL
    assert (run.counts.read, run.counts.created, run.counts.failed) == (100, 97, 3)
    customers = intacct_emulator.admin.rows("CUSTOMER")
    assert sorted(c["CUSTOMERID"] for c in customers) == sorted(
        f"C{n:03d}" for n in range(100) if n not in bad
    )
    accounts = {str(r["Id"]).lower(): r["Code"] for r in creatio_emulator.rows("Account")}
    failed = {accounts[e.record.lower()]: e for e in run.errors if e.record}
    assert sorted(failed) == [f"C{n:03d}" for n in sorted(bad)]
    for error in failed.values():
        assert error.category is ErrorCategory.VALIDATION and error.field == "NAME"
    # Coalesced: a login, the matches and the creates of the whole chunk in a handful of
    # requests, not two or more per record.
    assert gateway_calls(intacct_emulator.admin) - before <= 12


async def test_a_chunk_whose_whole_request_fails_is_retried_whole_then_split(
    services: Services,
    creatio_emulator: RunningCreatio,
    intacct_emulator: RunningIntacct,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    creatio_emulator.admin.seed({"Account": [{"Name": f"Split {n:02d}"} for n in range(20)]})
    queue = services.records.queue
    real_send = queue.send_message
    sent: list[int] = []

    async def spy(text: str, **kwargs: Any) -> Any:
        sent.append(len(parse_record_upserts(text).records))
        return await real_send(text, **kwargs)

    monkeypatch.setattr(queue, "send_message", spy)
    # Every request of two whole deliveries (each call tried 5 times by the client) resets
    # the connection; after that Intacct answers again.
    intacct_emulator.admin.faults({"fault": "drop", "path": GATEWAY, "times": 5 * SPLIT_AFTER})
    run = await run_flow(services, ACCOUNTS_TO_INTACCT, Pump(services), limit_s=240)
    assert (run.counts.read, run.counts.created, run.counts.failed) == (20, 20, 0), run.errors
    # Queued as one chunk by the page step, put back whole once, then record by record.
    assert sent == [20, 20] + [1] * 20
    names = sorted(c["NAME"] for c in intacct_emulator.admin.rows("CUSTOMER"))
    assert names == [f"Split {n:02d}" for n in range(20)]


async def test_the_engine_never_writes_a_run_row_the_flow_service_does(
    services: Services,
    creatio_emulator: RunningCreatio,
    intacct_emulator: RunningIntacct,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from shared.engine import sync_engine

    # A run with progress to show (pending records, records outside every window reported
    # by their number) and several steps to queue.
    monkeypatch.setattr(sync_engine, "OUTSIDE_READ_LIMIT", 2)
    far = datetime(9999, 12, 31, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"
    creatio_emulator.admin.seed(
        {
            "Account": [
                *({"Name": f"Far {n}", "ModifiedOn": far} for n in range(3)),
                *({"Name": f"Near {n:03d}"} for n in range(150)),
            ]
        }
    )
    writers: list[str] = []
    table = services.flows.runs.table
    for name in ("create_entity", "update_entity", "upsert_entity", "submit_transaction"):
        real = getattr(table, name)

        def spy(*args: Any, _real: Any = real, **kwargs: Any) -> Any:
            writers.extend(f.filename for f in inspect.stack()[1:])
            return _real(*args, **kwargs)

        monkeypatch.setattr(table, name, spy)
    run = await run_flow(services, ACCOUNTS_TO_INTACCT)
    assert run.counts.created == 150 and run.errors[0].field == "ModifiedOn"
    assert any(w.endswith("shared/flows/service.py") for w in writers)
    assert not [w for w in writers if "/shared/engine/" in w]


class WorkerKilled(BaseException):
    """The process dies: no handler of the engine catches it (BaseException, as a kill)."""


async def test_a_worker_killed_halfway_through_a_chunk_leaves_no_twin_and_counts_created(
    services: Services,
    creatio_emulator: RunningCreatio,
    intacct_emulator: RunningIntacct,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    creatio_emulator.admin.seed({"Account": [{"Name": f"Half {n:02d}"} for n in range(20)]})
    intacct = await services.connectors.get("intacct")
    real_create_many = intacct.create_many  # type: ignore[attr-defined]
    killed: list[int] = []

    async def die_halfway(object: str, items: list[Any]) -> Any:
        if killed:
            return await real_create_many(object, items)
        # Half of the chunk's creates reach Intacct, then the worker dies: no binding and
        # no outcome of the chunk is written, and the queue delivers the chunk again.
        half = len(items) // 2
        await real_create_many(object, items[:half])
        killed.append(half)
        raise WorkerKilled

    monkeypatch.setattr(intacct, "create_many", die_halfway)
    real_handle = services.records.handle_chunk

    async def handle(chunk: Any) -> Any:
        try:
            return await real_handle(chunk)
        except WorkerKilled:
            raise RuntimeError("worker killed") from None  # the host redelivers the message

    monkeypatch.setattr(services.records, "handle_chunk", handle)
    pump = Pump(services)
    run = await run_flow(services, ACCOUNTS_TO_INTACCT, pump)
    assert killed == [10] and any("worker killed" in f for f in pump.failures)
    # Every record's outcome is what happened to it the first time: created, also for the
    # ten whose create the killed delivery made.
    assert (run.counts.read, run.counts.created, run.counts.failed) == (20, 20, 0), run.errors
    names = sorted(c["NAME"] for c in intacct_emulator.admin.rows("CUSTOMER"))
    assert names == [f"Half {n:02d}" for n in range(20)]  # one customer each, no twin
    bindings = services.records.bindings
    pair = "creatio-intacct.account"
    for account in creatio_emulator.rows("Account"):
        assert await bindings.get(pair, "crm", str(account["Id"])) is not None


async def test_a_quiet_cycle_on_the_chunked_path_writes_nothing_and_calls_intacct_not_at_all(
    services: Services, creatio_emulator: RunningCreatio, intacct_emulator: RunningIntacct
) -> None:
    creatio_emulator.admin.seed({"Account": [{"Name": f"Quiet {n:03d}"} for n in range(150)]})
    first = await run_flow(services, ACCOUNTS_TO_INTACCT)
    assert (first.counts.read, first.counts.created) == (150, 150)
    before = gateway_calls(intacct_emulator.admin)
    quiet = await run_flow(services, ACCOUNTS_TO_INTACCT)
    # Re-read (a full window), recognised by their bindings' hashes: no Intacct request.
    assert (quiet.counts.read, quiet.counts.unchanged) == (150, 150)
    assert gateway_calls(intacct_emulator.admin) == before


async def test_a_dry_runs_records_waiting_for_a_parent_are_planned_at_once_not_put_back(
    services: Services,
    creatio_emulator: RunningCreatio,
    intacct_emulator: RunningIntacct,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Orders of accounts never synced: a real run would put them back to wait; a dry run
    # writes no parent, so it says at once what each order waits for.
    parents = [{"Name": f"Parent {n}", "Code": f"P{n}"} for n in range(3)]
    creatio_emulator.admin.seed({"Account": parents})
    creatio_emulator.admin.seed(
        {
            "Order": [
                {"Number": f"DRY-{n}", "AccountId": str(a["Id"]), "Date": "2026-11-20T00:00:00Z"}
                for n, a in enumerate(creatio_emulator.rows("Account"))
            ]
        }
    )
    queue = services.records.queue
    real_send = queue.send_message
    put_back: list[int] = []

    async def spy(text: str, **kwargs: Any) -> Any:
        if kwargs.get("visibility_timeout"):
            put_back.append(len(parse_record_upserts(text).records))
        return await real_send(text, **kwargs)

    monkeypatch.setattr(queue, "send_message", spy)
    before = sum(intacct_emulator.admin.stats()["writes"].values())
    request = RunRequest(params=RunParams(dry_run=True))
    run = await services.flows.run_now(ORDERS_TO_INVOICES, request, datetime.now(UTC))
    done = await Pump(services).run_finished(run.id)
    assert (done.counts.read, done.counts.skipped, done.counts.failed) == (3, 3, 0)
    assert put_back == []  # no wait on the queue
    rows, _ = await services.engine.outcomes.page(run.id, after=None, limit=10)
    assert [r.action for r in rows] == ["waiting_for_dependency"] * 3
    assert all(r.category == "dependency" and r.message for r in rows)
    assert sum(intacct_emulator.admin.stats()["writes"].values()) == before


async def test_three_records_intacct_refuses_inside_a_chunks_request_fail_alone(
    services: Services,
    creatio_emulator: RunningCreatio,
    intacct_emulator: RunningIntacct,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sandbox.emulators.intacct.schema import OBJECTS

    # Intacct itself refuses them (here: names over 40 characters, which the mapping lets
    # through), each in its own function of the one multi-function request.
    monkeypatch.setitem(OBJECTS["CUSTOMER"].max_lengths, "NAME", 40)
    bad = {3, 50, 97}
    accounts = [
        {
            "Name": ("Longer than Intacct takes " * 2 if n in bad else "Fine ") + f"{n:03d}",
            "Code": f"R{n:03d}",
        }
        for n in range(100)
    ]
    creatio_emulator.admin.seed({"Account": accounts})
    before = gateway_calls(intacct_emulator.admin)
    run = await run_flow(services, ACCOUNTS_TO_INTACCT)
    assert (run.counts.read, run.counts.created, run.counts.failed) == (100, 97, 3), run.errors
    customers = sorted(c["CUSTOMERID"] for c in intacct_emulator.admin.rows("CUSTOMER"))
    assert customers == [f"R{n:03d}" for n in range(100) if n not in bad]
    by_code = {str(r["Id"]).lower(): r["Code"] for r in creatio_emulator.rows("Account")}
    failed = {by_code[e.record.lower()]: e for e in run.errors if e.record}
    assert sorted(failed) == [f"R{n:03d}" for n in sorted(bad)]
    for error in failed.values():
        assert error.category is ErrorCategory.VALIDATION, error
        assert error.field == "NAME" and "40" in error.message, error
    assert gateway_calls(intacct_emulator.admin) - before <= 12  # one request, not 100


async def test_a_worker_killed_between_the_target_rows_and_its_own_leaves_no_twin(
    services: Services,
    creatio_emulator: RunningCreatio,
    intacct_emulator: RunningIntacct,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A pair's two binding rows live in two partitions (shared/storage/binding_store.py):
    the target's row is written first, the record's own last. A worker that dies in
    between leaves Intacct's rows only; the redelivered records, unbound on their own
    side, link their customers again instead of creating twins."""
    creatio_emulator.admin.seed({"Account": [{"Name": f"Split {n:02d}"} for n in range(20)]})
    table = services.records.bindings.table
    real_submit = table.submit_transaction
    sides: list[str] = []  # of the binding transactions, in order
    killed: list[str] = []

    async def die_at_the_second_side(operations: Any, **kwargs: Any) -> Any:
        side = operations[0][1]["PartitionKey"].split("|")[1]
        if side in ("crm", "erp") and not killed:
            if sides and side != sides[0]:
                killed.append(side)
                raise RuntimeError("worker killed")
            sides.append(side)
        return await real_submit(operations, **kwargs)

    monkeypatch.setattr(table, "submit_transaction", die_at_the_second_side)
    pump = Pump(services)
    run = await run_flow(services, ACCOUNTS_TO_INTACCT, pump)
    assert (sides[0], killed) == ("erp", ["crm"]) and any(
        "worker killed" in f for f in pump.failures
    )
    assert (run.counts.read, run.counts.created, run.counts.failed) == (20, 20, 0), run.errors
    customers = intacct_emulator.admin.rows("CUSTOMER")
    assert sorted(c["NAME"] for c in customers) == [f"Split {n:02d}" for n in range(20)]
    bindings = services.records.bindings
    pair = "creatio-intacct.account"
    by_name = {c["NAME"]: str(c["CUSTOMERID"]) for c in customers}
    for account in creatio_emulator.rows("Account"):
        mine = await bindings.get(pair, "crm", str(account["Id"]))
        assert mine is not None and mine.erp_id == by_name[account["Name"]]
        theirs = await bindings.get(pair, "erp", mine.erp_id)
        assert theirs is not None and theirs.crm_id == str(account["Id"])


async def test_a_worker_killed_after_binding_a_chunk_before_settling_it_counts_created(
    services: Services,
    creatio_emulator: RunningCreatio,
    intacct_emulator: RunningIntacct,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    creatio_emulator.admin.seed({"Account": [{"Name": f"Bound {n:02d}"} for n in range(20)]})
    outcomes = services.records.outcomes
    real_settle_many = outcomes.settle_many
    killed: list[int] = []

    async def die_once(run_id: str, settled: list[Any], **kwargs: Any) -> Any:
        # The chunk's creates are done and its bindings written; the worker dies before
        # the outcomes are settled, and the queue delivers the chunk again.
        if not killed:
            killed.append(len(settled))
            raise RuntimeError("worker killed")
        return await real_settle_many(run_id, settled, **kwargs)

    monkeypatch.setattr(outcomes, "settle_many", die_once)
    pump = Pump(services)
    run = await run_flow(services, ACCOUNTS_TO_INTACCT, pump)
    assert killed == [20] and any("worker killed" in f for f in pump.failures)
    # What happened to each record the first time: created (not unchanged, as the second
    # delivery, finding them bound with the same values, would say).
    assert (run.counts.read, run.counts.created, run.counts.failed) == (20, 20, 0), run.errors
    names = sorted(c["NAME"] for c in intacct_emulator.admin.rows("CUSTOMER"))
    assert names == [f"Bound {n:02d}" for n in range(20)]


async def test_a_run_cancelled_while_a_chunk_is_being_written_counts_every_written_record(
    services: Services,
    creatio_emulator: RunningCreatio,
    intacct_emulator: RunningIntacct,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The cancel step runs while a chunk's creates are on their way to Intacct (held on an
    event, released after the step): the run ends cancelled only once that chunk settled,
    and counts created exactly the customers Intacct holds (issue 16 item 5)."""
    from shared.messages import FLOW_RUNS_QUEUE, RECORD_UPSERTS_QUEUE

    creatio_emulator.admin.seed({"Account": [{"Name": f"Stop {n:02d}"} for n in range(30)]})
    intacct = await services.connectors.get("intacct")
    real_create_many = intacct.create_many  # type: ignore[attr-defined]
    writing, release = asyncio.Event(), asyncio.Event()

    async def held(object: str, items: list[Any]) -> Any:
        writing.set()
        await release.wait()
        return await real_create_many(object, items)

    monkeypatch.setattr(intacct, "create_many", held)
    svc, now = services.flows, datetime.now(UTC)
    run = await svc.run_now(ACCOUNTS_TO_INTACCT, RunRequest(params=RunParams(batch_size=10)), now)
    pump = Pump(services)
    flow_runs = pump._queue(FLOW_RUNS_QUEUE)
    records = pump._queue(RECORD_UPSERTS_QUEUE)
    async with flow_runs, records:
        await pump._flow_runs(flow_runs)  # start: opens the read
        await pump._flow_runs(flow_runs)  # page 1: 10 records queued
        worker = asyncio.create_task(pump._records(records))
        await writing.wait()  # page 1's chunk is writing its creates
        await svc.cancel(run.id, now)
        await pump._flow_runs(flow_runs)  # the cancel step, instead of page 2
        release.set()
        await worker
    ended = await pump.run_finished(run.id)
    assert ended.status is RunStatus.CANCELLED, ended.message
    written = intacct_emulator.admin.rows("CUSTOMER")
    c = ended.counts
    assert len(written) == 10
    assert (c.read, c.created, c.skipped, c.pending) == (10, len(written), 0, 0), c
    assert c.read == c.created + c.updated + c.unchanged + c.skipped + c.failed
    assert "query starts was not moved" in ended.message
