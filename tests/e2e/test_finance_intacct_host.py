"""Finance, Creatio ⇄ Sage Intacct, through the local host's HTTP API and queues (issue 16,
acceptance): a won opportunity in EUR with three lines becomes a sales order whose lines and
total match to the cent, its number lands on the opportunity; the order becomes an AR invoice
whose number lands there too; a partial then a full payment entered in Intacct make the
Creatio invoice partly paid, then paid, and a credit memo arrives linked to its invoice and
opportunity. Results are read through the vendors' own APIs (Creatio OData, Intacct XML);
the emulators' admin API only seeds and counts writes. The scenarios build on each other
(module-scoped fixtures), so each test can also run alone."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.e2e.intacct_host import (  # noqa: F401 (fixtures, registered by name)
    api_fixture,
    host_fixture,
    odata_fixture,
    run,
    xml_fixture,
)
from tests.e2e.vendors import CreatioOData, IntacctXml, legacy_date, lines
from tests.support.creatio import RunningCreatio
from tests.support.finance import (
    INTACCT_FINANCE_FLOWS,
    euro_deal,
    money,
    opportunity_lines,
    order_lines,
)
from tests.support.intacct import RunningIntacct

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def won(
    api: httpx.Client,
    creatio: RunningCreatio,
    intacct: RunningIntacct,
    odata: CreatioOData,
    xml: IntacctXml,
) -> dict[str, str]:
    """A customer, three items and a deal in EUR with three lines (one 10 % off), won in
    Creatio after a first run, synced to a sales order and back: the ids the scenarios
    need."""
    lookups = creatio.admin.lookups()
    intacct.admin.seed(
        {
            "ITEM": [
                {"ITEMID": code, "NAME": f"Item {code}", "STATUS": "active", "BASEPRICE": "1"}
                for code in ("LIC", "SVC", "HW")
            ]
        }
    )
    creatio.admin.seed(
        {"Account": [{"Name": "Euro Buyer GmbH", "Code": "EURO1", "UsrActive": True}]}
    )
    for flow in ("accounts-to-intacct", "customers-to-creatio", "items-to-creatio"):
        run(api, flow)
    account = odata.one("Account", Code="EURO1")["Id"]
    product = {code: odata.one("Product", Code=code)["Id"] for code in ("LIC", "SVC", "HW")}
    creatio.admin.seed(
        {
            "Opportunity": [
                euro_deal(
                    account,
                    lookups["OpportunityStage"]["Negotiation"],
                    lookups["Currency"]["EUR"],
                    DueDate="2026-11-20T00:00:00Z",
                )
            ]
        }
    )
    opportunity = odata.one("Opportunity", Title="Euro deal")["Id"]
    creatio.admin.seed({"OpportunityProductInterest": opportunity_lines(opportunity, product)})
    run(api, "opportunities-to-sales-orders")  # still open: no order
    orders_while_open = len(xml.query("SODOCUMENT"))
    # The sales rep wins the deal.
    odata.patch("Opportunity", opportunity, {"StageId": lookups["OpportunityStage"]["Closed won"]})
    run(api, "opportunities-to-sales-orders")
    run(api, "sales-orders-to-opportunities")
    return {
        "account": account,
        "opportunity": opportunity,
        **product,
        "orders_while_open": str(orders_while_open),
    }


@pytest.fixture(scope="module")
def invoiced(
    won: dict[str, str], api: httpx.Client, creatio: RunningCreatio, odata: CreatioOData
) -> dict[str, str]:
    """The deal's Creatio order (one line 10 % off, one taxed) synced to an AR invoice and
    back to Creatio: its id added to the scenario's ids."""
    creatio.admin.seed(
        {
            "Order": [
                {
                    "Number": "ORD-EUR-1",
                    "AccountId": won["account"],
                    "OpportunityId": won["opportunity"],
                    "Date": "2026-11-21T00:00:00Z",
                    "DueDate": "2026-12-21T00:00:00Z",
                    "CurrencyId": creatio.admin.lookups()["Currency"]["EUR"],
                }
            ]
        }
    )
    order = odata.one("Order", Number="ORD-EUR-1")["Id"]
    creatio.admin.seed({"OrderProduct": order_lines(order, won)})
    for flow in ("orders-to-invoices", "invoices-to-creatio", "invoices-to-opportunities"):
        run(api, flow)
    return {**won, "order": order}


