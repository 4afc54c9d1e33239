"""A dry run's plan through the local host's HTTP API, against the Creatio and Intacct
emulators: it writes nothing (the emulators' write counters stay still), records per record
what would happen (create, update with old and new values, link, unchanged, blocked by
mastership), pages past its first entries, and matches, record by record, what the real run
then does; also for the sales order flows both ways (documents with lines, a record outside
the flow's filter)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.azurite import Azurite
from tests.e2e.conftest import RunningHost, start_host, stop_host
from tests.e2e.intacct_host import systems_env
from tests.e2e.runs import decided, finished, plan
from tests.support.creatio import RunningCreatio, login
from tests.support.intacct import RunningIntacct

pytestmark = pytest.mark.e2e

ACCOUNTS = "creatio-intacct.accounts-to-intacct"


@pytest.fixture
def host(
    own_azurite: Azurite, tmp_path: Path, creatio: RunningCreatio, intacct: RunningIntacct
) -> Iterator[RunningHost]:
    creatio.admin.reset()
    intacct.admin.reset()
    running = start_host(own_azurite, tmp_path, **systems_env(creatio, intacct))
    yield running
    stop_host(running)


def writes(admin: Any) -> int:
    return sum(admin.stats()["writes"].values())


def edit_account(creatio: RunningCreatio, account_id: str, changes: dict[str, Any]) -> None:
    client, _ = login(creatio.url)
    try:
        response = client.patch(f"/0/odata/Account({account_id})", json=changes)
        assert response.status_code in (200, 204), response.text
    finally:
        client.close()


def test_a_dry_runs_plan_matches_the_real_run_record_by_record(
    host: RunningHost, creatio: RunningCreatio, intacct: RunningIntacct
) -> None:
    creatio.admin.seed(
        {
            "Account": [
                {"Name": "Renamed Ltd", "Code": "REN", "UsrActive": True},
                {"Name": "Same Ltd", "Code": "SAME", "UsrActive": True},
                {"Name": "Finance Decides", "Code": "FIN", "UsrActive": True},
            ]
        }
    )
    with host.client() as api:
        first = finished(api, api.post(f"/flows/{ACCOUNTS}/run").json()["run_id"])
        assert first["counts"]["created"] == 3
        by_code = {r["Code"]: str(r["Id"]) for r in creatio.rows("Account")}
        edit_account(creatio, by_code["REN"], {"Name": "Renamed Ltd (new)"})
        edit_account(creatio, by_code["SAME"], {"Name": "Same Ltd"})  # touched, not changed
        edit_account(creatio, by_code["FIN"], {"UsrActive": False})  # Intacct masters STATUS
        intacct.admin.seed(
            {"CUSTOMER": [{"CUSTOMERID": "LNK", "NAME": "Link Ltd", "STATUS": "active"}]}
        )
        creatio.admin.seed(
            {
                "Account": [
                    {"Name": "Link Ltd (CRM)", "Code": "LNK", "UsrActive": True},
                    *({"Name": f"New {n}", "Code": f"NEW{n}", "UsrActive": True} for n in range(3)),
                ]
            }
        )
        by_code = {r["Code"]: str(r["Id"]) for r in creatio.rows("Account")}

        before = writes(creatio.admin), writes(intacct.admin)
        started = api.post(f"/flows/{ACCOUNTS}/run", json={"dry_run": True})
        assert started.status_code == 202, started.text
        dry = finished(api, started.json()["run_id"])
        assert (writes(creatio.admin), writes(intacct.admin)) == before
        dry_plan, pages = plan(api, dry["id"], limit=3)
        assert pages == 3  # seven records, three a page

        actions = {code: dry_plan[rid]["action"] for code, rid in by_code.items()}
        assert actions == {
            "REN": "update",
            "SAME": "unchanged",
            "FIN": "blocked_by_mastership",
            "LNK": "link",
            "NEW0": "create",
            "NEW1": "create",
            "NEW2": "create",
        }
        assert dry_plan[by_code["REN"]]["changes"] == {"NAME": ["Renamed Ltd", "Renamed Ltd (new)"]}
        assert dry_plan[by_code["LNK"]]["changes"] == {"NAME": ["Link Ltd", "Link Ltd (CRM)"]}
        assert dry_plan[by_code["FIN"]]["field"] == "STATUS"
        assert dry_plan[by_code["NEW1"]]["changes"]["NAME"] == [None, "New 1"]

        real = finished(api, api.post(f"/flows/{ACCOUNTS}/run").json()["run_id"])
        real_plan, _ = plan(api, real["id"], limit=500)

    assert decided(real_plan) == decided(dry_plan)
    customers = {r["CUSTOMERID"]: r for r in intacct.admin.rows("CUSTOMER")}
    assert customers["REN"]["NAME"] == "Renamed Ltd (new)"
    assert customers["LNK"]["NAME"] == "Link Ltd (CRM)" and customers["FIN"]["STATUS"] == "active"
    assert {"NEW0", "NEW1", "NEW2"} <= set(customers) and len(customers) == 7


def test_a_dry_run_of_the_sales_order_flows_matches_the_real_runs_and_writes_nothing(
    host: RunningHost, creatio: RunningCreatio, intacct: RunningIntacct
) -> None:
    """Documents both ways: a won deal with lines to a sales order (an open deal outside
    the filter), then the order's number back onto the deal."""
    stages = creatio.admin.lookups()["OpportunityStage"]
    intacct.admin.seed(
        {"ITEM": [{"ITEMID": "LIC", "NAME": "Licence", "STATUS": "active", "BASEPRICE": "1"}]}
    )
    creatio.admin.seed({"Account": [{"Name": "Planner Ltd", "Code": "PLAN", "UsrActive": True}]})
    orders, numbers = (
        "creatio-intacct.opportunities-to-sales-orders",
        "creatio-intacct.sales-orders-to-opportunities",
    )
    with host.client() as api:
        for flow in ("accounts-to-intacct", "items-to-creatio"):
            finished(api, api.post(f"/flows/creatio-intacct.{flow}/run").json()["run_id"])
        (account,) = creatio.rows("Account")
        (product,) = creatio.rows("Product")
        creatio.admin.seed(
            {
                "Opportunity": [
                    {
                        "Title": title,
                        "AccountId": str(account["Id"]),
                        "StageId": stages[stage],
                        "DueDate": "2026-11-20T00:00:00Z",
                    }
                    for title, stage in (("Won", "Closed won"), ("Open", "Negotiation"))
                ]
            }
        )
        deals = {r["Title"]: str(r["Id"]) for r in creatio.rows("Opportunity")}
        creatio.admin.seed(
            {
                "OpportunityProductInterest": [
                    {
                        "OpportunityId": deals[t],
                        "ProductId": str(product["Id"]),
                        "Quantity": 4,
                        "Price": "25.00",
                        "Amount": "100.00",
                    }
                    for t in deals
                ]
            }
        )

        def dry_then_real(flow: str) -> tuple[dict[str, dict], dict[str, dict]]:
            before = writes(creatio.admin), writes(intacct.admin)
            dry = finished(
                api, api.post(f"/flows/{flow}/run", json={"dry_run": True}).json()["run_id"]
            )
            assert (writes(creatio.admin), writes(intacct.admin)) == before
            dry_plan, _ = plan(api, dry["id"], limit=500)
            real = finished(api, api.post(f"/flows/{flow}/run").json()["run_id"])
            assert real["status"] == "succeeded", real["errors"]
            real_plan, _ = plan(api, real["id"], limit=500)
            return dry_plan, real_plan

        dry_plan, real_plan = dry_then_real(orders)
        assert {d: dry_plan[i]["action"] for d, i in deals.items()} == {
            "Won": "create",
            "Open": "skipped_by_filter",
        }
        changes = dry_plan[deals["Won"]]["changes"]
        assert changes["CUSTOMERID"] == [None, "PLAN"]
        assert changes["TRANSACTIONTYPE"] == [None, "Sales Order"]
        # A real run neither reads nor counts what its filter leaves out.
        assert set(real_plan) == {deals["Won"]}
        assert {k: real_plan[deals["Won"]][k] for k in ("outcome", "action", "changes")} == {
            k: dry_plan[deals["Won"]][k] for k in ("outcome", "action", "changes")
        }
        (order,) = intacct.admin.rows("SODOCUMENT")
        assert order["CUSTOMERID"] == "PLAN" and order["TOTAL"] == "100.00"

        dry_plan, real_plan = dry_then_real(numbers)
        (item,) = dry_plan.values()
        assert item["action"] == "update"
        assert item["changes"]["UsrSalesOrderNumber"] == [None, order["DOCNO"]]
        assert {k: v["changes"] for k, v in real_plan.items()} == {
            k: v["changes"] for k, v in dry_plan.items()
        }
    won = next(r for r in creatio.rows("Opportunity") if str(r["Id"]) == deals["Won"])
    assert won["UsrSalesOrderNumber"] == order["DOCNO"]
