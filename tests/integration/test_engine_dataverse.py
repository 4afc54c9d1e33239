"""The engine with the Creatio emulator and the Dataverse + identity emulators (HTTPS, MSAL) on
Azurite: Account ⇄ account and Contact ⇄ contact (with its parent account through
@odata.bind) both ways, a quiet cycle that writes nothing, and every record written under a
service-protection limit far below the offered load."""

from __future__ import annotations

from typing import Any

import pytest

from shared.flows.models import RunStatus
from shared.runtime import Services
from tests.support import dataverse as dv
from tests.support.creatio import RunningCreatio
from tests.support.engine import run_flow

TO_DATAVERSE = "creatio-dynamics.accounts-to-dataverse"
TO_CREATIO = "creatio-dynamics.accounts-to-creatio"
CONTACTS_TO_DATAVERSE = "creatio-dynamics.contacts-to-dataverse"
CONTACTS_TO_CREATIO = "creatio-dynamics.contacts-to-creatio"


@pytest.fixture
def dataverse_client_options() -> dict[str, Any]:
    """The window of the limit the throttling test scales down (1 s)."""
    return {"limit_window_s": 1.0}


@pytest.fixture
def services(dynamics_services: Services) -> Services:
    """creatio-dynamics over Creatio and Dataverse (tests/support/emulator_fixtures.py)."""
    return dynamics_services


def writes(admin: Any) -> int:
    return sum(admin.stats()["writes"].values())


async def test_accounts_and_contacts_both_ways_then_a_quiet_cycle_writes_nothing(
    services: Services, creatio_emulator: RunningCreatio, dataverse_emulator: dv.RunningDataverse
) -> None:
    creatio_emulator.admin.seed(
        {
            "Account": [
                {"Name": f"Contoso & Fabrikam {n:02d}", "Code": f"C{n:02d}", "Phone": "+1 555 0100"}
                for n in range(12)
            ]
        }
    )
    account = next(r for r in creatio_emulator.rows("Account") if r["Code"] == "C03")
    creatio_emulator.admin.seed(
        {
            "Contact": [
                {
                    "Name": "Ada Lovelace",
                    "Email": "ADA@example.test",
                    "AccountId": str(account["Id"]),
                }
            ]
        }
    )
    dataverse_emulator.admin.seed(
        {"account": [{"name": "Dynamics Only Ltd", "accountnumber": "D01"}]}
    )

    flows = (TO_DATAVERSE, TO_CREATIO, CONTACTS_TO_DATAVERSE, CONTACTS_TO_CREATIO)
    first = {f: await run_flow(services, f) for f in flows}
    assert all(r.status is RunStatus.SUCCEEDED for r in first.values()), {
        f: r.errors for f, r in first.items()
    }
    assert first[TO_DATAVERSE].counts.created == 12
    assert first[TO_CREATIO].counts.created == 1  # the 12 echoes are not created again
    # Ada, and the contact every Creatio has for its Supervisor user.
    assert first[CONTACTS_TO_DATAVERSE].counts.created == len(creatio_emulator.rows("Contact"))

    accounts = {r["accountnumber"]: r for r in dataverse_emulator.admin.rows("account")}
    assert len(accounts) == 13 and accounts["C03"]["name"] == "Contoso & Fabrikam 03"
    assert accounts["C03"]["shuttle_creatioaccountid"] == str(account["Id"])
    (contact,) = [
        c for c in dataverse_emulator.admin.rows("contact") if c["lastname"] == "Lovelace"
    ]
    assert (contact["firstname"], contact["lastname"]) == ("Ada", "Lovelace")
    assert contact["emailaddress1"] == "ada@example.test"
    assert contact["_parentcustomerid_value"] == accounts["C03"]["accountid"]
    assert {r["Name"] for r in creatio_emulator.rows("Account")} >= {"Dynamics Only Ltd"}

    # The next full cycle, with no user change, makes no write call at either emulator.
    before = writes(creatio_emulator.admin), writes(dataverse_emulator.admin)
    quiet = [await run_flow(services, f) for f in flows]
    assert (writes(creatio_emulator.admin), writes(dataverse_emulator.admin)) == before
    assert all(r.counts.created + r.counts.updated + r.counts.failed == 0 for r in quiet)


async def test_every_record_is_written_under_a_limit_far_below_the_offered_load(
    services: Services, creatio_emulator: RunningCreatio, dataverse_emulator: dv.RunningDataverse
) -> None:
    dataverse_emulator.admin.limits(window_s=1.0, max_requests=20)
    creatio_emulator.admin.seed({"Account": [{"Name": f"Throttled {n:03d}"} for n in range(150)]})
    run = await run_flow(services, TO_DATAVERSE)
    assert (run.counts.created, run.counts.failed) == (150, 0)
    assert len(dataverse_emulator.admin.rows("account")) == 150
    protection = dataverse_emulator.admin.stats()["protection"]
    answered = protection["accepted"] + protection["throttled_total"]
    share = protection["throttled_total"] / answered
    print(f"429 share under a 20 requests/s limit: {share:.1%} of {answered} answers")
    assert share < 0.15


