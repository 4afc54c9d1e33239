"""The demo's start-up (sandbox/demo) against real parts: the session's Azurite and the
emulators started by `shuttle`'s own starters on free ports, as `shuttle demo` starts them."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from sandbox import cli
from sandbox.azurite import Azurite, free_port
from sandbox.demo import STARTED_EMULATORS, data
from sandbox.demo.flows import INTERVAL_MS, SHIFT_DIVISOR
from sandbox.demo.service import orientation, run_demo
from sandbox.emulators.creatio.service import start_local as start_creatio_elsewhere
from sandbox.tls import TRUST_VARIABLES, ensure_tls
from shared.engine.plan import plan_for
from shared.errors import DefinitionError
from shared.flows.catalog import Catalog, load_catalog
from shared.flows.definitions import FlowKind
from shared.flows.models import FlowRecord, FlowState
from shared.runtime import Services
from shared.settings import Settings
from tests.support.creatio import login

SOLUTIONS = ("creatio-intacct", "creatio-dynamics")


@dataclass
class Stack:
    args: argparse.Namespace
    urls: dict[str, str]


@pytest.fixture
def demo_env(
    azurite: Azurite, table_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    urls = {
        "creatio": f"http://127.0.0.1:{free_port()}",
        "intacct": f"http://127.0.0.1:{free_port()}",
        "dataverse": f"https://127.0.0.1:{free_port()}",
        "identity": f"https://127.0.0.1:{free_port()}",
    }
    env = {
        "AzureWebJobsStorage": azurite.connection_string,
        "SHUTTLE_TABLE_PREFIX": table_prefix,
        "SHUTTLE_SOLUTIONS": ",".join(SOLUTIONS),
        "CREATIO_URL": urls["creatio"],
        "INTACCT_ENDPOINT": f"{urls['intacct']}/ia/xml/xmlgw.phtml",
        "DATAVERSE_URL": urls["dataverse"],
        "DATAVERSE_AUTHORITY_HOST": urls["identity"],
        "DATAVERSE_TENANT_ID": "shuttle-sandbox",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    # The HTTPS starters point SSL_CERT_FILE at the sandbox CA; put it back afterwards.
    for name in TRUST_VARIABLES:
        monkeypatch.setenv(name, os.environ.get(name, "-"))
        if os.environ[name] == "-":
            monkeypatch.delenv(name)
    return urls


@contextlib.contextmanager
def started_like_shuttle_demo(urls: dict[str, str]) -> Iterator[Stack]:
    """The emulators through `shuttle`'s own starters (they note what they started)."""
    args = argparse.Namespace(command="demo", port=None)
    with contextlib.ExitStack() as stack:
        for starter in (
            cli.start_creatio,
            cli.start_intacct,
            cli.start_identity,
            cli.start_dataverse,
        ):
            starter(args, stack)
        yield Stack(args, urls)


def _catalog() -> Catalog:
    return load_catalog(SOLUTIONS)


def _syncable(catalog: Catalog) -> set[str]:
    """Read from the solution files now: mappings are being added while this runs."""
    ids = set()
    for entry in catalog:
        if entry.flow.kind is not FlowKind.SCHEDULED:
            continue
        with contextlib.suppress(DefinitionError):
            plan_for(catalog, entry.flow_id)
            ids.add(entry.flow_id)
    return ids


def _flows() -> dict[str, FlowRecord]:
    async def read() -> dict[str, FlowRecord]:
        services = await Services.create(Settings())
        try:
            return {r.flow_id: r for r in await services.flows.flows.list()}
        finally:
            await services.close()

    return asyncio.run(read())


def _creatio_rows(url: str, entity: str) -> list[dict[str, Any]]:
    client, _ = login(url)
    try:
        response = client.get(f"/0/odata/{entity}")
        response.raise_for_status()
        return response.json()["value"]  # type: ignore[no-any-return]
    finally:
        client.close()


def _admin_rows(url: str, path: str) -> list[dict[str, Any]]:
    verify = ssl.create_default_context(cafile=str(ensure_tls().ca_path))
    response = httpx.get(f"{url}/_emulator/rows/{path}", verify=verify, timeout=10)
    response.raise_for_status()
    return response.json()["rows"]  # type: ignore[no-any-return]


