"""`get_araging` (legacy, the XML API's AR aging report; developer.intacct.com
/api/accounts-receivable/ar-aging): what each customer owes, in aging periods, computed from
the AR invoices the emulator holds (TOTALDUE = TOTALENTERED - TOTALPAID).

Request: `agingperiods` (default 0-30,31-60,61-90,91-120,121-), `customerid`, `asofdate`
(`<year><month><day>`, default today in the company zone), `useduedate` (age from WHENDUE
instead of WHENCREATED), `showdetails`, `showzerowithactivity`, in that order. Answer (shape
as the fylein Python SDK documents it; the element layout is UNCONFIRMED):

    <data><araging><customerid>C1</customerid>
      <aging><agingperiod>0-30</agingperiod><totalamount>10.00</totalamount>
        [<agingdetails><agingdetail><recordno/><invoiceno/><totaldue/><whendue/></agingdetail>
        </agingdetails>]</aging>...</araging>...</data>
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # building only
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal

from sandbox.emulators.intacct.legacy import ordered, parse_date
from sandbox.emulators.intacct.store import Row, Store, business_error, decimal_of

DEFAULT_PERIODS = "0-30,31-60,61-90,91-120,121-"
_ORDER = (
    "agingperiods",
    "customerid",
    "invoiceno",
    "locationid",
    "departmentid",
    "asofdate",
    "useduedate",
    "showdetails",
    "useglpostdate",
    "showzerowithactivity",
)


def _periods(text: str) -> list[tuple[str, int, int | None]]:
    out: list[tuple[str, int, int | None]] = []
    for raw in text.split(","):
        label = raw.strip()
        low, dash, high = label.partition("-")
        try:
            period = (label, int(low), int(high) if high.strip() else None)
        except ValueError:
            raise business_error(
                f"Invalid aging period '{label}'.", "Use ranges like 31-60 or 121-."
            ) from None
        previous = out[-1][2] if out else -1
        if (
            not dash
            or previous is None
            or period[1] <= previous
            or (period[2] is not None and period[2] < period[1])
        ):
            raise business_error(
                f"Aging periods must be ascending ranges that do not overlap: '{text}'.",
                "Use ranges like 0-30,31-60,61-90,91-.",
            )
        out.append(period)
    return out


def _day(text: str) -> date | None:
    try:
        return datetime.strptime(str(text).strip()[:10], "%m/%d/%Y").date()
    except ValueError:
        return None


def _flag(fn: ET.Element, name: str) -> bool:
    return (fn.findtext(name) or "").strip().lower() == "true"


def get_araging(store: Store, fn: ET.Element, result: ET.Element) -> None:
    ordered(fn, _ORDER)
    periods = _periods(fn.findtext("agingperiods") or DEFAULT_PERIODS)
    asof_element = fn.find("asofdate")
    asof_text = parse_date(asof_element) if asof_element is not None else store.now_local()
    asof = _day(asof_text)
    assert asof is not None
    customer = (fn.findtext("customerid") or "").strip()
    by_due, details = _flag(fn, "useduedate"), _flag(fn, "showdetails")
    owed: dict[str, dict[str, list[Row]]] = defaultdict(lambda: defaultdict(list))
    active: set[str] = set()
    for invoice in store.table("ARINVOICE").values():
        who = str(invoice.get("CUSTOMERID") or "")
        created = _day(invoice.get("WHENCREATED", ""))
        if not who or (customer and who != customer) or created is None or created > asof:
            continue
        active.add(who)
        basis = (_day(invoice.get("WHENDUE", "")) if by_due else None) or created
        days = max(0, (asof - basis).days)  # not yet due: the first period
        label = next(
            (p[0] for p in periods if p[1] <= days and (p[2] is None or days <= p[2])), None
        )
        if label is not None and decimal_of(invoice.get("TOTALDUE")) != 0:
            owed[who][label].append(invoice)
    data = ET.SubElement(result, "data")
    shown = active if _flag(fn, "showzerowithactivity") else set(owed)
    for who in sorted(shown):
        block = ET.SubElement(data, "araging")
        ET.SubElement(block, "customerid").text = who
        for label, _, _ in periods:
            invoices = owed[who][label] if who in owed else []
            total = sum((decimal_of(i.get("TOTALDUE")) for i in invoices), Decimal(0))
            aging = ET.SubElement(block, "aging")
            ET.SubElement(aging, "agingperiod").text = label
            ET.SubElement(aging, "totalamount").text = format(total.quantize(Decimal("0.01")), "f")
            if details and invoices:
                listing = ET.SubElement(aging, "agingdetails")
                for invoice in invoices:
                    detail = ET.SubElement(listing, "agingdetail")
                    ET.SubElement(detail, "recordno").text = str(invoice["RECORDNO"])
                    ET.SubElement(detail, "invoiceno").text = invoice.get("RECORDID") or None
                    ET.SubElement(detail, "totaldue").text = str(invoice.get("TOTALDUE"))
                    ET.SubElement(detail, "whendue").text = invoice.get("WHENDUE") or None
