"""The preflight against the three emulators over HTTP, on Azurite: it passes on systems that
have everything; a field, custom object or alternate key removed in an emulator is named with
the flows that need it, and starting such a flow is refused (409) with the list; put back, the
start goes through. Credentials problems are `auth`, not missing fields. Provisioning takes a
Dataverse without binding columns and keys to one where the upserts by alternate key work,
and a second run changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from sandbox.provision import provision_dataverse
from shared.api.control import ControlApi
from shared.connectors.dataverse.client import DataverseClient
from shared.errors import ConflictError
from shared.flows.models import FlowState, RunStatus
from shared.preflight.runtime import preflight_of
from shared.preflight.service import PreflightService
from shared.runtime import Services
from tests.support import dataverse as dv
from tests.support.creatio import RunningCreatio
from tests.support.engine import (
    creatio_settings,
    emulator_services,
    engine_services,
    intacct_settings,
    run_flow,
)
from tests.support.intacct import RunningIntacct

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
AGING = "creatio-intacct.aging-to-creatio"
ACCOUNTS_TO_DATAVERSE = "creatio-dynamics.accounts-to-dataverse"


@pytest.fixture
async def services(
    storage_connection_string: str,
    table_prefix: str,
    creatio_emulator: RunningCreatio,
    intacct_emulator: RunningIntacct,
    dataverse_emulator: dv.RunningDataverse,
) -> AsyncIterator[Services]:
    async with emulator_services(
        storage_connection_string,
        table_prefix,
        "creatio-intacct,creatio-dynamics",
        creatio_emulator=creatio_emulator,
        intacct_emulator=intacct_emulator,
        dataverse_emulator=dataverse_emulator,
    ) as built:
        yield built


def preflight(services: Services) -> PreflightService:
    service = preflight_of(services)
    service.configured = lambda system: True  # Dataverse is configured through the factory
    return service


def api(services: Services) -> ControlApi:
    return ControlApi(
        services.flows, services.settings, services.engine.outcomes, preflight(services)
    )


def problems(report: Any) -> list[tuple[str, str, str | None, str]]:
    return sorted(
        (p.system, p.object, p.field, p.kind) for s in report.solutions for p in s.problems
    )


async def test_passes_on_systems_that_have_everything(services: Services) -> None:
    report = await preflight(services).run(NOW)
    assert problems(report) == []
    assert report.ok
    statuses = {(s.solution, c.system): c.status for s in report.solutions for c in s.systems}
    assert statuses == {
        ("creatio-intacct", "creatio"): "ok",
        ("creatio-intacct", "intacct"): "ok",
        ("creatio-dynamics", "creatio"): "ok",
        ("creatio-dynamics", "dataverse"): "ok",
    }


async def test_a_missing_creatio_field_is_named_and_blocks_its_flow_until_back(
    services: Services, creatio_emulator: RunningCreatio
) -> None:
    creatio_emulator.admin.http.delete("/metadata/Account/UsrArOver60").raise_for_status()
    report = await preflight(services).run(NOW)
    assert problems(report) == [("creatio", "Account", "UsrArOver60", "missing_field")]
    (problem,) = report.solutions[0].problems
    assert problem.flows == [AGING, "creatio-intacct.bulk-aging-to-creatio"]
    assert "UsrArOver60" in problem.fix and "decimal" in problem.fix
    with pytest.raises(ConflictError) as refused:
        await api(services).start_flow(AGING, NOW)
    assert refused.value.code == "preflight_failed"
    assert "Account has no field UsrArOver60" in refused.value.message
    # Other flows of the solution are not held back.
    _, started = await api(services).start_flow("creatio-intacct.accounts-to-intacct", NOW)
    assert started.state is FlowState.STARTED
    creatio_emulator.admin.http.post("/metadata/restore").raise_for_status()
    _, flow = await api(services).start_flow(AGING, NOW)  # the gate checks again, live
    assert flow.state is FlowState.STARTED
    assert (await preflight(services).run(NOW)).ok


async def test_a_missing_custom_object_a_short_field_and_an_intacct_field(
    services: Services, creatio_emulator: RunningCreatio, intacct_emulator: RunningIntacct
) -> None:
    creatio_emulator.admin.http.delete("/metadata/UsrCreditMemo").raise_for_status()
    intacct_emulator.admin.http.delete("/metadata/CUSTOMER/STATUS").raise_for_status()
    intacct_emulator.admin.http.delete("/metadata/ARPAYMENT").raise_for_status()
    report = await preflight(services).run(NOW)
    assert problems(report) == [
        ("creatio", "UsrCreditMemo", None, "missing_object"),  # both solutions sync it
        ("creatio", "UsrCreditMemo", None, "missing_object"),
        ("intacct", "ARPAYMENT", None, "missing_object"),
        ("intacct", "CUSTOMER", "STATUS", "missing_field"),
    ]
    by_object = {p.object: p for p in report.solutions[0].problems}
    assert by_object["UsrCreditMemo"].flows == [
        "creatio-intacct.bulk-credit-memos-to-creatio",
        "creatio-intacct.credit-memos-to-creatio",
    ]
    assert by_object["CUSTOMER"].flows == [
        f"creatio-intacct.{flow}"
        for flow in (
            "accounts-to-intacct",
            "bind-accounts",
            "bulk-accounts-to-intacct",
            "bulk-customers-to-creatio",
            "customers-to-creatio",
            "single-account-to-intacct",
        )
    ]


async def test_a_missing_or_pending_alternate_key_blocks_upserting_flows(
    services: Services, dataverse_emulator: dv.RunningDataverse
) -> None:
    admin = dataverse_emulator.admin.http
    admin.delete("/metadata/account/keys/shuttle_creatioaccountid_key").raise_for_status()
    report = await preflight(services).run(NOW)
    assert problems(report) == [("dataverse", "account", "shuttle_creatioaccountid", "missing_key")]
    problem = report.solutions[1].problems[0]
    assert "shuttle provision dataverse" in problem.fix
    assert ACCOUNTS_TO_DATAVERSE in problem.flows
    assert "creatio-dynamics.accounts-to-creatio" not in problem.flows  # reads need no key
    with pytest.raises(ConflictError, match="shuttle_creatioaccountid is not an alternate key"):
        await api(services).start_flow(ACCOUNTS_TO_DATAVERSE, NOW)
    admin.put("/metadata/options", json={"key_activation_reads": 100}).raise_for_status()
    with dataverse_emulator.http() as http:
        http.post(
            "EntityDefinitions(LogicalName='account')/Keys",
            json={
                "SchemaName": "shuttle_creatioaccountid_key",
                "KeyAttributes": ["shuttle_creatioaccountid"],
            },
        ).raise_for_status()
    pending = await preflight(services).run(NOW)
    assert problems(pending) == [
        ("dataverse", "account", "shuttle_creatioaccountid", "key_not_active")
    ]
    admin.post("/metadata/restore").raise_for_status()
    _, flow = await api(services).start_flow(ACCOUNTS_TO_DATAVERSE, NOW)
    assert flow.state is FlowState.STARTED


async def test_bad_credentials_are_auth_not_missing_fields(
    services: Services,
    storage_connection_string: str,
    table_prefix: str,
    creatio_emulator: RunningCreatio,
    intacct_emulator: RunningIntacct,
) -> None:
    secret = "Bad-Secret-42"
    cases = (
        ({"INTACCT_USER_PASSWORD": secret}, {"creatio": "ok", "intacct": "auth"}),
        ({"CREATIO_PASSWORD": secret}, {"creatio": "auth", "intacct": "ok"}),
    )
    for n, (wrong, expected) in enumerate(cases):
        settings = {
            **creatio_settings(creatio_emulator),
            **intacct_settings(intacct_emulator),
            **wrong,
        }
        async with engine_services(
            storage_connection_string, f"{table_prefix}x{n}", "creatio-intacct", settings
        ) as other:
            report = await preflight(other).run(NOW)
        (solution,) = report.solutions
        assert {c.system: c.status for c in solution.systems} == expected
        assert solution.problems == [] and not solution.ok
        assert not any(secret in c.message for c in solution.systems)  # no secret echoed


async def test_an_entity_the_company_lacks_is_named_with_the_sign_in_failure(
    services: Services,
    storage_connection_string: str,
    table_prefix: str,
    creatio_emulator: RunningCreatio,
    intacct_emulator: RunningIntacct,
) -> None:
    intacct_emulator.admin.options(entities=["E100"])  # a multi-entity company
    for entity, expected in (("E200", "auth"), ("E100", "ok")):
        settings = {
            **creatio_settings(creatio_emulator),
            **intacct_settings(intacct_emulator),
            "INTACCT_ENTITY_ID": entity,
        }
        async with engine_services(
            storage_connection_string,
            f"{table_prefix}{entity.lower()}",
            "creatio-intacct",
            settings,
        ) as other:
            (solution,) = (await preflight(other).run(NOW)).solutions
        intacct = next(c for c in solution.systems if c.system == "intacct")
        assert intacct.status == expected, intacct.message
        assert ("INTACCT_ENTITY_ID is 'E200'" in intacct.message) is (entity == "E200")
        assert solution.problems == []


async def test_provisioning_from_a_bare_dataverse_makes_upserts_work_and_is_idempotent(
    services: Services, creatio_emulator: RunningCreatio, dataverse_emulator: dv.RunningDataverse
) -> None:
    dataverse_emulator.admin.http.post("/metadata/unprovision").raise_for_status()
    dataverse_emulator.admin.put("/metadata/options", key_activation_reads=2)
    before = await preflight(services).run(NOW)
    kinds = {(p.object, p.kind) for p in before.solutions[1].problems}
    assert ("account", "missing_field") in kinds and ("salesorderdetail", "missing_field") in kinds
    # The custom invoice columns (amount paid, credited invoice) are missing too, and named.
    custom = {p.field: p for p in before.solutions[1].problems if p.object == "invoice"}
    assert "shuttle provision dataverse" in custom["shuttle_amountpaid"].fix
    assert "creatio-dynamics.credit-memos-to-creatio" in custom["shuttle_creditedinvoice"].flows
    creatio_emulator.admin.seed({"Account": [{"Name": "Northwind", "Code": "NW1"}]})
    refused = await run_flow(services, ACCOUNTS_TO_DATAVERSE)
    assert refused.status is RunStatus.FAILED  # upserts by the missing key fail

    client = DataverseClient(dv.config(dataverse_emulator))
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    try:
        dry = await provision_dataverse(services.catalog, client, dry_run=True, sleep=sleep)
        assert dry.created == 0
        assert (
            "account: would create alternate key shuttle_creatioaccountid_key on "
            "shuttle_creatioaccountid" in dry.lines
        )
        assert not (await preflight(services).run(NOW)).ok  # a dry run created nothing
        first = await provision_dataverse(services.catalog, client, sleep=sleep)
        tables = (
            "account",
            "contact",
            "incident",
            "invoice",
            "invoicedetail",
            "opportunity",
            "product",
            "salesorder",
            "salesorderdetail",
        )
        # A binding column and its key per table, and the two custom invoice columns.
        assert first.created == 2 * len(tables) + 2 and not first.failed
        assert "invoice: created column shuttle_amountpaid (money)" in first.lines
        assert "invoice: created column shuttle_creditedinvoice (text, 100)" in first.lines
        assert "account: alternate key index is Active" in first.lines
        assert slept  # it waited for Pending indexes, on the injected sleep
        second = await provision_dataverse(services.catalog, client, sleep=sleep)
        assert second.created == 0
        assert second.lines[-1].startswith("nothing to do")
    finally:
        await client.aclose()
    assert (await preflight(services).run(NOW)).ok
    run = await run_flow(services, ACCOUNTS_TO_DATAVERSE)
    assert run.status is RunStatus.SUCCEEDED, run.errors
    assert [r["shuttle_creatioaccountid"] for r in dataverse_emulator.admin.rows("account")]
    # Every table the solution upserts into takes its key: contacts and products too.
    account = creatio_emulator.rows("Account")[0]
    creatio_emulator.admin.seed(
        {
            "Contact": [
                {
                    "Name": "Ada Lovelace",
                    "Email": "ada@example.test",
                    "AccountId": str(account["Id"]),
                }
            ],
            "Product": [{"Name": "Widget", "Code": "W-1", "Price": 5}],
        }
    )
    for flow, table in (("contacts-to-dataverse", "contact"), ("products-to-dataverse", "product")):
        run = await run_flow(services, f"creatio-dynamics.{flow}")
        assert run.status is RunStatus.SUCCEEDED, run.errors
        rows = dataverse_emulator.admin.rows(table)
        assert run.counts.created == len(rows) >= 1
        assert all(r[f"shuttle_creatio{table}id"] for r in rows)
