"""Per-record rules of issue 16 on Azurite with in-memory connectors: three-way conflicts,
a binding flow's unbindable records, a dry run's dependency waits, paged outcomes and a
retry of more failed records than a run row holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sandbox.pump import Pump
from shared.api import control
from shared.api.control import ControlApi
from shared.api.monitor import MonitorApi
from shared.errors import ErrorCategory
from shared.flows.models import RunParams, RunRecord, RunStatus
from shared.flows.service import RunRequest
from shared.runtime import Services
from tests.support.memory_systems import Systems, assert_balanced, writes

ACCOUNTS_TO_INTACCT = "creatio-intacct.accounts-to-intacct"
ORDERS_TO_INVOICES = "creatio-intacct.orders-to-invoices"
BIND_ACCOUNTS = "creatio-intacct.bind-accounts"
OPPORTUNITIES = "creatio-intacct.opportunities-to-sales-orders"


@pytest.fixture
def services(memory_services: Services) -> Services:
    """Both sides in memory, pages of 7 (tests/integration/conftest.py)."""
    return memory_services


async def run(services: Services, flow_id: str, params: RunParams | None = None) -> RunRecord:
    request = RunRequest(params=params or RunParams())
    started = await services.flows.run_now(flow_id, request, datetime.now(UTC))
    finished = await Pump(services).run_finished(started.id, limit_s=120)
    assert_balanced(finished)
    return finished


async def test_a_field_changed_on_both_sides_keeps_the_masters_value_and_is_logged(
    services: Services, systems: Systems
) -> None:
    codes = ("LATE", "EARLY", "ONE", "ERPONLY", "STAT")
    ids = {
        c: systems.creatio.seed("Account", {"Name": c.title(), "Code": c, "UsrActive": True})
        for c in codes
    }
    await run(services, ACCOUNTS_TO_INTACCT)
    customers = {
        c.values["CUSTOMERID"]: cid for cid, c in systems.intacct.records["CUSTOMER"].items()
    }
    now = datetime.now(UTC)

    def edit(system: Any, obj: str, rid: str, changes: dict[str, Any], ago: int) -> None:
        system.seed(
            obj,
            {**system.values(obj, rid), **changes},
            id=rid,
            modified=now - timedelta(seconds=ago),
        )

    # NAME is mastered by both sides (last change wins); Intacct masters STATUS.
    edit(systems.intacct, "CUSTOMER", customers["LATE"], {"NAME": "Late (finance)"}, 20)
    edit(systems.creatio, "Account", ids["LATE"], {"Name": "Late (sales)"}, 10)
    edit(systems.creatio, "Account", ids["EARLY"], {"Name": "Early (sales)"}, 20)
    edit(systems.intacct, "CUSTOMER", customers["EARLY"], {"NAME": "Early (finance)"}, 10)
    edit(systems.creatio, "Account", ids["ONE"], {"Name": "One renamed"}, 10)
    edit(systems.intacct, "CUSTOMER", customers["ERPONLY"], {"NAME": "Erponly (finance)"}, 20)
    # A change in Creatio to another mapped field (STATUS, blocked) makes the record sync.
    edit(systems.creatio, "Account", ids["ERPONLY"], {"UsrActive": False}, 10)
    edit(systems.intacct, "CUSTOMER", customers["STAT"], {"STATUS": "on hold"}, 20)
    edit(systems.creatio, "Account", ids["STAT"], {"UsrActive": False}, 10)
    second = await run(services, ACCOUNTS_TO_INTACCT)

    def name(code: str) -> str:
        return systems.intacct.values("CUSTOMER", customers[code])["NAME"]

    assert name("LATE") == "Late (sales)"  # both changed: Creatio's change is the later
    assert name("EARLY") == "Early (finance)"  # both changed: Intacct's change is the later
    assert name("ONE") == "One renamed"  # Creatio only: an ordinary update
    assert name("ERPONLY") == "Erponly (finance)"  # Intacct only: its change stays
    assert systems.intacct.values("CUSTOMER", customers["STAT"])["STATUS"] == "on hold"
    conflicts = {e.record: e for e in second.errors if e.category is ErrorCategory.CONFLICT}
    assert set(conflicts) == {ids["LATE"], ids["EARLY"], ids["STAT"], ids["ERPONLY"]}
    assert "changed on both sides" not in conflicts[ids["ERPONLY"]].message  # STATUS blocked
    assert conflicts[ids["LATE"]].field == "NAME"
    assert conflicts[ids["LATE"]].message == (
        'conflict: NAME changed on both sides since the last sync (creatio: "Late (sales)", '
        'intacct: "Late (finance)"); both master it and creatio\'s change is the later, so '
        "creatio's value stands"
    )
    assert "intacct's change is the later, so intacct's value stands" in (
        conflicts[ids["EARLY"]].message
    )
    stat = conflicts[ids["STAT"]]
    assert stat.field == "STATUS" and '(creatio: "inactive", intacct: "on hold")' in stat.message
    assert "intacct masters it, so intacct's value stands" in stat.message

    # The run's plan shows the update with the old (Intacct's) and new value.
    _, plan = await MonitorApi(services.flows, services.engine.outcomes).run_plan(second.id)
    items = {i.record: i for i in plan.items}
    assert items[ids["LATE"]].action == "update"
    assert items[ids["LATE"]].changes == {"NAME": ["Late (finance)", "Late (sales)"]}
    assert items[ids["EARLY"]].action == "unchanged"


async def test_a_binding_flow_reports_records_it_cannot_bind_with_the_candidates(
    services: Services, systems: Systems
) -> None:
    systems.intacct.seed("CUSTOMER", {"CUSTOMERID": "LINKME", "NAME": "Linked Ltd"})
    twin_a = systems.intacct.seed("CUSTOMER", {"CUSTOMERID": "TW1", "NAME": "Twin Co"})
    twin_b = systems.intacct.seed("CUSTOMER", {"CUSTOMERID": "TW2", "NAME": "Twin Co"})
    linked = systems.creatio.seed("Account", {"Name": "Linked Ltd", "Code": "LINKME"})
    lonely = systems.creatio.seed("Account", {"Name": "Nobody", "Code": "NOBODY"})
    twin = systems.creatio.seed("Account", {"Name": "Twin Co"})

    done = await run(services, BIND_ACCOUNTS)

    assert writes(systems.intacct) == 0  # binding flows never write
    errors = {e.record: e for e in done.errors}
    assert errors[lonely].category is ErrorCategory.NOT_FOUND
    assert errors[lonely].message.startswith("not bound: no intacct CUSTOMER matches")
    assert "CUSTOMERID='NOBODY'" in errors[lonely].message
    assert errors[twin].category is ErrorCategory.DUPLICATE
    assert twin_a in errors[twin].message and twin_b in errors[twin].message
    assert linked not in errors
    _, plan = await MonitorApi(services.flows, services.engine.outcomes).run_plan(done.id)
    actions = {i.record: i.action for i in plan.items}
    assert actions == {linked: "link", lonely: "not_bound", twin: "failed"}


async def test_a_dry_run_records_a_dependency_wait_instead_of_waiting(
    services: Services, systems: Systems
) -> None:
    account = systems.creatio.seed("Account", {"Name": "Parent not synced", "Code": "LATE"})
    order = systems.creatio.seed(
        "Order", {"Number": "ORD-1", "AccountId": account, "Date": "2026-11-02T00:00:00Z"}
    )
    dry = await run(services, ORDERS_TO_INVOICES, RunParams(dry_run=True))

    assert writes(systems.intacct) == 0
    assert dry.status is RunStatus.SUCCEEDED and dry.counts.skipped == 1
    _, plan = await MonitorApi(services.flows, services.engine.outcomes).run_plan(dry.id)
    (item,) = plan.items
    assert (item.record, item.action, item.category) == (
        order,
        "waiting_for_dependency",
        "dependency",
    )
    assert account in (item.message or "")


async def test_every_failed_record_is_paged_and_retried_past_the_run_row_cap(
    services: Services, systems: Systems, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(control, "MAX_RETRY_RECORDS", 3)
    broken = [systems.creatio.seed("Account", {"Name": f"Long {n} " + "x" * 120}) for n in range(7)]
    for n in range(3):
        systems.creatio.seed("Account", {"Name": f"Fine {n}"})
    first = await run(services, ACCOUNTS_TO_INTACCT)
    assert (first.counts.created, first.counts.failed) == (3, 7)

    monitor = MonitorApi(services.flows, services.engine.outcomes)
    seen: list[str] = []
    after: str | None = None
    pages = 0
    while True:
        query = {"outcome": "failed", "limit": "3", **({"after": after} if after else {})}
        _, page = await monitor.run_plan(first.id, query)
        pages += 1
        seen += [i.record for i in page.items]
        assert all(i.outcome == "failed" and i.field == "NAME" for i in page.items)
        if not page.truncated:
            break
        after = page.next
    assert sorted(seen) == sorted(broken) and pages == 3

    for record in broken:  # the operator shortens the names at the source
        systems.edit(systems.creatio, "Account", record, {"Name": f"Short {record[:6]}"})
    api = ControlApi(services.flows, services.settings, services.engine.outcomes)
    _, accepted = await api.retry_run(first.id, datetime.now(UTC))
    retry = await Pump(services).run_finished(accepted.run_id, limit_s=120)
    assert retry.params.record_ids is None and retry.params.retry_of == first.id
    assert (retry.counts.read, retry.counts.created, retry.status) == (7, 7, RunStatus.SUCCEEDED)
    assert len(systems.intacct.records["CUSTOMER"]) == 10


async def test_a_dry_runs_plan_shows_records_outside_the_filter_as_skipped_by_it(
    services: Services, systems: Systems
) -> None:
    won = systems.creatio.seed("OpportunityStage", {"Name": "Closed won"})
    open_stage = systems.creatio.seed("OpportunityStage", {"Name": "Proposal"})
    account = systems.creatio.seed("Account", {"Name": "Buyer", "Code": "BUY"})
    await run(services, ACCOUNTS_TO_INTACCT)
    deal = systems.creatio.seed(
        "Opportunity", {"Title": "Big deal", "StageId": won, "AccountId": account}
    )
    maybe = systems.creatio.seed(
        "Opportunity", {"Title": "Maybe", "StageId": open_stage, "AccountId": account}
    )

    dry = await run(services, OPPORTUNITIES, RunParams(dry_run=True))
    assert writes(systems.intacct) == 1  # the account only
    _, plan = await MonitorApi(services.flows, services.engine.outcomes).run_plan(dry.id)
    actions = {i.record: i.action for i in plan.items}
    assert actions == {deal: "create", maybe: "skipped_by_filter"}, plan.items
    assert dry.errors == []  # outside the filter is no error

    real = await run(services, OPPORTUNITIES)
    _, done = await MonitorApi(services.flows, services.engine.outcomes).run_plan(real.id)
    assert {i.record: i.action for i in done.items} == {deal: "create"}  # not read, not counted
