"""Documents through IntacctSync over real HTTP: written with Intacct's legacy functions
(the emulator refuses the generic create for them, as the gateway does), updated line by
line, refused before sending when the API cannot do what is asked; and AR aging."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest

from shared.connectors.errors import ConnectorError
from shared.connectors.intacct import OBJECTS, IntacctClient, IntacctSync, derived_id
from shared.connectors.protocol import Reference, SourceRef
from shared.errors import ErrorCategory
from tests.support.intacct import RunningIntacct, config

TODAY = date(2024, 2, 29)


@pytest.fixture
async def docs(intacct: RunningIntacct) -> AsyncIterator[IntacctSync]:
    intacct.admin.seed(
        {
            "CUSTOMER": [{"CUSTOMERID": c, "NAME": c} for c in ("C1", "C2")],
            "ITEM": [{"ITEMID": "I1", "NAME": "Bolt"}],
        }
    )
    connector = IntacctSync(IntacctClient(config(intacct.endpoint)), today=lambda: TODAY)
    try:
        yield connector
    finally:
        await connector.aclose()


def _source(id: str, object: str = "Opportunity") -> SourceRef:
    return SourceRef(system="creatio", object=object, id=id)


def _bodies(intacct: RunningIntacct) -> list[str]:
    return [r["body"] for r in intacct.admin.requests()]


ORDER = {
    "TRANSACTIONTYPE": "Sales Order",
    "CUSTOMERID": Reference(object="CUSTOMER", id="C1"),
    "MESSAGE": "Big & <urgent>",
    "lines": [
        {"ITEMID": Reference(object="ITEM", id="I1"), "QUANTITY": 2, "PRICE": "1.50"},
        {"ITEMID": "I1", "QUANTITY": 1, "PRICE": "4"},
    ],
}


async def test_sales_order_is_created_with_create_sotransaction(
    docs: IntacctSync, intacct: RunningIntacct
) -> None:
    made = await docs.create("SODOCUMENT", ORDER, source=_source("o-1"))
    (row,) = intacct.admin.rows("SODOCUMENT")
    assert made.created and made.id == str(row["RECORDNO"])
    number = derived_id(OBJECTS["SODOCUMENT"], _source("o-1"))
    assert (row["DOCNO"], row["DOCID"]) == (number, f"Sales Order-{number}")
    assert (row["WHENCREATED"], row["MESSAGE"], row["TOTAL"]) == (
        "02/29/2024",
        "Big & <urgent>",
        "7.00",
    )
    assert any("<create_sotransaction>" in b for b in _bodies(intacct))
    assert not any("<create>" in b for b in _bodies(intacct))
    again = await docs.create("SODOCUMENT", ORDER, source=_source("o-1"))
    assert (again.id, again.created) == (made.id, False)
    record = await docs.get("SODOCUMENT", made.id)
    assert record is not None
    got = [(x["ITEMID"], x["QUANTITY"]) for x in record.values["lines"]]
    assert got == [("I1", "2"), ("I1", "1")]


async def test_invoice_dates_default_to_the_company_day_and_due_on_receipt(
    docs: IntacctSync, intacct: RunningIntacct
) -> None:
    values = {"CUSTOMERID": "C1", "RECORDID": "INV-7", "lines": [{"TRX_AMOUNT": "9.99"}]}
    made = await docs.create("ARINVOICE", values, source=_source("x", "Order"))
    (row,) = intacct.admin.rows("ARINVOICE")
    assert made.id == str(row["RECORDNO"]) and row["RECORDID"] == "INV-7"
    assert (row["WHENCREATED"], row["WHENDUE"]) == ("02/29/2024", "02/29/2024")
    dated = {**values, "RECORDID": "INV-8", "WHENCREATED": "03/01/2024", "TERMNAME": "N30"}
    await docs.create("ARINVOICE", dated, source=_source("y", "Order"))
    row = next(r for r in intacct.admin.rows("ARINVOICE") if r["RECORDID"] == "INV-8")
    assert (row["WHENCREATED"], row["TERMNAME"]) == ("03/01/2024", "N30")
    assert "WHENDUE" not in row  # terms given: Intacct works the due date out


async def test_sales_order_update_changes_lines_by_number_and_adds_lines(
    docs: IntacctSync, intacct: RunningIntacct
) -> None:
    made = await docs.create("SODOCUMENT", ORDER, source=_source("o-1"))
    intacct.admin.clear_calls()
    lines = [
        {"ITEMID": "I1", "QUANTITY": 5, "PRICE": "1.50"},
        {"ITEMID": "I1", "QUANTITY": 1, "PRICE": "4"},
        {"ITEMID": "I1", "QUANTITY": 3, "PRICE": "1"},
    ]
    same_customer = Reference(object="CUSTOMER", id="C1")
    await docs.update(
        "SODOCUMENT", made.id, {"MESSAGE": "Now", "CUSTOMERID": same_customer, "lines": lines}
    )
    (row,) = intacct.admin.rows("SODOCUMENT")
    got = [(x["QUANTITY"], x["PRICE"]) for x in row["SODOCUMENTENTRIES"]["sodocumententry"]]
    assert got == [("5", "1.50"), ("1", "4"), ("3", "1")]
    assert (row["MESSAGE"], row["TOTAL"]) == ("Now", "14.50")
    (update,) = [b for b in _bodies(intacct) if "update_sotransaction" in b]
    assert f'key="{row["DOCID"]}"' in update and 'line_num="2"' in update
    assert "<customerid>" not in update  # an unchanged customer is simply left out


@pytest.mark.parametrize(
    ("object", "values", "field"),
    [
        ("SODOCUMENT", {"CUSTOMERID": "C2"}, "CUSTOMERID"),
        ("SODOCUMENT", {"lines": [{"ITEMID": "I1", "QUANTITY": 1}]}, "lines"),
        ("SODOCUMENT", {"COLOUR": "red"}, "COLOUR"),
        ("SODOCUMENT", {"WHENDUE": "02/30/2024"}, "WHENDUE"),
        ("ARPAYMENT", {"PAYMENTAMOUNT": "1"}, None),
    ],
    ids=["customer", "fewer-lines", "unknown-field", "bad-date", "payment"],
)
async def test_updates_the_api_cannot_make_are_refused_before_sending(
    docs: IntacctSync, intacct: RunningIntacct, object: str, values: dict, field: str | None
) -> None:
    if object == "SODOCUMENT":
        made = await docs.create("SODOCUMENT", ORDER, source=_source("o-1"))
    else:
        payment = {"CUSTOMERID": "C1", "PAYMENTAMOUNT": "5", "PAYMENTMETHOD": "Printed Check"}
        made = await docs.create("ARPAYMENT", payment, source=_source("p", "Payment"))
    before = intacct.admin.rows(object)
    intacct.admin.clear_calls()
    with pytest.raises(ConnectorError) as raised:
        await docs.update(object, made.id, values)
    error = raised.value
    assert error.category is ErrorCategory.VALIDATION
    assert (error.field, error.record) == (field, made.id)
    assert not any("<update" in b for b in _bodies(intacct))
    assert intacct.admin.rows(object) == before


async def test_a_create_with_a_field_the_function_lacks_names_it_and_sends_nothing(
    docs: IntacctSync, intacct: RunningIntacct
) -> None:
    intacct.admin.clear_calls()
    bad_line = {**ORDER, "lines": [{"ITEMID": "I1", "QUANTITY": 1, "COLOUR": "red"}]}
    for values, field in (
        ({**ORDER, "FOO": 1}, "FOO"),
        (bad_line, "COLOUR"),
        ({**ORDER, "lines": [{"ITEMID": "I1"}]}, "QUANTITY"),
        ({**ORDER, "lines": []}, "lines"),
    ):
        with pytest.raises(ConnectorError) as raised:
            await docs.create("SODOCUMENT", values, source=_source("o-9"))
        assert raised.value.category is ErrorCategory.VALIDATION
        assert raised.value.field == field
        assert raised.value.record == derived_id(OBJECTS["SODOCUMENT"], _source("o-9"))
    assert not any("create_sotransaction" in b for b in _bodies(intacct))


async def test_invoice_update_uses_update_invoice(
    docs: IntacctSync, intacct: RunningIntacct
) -> None:
    values = {"CUSTOMERID": "C1", "lines": [{"TRX_AMOUNT": "10", "ACCOUNTNO": "4000"}]}
    made = await docs.create("ARINVOICE", values, source=_source("o", "Order"))
    await docs.update(
        "ARINVOICE",
        made.id,
        {"DESCRIPTION": "Q3 & more", "WHENDUE": "04/30/2024", "lines": [{"TRX_AMOUNT": "12.5"}]},
    )
    (row,) = intacct.admin.rows("ARINVOICE")
    assert (row["DESCRIPTION"], row["WHENDUE"], row["TOTALDUE"]) == (
        "Q3 & more",
        "04/30/2024",
        "12.50",
    )
    assert row["ARINVOICEITEMS"]["arinvoiceitem"][0]["ACCOUNTNO"] == "4000"  # kept
    with pytest.raises(ConnectorError) as raised:
        await docs.update("ARINVOICE", "999", {"DESCRIPTION": "x"})
    assert raised.value.category is ErrorCategory.NOT_FOUND


async def test_credit_memo_and_payment_creates_are_idempotent(
    docs: IntacctSync, intacct: RunningIntacct
) -> None:
    memo = {"CUSTOMERID": "C1", "lines": [{"TRX_AMOUNT": "-5", "ACCOUNTNO": "4000"}]}
    payment = {"CUSTOMERID": "C1", "PAYMENTAMOUNT": "12.50", "PAYMENTMETHOD": "Printed Check"}
    for object, values in (("ARADJUSTMENT", memo), ("ARPAYMENT", payment)):
        first = await docs.create(object, values, source=_source("s", object))
        again = await docs.create(object, values, source=_source("s", object))
        assert first.created and (again.id, again.created) == (first.id, False)
        (row,) = intacct.admin.rows(object)
        assert str(row["RECORDNO"]) == first.id
    (paid,) = intacct.admin.rows("ARPAYMENT")
    assert paid["PAYMENTDATE"] == "02/29/2024"


# -- AR aging --------------------------------------------------------------------------------
def _invoice(customer: str, due: str, amount: str, paid: str = "0") -> dict:
    lines = {"arinvoiceitem": [{"TRX_AMOUNT": amount}]}
    return {
        "CUSTOMERID": customer,
        "WHENCREATED": "01/01/2024",
        "WHENDUE": due,
        "TOTALPAID": paid,
        "ARINVOICEITEMS": lines,
    }


async def test_ar_aging_reads_every_customer_once_with_its_buckets(
    intacct: RunningIntacct,
) -> None:
    intacct.admin.seed(
        {
            "CUSTOMER": [{"CUSTOMERID": c, "NAME": c} for c in ("A1", "B2", "C3", "D4")],
            "ARINVOICE": [
                _invoice("A1", "06/10/2024", "10"),  # 5 days past due on 06/15
                _invoice("A1", "05/16/2024", "1"),  # 30 days on 06/15 (31 on the UTC date)
                _invoice("A1", "05/01/2024", "20.5"),  # 45
                _invoice("B2", "04/01/2024", "30"),  # 75
                _invoice("B2", "01/01/2024", "40"),  # 166
                _invoice("C3", "05/01/2024", "50", paid="50"),  # paid up: zeros
            ],
        }
    )
    # The window ends 06/15/2024 23:30 in Los Angeles, already the 16th in UTC.
    until = datetime(2024, 6, 16, 6, 30, tzinfo=UTC)
    sync = IntacctSync(IntacctClient(config(intacct.endpoint)))
    try:
        assert await sync.count_changes("ARAGING", since=until, until=until) is None
        cursor: dict | None = await sync.open_changes(
            "ARAGING", since=datetime(2024, 1, 1, tzinfo=UTC), until=until, page_size=2
        )
        seen = []
        while cursor is not None:
            page = await sync.read_changes(cursor)
            seen += page.records
            cursor = page.cursor
    finally:
        await sync.aclose()
    assert [r.id for r in seen] == ["A1", "B2", "C3"]  # D4 has no AR activity
    assert all(r.modified == until for r in seen)
    by_id = {r.id: r.values for r in seen}
    assert by_id["A1"] == {
        "CUSTOMERID": "A1",
        "AGING_0_30": "11.00",
        "AGING_31_60": "20.50",
        "AGING_61_90": "0.00",
        "AGING_OVER_90": "0.00",
        "TOTALDUE": "31.50",
    }
    assert (by_id["B2"]["AGING_61_90"], by_id["B2"]["AGING_OVER_90"]) == ("30.00", "40.00")
    assert by_id["C3"]["TOTALDUE"] == "0.00"
    assert intacct.admin.stats()["functions"]["get_araging"] == 2  # one report per page


async def test_ar_aging_of_one_customer_and_it_is_read_only(intacct: RunningIntacct) -> None:
    intacct.admin.seed(
        {
            "CUSTOMER": [{"CUSTOMERID": "A1", "NAME": "A"}],
            "ARINVOICE": [_invoice("A1", "05/01/2024", "20")],
        }
    )
    sync = IntacctSync(IntacctClient(config(intacct.endpoint)), today=lambda: date(2024, 6, 15))
    try:
        record = await sync.get("ARAGING", "A1")
        assert record is not None and record.values["AGING_31_60"] == "20.00"
        found = await sync.find("ARAGING", {"CUSTOMERID": Reference(object="CUSTOMER", id="A1")})
        assert [r.values for r in found] == [record.values]
        assert await sync.get("ARAGING", "NOBODY") is None
        with pytest.raises(ConnectorError) as raised:
            await sync.create("ARAGING", {"CUSTOMERID": "A1"}, source=_source("a", "Account"))
        assert raised.value.category is ErrorCategory.VALIDATION
        with pytest.raises(ConnectorError) as raised:
            await sync.find("ARAGING", {"NAME": "A"})
        assert raised.value.field == "CUSTOMERID"
    finally:
        await sync.aclose()
