"""Documents on the emulator's wire: written only by the legacy functions (DTD order, dates
as year/month/day, `<key>` answers), read back with the generic ones; and get_araging."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest

from tests.support.intacct import RunningIntacct, envelope, post, results

ORDER = (
    "<create_sotransaction><transactiontype>Sales Order</transactiontype>"
    "<datecreated><year>2024</year><month>05</month><day>01</day></datecreated>"
    "<customerid>C1</customerid><documentno>SO-1</documentno><message>Rush</message>"
    "<sotransitems>"
    "<sotransitem><itemid>I1</itemid><quantity>2</quantity><price>1.50</price></sotransitem>"
    "<sotransitem><itemid>I1</itemid><quantity>1</quantity><price>4</price></sotransitem>"
    "</sotransitems></create_sotransaction>"
)
INVOICE = (
    "<create_invoice><customerid>C1</customerid>"
    "<datecreated><year>2024</year><month>05</month><day>01</day></datecreated>"
    "<datedue><year>2024</year><month>05</month><day>31</day></datedue>"
    "<invoiceno>INV-1</invoiceno><invoiceitems>"
    "<lineitem><glaccountno>4000</glaccountno><amount>10.00</amount></lineitem>"
    "<lineitem><glaccountno>4000</glaccountno><amount>2.50</amount></lineitem>"
    "</invoiceitems></create_invoice>"
)


@pytest.fixture
def company(intacct: RunningIntacct) -> RunningIntacct:
    intacct.admin.seed(
        {
            "CUSTOMER": [{"CUSTOMERID": "C1", "NAME": "A"}],
            "ITEM": [{"ITEMID": "I1", "NAME": "Bolt"}],
        }
    )
    return intacct


def _one(intacct: RunningIntacct, *functions: str) -> ET.Element:
    _, answer = post(intacct.url, envelope(*functions))
    (result,) = results(answer)
    return result


def _errors(result: ET.Element) -> list[tuple[str, str]]:
    return [
        (e.findtext("errorno") or "", e.findtext("description2") or "")
        for e in result.findall("errormessage/error")
    ]


def test_create_sotransaction_answers_its_docid_and_reads_generically(
    company: RunningIntacct,
) -> None:
    result = _one(company, ORDER)
    assert result.findtext("status") == "success" and result.findtext("function") == (
        "create_sotransaction"
    )
    assert result.findtext("key") == "Sales Order-SO-1" and result.find("data") is None
    (row,) = company.admin.rows("SODOCUMENT")
    read = f"<read><object>SODOCUMENT</object><keys>{row['RECORDNO']}</keys></read>"
    doc = _one(company, read).find("data/sodocument")
    assert doc is not None
    assert (doc.findtext("DOCID"), doc.findtext("DOCNO"), doc.findtext("CUSTOMERID")) == (
        "Sales Order-SO-1",
        "SO-1",
        "C1",
    )
    assert (doc.findtext("WHENCREATED"), doc.findtext("MESSAGE"), doc.findtext("TOTAL")) == (
        "05/01/2024",
        "Rush",
        "7.00",
    )
    lines = doc.findall("SODOCUMENTENTRIES/sodocumententry")
    assert [(x.findtext("LINE_NO"), x.findtext("QUANTITY")) for x in lines] == [
        ("0", "2"),
        ("1", "1"),
    ]


def test_create_invoice_answers_its_recordno(company: RunningIntacct) -> None:
    result = _one(company, INVOICE)
    (row,) = company.admin.rows("ARINVOICE")
    assert result.findtext("key") == str(row["RECORDNO"])
    assert (row["RECORDID"], row["WHENDUE"], row["TOTALENTERED"], row["TOTALDUE"]) == (
        "INV-1",
        "05/31/2024",
        "12.50",
        "12.50",
    )
    assert [line["ACCOUNTNO"] for line in row["ARINVOICEITEMS"]["arinvoiceitem"]] == ["4000"] * 2


@pytest.mark.parametrize(
    ("function", "message"),
    [
        (
            ORDER.replace("<customerid>C1</customerid>", "").replace(
                "<transactiontype>", "<customerid>C1</customerid><transactiontype>"
            ),
            "out of order",
        ),
        (ORDER.replace("<message>Rush</message>", "<MESSAGE>Rush</MESSAGE>"), "not allowed"),
        (
            ORDER.replace(
                "<datecreated><year>2024</year><month>05</month><day>01</day></datecreated>", ""
            ),
            "Required element <datecreated>",
        ),
        (
            INVOICE.replace(
                "<datedue><year>2024</year><month>05</month><day>31</day></datedue>", ""
            ),
            "one of <datedue>, <termname>",
        ),
        (
            INVOICE.replace(
                "<lineitem><glaccountno>4000</glaccountno><amount>2.50</amount>",
                "<lineitem><glaccountno>4000</glaccountno>",
            ),
            "Required element <amount>",
        ),
    ],
    ids=["order", "unknown-element", "required", "due-or-terms", "line-required"],
)
def test_legacy_functions_follow_their_dtd(
    company: RunningIntacct, function: str, message: str
) -> None:
    result = _one(company, function)
    assert result.findtext("status") == "failure"
    ((errorno, text),) = _errors(result)
    assert errorno == "XL03000003" and message in text
    assert company.admin.rows("SODOCUMENT") == [] and company.admin.rows("ARINVOICE") == []


def test_an_impossible_date_fails(company: RunningIntacct) -> None:
    result = _one(
        company, INVOICE.replace("<month>05</month><day>31</day>", "<month>06</month><day>31</day>")
    )
    assert result.findtext("status") == "failure"
    assert "Invalid date 2024/06/31" in _errors(result)[0][1]


@pytest.mark.parametrize("document", ["SODOCUMENT", "ARINVOICE", "ARADJUSTMENT", "ARPAYMENT"])
def test_generic_create_and_update_refuse_documents(company: RunningIntacct, document: str) -> None:
    body = f"<{document}><CUSTOMERID>C1</CUSTOMERID></{document}>"
    for function in ("create", "update"):
        result = _one(company, f"<{function}>{body}</{function}>")
        assert result.findtext("status") == "failure"
        assert f"does not support {document}" in _errors(result)[0][1]
    assert company.admin.rows(document) == []


def test_update_sotransaction_changes_lines_by_number_and_adds_lines(
    company: RunningIntacct,
) -> None:
    _one(company, ORDER)
    update = (
        '<update_sotransaction key="Sales Order-SO-1"><message>Now</message>'
        '<updatesotransitems><updatesotransitem line_num="2"><quantity>5</quantity>'
        "</updatesotransitem><sotransitem><itemid>I1</itemid><quantity>3</quantity>"
        "<price>1</price></sotransitem></updatesotransitems></update_sotransaction>"
    )
    result = _one(company, update)
    assert result.findtext("status") == "success"
    assert result.findtext("key") == "Sales Order-SO-1"
    (row,) = company.admin.rows("SODOCUMENT")
    lines = row["SODOCUMENTENTRIES"]["sodocumententry"]
    assert [(x["LINE_NO"], x["QUANTITY"], x["PRICE"]) for x in lines] == [
        ("0", "2", "1.50"),
        ("1", "5", "4"),
        ("2", "3", "1"),
    ]
    assert (row["MESSAGE"], row["TOTAL"], row["CUSTOMERID"]) == ("Now", "26.00", "C1")
    missing = update.replace('line_num="2"', 'line_num="9"')
    assert "Line 9 does not exist" in _errors(_one(company, missing))[0][1]
    gone = update.replace('key="Sales Order-SO-1"', 'key="Sales Order-NOPE"')
    assert "Cannot update non-existing SODOCUMENT" in _errors(_one(company, gone))[0][1]
    # update_sotransaction has no customerid: moving an order to another customer is refused
    moved = update.replace("<message>Now</message>", "<customerid>C2</customerid>")
    assert _errors(_one(company, moved))[0][0] == "XL03000003"


def test_adjustment_and_payment_have_their_legacy_creates(company: RunningIntacct) -> None:
    adjustment = (
        "<create_aradjustment><customerid>C1</customerid><datecreated><year>2024</year>"
        "<month>05</month><day>02</day></datecreated><adjustmentno>CM-1</adjustmentno>"
        "<aradjustmentitems><lineitem><glaccountno>4000</glaccountno><amount>-5</amount>"
        "</lineitem></aradjustmentitems></create_aradjustment>"
    )
    payment = (
        "<create_arpayment><customerid>C1</customerid><paymentamount>12.50</paymentamount>"
        "<refid>CHK-7</refid><datereceived><year>2024</year><month>05</month><day>03</day>"
        "</datereceived><paymentmethod>Printed Check</paymentmethod></create_arpayment>"
    )
    _, answer = post(company.url, envelope(adjustment, payment))
    keys = [r.findtext("key") for r in results(answer)]
    (credit,) = company.admin.rows("ARADJUSTMENT")
    (paid,) = company.admin.rows("ARPAYMENT")
    assert keys == [str(credit["RECORDNO"]), str(paid["RECORDNO"])]
    assert (credit["RECORDID"], credit["TOTALENTERED"], credit["TOTALDUE"]) == (
        "CM-1",
        "-5.00",
        "-5.00",
    )
    assert (paid["DOCNUMBER"], paid["PAYMENTDATE"], paid["PAYMENTAMOUNT"]) == (
        "CHK-7",
        "05/03/2024",
        "12.50",
    )


def test_line_elements_are_matched_whatever_their_case(company: RunningIntacct) -> None:
    # docs/wire-notes.md I6: written ARINVOICEITEMS/ARINVOICEITEM, read arinvoiceitem.
    company.admin.seed(
        {
            "ARINVOICE": [
                {
                    "CUSTOMERID": "C1",
                    "ARINVOICEITEMS": {"ARINVOICEITEM": [{"TRX_AMOUNT": "3"}, {"TRX_AMOUNT": "4"}]},
                }
            ]
        }
    )
    (row,) = company.admin.rows("ARINVOICE")
    assert row["TOTALENTERED"] == "7.00"
    assert [x["TRX_AMOUNT"] for x in row["ARINVOICEITEMS"]["arinvoiceitem"]] == ["3", "4"]


# -- get_araging ---------------------------------------------------------------------------
def _invoice(customer: str, created: str, due: str, amount: str, paid: str = "0") -> dict:
    return {
        "CUSTOMERID": customer,
        "WHENCREATED": created,
        "WHENDUE": due,
        "TOTALPAID": paid,
        "ARINVOICEITEMS": {"arinvoiceitem": [{"TRX_AMOUNT": amount}]},
    }


def _aging(intacct: RunningIntacct, extra: str = "", periods: str = "0-30,31-60,61-90,91-"):
    body = (
        f"<get_araging><agingperiods>{periods}</agingperiods>{extra}"
        "<asofdate><year>2024</year><month>06</month><day>15</day></asofdate>"
        "<useduedate>true</useduedate><showzerowithactivity>true</showzerowithactivity>"
        "</get_araging>"
    )
    result = _one(intacct, body)
    assert result.findtext("status") == "success", _errors(result)
    return {
        block.findtext("customerid"): {
            a.findtext("agingperiod"): a.findtext("totalamount") for a in block.findall("aging")
        }
        for block in result.findall("data/araging")
    }


def test_get_araging_buckets_what_is_owed_by_days_past_due(intacct: RunningIntacct) -> None:
    intacct.admin.seed(
        {
            "CUSTOMER": [
                {"CUSTOMERID": c, "NAME": c} for c in ("C1", "C2", "PAID", "NONE", "EDGE")
            ],
            "ARINVOICE": [
                _invoice("C1", "04/01/2024", "05/01/2024", "100"),  # 45 days past due
                _invoice("C1", "06/01/2024", "07/01/2024", "50", paid="20"),  # not yet due
                _invoice("C1", "06/20/2024", "07/20/2024", "999"),  # made after the as-of date
                _invoice("C2", "12/01/2023", "01/01/2024", "70"),  # 166 days past due
                _invoice("PAID", "05/01/2024", "05/31/2024", "10", paid="10"),
                _invoice("EDGE", "04/01/2024", "05/16/2024", "1"),  # 30 days: still 0-30
                _invoice("EDGE", "04/01/2024", "05/15/2024", "2"),  # 31 days
                _invoice("EDGE", "01/01/2024", "03/17/2024", "4"),  # 90 days
                _invoice("EDGE", "01/01/2024", "03/16/2024", "8"),  # 91 days
            ],
        }
    )
    zero = {"0-30": "0.00", "31-60": "0.00", "61-90": "0.00", "91-": "0.00"}
    assert _aging(intacct) == {
        "C1": zero | {"0-30": "30.00", "31-60": "100.00"},
        "C2": zero | {"91-": "70.00"},
        "PAID": zero,  # activity, nothing owed: shown with showzerowithactivity
        "EDGE": {"0-30": "1.00", "31-60": "2.00", "61-90": "4.00", "91-": "8.00"},
    }
    assert _aging(intacct, "<customerid>C2</customerid>") == {"C2": zero | {"91-": "70.00"}}
    wider = _aging(intacct, periods="0-60,61-").get("C1")
    assert wider == {"0-60": "130.00", "61-": "0.00"}  # 45 days past due, and not yet due


def test_get_araging_refuses_overlapping_periods(intacct: RunningIntacct) -> None:
    body = "<get_araging><agingperiods>0-30,20-60</agingperiods></get_araging>"
    result = _one(intacct, body)
    assert result.findtext("status") == "failure"
    assert "do not overlap" in _errors(result)[0][1]
