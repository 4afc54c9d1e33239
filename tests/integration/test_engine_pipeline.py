"""The sync engine end to end on Azurite (tables and queues) with in-memory connectors: paging
through flow-runs steps, record messages, bindings, echo and unchanged suppression, mastership,
dependencies, bad records, duplicate deliveries and a worker killed between create and bind.
Every run the tests produce is checked for read = created + updated + unchanged + skipped +
failed + pending."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sandbox.pump import Pump
from shared.api.control import ControlApi
from shared.connectors.errors import ConnectorError
from shared.errors import ConflictError, ErrorCategory, NotFoundError
from shared.flows.models import RunParams, RunRecord, RunStatus
from shared.flows.service import RunRequest
from shared.messages import RecordMessage
from shared.runtime import Services
from shared.settings import Settings
from shared.storage.binding_store import BindingStore
from shared.storage.outcome_store import Outcome, PlanRow
from tests.support import engine as support
from tests.support.memory_connector import MemoryConnector, TickClock

ACCOUNTS_TO_INTACCT = "creatio-intacct.accounts-to-intacct"
CUSTOMERS_TO_CREATIO = "creatio-intacct.customers-to-creatio"
ORDERS_TO_INVOICES = "creatio-intacct.orders-to-invoices"
OPPORTUNITIES = "creatio-intacct.opportunities-to-sales-orders"


class Systems:
    """Both sides in memory; their clocks tick 1 ms per write from a minute ago, so every
    record falls in the first run's window and every write is strictly newer."""

    def __init__(self) -> None:
        start = datetime.now(UTC) - timedelta(minutes=1)
        self.creatio = MemoryConnector("creatio", clock=TickClock(start, timedelta(milliseconds=1)))
        self.intacct = MemoryConnector("intacct", clock=TickClock(start, timedelta(milliseconds=1)))

    @staticmethod
    def all(connector: MemoryConnector, object: str) -> list[dict[str, Any]]:
        return [r.values for r in connector.records[object].values()]

    @staticmethod
    def edit(connector: MemoryConnector, object: str, id: str, changes: dict[str, Any]) -> None:
        connector.seed(object, {**connector.values(object, id), **changes}, id=id)

    def factory(self, system: str, settings: Settings) -> MemoryConnector:
        return {"creatio": self.creatio, "intacct": self.intacct}[system]


@pytest.fixture
def systems() -> Systems:
    return Systems()


@pytest.fixture
async def engine_services(
    storage_connection_string: str, table_prefix: str, systems: Systems
) -> AsyncIterator[Services]:
    many_pages = {"SHUTTLE_PAGE_SIZE": "7"}
    async with support.engine_services(
        storage_connection_string, table_prefix, "creatio-intacct", many_pages, systems.factory
    ) as built:
        built.records.wait_base = 0.5  # dependency waits in tests: 0.5 s, 1 s, 2 s …
        yield built


def assert_balanced(run: RunRecord) -> None:
    c = run.counts
    assert c.read == c.created + c.updated + c.unchanged + c.skipped + c.failed + c.pending, c
    assert c.pending == 0 or not run.status.is_final


run_flow = support.run_flow


def writes(connector: MemoryConnector) -> int:
    return connector.calls["create"] + connector.calls["update"]


