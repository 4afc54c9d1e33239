"""Finance, Creatio ⇄ Dynamics 365, through the local host's HTTP API and queues against the
Creatio, Dataverse and identity emulators, asserting through the vendors' own APIs: the won
opportunity's order (three lines: one discounted, one taxed, in EUR) becomes a salesorder on
the price list whose lines and totals match to the cent, its number on the opportunity; the
invoice becomes a Dataverse invoice with its lines and date, its number on the opportunity;
paid in part, then in full, in Dynamics (the amount paid in the invoice's `shuttle_amountpaid`
column, docs/deploy.md), the Creatio invoice is partly paid then paid with the amounts paid,
and the payment record says what was paid; a credit note in Dynamics (an invoice crediting
another, docs/wire-notes.md) becomes a Creatio credit memo linked to its opportunity."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.e2e.conftest import RunningHost
from tests.e2e.dataverse_host import (  # noqa: F401 (fixtures, registered by name)
    Crm,
    Dynamics,
    crm_fixture,
    dynamics_fixture,
    host_fixture,
    run,
    writes,
)
from tests.support.creatio import RunningCreatio
from tests.support.dataverse import RunningDataverse
from tests.support.finance import DOCUMENT_LINES, document_lines, euro_deal, euro_order, money

pytestmark = pytest.mark.e2e

TOTAL = Decimal("313.78")


@pytest.fixture(scope="module")
def deal(
    host: RunningHost, creatio: RunningCreatio, dataverse: RunningDataverse, crm: Crm
) -> dict[str, str]:
    """A won EUR opportunity of a synced account, its order with three lines and the
    products synced; the order flow run through the host."""
    lookups = creatio.admin.lookups()
    eur = lookups["Currency"]["EUR"]
    dataverse.admin.seed({"pricelevel": [{"name": "Shuttle price list"}]})
    creatio.admin.seed(
        {
            "Account": [{"Name": "Euro Buyer GmbH", "Code": "EURO1"}],
            "Product": [
                {"Name": f"Item {c}", "Code": c, "Price": "1.00"} for c in ("LIC", "SVC", "HW")
            ],
        }
    )
    with host.client() as api:
        run(api, "accounts-to-dataverse")
        run(api, "products-to-dataverse")
    account = crm.one("Account", "Code eq 'EURO1'")["Id"]
    product = {r["Code"]: r["Id"] for r in crm.where("Product", "Price eq 1.00")}
    creatio.admin.seed(
        {"Opportunity": [euro_deal(account, lookups["OpportunityStage"]["Closed won"], eur)]}
    )
    opportunity = crm.one("Opportunity", "Title eq 'Euro deal'")["Id"]
    creatio.admin.seed({"Order": [euro_order(account, opportunity, eur)]})
    order = crm.one("Order", "Number eq 'ORD-EUR-1'")["Id"]
    creatio.admin.seed({"OrderProduct": document_lines("OrderId", order, product)})
    with host.client() as api:
        run(api, "orders-to-sales-orders")
        run(api, "sales-orders-to-opportunities")
    return {
        "account": account,
        "opportunity": opportunity,
        "order": order,
        "eur": eur,
        **{f"product:{c}": i for c, i in product.items()},
    }


@pytest.fixture(scope="module")
def invoiced(
    host: RunningHost, creatio: RunningCreatio, crm: Crm, deal: dict[str, str]
) -> dict[str, str]:
    """The order's Creatio invoice (the same three lines), run to Dynamics and back."""
    creatio.admin.seed(
        {
            "Invoice": [
                {
                    "Number": "INV-EUR-1",
                    "AccountId": deal["account"],
                    "OpportunityId": deal["opportunity"],
                    "OrderId": deal["order"],
                    "CurrencyId": deal["eur"],
                    "Amount": str(TOTAL),
                    "StartDate": "2026-11-21T00:00:00Z",
                    "DueDate": "2026-12-21T00:00:00Z",
                }
            ]
        }
    )
    invoice = crm.one("Invoice", "Number eq 'INV-EUR-1'")["Id"]
    product = {k.split(":", 1)[1]: v for k, v in deal.items() if k.startswith("product:")}
    creatio.admin.seed({"InvoiceProduct": document_lines("InvoiceId", invoice, product)})
    with host.client() as api:
        run(api, "invoices-to-dataverse")
        run(api, "invoices-to-opportunities")
    return {**deal, "invoice": invoice}