def test_a_won_opportunity_in_eur_becomes_a_sales_order_matching_to_the_cent(
    won: dict[str, str], intacct: RunningIntacct, xml: IntacctXml, odata: CreatioOData
) -> None:
    assert won["orders_while_open"] == "0"
    order = xml.one("SODOCUMENT", "CUSTOMERID = 'EURO1'")
    assert (order["CURRENCY"], order["TRANSACTIONTYPE"]) == ("EUR", "Sales Order")
    entries = lines(order["SODOCUMENTENTRIES"]["sodocumententry"])
    assert {
        e["ITEMID"]: (e["QUANTITY"], e["PRICE"], e.get("DISCOUNTPERCENT")) for e in entries
    } == {
        "LIC": ("2", "100.00", "0"),
        "SVC": ("3", "33.33", "10"),
        "HW": ("1", "19.99", "0"),
    }
    # 200.00 + (99.99 less 10 % = 89.99) + 19.99: the opportunity's net amount to the cent.
    assert money(order["TOTAL"]) == Decimal("309.98")
    deal = odata.get("Opportunity", won["opportunity"])
    assert deal["UsrSalesOrderNumber"] == order["DOCNO"] and order["DOCNO"]
    # Intacct's modification time (company time zone, to the second), as an instant.
    modified = datetime.strptime(order["WHENMODIFIED"], "%m/%d/%Y %H:%M:%S")
    modified = modified.replace(tzinfo=ZoneInfo(intacct.emulator.options.timezone))
    erp_last = datetime.fromisoformat(deal["UsrErpLastModified"].replace("Z", "+00:00"))
    assert erp_last == modified


def test_the_order_becomes_an_ar_invoice_whose_number_lands_on_the_opportunity(
    invoiced: dict[str, str], creatio: RunningCreatio, xml: IntacctXml, odata: CreatioOData
) -> None:
    invoice = xml.one("ARINVOICE", "RECORDID = 'ORD-EUR-1'")
    assert (invoice["CUSTOMERID"], invoice["CURRENCY"], invoice["STATE"]) == (
        "EURO1",
        "EUR",
        "Posted",
    )
    items = lines(invoice["ARINVOICEITEMS"]["arinvoiceitem"])
    assert sorted(money(i["TRX_AMOUNT"]) for i in items) == [
        Decimal("23.79"),
        Decimal("89.99"),
        Decimal("200.00"),
    ]
    # The order's total after the discount and with the tax, to the cent.
    assert money(invoice["TOTALENTERED"]) == money(invoice["TOTALDUE"]) == Decimal("313.78")
    deal = odata.get("Opportunity", invoiced["opportunity"])
    assert deal["UsrInvoiceNumber"] == "ORD-EUR-1"
    crm_invoice = odata.one("Invoice", Number="ORD-EUR-1")
    assert crm_invoice["Amount"] == Decimal("313.78") and crm_invoice["PaymentAmount"] == 0
    lookups = creatio.admin.lookups()
    assert crm_invoice["CurrencyId"] == lookups["Currency"]["EUR"]
    assert crm_invoice["PaymentStatusId"] == lookups["InvoicePaymentStatus"]["Planned"]
    assert (crm_invoice["OrderId"], crm_invoice["OpportunityId"]) == (
        invoiced["order"],
        invoiced["opportunity"],
    )