async def test_accounts_round_trip_then_a_quiet_cycle_writes_nothing(
    engine_services: Services, systems: Systems
) -> None:
    for n in range(20):
        systems.creatio.seed(
            "Account", {"Name": f"Acme {n:02d}", "Code": f"AC{n:02d}", "UsrActive": True}
        )
    first = await run_flow(engine_services, ACCOUNTS_TO_INTACCT)
    assert first.status is RunStatus.SUCCEEDED
    assert (first.counts.read, first.counts.created) == (20, 20)
    customers = systems.all(systems.intacct, "CUSTOMER")
    assert sorted(c["CUSTOMERID"] for c in customers) == [f"AC{n:02d}" for n in range(20)]
    assert {c["STATUS"] for c in customers} == {"active"}

    back = await run_flow(engine_services, CUSTOMERS_TO_CREATIO)
    assert back.status is RunStatus.SUCCEEDED and back.counts.read == 20
    assert systems.creatio.calls["create"] == 0  # the customers are bound: no twin accounts

    # A full cycle later with no user change: zero write calls in either system, and no
    # per-record call at all (the stored hashes recognise echoes without reading the target).
    before = writes(systems.creatio), writes(systems.intacct)
    lookups = [systems.creatio.calls[op] + systems.intacct.calls[op] for op in ("get", "find")]
    again = await run_flow(engine_services, ACCOUNTS_TO_INTACCT)
    again_back = await run_flow(engine_services, CUSTOMERS_TO_CREATIO)
    assert (writes(systems.creatio), writes(systems.intacct)) == before
    after = [systems.creatio.calls[op] + systems.intacct.calls[op] for op in ("get", "find")]
    assert after == lookups
    assert again.counts.created + again.counts.updated == 0
    assert again_back.counts.created + again_back.counts.updated == 0


async def test_a_changed_name_flows_once_and_an_erp_mastered_field_is_a_logged_conflict(
    engine_services: Services, systems: Systems
) -> None:
    acme = systems.creatio.seed("Account", {"Name": "Acme", "Code": "ACME", "UsrActive": True})
    await run_flow(engine_services, ACCOUNTS_TO_INTACCT)
    await run_flow(engine_services, CUSTOMERS_TO_CREATIO)

    systems.edit(systems.creatio, "Account", acme, {"Name": "Acme Corp", "UsrActive": False})
    before = systems.intacct.calls["update"]
    run = await run_flow(engine_services, ACCOUNTS_TO_INTACCT)
    assert run.counts.updated == 1 and systems.intacct.calls["update"] == before + 1
    (customer,) = systems.all(systems.intacct, "CUSTOMER")
    assert customer["NAME"] == "Acme Corp"
    assert customer["STATUS"] == "active"  # Intacct masters STATUS
    (conflict,) = [e for e in run.errors if e.category is ErrorCategory.CONFLICT]
    assert conflict.record == acme and conflict.field == "STATUS"
    assert "intacct masters this field" in conflict.message
    assert run.status is RunStatus.SUCCEEDED  # a conflict is logged, not a failure


async def test_bad_records_fail_alone_with_category_field_and_message(
    engine_services: Services, systems: Systems
) -> None:
    good = [systems.creatio.seed("Account", {"Name": f"Good {n}"}) for n in range(5)]
    too_long = systems.creatio.seed("Account", {"Name": "N" * 101})
    no_name = systems.creatio.seed("Account", {"Name": "  "})
    bad_id = systems.creatio.seed("Account", {"Name": "Hash Inc", "Code": "A#1"})
    control = systems.creatio.seed("Account", {"Name": "Bell\x07 Ltd"})
    rejected = systems.creatio.seed("Account", {"Name": "Refused Ltd"})
    picklist = systems.creatio.seed("Account", {"Name": "Maybe Ltd", "UsrActive": "perhaps"})
    systems.intacct.validators["CUSTOMER"] = _refuse("Refused Ltd")

    run = await run_flow(engine_services, ACCOUNTS_TO_INTACCT)
    assert run.status is RunStatus.PARTIAL
    assert (run.counts.created, run.counts.failed) == (5, 6)
    errors = {e.record: e for e in run.errors}
    assert errors[too_long].field == "NAME" and "allows 100" in errors[too_long].message
    assert errors[no_name].field == "NAME" and "required" in errors[no_name].message
    assert errors[bad_id].field == "CUSTOMERID" and "'#'" in errors[bad_id].message
    assert errors[control].field == "NAME" and "\\x07" in errors[control].message
    assert errors[rejected].category is ErrorCategory.VALIDATION
    assert errors[rejected].field == "NAME" and "refused" in errors[rejected].message
    assert errors[picklist].field == "STATUS"
    assert "'perhaps' is not an allowed value (allowed: true, false)" in errors[picklist].message
    for e in (too_long, no_name, bad_id, control, picklist):
        assert errors[e].category is ErrorCategory.VALIDATION
    assert len(systems.all(systems.intacct, "CUSTOMER")) == len(good)

    # An invalid date fails its order alone, naming the field.
    account = good[0]
    bad_date = systems.creatio.seed(
        "Order", {"Number": "O-1", "AccountId": account, "Date": "2026-02-31"}
    )
    fine = systems.creatio.seed(
        "Order", {"Number": "O-2", "AccountId": account, "Date": "2026-02-28"}
    )
    orders = await run_flow(engine_services, ORDERS_TO_INVOICES)
    assert (orders.counts.created, orders.counts.failed) == (1, 1)
    (error,) = orders.errors
    assert (error.record, error.field, error.category) == (
        bad_date,
        "WHENCREATED",
        ErrorCategory.VALIDATION,
    )
    assert "'2026-02-31' is not a date" in error.message
    (invoice,) = systems.all(systems.intacct, "ARINVOICE")
    assert invoice["RECORDID"] == "O-2" and fine != bad_date