def _holdings(urls: dict[str, str]) -> dict[str, int]:
    counts = {
        f"creatio.{e}": len(_creatio_rows(urls["creatio"], e))
        for e in (
            "Account",
            "Contact",
            "Product",
            "Opportunity",
            "Order",
            "OrderProduct",
            "OpportunityProductInterest",
        )
    }
    counts |= {
        f"intacct.{o}": len(_admin_rows(urls["intacct"], o))
        for o in ("CUSTOMER", "CONTACT", "ITEM", "ARINVOICE")
    }
    counts |= {
        f"dataverse.{t}": len(_admin_rows(urls["dataverse"], t)) for t in ("account", "contact")
    }
    return counts


def test_demo_seeds_its_emulators_and_starts_the_mapped_flows_once(
    demo_env: dict[str, str],
) -> None:
    catalog = _catalog()
    syncable = _syncable(catalog)
    assert {
        "creatio-intacct.accounts-to-intacct",
        "creatio-dynamics.accounts-to-dataverse",
    } <= syncable
    with started_like_shuttle_demo(demo_env) as running:
        assert set(vars(running.args)[STARTED_EMULATORS]) == {"creatio", "intacct", "dataverse"}
        report = run_demo(running.args)

        # The emulators hold the demo data, special characters and bad records included.
        accounts = {r["Name"]: r for r in _creatio_rows(demo_env["creatio"], "Account")}
        assert {
            "Acme Corporation",
            "Café Müller & Söhne GmbH",
            "O'Brien & Sons <Ireland>",
            '"Blue Sky" Aviation Ltd.',
            data.TOO_LONG_NAME,
        } <= set(accounts)
        assert accounts["Fabrikam Industries"]["Web"] == data.TOO_LONG_WEB
        contacts = _creatio_rows(demo_env["creatio"], "Contact")
        jane = next(c for c in contacts if c["Email"] == "jane.doe@acme.example")
        assert jane["AccountId"] == accounts["Acme Corporation"]["Id"]
        # Volume: hundreds of accounts and contacts, opportunities in several stages.
        assert len(accounts) > 200 and len(contacts) > 300
        opportunities = _creatio_rows(demo_env["creatio"], "Opportunity")
        stages = httpx.get(f"{demo_env['creatio']}/_emulator/lookups").json()["OpportunityStage"]
        assert {o["StageId"] for o in opportunities} >= {stages["Closed won"], stages["Proposal"]}
        acme_deal = next(o for o in opportunities if o["Title"].startswith("Acme — "))
        assert acme_deal["StageId"] == stages["Closed won"]
        lines = _creatio_rows(demo_env["creatio"], "OpportunityProductInterest")
        assert len([ln for ln in lines if ln["OpportunityId"] == acme_deal["Id"]]) == 2
        assert {ln["OpportunityId"] for ln in lines} == {o["Id"] for o in opportunities}
        # Orders in two currencies, lines with a discount and with tax.
        orders = _creatio_rows(demo_env["creatio"], "Order")
        currencies = httpx.get(f"{demo_env['creatio']}/_emulator/lookups").json()["Currency"]
        assert {o["CurrencyId"] for o in orders} >= set(currencies.values())
        order_lines = _creatio_rows(demo_env["creatio"], "OrderProduct")
        assert {ln["OrderId"] for ln in order_lines} == {o["Id"] for o in orders}
        assert any(float(ln["DiscountAmount"]) > 0 for ln in order_lines)
        assert any(float(ln["TaxAmount"]) > 0 for ln in order_lines)
        items = {r["ITEMID"]: r for r in _admin_rows(demo_env["intacct"], "ITEM")}
        codes = {r["Code"] for r in _creatio_rows(demo_env["creatio"], "Product")}
        assert set(items) <= codes and all(float(i["BASEPRICE"]) > 0 for i in items.values())
        invoices = _admin_rows(demo_env["intacct"], "ARINVOICE")
        customers = {r["CUSTOMERID"] for r in _admin_rows(demo_env["intacct"], "CUSTOMER")}
        assert {i["CUSTOMERID"] for i in invoices} <= customers
        # Open, partly paid and paid invoices; payments; credit memos.
        paid = [(float(i["TOTALPAID"]), float(i["TOTALENTERED"])) for i in invoices]
        assert any(p == 0 for p, _ in paid) and any(0 < p < t for p, t in paid)
        assert any(p == t > 0 for p, t in paid)
        assert len(_admin_rows(demo_env["intacct"], "ARPAYMENT")) > 10
        assert len(_admin_rows(demo_env["intacct"], "ARADJUSTMENT")) > 10
        dv_accounts = {r["accountid"] for r in _admin_rows(demo_env["dataverse"], "account")}
        dv_contacts = _admin_rows(demo_env["dataverse"], "contact")
        assert len(dv_accounts) > 50
        assert {c["_parentcustomerid_value"] for c in dv_contacts} <= dv_accounts
        dv_invoices = _admin_rows(demo_env["dataverse"], "invoice")
        assert {i["statecode"] for i in dv_invoices} == {0, 2}, "open and paid invoices"
        # The deliberately bad records are known by id, each for the flow that rejects it.
        assert set(report.planned) == {p.flow_id for p in data.PLANNED_FAILURES}
        assert report.planned["creatio-intacct.accounts-to-intacct"] == {
            accounts[data.TOO_LONG_NAME]["Id"].lower()
        }
        assert set(report.seeded) == {"creatio", "intacct", "dataverse"}
        assert report.left_alone == []

        # Mapped scheduled flows: on the short schedule, shift order kept, still stopped
        # (the first cycle, once the host is up, runs them; then they are started).
        flows = _flows()
        for flow_id in syncable:
            rec, definition = flows[flow_id], catalog.get(flow_id).flow
            assert rec.state is FlowState.STOPPED, flow_id
            assert rec.interval_ms == INTERVAL_MS
            assert rec.shift_ms == definition.shift_ms // SHIFT_DIVISOR
        # Everything else untouched: stopped, with the solution file's values.
        for entry in catalog:
            if entry.flow_id in syncable:
                continue
            rec = flows[entry.flow_id]
            assert rec.state is FlowState.STOPPED, entry.flow_id
            assert (rec.interval_ms, rec.shift_ms) == (entry.flow.interval_ms, entry.flow.shift_ms)
        assert {p.flow_id for p in report.flows if p.action == "ready"} == syncable
        assert set(report.cycle) == syncable
        text = orientation(report, "http://127.0.0.1:7071/api")
        assert "creatio-intacct.accounts-to-intacct" in text
        assert "curl http://127.0.0.1:7071/api/flows" in text
        assert "http://127.0.0.1:7071/api/console " in text, "make demo prints the console URL"

        # A second run in the same process seeds nothing and changes no flow.
        holdings = _holdings(demo_env)
        again = run_demo(running.args)
        assert again.seeded == {}
        assert {p.action for p in again.flows} == {"ready"}
        assert _holdings(demo_env) == holdings
        assert {k: r.etag for k, r in _flows().items()} == {k: r.etag for k, r in flows.items()}


