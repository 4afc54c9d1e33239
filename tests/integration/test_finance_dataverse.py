"""Finance, Creatio ⇄ Dynamics 365, through the engine against the Creatio and Dataverse (+
identity) emulators on Azurite: the won opportunity's Creatio order (three lines: one
discounted, one taxed, in EUR) becomes a salesorder on the price list whose lines and total
match to the cent, its number lands on the opportunity; the Creatio invoice becomes a
Dataverse invoice with its lines, date and currency, its number on the opportunity; marked
paid in part, then in full, in Dynamics, the Creatio invoice follows with status and amount
(the amount paid in part from the custom column shuttle_amountpaid), and the payment record is
linked to its invoice and opportunity. Credit notes: tests/e2e/test_finance_dataverse_host.py."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shared.flows.models import RunRecord, RunStatus
from shared.runtime import Services
from tests.support import dataverse as dv
from tests.support.creatio import RunningCreatio
from tests.support.engine import fail_missing_links_fast, run_flow
from tests.support.finance import DOCUMENT_LINES, document_lines, euro_deal, euro_order, money, one

SOLUTION = "creatio-dynamics"


@pytest.fixture
def services(dynamics_services: Services) -> Services:
    fail_missing_links_fast(dynamics_services)
    return dynamics_services


async def run(services: Services, flow: str) -> RunRecord:
    done = await run_flow(services, f"{SOLUTION}.{flow}")
    assert done.status is RunStatus.SUCCEEDED, (flow, done.errors)
    return done


async def test_won_deal_order_and_invoice_to_dynamics_and_paid_status_back(
    services: Services, creatio_emulator: RunningCreatio, dataverse_emulator: dv.RunningDataverse
) -> None:
    creatio, dataverse = creatio_emulator, dataverse_emulator
    lookups = creatio.admin.lookups()
    eur = lookups["Currency"]["EUR"]
    status = lookups["InvoicePaymentStatus"]
    dv_eur = one(dataverse.admin.rows("transactioncurrency"), isocurrencycode="EUR")
    dataverse.admin.seed({"pricelevel": [{"name": "Shuttle price list"}]})
    price_list = one(dataverse.admin.rows("pricelevel"))["pricelevelid"]
    creatio.admin.seed(
        {
            "Account": [{"Name": "Euro Buyer GmbH", "Code": "EURO1"}],
            "Product": [
                {"Name": f"Item {c}", "Code": c, "Price": "1.00"} for c in ("LIC", "SVC", "HW")
            ],
        }
    )
    await run(services, "accounts-to-dataverse")
    await run(services, "products-to-dataverse")
    account = str(one(creatio.rows("Account"), Code="EURO1")["Id"])
    product = {r["Code"]: str(r["Id"]) for r in creatio.rows("Product")}

    # -- the won deal's order: three lines (10.00 off one, 3.80 tax on another), in EUR -----
    creatio.admin.seed(
        {"Opportunity": [euro_deal(account, lookups["OpportunityStage"]["Closed won"], eur)]}
    )
    opportunity = str(one(creatio.rows("Opportunity"), Title="Euro deal")["Id"])
    creatio.admin.seed({"Order": [euro_order(account, opportunity, eur)]})
    order = str(one(creatio.rows("Order"), Number="ORD-EUR-1")["Id"])
    creatio.admin.seed({"OrderProduct": document_lines("OrderId", order, product)})
    await run(services, "orders-to-sales-orders")
    salesorder = one(dataverse.admin.rows("salesorder"))
    assert salesorder["_transactioncurrencyid_value"] == dv_eur["transactioncurrencyid"]
    assert salesorder["_pricelevelid_value"] == price_list
    details = dataverse.admin.rows("salesorderdetail")
    assert sorted(
        (
            money(d["priceperunit"]),
            money(d["manualdiscountamount"] or 0),
            money(d["tax"] or 0),
            money(d["extendedamount"]),
        )
        for d in details
    ) == sorted(
        (money(p), money(d), money(t), money(total)) for _, _, p, _, d, t, total in DOCUMENT_LINES
    )
    assert (money(salesorder["totalamount"]), money(salesorder["totaltax"])) == (
        Decimal("313.78"),
        Decimal("3.80"),
    )

    await run(services, "sales-orders-to-opportunities")
    won = one(creatio.rows("Opportunity"), Id=opportunity)
    assert won["UsrSalesOrderNumber"] == salesorder["ordernumber"] == "ORD-EUR-1"
    assert won["UsrErpLastModified"]

    # -- the Creatio invoice becomes a Dataverse invoice with lines, date and currency ------
    creatio.admin.seed(
        {
            "Invoice": [
                {
                    "Number": "INV-EUR-1",
                    "AccountId": account,
                    "OpportunityId": opportunity,
                    "OrderId": order,
                    "CurrencyId": eur,
                    "Amount": "313.78",
                    "StartDate": "2026-11-21T00:00:00Z",
                    "DueDate": "2026-12-21T00:00:00Z",
                }
            ]
        }
    )
    crm_invoice = str(one(creatio.rows("Invoice"), Number="INV-EUR-1")["Id"])
    creatio.admin.seed({"InvoiceProduct": document_lines("InvoiceId", crm_invoice, product)})
    await run(services, "invoices-to-dataverse")
    invoice = one(dataverse.admin.rows("invoice"))
    assert (invoice["invoicenumber"], str(invoice["datedelivered"])[:10]) == (
        "INV-EUR-1",
        "2026-11-21",
    )
    assert invoice["_transactioncurrencyid_value"] == dv_eur["transactioncurrencyid"]
    assert money(invoice["totalamount"]) == Decimal("313.78")
    assert len(dataverse.admin.rows("invoicedetail")) == 3
    await run(services, "invoices-to-opportunities")
    assert one(creatio.rows("Opportunity"), Id=opportunity)["UsrInvoiceNumber"] == "INV-EUR-1"

    # -- paid in part, then in full, in Dynamics: the Creatio invoice follows ---------------
    sync = await services.connectors.get("dataverse")
    # Dynamics keeps no amount paid: the custom column shuttle_amountpaid holds it.
    paid_in_part = {"statecode": 2, "statuscode": 100002, "shuttle_amountpaid": "100.00"}
    await sync.update("invoice", invoice["invoiceid"], paid_in_part)
    await run(services, "invoices-to-creatio")
    partly = one(creatio.rows("Invoice"), Id=crm_invoice)
    assert str(partly["PaymentStatusId"]) == status["Partially paid"]
    assert partly["PaymentAmount"] == Decimal("100.00")
    assert (str(partly["CurrencyId"]), partly["Amount"]) == (eur, Decimal("313.78"))

    await sync.update("invoice", invoice["invoiceid"], {"statuscode": 100001})
    await run(services, "invoices-to-creatio")
    paid = one(creatio.rows("Invoice"), Id=crm_invoice)
    assert str(paid["PaymentStatusId"]) == status["Paid"]
    assert paid["PaymentAmount"] == Decimal("313.78")

    await run(services, "payments-to-creatio")
    payment = one(creatio.rows("UsrPayment"), UsrNumber="INV-EUR-1")
    assert payment["UsrAmount"] == Decimal("313.78")
    assert (str(payment["UsrInvoiceId"]), str(payment["UsrOpportunityId"])) == (
        crm_invoice,
        opportunity,
    )
    assert str(payment["UsrCurrencyId"]) == eur

    # A full cycle more with nothing changed writes nothing anywhere.
    before = (creatio.admin.stats()["writes"], dataverse.admin.stats()["writes"])
    for flow in (
        "orders-to-sales-orders",
        "sales-orders-to-opportunities",
        "invoices-to-dataverse",
        "invoices-to-opportunities",
        "invoices-to-creatio",
        "payments-to-creatio",
    ):
        again = await run(services, flow)
        assert again.counts.created + again.counts.updated + again.counts.failed == 0, flow
    assert (creatio.admin.stats()["writes"], dataverse.admin.stats()["writes"]) == before
