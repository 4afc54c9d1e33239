"""AR aging as a source object (`ARAGING`): what each customer owes, by how long it has been
past due, from the `get_araging` report (developer.intacct.com/api/accounts-receivable/
ar-aging; the generic API has no aging object).

One record per customer with AR activity (zero balances included, so a customer who paid up
gets zeros written): id CUSTOMERID, values CUSTOMERID, AGING_0_30 (not yet due or at most 30
days past due), AGING_31_60, AGING_61_90, AGING_OVER_90 and TOTALDUE, amounts as text with two
decimals, aged by due date as of the change window's end in the company's time zone. The
report is one function however many customers there are (one API transaction); a page is a
slice of it after the last CUSTOMERID the previous page returned.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # building only
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.connectors.errors import ConnectorError
from shared.connectors.intacct.client import Call, IntacctClient
from shared.connectors.intacct.config import SYSTEM
from shared.connectors.intacct.errors import bad_answer
from shared.connectors.protocol import ChangePage, SyncRecord
from shared.errors import ErrorCategory

OBJECT = "ARAGING"
PERIODS = {
    "0-30": "AGING_0_30",
    "31-60": "AGING_31_60",
    "61-90": "AGING_61_90",
    "91-": "AGING_OVER_90",
}
FIELDS = ("CUSTOMERID", *PERIODS.values(), "TOTALDUE")


class AgingCursor(BaseModel):
    model_config = ConfigDict(extra="forbid")

    v: int = 1
    object: str = OBJECT
    asof: str  # mm/dd/yyyy, company-local
    modified: str  # ISO 8601 UTC: the records' `modified` (the window's end)
    after: str | None = None  # the last CUSTOMERID returned
    page_size: int = Field(ge=1)


def request(asof: date, customer: str | None = None) -> ET.Element:
    body = ET.Element("get_araging")
    ET.SubElement(body, "agingperiods").text = ",".join(PERIODS)
    if customer:
        ET.SubElement(body, "customerid").text = customer
    when = ET.SubElement(body, "asofdate")
    ET.SubElement(when, "year").text = f"{asof.year:04d}"
    ET.SubElement(when, "month").text = f"{asof.month:02d}"
    ET.SubElement(when, "day").text = f"{asof.day:02d}"
    ET.SubElement(body, "useduedate").text = "true"
    ET.SubElement(body, "showdetails").text = "false"
    ET.SubElement(body, "showzerowithactivity").text = "true"
    return body


def _amount(text: str | None, customer: str) -> Decimal:
    try:
        return Decimal((text or "0").strip() or "0")
    except InvalidOperation:
        raise bad_answer(
            f"read AR aging: amount {text!r} of customer {customer} is not a number",
            record=customer,
        ) from None


def balances(data: ET.Element | None) -> list[dict[str, Any]]:
    """The report's customers, sorted by CUSTOMERID."""
    out = []
    for block in data if data is not None else []:
        customer = (block.findtext("customerid") or block.get("customerid") or "").strip()
        if not customer:
            raise bad_answer("read AR aging: a customer's block names no customerid")
        sums = dict.fromkeys(PERIODS.values(), Decimal(0))
        for aging in block.findall("aging"):
            period = (aging.findtext("agingperiod") or "").strip()
            if period not in PERIODS:
                raise bad_answer(
                    f"read AR aging: unexpected aging period {period!r}", record=customer
                )
            sums[PERIODS[period]] += _amount(aging.findtext("totalamount"), customer)
        row: dict[str, Any] = {"CUSTOMERID": customer}
        row |= {name: _money(value) for name, value in sums.items()}
        row["TOTALDUE"] = _money(sum(sums.values(), Decimal(0)))
        out.append(row)
    return sorted(out, key=lambda r: r["CUSTOMERID"])


def _money(value: Decimal) -> str:
    return format(value.quantize(Decimal("0.01")), "f")


class AgingReport:
    """ARAGING for IntacctSync: change pages, one customer's balances."""

    def __init__(self, client: IntacctClient, today: Callable[[], date]) -> None:
        self.client = client
        self.today = today

    async def rows(self, asof: date, customer: str | None = None) -> list[dict[str, Any]]:
        call = Call(request(asof, customer), "read AR aging", customer)
        return balances((await self.client.call(call)).data)

    def open(self, asof: date, until: datetime, page_size: int) -> dict[str, Any]:
        cursor = AgingCursor(
            asof=asof.strftime("%m/%d/%Y"),
            modified=until.astimezone(UTC).isoformat(),
            page_size=page_size,
        )
        return cursor.model_dump()

    async def page(self, cursor: Mapping[str, Any]) -> ChangePage:
        try:
            state = AgingCursor.model_validate(dict(cursor))
            asof = datetime.strptime(state.asof, "%m/%d/%Y").date()
            modified = datetime.fromisoformat(state.modified)
        except (ValidationError, ValueError) as exc:
            raise ConnectorError(
                f"not an Intacct AR aging cursor: {exc}",
                category=ErrorCategory.VALIDATION,
                system=SYSTEM,
                code="invalid_request",
            ) from None
        after = state.after
        rows = [r for r in await self.rows(asof) if after is None or r["CUSTOMERID"] > after]
        chunk = rows[: state.page_size]
        records = [SyncRecord(id=r["CUSTOMERID"], modified=modified, values=r) for r in chunk]
        if len(rows) <= state.page_size:
            return ChangePage(records=records, cursor=None)
        following = state.model_copy(update={"after": chunk[-1]["CUSTOMERID"]})
        return ChangePage(records=records, cursor=following.model_dump())

    async def one(self, customer: str) -> SyncRecord | None:
        found = [r for r in await self.rows(self.today(), customer) if r["CUSTOMERID"] == customer]
        if not found:
            return None
        return SyncRecord(id=customer, modified=datetime.now(UTC), values=found[0])