def test_an_emulator_someone_else_runs_is_left_alone(demo_env: dict[str, str]) -> None:
    # Something already listens on CREATIO_URL's port: shuttle's starter does not start one.
    theirs = start_creatio_elsewhere(demo_env["creatio"])
    assert theirs is not None
    try:
        before = len(_creatio_rows(demo_env["creatio"], "Account"))
        with started_like_shuttle_demo(demo_env) as running:
            assert set(vars(running.args)[STARTED_EMULATORS]) == {"intacct", "dataverse"}
            report = run_demo(running.args)
            assert report.left_alone == ["creatio"] and set(report.seeded) == {
                "intacct",
                "dataverse",
            }
            assert len(_creatio_rows(demo_env["creatio"], "Account")) == before
            assert _admin_rows(demo_env["intacct"], "CUSTOMER")
            assert "creatio: not started here" in orientation(report, "http://x/api")
    finally:
        theirs.stop()


def test_bindings_from_earlier_emulators_are_forgotten_only_where_both_sides_are_fresh(
    demo_env: dict[str, str], azurite: Azurite, table_prefix: str
) -> None:
    from azure.data.tables import TableServiceClient

    with TableServiceClient.from_connection_string(azurite.connection_string) as service:
        table = service.create_table_if_not_exists(f"{table_prefix}bindings")
        for pair in ("creatio-intacct.account", "creatio-dynamics.account"):
            for side in ("crm|old-1", "erp|old-1"):
                table.create_entity({"PartitionKey": pair, "RowKey": side, "crm_id": "old-1"})
        # Only Creatio and Intacct start here: creatio-dynamics' Dataverse side may still
        # hold the records its bindings name.
        args = argparse.Namespace(command="demo", port=None)
        with contextlib.ExitStack() as stack:
            cli.start_creatio(args, stack)
            cli.start_intacct(args, stack)
            report = run_demo(args)
        left = {(e["PartitionKey"], e["RowKey"]) for e in table.list_entities()}
    assert report.bindings_forgotten == {"creatio-intacct": 2}
    assert left == {
        ("creatio-dynamics.account", "crm|old-1"),
        ("creatio-dynamics.account", "erp|old-1"),
    }