async def test_only_paid_invoices_become_creatio_payments_linked_to_their_invoice(
    services: Services, creatio_emulator: RunningCreatio, dataverse_emulator: dv.RunningDataverse
) -> None:
    customer = "0f8fad5b-d9cb-469f-a165-70867728950e"
    dataverse_emulator.admin.seed(
        {
            "account": [
                {"accountid": customer, "name": "Northwind Traders", "accountnumber": "NW"}
            ],
            "invoice": [
                {
                    "name": f"Invoice {n}",
                    "invoicenumber": f"INV-{n}",
                    "totalamount": 100.0 * n,
                    "statecode": state,
                    "statuscode": status,
                    "shuttle_amountpaid": paid,
                    "_customerid_value": customer,
                    "customerid@target": "account",
                }
                for n, state, status, paid in (
                    (1, 2, 100001, None),
                    (2, 0, 1, None),
                    (3, 2, 100002, 120.0),
                    (4, 2, 100002, None),
                )
            ],
        }
    )
    for flow in (TO_CREATIO, "creatio-dynamics.invoices-to-creatio"):
        done = await run_flow(services, flow)
        assert done.status is RunStatus.SUCCEEDED, done.errors

    payments = await run_flow(services, "creatio-dynamics.payments-to-creatio")
    # The unpaid one is left; the one paid in part with no amount paid fails, naming it,
    # rather than claim its total.
    assert (payments.counts.read, payments.counts.created, payments.counts.failed) == (3, 2, 1)
    (error,) = payments.errors
    assert error.field == "UsrAmount" and "shuttle_amountpaid" in error.message
    creatio = await services.connectors.get("creatio")
    (account,) = creatio_emulator.rows("Account")
    invoices = {
        r.values["Number"]: r.id
        for r in await creatio.find("Invoice", {"AccountId": str(account["Id"])}, limit=10)
    }
    rows = {
        r.values["UsrNumber"]: r.values
        for r in await creatio.find("UsrPayment", {"UsrAccountId": str(account["Id"])}, limit=10)
    }
    assert sorted(rows) == ["INV-1", "INV-3"]
    assert float(rows["INV-3"]["UsrAmount"]) == 120.0  # what was paid, not the total
    assert str(rows["INV-3"]["UsrInvoiceId"]) == invoices["INV-3"]

    before = writes(creatio_emulator.admin)
    again = await run_flow(services, "creatio-dynamics.payments-to-creatio")
    assert writes(creatio_emulator.admin) == before
    # Nothing more written; the one without its amount paid fails again until it has one.
    assert (again.counts.created, again.counts.updated, again.counts.failed) == (0, 0, 1)


async def test_cases_and_incidents_both_ways_with_their_account_then_quiet(
    services: Services, creatio_emulator: RunningCreatio, dataverse_emulator: dv.RunningDataverse
) -> None:
    creatio_emulator.admin.seed({"Account": [{"Name": "Fabrikam", "Code": "FAB"}]})
    (account,) = creatio_emulator.rows("Account")
    creatio_emulator.admin.seed(
        {
            "Case": [
                {
                    "Subject": "Printer on fire",
                    "Symptoms": "Smoke & <sparks>",
                    "AccountId": str(account["Id"]),
                },
            ]
        }
    )
    flows = (
        TO_DATAVERSE,
        TO_CREATIO,
        "creatio-dynamics.cases-to-dataverse",
        "creatio-dynamics.cases-to-creatio",
    )
    first = {f: await run_flow(services, f) for f in flows}
    assert all(r.status is RunStatus.SUCCEEDED for r in first.values()), {
        f: r.errors for f, r in first.items()
    }
    (incident,) = dataverse_emulator.admin.rows("incident")
    (dv_account,) = dataverse_emulator.admin.rows("account")
    assert (incident["title"], incident["description"]) == ("Printer on fire", "Smoke & <sparks>")
    assert incident["_customerid_value"] == dv_account["accountid"]
    assert len(creatio_emulator.rows("Case")) == 1  # the incident came back as its own echo

    before = writes(creatio_emulator.admin), writes(dataverse_emulator.admin)
    quiet = [await run_flow(services, f) for f in flows]
    assert (writes(creatio_emulator.admin), writes(dataverse_emulator.admin)) == before
    assert all(r.counts.created + r.counts.updated + r.counts.failed == 0 for r in quiet)


async def test_a_deactivated_dataverse_account_is_an_inactive_creatio_account(
    services: Services, creatio_emulator: RunningCreatio, dataverse_emulator: dv.RunningDataverse
) -> None:
    dataverse_emulator.admin.seed({"account": [{"name": "Fading Ltd", "accountnumber": "FAD"}]})
    first = await run_flow(services, TO_CREATIO)
    assert first.counts.created == 1
    (account,) = [r for r in creatio_emulator.rows("Account") if r["Code"] == "FAD"]
    assert account["UsrActive"] is True

    (row,) = dataverse_emulator.admin.rows("account")
    dataverse = await services.connectors.get("dataverse")
    await dataverse.update("account", row["accountid"], {"statecode": 1, "statuscode": 2})
    second = await run_flow(services, TO_CREATIO)

    assert second.counts.updated == 1
    (account,) = [r for r in creatio_emulator.rows("Account") if r["Code"] == "FAD"]
    assert account["UsrActive"] is False
