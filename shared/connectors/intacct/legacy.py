"""Writing documents. Intacct's XML API creates sales orders, AR invoices, AR adjustments and
AR payments only through its legacy functions (developer.intacct.com lists just "Create ...
(Legacy)" for them; the official SDK builds create_sotransaction, create_invoice,
create_aradjustment, create_arpayment; docs/wire-notes.md I5), and updates sales orders and invoices
through update_sotransaction / update_invoice. Shuttle names fields in the generic vocabulary
that reads return (CUSTOMERID, WHENCREATED, lines with ITEMID...), so this module translates
a document's flat values into the legacy elements: lower case, in the DTD's fixed order,
dates as `<year><month><day>`. A value that has no legacy element is refused with its field
named, before anything is sent (the DTD check would refuse it less helpfully).

The answer to a legacy create is `<key>`: the RECORDNO, or for a sales order its DOCID
("Sales Order-SO0042"), which is also what update_sotransaction's `key` names.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # building only
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from shared.connectors.errors import InvalidValue
from shared.connectors.intacct.config import SYSTEM
from shared.connectors.intacct.wire import format_value


@dataclass(frozen=True)
class Element:
    generic: str
    legacy: str
    date: bool = False


def _elements(*specs: str | tuple[str, str] | tuple[str, str, bool]) -> tuple[Element, ...]:
    """`"customerid"` is CUSTOMERID <-> customerid; `("documentno", "DOCNO")` renames."""
    out = []
    for spec in specs:
        if isinstance(spec, str):
            out.append(Element(spec.upper(), spec))
        else:
            legacy, generic, *is_date = spec
            out.append(Element(generic, legacy, bool(is_date and is_date[0])))
    return tuple(out)


@dataclass(frozen=True)
class Lines:
    container: str  # sotransitems
    item: str  # sotransitem
    update_container: str  # updatesotransitems
    update_item: str  # updatesotransitem line_num="n" (1-based)
    elements: tuple[Element, ...]
    required: tuple[str, ...]  # generic names


@dataclass(frozen=True)
class Writer:
    object: str
    create: str
    update: str | None
    key: str  # what <key> holds and update's key attribute names: DOCID or RECORDNO
    elements: tuple[Element, ...]  # create's children, in DTD order (lines last)
    update_elements: tuple[str, ...]  # legacy names update accepts, in DTD order
    required: tuple[str, ...] = ()  # generic names
    # Generic fields an update cannot change (update_sotransaction has no element for them).
    fixed: tuple[str, ...] = ()
    lines: Lines | None = None

    def element(self, generic: str) -> Element | None:
        return next((e for e in self.elements if e.generic == generic), None)


_INVOICE_LINE = _elements(
    ("glaccountno", "ACCOUNTNO"),
    ("accountlabel", "ACCOUNTLABEL"),
    "offsetglaccountno",
    ("amount", "TRX_AMOUNT"),
    "memo",
    "locationid",
    "departmentid",
    "itemid",
)

# One Writer per document object: they look alike because the legacy functions share a
# form, but the element names, orders and required fields are each function's (data).
WRITERS: dict[str, Writer] = {
    writer.object: writer
    for writer in (
        Writer(
            "SODOCUMENT",
            "create_sotransaction",
            "update_sotransaction",
            "DOCID",
            _elements(
                "transactiontype",
                ("datecreated", "WHENCREATED", True),
                ("dateposted", "WHENPOSTED", True),
                "customerid",
                ("documentno", "DOCNO"),
                ("referenceno", "PONUMBER"),
                "termname",
                ("datedue", "WHENDUE", True),
                "message",
                ("shippingmethod", "SHIPVIA"),
                "basecurr",
                "currency",
                "state",
            ),
            (
                "datecreated",
                "dateposted",
                "referenceno",
                "termname",
                "datedue",
                "message",
                "shippingmethod",
                "basecurr",
                "currency",
                "state",
            ),
            required=("TRANSACTIONTYPE", "WHENCREATED", "CUSTOMERID"),
            fixed=("TRANSACTIONTYPE", "CUSTOMERID", "DOCNO"),
            lines=Lines(
                "sotransitems",
                "sotransitem",
                "updatesotransitems",
                "updatesotransitem",
                _elements(
                    "itemid",
                    "itemdesc",
                    "taxable",
                    "warehouseid",
                    "quantity",
                    "unit",
                    "discountpercent",
                    "price",
                    "locationid",
                    "departmentid",
                    "memo",
                ),
                required=("ITEMID", "QUANTITY"),
            ),
        ),
        Writer(
            "ARINVOICE",
            "create_invoice",
            "update_invoice",
            "RECORDNO",
            _elements(
                "customerid",
                ("datecreated", "WHENCREATED", True),
                ("dateposted", "WHENPOSTED", True),
                ("datedue", "WHENDUE", True),
                "termname",
                ("invoiceno", "RECORDID"),
                ("ponumber", "DOCNUMBER"),
                "description",
                "basecurr",
                "currency",
                "supdocid",
            ),
            (
                "customerid",
                "datecreated",
                "dateposted",
                "datedue",
                "termname",
                "invoiceno",
                "ponumber",
                "description",
                "basecurr",
                "currency",
                "supdocid",
            ),
            required=("CUSTOMERID", "WHENCREATED"),
            lines=Lines(
                "invoiceitems",
                "lineitem",
                "updateinvoiceitems",
                "updatelineitem",
                _INVOICE_LINE,
                required=("TRX_AMOUNT",),
            ),
        ),
        Writer(
            "ARADJUSTMENT",
            "create_aradjustment",
            None,
            "RECORDNO",
            _elements(
                "customerid",
                ("datecreated", "WHENCREATED", True),
                ("dateposted", "WHENPOSTED", True),
                ("adjustmentno", "RECORDID"),
                ("invoiceno", "DOCNUMBER"),
                "description",
                "basecurr",
                "currency",
            ),
            (),
            required=("CUSTOMERID", "WHENCREATED"),
            lines=Lines(
                "aradjustmentitems", "lineitem", "", "", _INVOICE_LINE, required=("TRX_AMOUNT",)
            ),
        ),
        Writer(
            "ARPAYMENT",
            "create_arpayment",
            None,
            "RECORDNO",
            _elements(
                "customerid",
                "paymentamount",
                ("bankaccountid", "FINANCIALENTITY"),
                ("refid", "DOCNUMBER"),
                ("datereceived", "PAYMENTDATE", True),
                "paymentmethod",
                "basecurr",
                "currency",
            ),
            (),
            required=("CUSTOMERID", "PAYMENTAMOUNT", "PAYMENTDATE", "PAYMENTMETHOD"),
            # 0..N arpaymentitem right inside create_arpayment, last: the invoices (their
            # RECORDNO) it pays and how much of each (docs/wire-notes.md I5).
            lines=Lines(
                "",
                "arpaymentitem",
                "",
                "",
                _elements("invoicekey", "amount"),
                required=("INVOICEKEY", "AMOUNT"),
            ),
        ),
    )
}


def as_date(value: Any, name: str) -> date:
    """A date value as the mappings give it (mm/dd/yyyy, ISO, or a date)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    for pattern in ("%m/%d/%Y", "%Y-%m-%d", "%m/%d/%Y %H:%M:%S"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        raise InvalidValue(
            f"field {name}: {text!r} is not a date (use mm/dd/yyyy)", name, system=SYSTEM
        ) from None


def _add(parent: ET.Element, spec: Element, value: Any) -> None:
    child = ET.SubElement(parent, spec.legacy)
    if spec.date:
        day = as_date(value, spec.generic)
        ET.SubElement(child, "year").text = f"{day.year:04d}"
        ET.SubElement(child, "month").text = f"{day.month:02d}"
        ET.SubElement(child, "day").text = f"{day.day:02d}"
    else:
        child.text = format_value(value, spec.generic)


def _fill(
    parent: ET.Element,
    elements: Sequence[Element],
    values: Mapping[str, Any],
    function: str,
    where: str = "",
) -> None:
    known = {e.generic for e in elements}
    for name in values:
        if name not in known:
            raise InvalidValue(
                f"field {name}{where} cannot be written: {function} has no element for it "
                f"(it takes {', '.join(e.generic for e in elements)})",
                name,
                system=SYSTEM,
            )
    for spec in elements:
        value = values.get(spec.generic)
        if value is not None and value != "":
            _add(parent, spec, value)


def _lines(
    parent: ET.Element,
    lines: Lines,
    items: Sequence[Mapping[str, Any]],
    function: str,
    *,
    updated: int = 0,
) -> None:
    """`items` as line elements: the first `updated` change the existing lines."""
    for number, values in enumerate(items, 1):
        where = f" (line {number})"
        if number > updated:
            for name in lines.required:
                if values.get(name) in (None, ""):
                    raise InvalidValue(f"field {name}{where} is required", name, system=SYSTEM)
            item = ET.SubElement(parent, lines.item)
        else:
            item = ET.SubElement(parent, lines.update_item, line_num=str(number))
        _fill(item, lines.elements, values, function, where)


def create_body(
    writer: Writer, values: Mapping[str, Any], items: Sequence[Mapping[str, Any]] | None
) -> ET.Element:
    """`<create_x>` for a document: `values` flat, `items` its lines (None: none given)."""
    for name in writer.required:
        if values.get(name) in (None, ""):
            raise InvalidValue(
                f"field {name} is required to create {writer.object}", name, system=SYSTEM
            )
    body = ET.Element(writer.create)
    _fill(body, writer.elements, values, writer.create)
    if writer.lines is not None and not writer.lines.container:  # optional, no container
        _lines(body, writer.lines, items or [], writer.create)
    elif writer.lines is not None:
        if not items:
            raise InvalidValue(
                f"{writer.object} needs at least one line ({writer.create} requires "
                f"{writer.lines.container}) and the source record has none",
                "lines",
                system=SYSTEM,
            )
        container = ET.SubElement(body, writer.lines.container)
        _lines(container, writer.lines, items, writer.create)
    elif items:
        raise InvalidValue(f"{writer.object} has no lines", "lines", system=SYSTEM)
    return body


def update_body(
    writer: Writer,
    key: str,
    values: Mapping[str, Any],
    items: Sequence[Mapping[str, Any]] | None,
    current_lines: int,
) -> ET.Element:
    """`<update_x key="...">`: the header values, then the lines — the first ones change the
    document's existing lines by number, the rest are added. The legacy update cannot remove
    a line, so fewer lines than the document has is refused."""
    if writer.update is None:
        raise InvalidValue(
            f"Intacct's API cannot change an existing {writer.object}; change it in Intacct",
            None,
            system=SYSTEM,
        )
    body = ET.Element(writer.update, key=key)
    allowed = [e for e in writer.elements if e.legacy in writer.update_elements]
    _fill(body, allowed, values, writer.update)
    if items is not None and writer.lines is not None:
        if len(items) < current_lines:
            raise InvalidValue(
                f"{writer.object} {key} has {current_lines} lines and the source "
                f"{len(items)}: Intacct's API cannot remove lines; remove them in Intacct",
                "lines",
                system=SYSTEM,
            )
        if items:
            container = ET.SubElement(body, writer.lines.update_container)
            _lines(container, writer.lines, items, writer.update, updated=current_lines)
    return body