def test_a_won_deals_order_becomes_a_salesorder_matching_to_the_cent_its_number_on_the_deal(
    deal: dict[str, str], crm: Crm, dynamics: Dynamics
) -> None:
    eur = dynamics.one("transactioncurrencies", "isocurrencycode eq 'EUR'")
    price_list = dynamics.one("pricelevels", "name eq 'Shuttle price list'")
    order = dynamics.one("salesorders", "ordernumber eq 'ORD-EUR-1'")
    assert order["_transactioncurrencyid_value"] == eur["transactioncurrencyid"]
    assert order["_pricelevelid_value"] == price_list["pricelevelid"]
    assert (
        order["_customerid_value"]
        == dynamics.one("accounts", "accountnumber eq 'EURO1'")["accountid"]
    )
    details = dynamics.where("salesorderdetails", f"_salesorderid_value eq {order['salesorderid']}")
    assert sorted(
        (
            money(d["quantity"]),
            money(d["priceperunit"]),
            money(d["manualdiscountamount"] or 0),
            money(d["tax"] or 0),
            money(d["extendedamount"]),
        )
        for d in details
    ) == sorted(
        (Decimal(q), money(p), money(d), money(t), money(total))
        for _, q, p, _, d, t, total in DOCUMENT_LINES
    )
    assert (money(order["totalamount"]), money(order["totaltax"])) == (TOTAL, Decimal("3.80"))

    won = crm.get("Opportunity", deal["opportunity"])
    assert won["UsrSalesOrderNumber"] == "ORD-EUR-1"
    assert won["UsrErpLastModified"]


def test_the_invoice_becomes_a_dynamics_invoice_with_lines_and_date_its_number_on_the_deal(
    invoiced: dict[str, str], crm: Crm, dynamics: Dynamics
) -> None:
    invoice = dynamics.one("invoices", "invoicenumber eq 'INV-EUR-1'")
    assert str(invoice["datedelivered"])[:10] == "2026-11-21"  # the invoice date
    assert str(invoice["duedate"])[:10] == "2026-12-21"
    eur = dynamics.one("transactioncurrencies", "isocurrencycode eq 'EUR'")
    assert invoice["_transactioncurrencyid_value"] == eur["transactioncurrencyid"]
    details = dynamics.where("invoicedetails", f"_invoiceid_value eq {invoice['invoiceid']}")
    assert sorted((d["productdescription"], money(d["extendedamount"])) for d in details) == sorted(
        (code, money(total)) for code, *_, total in DOCUMENT_LINES
    )
    assert money(invoice["totalamount"]) == TOTAL
    assert crm.get("Opportunity", invoiced["opportunity"])["UsrInvoiceNumber"] == "INV-EUR-1"


def test_a_partial_then_a_full_payment_in_dynamics_mark_the_creatio_invoice_with_the_amounts(
    host: RunningHost,
    invoiced: dict[str, str],
    creatio: RunningCreatio,
    crm: Crm,
    dynamics: Dynamics,
) -> None:
    status = creatio.admin.lookups()["InvoicePaymentStatus"]
    invoice = dynamics.one("invoices", "invoicenumber eq 'INV-EUR-1'")["invoiceid"]
    # Paid in part: a finance user marks it so and keys the amount received so far.
    dynamics.patch(
        "invoices", invoice, {"statecode": 2, "statuscode": 100002, "shuttle_amountpaid": 100.00}
    )
    with host.client() as api:
        run(api, "invoices-to-creatio")
        run(api, "payments-to-creatio")
    partly = crm.get("Invoice", invoiced["invoice"])
    assert partly["PaymentStatusId"] == status["Partially paid"]
    assert money(partly["PaymentAmount"]) == Decimal("100.00")
    assert money(partly["Amount"]) == TOTAL and partly["CurrencyId"] == invoiced["eur"]
    payment = crm.one("UsrPayment", "UsrNumber eq 'INV-EUR-1'")
    assert money(payment["UsrAmount"]) == Decimal("100.00")  # what was paid, not the total
    assert (payment["UsrInvoiceId"], payment["UsrOpportunityId"]) == (
        invoiced["invoice"],
        invoiced["opportunity"],
    )

    dynamics.patch("invoices", invoice, {"statuscode": 100001, "shuttle_amountpaid": 313.78})
    with host.client() as api:
        run(api, "invoices-to-creatio")
        run(api, "payments-to-creatio")
    paid = crm.get("Invoice", invoiced["invoice"])
    assert paid["PaymentStatusId"] == status["Paid"]
    assert money(paid["PaymentAmount"]) == TOTAL
    (payment,) = crm.where("UsrPayment", "UsrNumber eq 'INV-EUR-1'")
    assert money(payment["UsrAmount"]) == TOTAL
    assert payment["UsrCurrencyId"] == invoiced["eur"]


