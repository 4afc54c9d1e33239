"""Finance, Creatio ⇄ Sage Intacct, through the engine against both emulators over HTTP on
Azurite: a won opportunity in EUR with a discounted line becomes a sales order whose lines and
total match, its number lands on the opportunity; the Creatio order (one line taxed) becomes an
AR invoice to the cent, its number lands on the opportunity; a partial then a full payment
applied in Intacct make the Creatio invoice partly paid, then paid, with the right amounts;
payments and a credit memo arrive linked to their invoice and opportunity, in EUR."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shared.connectors.protocol import LINES_FIELD, SourceRef
from shared.flows.models import RunRecord, RunStatus
from shared.runtime import Services
from tests.support.creatio import RunningCreatio
from tests.support.engine import fail_missing_links_fast, run_flow
from tests.support.finance import (
    INTACCT_FINANCE_FLOWS,
    euro_deal,
    one,
    opportunity_lines,
    order_lines,
)
from tests.support.intacct import RunningIntacct

SOLUTION = "creatio-intacct"


@pytest.fixture
def intacct_engine_settings() -> dict[str, str]:
    return {}  # pages as deployed


@pytest.fixture
def services(intacct_services: Services) -> Services:
    fail_missing_links_fast(intacct_services)
    return intacct_services


async def run(services: Services, flow: str) -> RunRecord:
    done = await run_flow(services, f"{SOLUTION}.{flow}")
    assert done.status is RunStatus.SUCCEEDED, (flow, done.errors)
    return done


async def test_won_opportunity_to_paid_invoice_with_payments_and_a_credit_memo(
    services: Services, creatio_emulator: RunningCreatio, intacct_emulator: RunningIntacct
) -> None:
    creatio, intacct = creatio_emulator, intacct_emulator
    lookups = creatio.admin.lookups()
    eur = lookups["Currency"]["EUR"]
    status = lookups["InvoicePaymentStatus"]
    intacct.admin.seed(
        {
            "ITEM": [
                {"ITEMID": code, "NAME": f"Item {code}", "STATUS": "active", "BASEPRICE": "1"}
                for code in ("LIC", "SVC", "HW")
            ]
        }
    )
    creatio.admin.seed({"Account": [{"Name": "Euro Buyer GmbH", "Code": "EURO1"}]})
    await run(services, "accounts-to-intacct")
    await run(services, "customers-to-creatio")  # binds the echo; no twin
    await run(services, "items-to-creatio")
    account = one(creatio.rows("Account"), Code="EURO1")["Id"]
    product = {r["Code"]: str(r["Id"]) for r in creatio.rows("Product")}

    # -- an opportunity won, three lines, in EUR: one line 10 % off -------------------------
    creatio.admin.seed(
        {
            "Opportunity": [
                euro_deal(
                    str(account),
                    lookups["OpportunityStage"]["Closed won"],
                    eur,
                    DueDate="2026-11-20T00:00:00Z",
                )
            ]
        }
    )
    opportunity = str(one(creatio.rows("Opportunity"), Title="Euro deal")["Id"])
    creatio.admin.seed({"OpportunityProductInterest": opportunity_lines(opportunity, product)})
    await run(services, "opportunities-to-sales-orders")
    order = one(intacct.admin.rows("SODOCUMENT"))
    assert (order["CUSTOMERID"], order["CURRENCY"]) == ("EURO1", "EUR")
    lines = {line["ITEMID"]: line for line in order["SODOCUMENTENTRIES"]["sodocumententry"]}
    assert {k: (v["QUANTITY"], v["PRICE"], v.get("DISCOUNTPERCENT")) for k, v in lines.items()} == {
        "LIC": ("2", "100.00", "0"),
        "SVC": ("3", "33.33", "10"),
        "HW": ("1", "19.99", "0"),
    }
    # 200.00 + 99.99 less 10 % (89.99) + 19.99: the opportunity's net amount to the cent.
    assert order["TOTAL"] == "309.98"

    await run(services, "sales-orders-to-opportunities")
    won = one(creatio.rows("Opportunity"), Id=opportunity)
    assert won["UsrSalesOrderNumber"] == order["DOCNO"]
    assert won["UsrErpLastModified"]

    # -- the Creatio order (one line discounted, one taxed) becomes the AR invoice ----------
    creatio.admin.seed(
        {
            "Order": [
                {
                    "Number": "ORD-EUR-1",
                    "AccountId": str(account),
                    "OpportunityId": opportunity,
                    "Date": "2026-11-21T00:00:00Z",
                    "DueDate": "2026-12-21T00:00:00Z",
                    "CurrencyId": eur,
                }
            ]
        }
    )
    creatio_order = str(one(creatio.rows("Order"), Number="ORD-EUR-1")["Id"])
    creatio.admin.seed({"OrderProduct": order_lines(creatio_order, product)})
    await run(services, "orders-to-invoices")
    invoice = one(intacct.admin.rows("ARINVOICE"), RECORDID="ORD-EUR-1")
    assert invoice["CURRENCY"] == "EUR"
    assert sorted(i["TRX_AMOUNT"] for i in invoice["ARINVOICEITEMS"]["arinvoiceitem"]) == [
        "200.00",
        "23.79",
        "89.99",
    ]
    assert (invoice["TOTALENTERED"], invoice["TOTALDUE"], invoice["STATE"]) == (
        "313.78",
        "313.78",
        "Posted",
    )

    # An invoice entered in Intacct itself has no Creatio order: it links to none and its
    # number goes onto no opportunity (skipped, never waiting or failing).
    intacct.admin.seed(
        {
            "ARINVOICE": [
                {
                    "CUSTOMERID": "EURO1",
                    "RECORDID": "IA-ONLY",
                    "WHENDUE": "12/31/2026",
                    "ARINVOICEITEMS": {"arinvoiceitem": [{"TRX_AMOUNT": "50.00"}]},
                }
            ]
        }
    )
    await run(services, "invoices-to-creatio")
    numbers = await run(services, "invoices-to-opportunities")
    assert (numbers.counts.updated, numbers.counts.skipped) == (1, 1)
    own = one(creatio.rows("Invoice"), Number="IA-ONLY")
    assert (own["OrderId"], own["OpportunityId"]) == (None, None)
    crm_invoice = one(creatio.rows("Invoice"), Number="ORD-EUR-1")
    assert (crm_invoice["Amount"], crm_invoice["PaymentAmount"]) == (Decimal("313.78"), 0)
    assert str(crm_invoice["PaymentStatusId"]) == status["Planned"]
    assert str(crm_invoice["CurrencyId"]) == eur
    assert (str(crm_invoice["OrderId"]), str(crm_invoice["OpportunityId"])) == (
        creatio_order,
        opportunity,
    )
    assert one(creatio.rows("Opportunity"), Id=opportunity)["UsrInvoiceNumber"] == "ORD-EUR-1"

    # -- a partial, then the full payment, applied to the invoice in Intacct ----------------
    sync = await services.connectors.get("intacct")

    async def pay(reference: str, amount: str) -> None:
        await sync.create(
            "ARPAYMENT",
            {
                "CUSTOMERID": "EURO1",
                "PAYMENTAMOUNT": Decimal(amount),
                "FINANCIALENTITY": "BNK1",
                "DOCNUMBER": reference,
                "PAYMENTDATE": "11/30/2026",
                "PAYMENTMETHOD": "EFT",
                "CURRENCY": "EUR",
                LINES_FIELD: [{"INVOICEKEY": invoice["RECORDNO"], "AMOUNT": Decimal(amount)}],
            },
            source=SourceRef(system="test", object="payment", id=reference),
        )

    await pay("CHK-1", "100.01")
    assert one(intacct.admin.rows("ARINVOICE"), RECORDID="ORD-EUR-1")["STATE"] == ("Partially Paid")
    await run(services, "invoices-to-creatio")
    partly = one(creatio.rows("Invoice"), Number="ORD-EUR-1")
    assert partly["PaymentAmount"] == Decimal("100.01")
    assert str(partly["PaymentStatusId"]) == status["Partially paid"]

    await pay("CHK-2", "213.77")
    paid_in_erp = one(intacct.admin.rows("ARINVOICE"), RECORDID="ORD-EUR-1")
    assert (paid_in_erp["STATE"], paid_in_erp["TOTALDUE"]) == ("Paid", "0.00")
    await run(services, "invoices-to-creatio")
    paid = one(creatio.rows("Invoice"), Number="ORD-EUR-1")
    assert (paid["PaymentAmount"], paid["Amount"]) == (Decimal("313.78"), Decimal("313.78"))
    assert str(paid["PaymentStatusId"]) == status["Paid"]

    payments = await run(services, "payments-to-creatio")
    assert payments.counts.created == 2
    by_ref = {r["UsrRefNumber"]: r for r in creatio.rows("UsrPayment")}
    assert {k: v["UsrAmount"] for k, v in by_ref.items()} == {
        "CHK-1": Decimal("100.01"),
        "CHK-2": Decimal("213.77"),
    }
    for payment in by_ref.values():
        assert str(payment["UsrInvoiceId"]) == str(paid["Id"])
        assert str(payment["UsrOpportunityId"]) == opportunity
        assert str(payment["UsrCurrencyId"]) == eur

    # -- a credit memo against the invoice reaches Creatio linked to it and the deal --------
    await sync.create(
        "ARADJUSTMENT",
        {
            "CUSTOMERID": "EURO1",
            "WHENCREATED": "12/01/2026",
            "RECORDID": "CM-EUR-1",
            "DOCNUMBER": "ORD-EUR-1",
            "DESCRIPTION": "Goodwill",
            "CURRENCY": "EUR",
            LINES_FIELD: [{"ACCOUNTNO": "4000", "TRX_AMOUNT": Decimal("-20.50")}],
        },
        source=SourceRef(system="test", object="memo", id="CM-EUR-1"),
    )
    await run(services, "credit-memos-to-creatio")
    memo = one(creatio.rows("UsrCreditMemo"), UsrRefNumber="CM-EUR-1")
    assert memo["UsrAmount"] == Decimal("-20.50")
    assert (str(memo["UsrInvoiceId"]), str(memo["UsrOpportunityId"])) == (
        str(paid["Id"]),
        opportunity,
    )
    assert str(memo["UsrCurrencyId"]) == eur

    # A full cycle more with nothing changed writes nothing anywhere.
    before = (creatio.admin.stats()["writes"], intacct.admin.stats()["writes"])
    for flow in INTACCT_FINANCE_FLOWS:
        again = await run(services, flow)
        assert again.counts.created + again.counts.updated + again.counts.failed == 0, flow
    assert (creatio.admin.stats()["writes"], intacct.admin.stats()["writes"]) == before
