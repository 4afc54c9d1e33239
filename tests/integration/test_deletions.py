"""Deletion and deactivation on Azurite with in-memory connectors: a bound record deleted at
the source is reported by the next full bulk run (`deleted at source`, with its binding) and
nothing changes in the target, unless the mapping says `on_delete: deactivate`; a customer
deactivated in Intacct becomes an inactive Account in Creatio."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sandbox.pump import Pump
from shared.api.monitor import MonitorApi
from shared.errors import ErrorCategory
from shared.flows.catalog import SOLUTIONS_DIR, load_catalog
from shared.flows.models import RunParams, RunRecord, RunStatus
from shared.flows.service import RunRequest
from shared.messages import FLOW_RUNS_QUEUE, RECORD_UPSERTS_QUEUE
from shared.runtime import Services
from shared.settings import Settings
from tests.support.memory_systems import Systems, assert_balanced, writes

ACCOUNTS_TO_INTACCT = "creatio-intacct.accounts-to-intacct"
CUSTOMERS_TO_CREATIO = "creatio-intacct.customers-to-creatio"
BULK_ACCOUNTS = "creatio-intacct.bulk-accounts-to-intacct"
DEACTIVATE = """      binding: account
      on_delete: deactivate
      inactive: {STATUS: inactive}
"""


async def built(conn: str, prefix: str, systems: Systems, directory: Path) -> Services:
    settings = Settings.model_validate(
        {
            "AzureWebJobsStorage": conn,
            "SHUTTLE_TABLE_PREFIX": prefix,
            "SHUTTLE_SOLUTIONS": "creatio-intacct",
        }
    )
    catalog = load_catalog(["creatio-intacct"], directory)
    services = await Services.create(settings, factory=systems.factory, catalog=catalog)
    for name in (FLOW_RUNS_QUEUE, RECORD_UPSERTS_QUEUE):
        await services.storage.queue(name).clear_messages()
    return services


@pytest.fixture
async def services(
    storage_connection_string: str, table_prefix: str, systems: Systems
) -> AsyncIterator[Services]:
    made = await built(storage_connection_string, table_prefix, systems, SOLUTIONS_DIR)
    yield made
    await made.close()


@pytest.fixture
async def deactivating(
    storage_connection_string: str, table_prefix: str, systems: Systems, tmp_path: Path
) -> AsyncIterator[Services]:
    """The shipped solution, with accounts-to-intacct saying `on_delete: deactivate`."""
    text = (SOLUTIONS_DIR / "creatio-intacct.yaml").read_text(encoding="utf-8")
    head, sep, tail = text.partition("      binding: account\n")
    assert sep, "the accounts mapping moved"
    (tmp_path / "creatio-intacct.yaml").write_text(head + DEACTIVATE + tail, encoding="utf-8")
    made = await built(storage_connection_string, table_prefix, systems, tmp_path)
    yield made
    await made.close()


async def run(services: Services, flow_id: str, params: RunParams | None = None) -> RunRecord:
    started = await services.flows.run_now(
        flow_id, RunRequest(params=params or RunParams()), datetime.now(UTC)
    )
    done = await Pump(services).run_finished(started.id, limit_s=120)
    assert_balanced(done)
    return done


async def seed_and_sync(services: Services, systems: Systems) -> tuple[str, str]:
    kept = systems.creatio.seed("Account", {"Name": "Kept", "Code": "KEPT", "UsrActive": True})
    gone = systems.creatio.seed("Account", {"Name": "Gone", "Code": "GONE", "UsrActive": True})
    assert (await run(services, ACCOUNTS_TO_INTACCT)).counts.created == 2
    assert kept
    return gone, next(
        cid
        for cid, c in systems.intacct.records["CUSTOMER"].items()
        if c.values["CUSTOMERID"] == "GONE"
    )


async def test_a_bound_record_deleted_at_the_source_is_reported_and_nothing_is_deleted(
    services: Services, systems: Systems
) -> None:
    gone, customer = await seed_and_sync(services, systems)
    del systems.creatio.records["Account"][gone]  # deleted in Creatio
    before = writes(systems.intacct)

    bulk = await run(services, BULK_ACCOUNTS)

    assert writes(systems.intacct) == before  # `report` (the default) changes nothing
    assert systems.intacct.values("CUSTOMER", customer)["STATUS"] == "active"
    assert bulk.status is RunStatus.SUCCEEDED
    (deleted,) = [e for e in bulk.errors if e.category is ErrorCategory.NOT_FOUND]
    assert deleted.record == gone
    assert deleted.message == (
        f"deleted at source: creatio Account {gone}; bound to intacct CUSTOMER {customer}"
    )
    _, plan = await MonitorApi(services.flows, services.engine.outcomes).run_plan(bulk.id)
    assert {i.record: i.action for i in plan.items}[gone] == "deleted_at_source"


async def test_on_delete_deactivate_makes_the_bound_target_record_inactive(
    deactivating: Services, systems: Systems
) -> None:
    gone, customer = await seed_and_sync(deactivating, systems)
    del systems.creatio.records["Account"][gone]

    dry = await run(deactivating, BULK_ACCOUNTS, RunParams(dry_run=True))
    assert systems.intacct.values("CUSTOMER", customer)["STATUS"] == "active"
    _, plan = await MonitorApi(deactivating.flows, deactivating.engine.outcomes).run_plan(dry.id)
    (item,) = [i for i in plan.items if i.record == gone]
    assert (item.action, item.changes) == ("deleted_at_source", {"STATUS": ["active", "inactive"]})

    bulk = await run(deactivating, BULK_ACCOUNTS)
    assert systems.intacct.values("CUSTOMER", customer)["STATUS"] == "inactive"
    assert len(systems.intacct.records["CUSTOMER"]) == 2  # deactivated, never deleted
    (deleted,) = [e for e in bulk.errors if e.record == gone]
    assert "deactivated there (on_delete: deactivate)" in deleted.message
    assert bulk.counts.updated == 1

    again = await run(deactivating, BULK_ACCOUNTS)  # reported again, written once
    assert again.counts.updated == 0 and "already inactive" in again.errors[0].message


async def test_a_customer_deactivated_in_intacct_is_an_inactive_account_in_creatio(
    services: Services, systems: Systems
) -> None:
    account = systems.creatio.seed("Account", {"Name": "Active", "Code": "ACT", "UsrActive": True})
    await run(services, ACCOUNTS_TO_INTACCT)
    await run(services, CUSTOMERS_TO_CREATIO)
    (customer,) = systems.intacct.records["CUSTOMER"]
    systems.edit(systems.intacct, "CUSTOMER", customer, {"STATUS": "inactive"})

    back = await run(services, CUSTOMERS_TO_CREATIO)
    assert back.counts.updated == 1
    assert systems.creatio.values("Account", account)["UsrActive"] is False