def test_payments_make_the_creatio_invoice_partly_paid_then_paid_and_a_credit_memo_follows(
    invoiced: dict[str, str],
    api: httpx.Client,
    creatio: RunningCreatio,
    intacct: RunningIntacct,
    xml: IntacctXml,
    odata: CreatioOData,
) -> None:
    status = creatio.admin.lookups()["InvoicePaymentStatus"]
    eur = creatio.admin.lookups()["Currency"]["EUR"]
    key = xml.one("ARINVOICE", "RECORDID = 'ORD-EUR-1'")["RECORDNO"]

    def pay(reference: str, amount: str) -> None:
        """Finance enters a payment in Intacct and applies it to the invoice."""
        xml.call(
            "<create_arpayment><customerid>EURO1</customerid>"
            f"<paymentamount>{amount}</paymentamount><bankaccountid>BNK1</bankaccountid>"
            f"<refid>{reference}</refid>{legacy_date('datereceived', 11, 30)}"
            "<paymentmethod>EFT</paymentmethod><currency>EUR</currency>"
            f"<arpaymentitem><invoicekey>{key}</invoicekey><amount>{amount}</amount>"
            "</arpaymentitem></create_arpayment>"
        )

    pay("CHK-1", "100.01")
    run(api, "invoices-to-creatio")
    partly = odata.one("Invoice", Number="ORD-EUR-1")
    assert partly["PaymentAmount"] == Decimal("100.01")
    assert partly["PaymentStatusId"] == status["Partially paid"]

    pay("CHK-2", "213.77")
    run(api, "invoices-to-creatio")
    paid = odata.one("Invoice", Number="ORD-EUR-1")
    assert (paid["PaymentAmount"], paid["Amount"]) == (Decimal("313.78"), Decimal("313.78"))
    assert paid["PaymentStatusId"] == status["Paid"]

    assert run(api, "payments-to-creatio")["counts"]["created"] == 2
    payments = {
        p["UsrRefNumber"]: p for p in odata.where("UsrPayment", UsrAccountId=invoiced["account"])
    }
    assert {k: p["UsrAmount"] for k, p in payments.items()} == {
        "CHK-1": Decimal("100.01"),
        "CHK-2": Decimal("213.77"),
    }
    for payment in payments.values():
        assert (payment["UsrInvoiceId"], payment["UsrOpportunityId"], payment["UsrCurrencyId"]) == (
            paid["Id"],
            invoiced["opportunity"],
            eur,
        )

    # Finance credits part of the invoice in Intacct.
    xml.call(
        f"<create_aradjustment><customerid>EURO1</customerid>{legacy_date('datecreated', 12, 1)}"
        "<adjustmentno>CM-EUR-1</adjustmentno><invoiceno>ORD-EUR-1</invoiceno>"
        "<description>Goodwill</description><currency>EUR</currency><aradjustmentitems>"
        "<lineitem><glaccountno>4000</glaccountno><amount>-20.50</amount></lineitem>"
        "</aradjustmentitems></create_aradjustment>"
    )
    run(api, "credit-memos-to-creatio")
    memo = odata.one("UsrCreditMemo", UsrRefNumber="CM-EUR-1")
    assert (memo["UsrAmount"], memo["UsrName"], memo["UsrCurrencyId"]) == (
        Decimal("-20.50"),
        "Goodwill",
        eur,
    )
    assert (memo["UsrInvoiceId"], memo["UsrOpportunityId"]) == (paid["Id"], invoiced["opportunity"])

    # A full cycle more, nothing changed anywhere: no write at either system.
    before = (creatio.admin.stats()["writes"], intacct.admin.stats()["writes"])
    for flow in INTACCT_FINANCE_FLOWS:
        counts = run(api, flow)["counts"]
        assert counts["created"] + counts["updated"] + counts["failed"] == 0, flow
    assert (creatio.admin.stats()["writes"], intacct.admin.stats()["writes"]) == before