def test_a_credit_note_in_dynamics_becomes_a_credit_memo_linked_to_its_opportunity(
    host: RunningHost, invoiced: dict[str, str], crm: Crm, dynamics: Dynamics
) -> None:
    account = dynamics.one("accounts", "accountnumber eq 'EURO1'")["accountid"]
    eur = dynamics.one("transactioncurrencies", "isocurrencycode eq 'EUR'")["transactioncurrencyid"]
    price_list = dynamics.one("pricelevels", "name eq 'Shuttle price list'")["pricelevelid"]
    # Dynamics has no credit memo table: the credit note is an invoice naming the one it
    # credits in shuttle_creditedinvoice (docs/wire-notes.md), with a write-in line.
    note = dynamics.create(
        "invoices",
        {
            "name": "Goodwill credit",
            "invoicenumber": "CN-EUR-1",
            "datedelivered": "2026-12-01",
            "shuttle_creditedinvoice": "INV-EUR-1",
            "customerid_account@odata.bind": f"/accounts({account})",
            "transactioncurrencyid@odata.bind": f"/transactioncurrencies({eur})",
            "pricelevelid@odata.bind": f"/pricelevels({price_list})",
        },
    )
    dynamics.create(
        "invoicedetails",
        {
            "invoiceid@odata.bind": f"/invoices({note})",
            "isproductoverridden": True,
            "productdescription": "Goodwill",
            "quantity": 1,
            "priceperunit": 50.00,
        },
    )
    with host.client() as api:
        for flow in ("invoices-to-creatio", "payments-to-creatio", "invoices-to-opportunities"):
            run(api, flow)
        memos = run(api, "credit-memos-to-creatio")
    assert memos["counts"]["created"] == 1
    memo = crm.one("UsrCreditMemo", "UsrRefNumber eq 'CN-EUR-1'")
    assert money(memo["UsrAmount"]) == Decimal("50.00")
    assert (memo["UsrInvoiceId"], memo["UsrOpportunityId"], memo["UsrCurrencyId"]) == (
        invoiced["invoice"],
        invoiced["opportunity"],
        invoiced["eur"],
    )
    assert memo["UsrAccountId"] == invoiced["account"]
    assert str(memo["UsrDate"])[:10] == "2026-12-01"
    # A credit note is neither a Creatio invoice nor a payment, nor an invoice number.
    assert crm.where("Invoice", "Number eq 'CN-EUR-1'") == []
    assert crm.where("UsrPayment", "UsrNumber eq 'CN-EUR-1'") == []
    assert crm.get("Opportunity", invoiced["opportunity"])["UsrInvoiceNumber"] == "INV-EUR-1"


def test_a_quiet_cycle_after_the_finance_flows_writes_nothing(
    host: RunningHost,
    invoiced: dict[str, str],
    creatio: RunningCreatio,
    dataverse: RunningDataverse,
) -> None:
    before = writes(creatio.admin), writes(dataverse.admin)
    with host.client() as api:
        for flow in (
            "orders-to-sales-orders",
            "sales-orders-to-opportunities",
            "invoices-to-dataverse",
            "invoices-to-opportunities",
            "invoices-to-creatio",
            "payments-to-creatio",
            "credit-memos-to-creatio",
        ):
            again = run(api, flow)["counts"]
            assert again["created"] + again["updated"] + again["failed"] == 0, flow
    assert (writes(creatio.admin), writes(dataverse.admin)) == before