def _refuse(name: str):  # type: ignore[no-untyped-def]
    def check(values: dict[str, Any]) -> None:
        if values.get("NAME") == name:
            raise ConnectorError(
                "the name is refused by a business rule",
                system="intacct",
                category=ErrorCategory.VALIDATION,
                field="NAME",
            )

    return check


async def test_duplicate_deliveries_and_a_kill_between_create_and_bind_make_no_twins(
    engine_services: Services, systems: Systems, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(12):
        systems.creatio.seed("Account", {"Name": f"Twin {n:02d}"})
    bindings: BindingStore = engine_services.records.bindings
    real_write = bindings.write_many
    killed: list[str] = []

    async def die_once(
        pair: str, writes: list[tuple[str, str, dict[str, Any]]], **options: Any
    ) -> None:
        # The worker dies after its chunk's creates, before their bindings are written.
        if any(crm_id not in killed for crm_id, _, _ in writes):
            killed.extend(crm_id for crm_id, _, _ in writes if crm_id not in killed)
            raise RuntimeError("worker killed")
        await real_write(pair, writes, **options)

    monkeypatch.setattr(bindings, "write_many", die_once)
    pump = Pump(engine_services, duplicate_records=True)
    run = await run_flow(engine_services, ACCOUNTS_TO_INTACCT, pump)
    assert len(killed) == 12 and pump.deliveries >= 24
    customers = systems.all(systems.intacct, "CUSTOMER")
    assert sorted(c["NAME"] for c in customers) == [f"Twin {n:02d}" for n in range(12)]
    assert run.counts.read == 12 and run.counts.failed == 0


async def test_identical_timestamps_across_pages_arrive_exactly_once(
    engine_services: Services, systems: Systems
) -> None:
    stamp = datetime.now(UTC) - timedelta(seconds=5)
    for n in range(60):
        systems.creatio.seed("Account", {"Name": f"Same {n:02d}"}, modified=stamp)
    run = await run_flow(engine_services, ACCOUNTS_TO_INTACCT)
    assert run.counts.read == 60 and run.counts.created == 60
    names = sorted(c["NAME"] for c in systems.all(systems.intacct, "CUSTOMER"))
    assert names == [f"Same {n:02d}" for n in range(60)]


async def test_a_scheduled_run_above_the_volume_limit_is_skipped_and_names_the_bulk_flow(
    engine_services: Services, systems: Systems
) -> None:
    for n in range(8):
        systems.creatio.seed("Account", {"Name": f"Many {n}"})
    flow = await engine_services.flows.flows.get(ACCOUNTS_TO_INTACCT)
    await engine_services.flows.flows.replace(flow.model_copy(update={"volume_limit": 5}))
    await engine_services.flows.start(ACCOUNTS_TO_INTACCT, datetime.now(UTC))
    flow = await engine_services.flows.flows.get(ACCOUNTS_TO_INTACCT)
    run = await engine_services.flows.claim_due(flow, flow.next_run_at or datetime.now(UTC))
    assert run is not None
    done = await Pump(engine_services).run_finished(run.id)
    assert done.status is RunStatus.SKIPPED
    assert "volume limit (5)" in done.message and "bulk-accounts-to-intacct" in done.message
    assert systems.intacct.calls["create"] == 0
    after = await engine_services.flows.flows.get(ACCOUNTS_TO_INTACCT)
    assert after.query_starts == flow.query_starts  # nothing read: the watermark stays


async def test_an_invoice_waits_for_its_customer_and_arrives_after_it(
    engine_services: Services, systems: Systems
) -> None:
    account = systems.creatio.seed("Account", {"Name": "Late Customer", "Code": "LATE"})
    order = systems.creatio.seed(
        "Order", {"Number": "ORD-1", "AccountId": account, "Date": "2026-11-02T00:00:00Z"}
    )
    pump = Pump(engine_services)
    outcomes = engine_services.records.outcomes
    invoice_run = await engine_services.flows.run_now(
        ORDERS_TO_INVOICES, RunRequest(), datetime.now(UTC)
    )

    async def row_of_order() -> PlanRow | None:
        rows, _ = await outcomes.page(invoice_run.id, after=None, limit=100)
        return next((r for r in rows if r.record == order), None)

    async def waiting() -> bool:
        row = await row_of_order()
        return row is not None and row.category == "dependency"  # None: not read yet

    await pump.until(waiting)
    assert systems.intacct.calls["create"] == 0
    row = await row_of_order()
    assert row is not None and row.message is not None
    assert "AccountId " + account + " is not synced yet (flow 'accounts-to-intacct')" in (
        row.message
    )

    accounts_run = await run_flow(engine_services, ACCOUNTS_TO_INTACCT, pump)
    assert accounts_run.counts.created == 1
    done = await pump.run_finished(invoice_run.id)
    assert_balanced(done)
    assert done.status is RunStatus.SUCCEEDED and done.counts.created == 1
    (invoice,) = systems.all(systems.intacct, "ARINVOICE")
    (customer_id,) = systems.intacct.records["CUSTOMER"]
    assert invoice["CUSTOMERID"] == customer_id and invoice["WHENCREATED"] == "11/02/2026"


async def test_only_won_opportunities_become_sales_orders_with_their_lines(
    engine_services: Services, systems: Systems
) -> None:
    won = systems.creatio.seed("OpportunityStage", {"Name": "Closed won"})
    open_stage = systems.creatio.seed("OpportunityStage", {"Name": "Proposal"})
    account = systems.creatio.seed("Account", {"Name": "Buyer", "Code": "BUY"})
    await run_flow(engine_services, ACCOUNTS_TO_INTACCT)
    widget = systems.intacct.seed("ITEM", {"ITEMID": "W-1", "NAME": "Widget"})
    await run_flow(engine_services, "creatio-intacct.items-to-creatio")
    (product,) = systems.creatio.records["Product"]

    deal = systems.creatio.seed(
        "Opportunity", {"Title": "Big deal", "StageId": won, "AccountId": account}
    )
    systems.creatio.seed(
        "Opportunity", {"Title": "Maybe", "StageId": open_stage, "AccountId": account}
    )
    for qty in (2, 3):
        systems.creatio.seed(
            "OpportunityProductInterest",
            {"OpportunityId": deal, "ProductId": product, "Quantity": qty, "Price": "9.50"},
        )
    run = await run_flow(engine_services, OPPORTUNITIES)
    assert (run.counts.read, run.counts.created) == (1, 1)  # the open deal is not read
    (order,) = systems.all(systems.intacct, "SODOCUMENT")
    assert order["TRANSACTIONTYPE"] == "Sales Order" and order["MESSAGE"] == "Big deal"
    assert sorted((line["ITEMID"], line["QUANTITY"], line["PRICE"]) for line in order["lines"]) == [
        (widget, 2, 9.5),
        (widget, 3, 9.5),
    ]


async def test_retry_re_syncs_only_the_failed_records_in_a_new_run(
    engine_services: Services, systems: Systems
) -> None:
    for n in range(4):
        systems.creatio.seed("Account", {"Name": f"Fine {n}"})
    broken = systems.creatio.seed("Account", {"Name": "Too long " + "x" * 120})
    api = ControlApi(
        engine_services.flows, engine_services.settings, engine_services.engine.outcomes
    )
    first = await run_flow(engine_services, ACCOUNTS_TO_INTACCT)
    assert (first.counts.created, first.counts.failed) == (4, 1)

    # The operator fixes the record at the source, then retries the run.
    systems.edit(systems.creatio, "Account", broken, {"Name": "Short now"})
    status, accepted = await api.retry_run(first.id, datetime.now(UTC))
    assert status == 202
    retry = await Pump(engine_services).run_finished(accepted.run_id)
    assert_balanced(retry)
    assert retry.params.retry_of == first.id and retry.params.record_ids == [broken]
    assert (retry.counts.read, retry.counts.created, retry.status) == (1, 1, RunStatus.SUCCEEDED)
    assert len(systems.all(systems.intacct, "CUSTOMER")) == 5

    with pytest.raises(ConflictError, match="no failed records"):
        await api.retry_run(retry.id, datetime.now(UTC))
    with pytest.raises(NotFoundError):
        await api.retry_run(
            "creatio-intacct.accounts-to-intacct.0000000000000-abcdef", datetime.now(UTC)
        )


async def test_a_single_run_for_an_id_the_source_lacks_is_not_a_success(
    engine_services: Services, systems: Systems
) -> None:
    real = systems.creatio.seed("Account", {"Name": "Exists"})
    single = "creatio-intacct.single-account-to-intacct"
    svc, now = engine_services.flows, datetime.now(UTC)
    pump = Pump(engine_services)

    both = await svc.run_now(single, RunRequest(params=RunParams(record_ids=[real, "ghost"])), now)
    run = await pump.run_finished(both.id)
    assert_balanced(run)
    assert run.status is RunStatus.PARTIAL
    assert (run.counts.read, run.counts.created, run.counts.failed) == (2, 1, 1)
    (error,) = run.errors
    assert (error.record, error.category) == ("ghost", ErrorCategory.NOT_FOUND)
    assert "ghost" in error.message

    only = await svc.run_now(single, RunRequest(params=RunParams(record_ids=["ghost"])), now)
    run = await pump.run_finished(only.id)
    assert (run.status, run.counts.read, run.counts.failed) == (RunStatus.FAILED, 1, 1)


async def test_a_cancelled_run_stops_between_pages_with_true_counts(
    engine_services: Services, systems: Systems
) -> None:
    """Cancel after two pages of 7 were read and one was written: no further page is read,
    the queued records are skipped unwritten, counts add up, query starts stays."""
    from shared.messages import FLOW_RUNS_QUEUE, RECORD_UPSERTS_QUEUE

    for n in range(30):
        systems.creatio.seed("Account", {"Name": f"Account {n}"})
    svc, now = engine_services.flows, datetime.now(UTC)
    before = await svc.flows.get(ACCOUNTS_TO_INTACCT)
    run = await svc.run_now(ACCOUNTS_TO_INTACCT, RunRequest(), now)
    pump = Pump(engine_services)
    flow_runs = pump._queue(FLOW_RUNS_QUEUE)
    records = pump._queue(RECORD_UPSERTS_QUEUE)
    async with flow_runs, records:
        await pump._flow_runs(flow_runs)  # start: opens the read
        await pump._flow_runs(flow_runs)  # page 1: 7 records queued
        await pump._records(records)  # ... and written
        await pump._flow_runs(flow_runs)  # page 2: 7 more queued, not written yet
    asked = await svc.cancel(run.id, now + timedelta(seconds=1))
    assert asked.status is RunStatus.RUNNING and asked.cancel_requested_at is not None
    assert (await svc.cancel(run.id, now + timedelta(seconds=2))).cancel_requested_at == (
        asked.cancel_requested_at
    )

    ended = await pump.run_finished(run.id)
    assert_balanced(ended)
    assert ended.status is RunStatus.CANCELLED
    assert (ended.counts.read, ended.counts.created, ended.counts.skipped) == (14, 7, 7)
    assert len(systems.all(systems.intacct, "CUSTOMER")) == 7
    assert "query starts was not moved" in ended.message
    after = await svc.flows.get(ACCOUNTS_TO_INTACCT)
    assert after.query_starts == before.query_starts
    assert after.state is before.state and after.run_id is None
    with pytest.raises(ConflictError) as refused:
        await svc.cancel(run.id, now)
    assert refused.value.code == "run_final"


async def test_a_429_puts_the_record_back_with_its_retry_after_instead_of_failing(
    engine_services: Services, systems: Systems
) -> None:
    systems.creatio.seed("Account", {"Name": "Throttled"})
    busy = ConnectorError(
        "slow down", category=ErrorCategory.RATE_LIMIT, system="intacct", status=429, retry_after=1
    )
    systems.intacct.fail_next("create", busy, times=2)
    pump = Pump(engine_services)
    run = await run_flow(engine_services, ACCOUNTS_TO_INTACCT, pump)
    assert (run.counts.created, run.counts.failed) == (1, 0)
    assert pump.deliveries == 3  # two re-queued messages, then the write
    assert systems.intacct.calls["create"] == 3 and len(systems.intacct.records["CUSTOMER"]) == 1


async def test_an_older_version_never_overwrites_a_newer_one_and_query_starts_moves_forward(
    engine_services: Services, systems: Systems
) -> None:
    acme = systems.creatio.seed("Account", {"Name": "Acme v1"})
    old = systems.creatio.records["Account"][acme]
    systems.edit(systems.creatio, "Account", acme, {"Name": "Acme v2"})
    run = await run_flow(engine_services, ACCOUNTS_TO_INTACCT)
    flow = await engine_services.flows.flows.get(ACCOUNTS_TO_INTACCT)
    assert flow.query_starts == run.window.to  # the window's end, once it was all settled

    # A stale message (an older run's, redelivered late) carries version 1.
    stale = RecordMessage(
        flow_id=ACCOUNTS_TO_INTACCT,
        run_id="creatio-intacct.accounts-to-intacct.0000000000001-000000",
        record_id=acme,
        modified=old.modified,
        values=old.values,
    )
    outcome = await engine_services.records.handle(stale)
    assert outcome is Outcome.SKIPPED
    (customer,) = systems.all(systems.intacct, "CUSTOMER")
    assert customer["NAME"] == "Acme v2" and systems.intacct.calls["update"] == 0


async def test_a_binding_flow_links_existing_records_of_any_age_and_creates_nothing(
    engine_services: Services, systems: Systems
) -> None:
    long_ago = datetime(2021, 3, 1, tzinfo=UTC)
    both = systems.creatio.seed(
        "Account", {"Name": "Old Partner", "Code": "OLD"}, modified=long_ago
    )
    systems.creatio.seed("Account", {"Name": "Only In Creatio"}, modified=long_ago)
    customer = systems.intacct.seed(
        "CUSTOMER",
        {"CUSTOMERID": "OLD", "NAME": "Old Partner", "STATUS": "active"},
        modified=long_ago,
    )
    run = await run_flow(engine_services, "creatio-intacct.bind-accounts")
    assert run.counts.read == 2 and run.counts.skipped == 1  # unmatched: not created
    assert systems.intacct.calls["create"] + systems.intacct.calls["update"] == 0
    binding = await engine_services.records.bindings.get("creatio-intacct.account", "crm", both)
    assert binding is not None and binding.erp_id == customer

    # Binding flows never write, even for a pair that is already bound and differs.
    systems.edit(systems.creatio, "Account", both, {"Name": "Old Partner Renamed"})
    again = await run_flow(engine_services, "creatio-intacct.bind-accounts")
    assert again.counts.unchanged == 1 and writes(systems.intacct) == 0
    # The scheduled flows see the pair as one: the change updates it, never duplicates.
    await run_flow(engine_services, ACCOUNTS_TO_INTACCT)
    assert systems.intacct.values("CUSTOMER", customer)["NAME"] == "Old Partner Renamed"


async def test_a_dry_run_works_everything_out_and_writes_nothing(
    engine_services: Services, systems: Systems
) -> None:
    for n in range(3):
        systems.creatio.seed("Account", {"Name": f"Dry {n}"})
    systems.creatio.seed("Account", {"Name": "x" * 101})
    flow_before = await engine_services.flows.flows.get(ACCOUNTS_TO_INTACCT)
    request = RunRequest(params=RunParams(dry_run=True))
    run = await engine_services.flows.run_now(ACCOUNTS_TO_INTACCT, request, datetime.now(UTC))
    done = await Pump(engine_services).run_finished(run.id)
    assert_balanced(done)
    assert (done.counts.created, done.counts.failed) == (3, 1)
    assert done.message.startswith("dry run, nothing written")
    assert writes(systems.intacct) == 0 and not systems.intacct.records["CUSTOMER"]
    flow = await engine_services.flows.flows.get(ACCOUNTS_TO_INTACCT)
    assert flow.query_starts == flow_before.query_starts
    # Nothing was bound either: the real run creates them.
    real = await run_flow(engine_services, ACCOUNTS_TO_INTACCT)
    assert real.counts.created == 3


async def test_a_target_refusing_a_missing_parent_makes_the_record_wait_not_fail(
    engine_services: Services, systems: Systems
) -> None:
    systems.creatio.seed("Account", {"Name": "Child"})
    missing = ConnectorError(
        "the referenced customer does not exist",
        system="intacct",
        category=ErrorCategory.DEPENDENCY,
        field="PARENTID",
    )
    systems.intacct.fail_next("create", missing)
    pump = Pump(engine_services)
    run = await run_flow(engine_services, ACCOUNTS_TO_INTACCT, pump)
    assert (run.counts.created, run.counts.failed) == (1, 0) and pump.deliveries == 2


async def test_a_system_without_its_settings_fails_each_record_as_auth_naming_the_setting(
    storage_connection_string: str, table_prefix: str, systems: Systems
) -> None:
    def factory(system: str, settings: Settings) -> MemoryConnector:
        if system == "intacct":
            raise ConnectorError(
                "INTACCT_SENDER_ID is not set",
                system="intacct",
                category=ErrorCategory.AUTH,
                field="INTACCT_SENDER_ID",
            )
        return systems.creatio

    systems.creatio.seed("Account", {"Name": "Nowhere to go"})
    async with support.engine_services(
        storage_connection_string, table_prefix, "creatio-intacct", None, factory
    ) as services:
        run = await run_flow(services, ACCOUNTS_TO_INTACCT)
    assert run.status is RunStatus.FAILED
    (error,) = run.errors
    assert error.category is ErrorCategory.AUTH and "INTACCT_SENDER_ID" in error.message


async def test_query_starts_never_skips_a_gap_nor_jumps_into_the_future(
    engine_services: Services, systems: Systems
) -> None:
    flow = await engine_services.flows.flows.get(ACCOUNTS_TO_INTACCT)
    now = datetime.now(UTC)
    later = RunRequest(
        window_from=flow.query_starts + timedelta(seconds=30), window_to=now + timedelta(hours=1)
    )
    run = await engine_services.flows.run_now(ACCOUNTS_TO_INTACCT, later, now)
    await Pump(engine_services).run_finished(run.id)
    assert (await engine_services.flows.flows.get(ACCOUNTS_TO_INTACCT)).query_starts == (
        flow.query_starts  # the 30 s before this window were never read
    )
    future = RunRequest(window_from=flow.query_starts, window_to=now + timedelta(hours=1))
    run = await engine_services.flows.run_now(ACCOUNTS_TO_INTACCT, future, now)
    done = await Pump(engine_services).run_finished(run.id)
    moved = (await engine_services.flows.flows.get(ACCOUNTS_TO_INTACCT)).query_starts
    assert moved == done.started_at < now + timedelta(hours=1)


async def test_ar_aging_updates_only_bound_accounts_and_never_creates_one(
    engine_services: Services, systems: Systems
) -> None:
    for code in ("C1", "C2"):
        systems.intacct.seed(
            "CUSTOMER",
            {"CUSTOMERID": code, "NAME": f"Customer {code}", "STATUS": "active"},
            id=code,
        )
    await run_flow(engine_services, CUSTOMERS_TO_CREATIO)
    accounts = {r.values["Code"]: r.id for r in systems.creatio.records["Account"].values()}
    for code, due in (("C1", "1200.50"), ("C2", "0.00"), ("GHOST", "99.00")):
        systems.intacct.seed(
            "ARAGING",
            {
                "CUSTOMERID": code,
                "AGING_0_30": "200.00",
                "AGING_31_60": "1000.50",
                "AGING_61_90": "0.00",
                "AGING_OVER_90": "0.00",
                "TOTALDUE": due,
            },
            id=code,
        )
    engine_services.records.max_waits = 1  # GHOST has no Account: one short wait, then fail
    creates = systems.creatio.calls["create"]

    aging = await run_flow(engine_services, "creatio-intacct.aging-to-creatio")
    assert (aging.counts.updated, aging.counts.failed) == (2, 1)
    assert systems.creatio.calls["create"] == creates  # no Account made for GHOST
    (ghost,) = aging.errors
    assert ghost.record == "GHOST" and ghost.category is ErrorCategory.DEPENDENCY
    assert "no bound creatio Account" in ghost.message
    c1 = systems.creatio.values("Account", accounts["C1"])
    assert (c1["UsrCurrBalPymts"], c1["UsrArOver30"], c1["UsrArOver90"]) == (1200.5, 1000.5, 0)
    assert c1["Name"] == "Customer C1"  # the account's own fields are untouched

    # Same balances next hour: nothing written. A new balance: only that account changes.
    systems.edit(systems.intacct, "ARAGING", "C2", {"TOTALDUE": "75.25"})
    before = systems.creatio.calls["update"]
    again = await run_flow(engine_services, "creatio-intacct.aging-to-creatio")
    assert systems.creatio.calls["update"] == before + 1
    assert again.counts.updated == 1
    assert systems.creatio.values("Account", accounts["C2"])["UsrCurrBalPymts"] == 75.25


async def test_a_cancel_skips_records_still_queued_once_no_delivery_can_be_writing_them(
    engine_services: Services, systems: Systems
) -> None:
    """Rows still pending CANCEL_GRACE after the cancel wait on the queue (no delivery that
    read them unmarked can still run): the cancel step skips them and ends the run; when
    their messages come, the worker finds them settled and writes nothing."""
    from shared.engine.sync_engine import CANCEL_GRACE
    from shared.messages import FLOW_RUNS_QUEUE, RECORD_UPSERTS_QUEUE

    for n in range(30):
        systems.creatio.seed("Account", {"Name": f"Account {n}"})
    svc, now = engine_services.flows, datetime.now(UTC)
    run = await svc.run_now(ACCOUNTS_TO_INTACCT, RunRequest(), now)
    pump = Pump(engine_services, clock=lambda: now + CANCEL_GRACE + timedelta(seconds=2))
    flow_runs = pump._queue(FLOW_RUNS_QUEUE)
    records = pump._queue(RECORD_UPSERTS_QUEUE)
    async with flow_runs, records:
        await pump._flow_runs(flow_runs)  # start: opens the read
        await pump._flow_runs(flow_runs)  # page 1: 7 records queued
        await svc.cancel(run.id, now + timedelta(seconds=1))
        await pump._flow_runs(flow_runs)  # the cancel step, past the grace: ends the run
        ended = await svc.runs.get(run.id)
        assert ended.status is RunStatus.CANCELLED, ended.message
        assert (ended.counts.read, ended.counts.created, ended.counts.skipped) == (7, 0, 7)
        assert "7 of them after waiting on the queue" in ended.message
        assert await pump._records(records)  # the queued chunk comes: nothing to write
    assert systems.all(systems.intacct, "CUSTOMER") == []
    assert (await svc.runs.get(run.id)).counts == ended.counts
