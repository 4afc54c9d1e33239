"""The legacy (2.1-style) document functions the 3.0 gateway still accepts, and the only way
its XML API writes these documents: developer.intacct.com lists just "Create ... (Legacy)"
for order-entry transactions, AR invoices and AR adjustments, and the official SDK builds
create_sotransaction / create_invoice / create_aradjustment / create_arpayment
(docs/wire-notes.md I5). Elements are lower case, in the DTD's fixed order (a missing, unknown or
misplaced element is a schema error, as a DTD check would make it), dates are
`<year><month><day>`. Each document is translated into the generic vocabulary the store
keeps, so `read`/`query` list it as the generic functions name it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # building only; requests arrive parsed by defusedxml
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sandbox.emulators.intacct.schema import OBJECTS
from sandbox.emulators.intacct.store import EmulatedFailure, Row, Store, business_error


@dataclass(frozen=True)
class Element:
    legacy: str
    generic: str
    date: bool = False


def _elements(*specs: str | tuple[str, str] | tuple[str, str, bool]) -> tuple[Element, ...]:
    out = []
    for spec in specs:
        if isinstance(spec, str):
            out.append(Element(spec, spec.upper()))
        else:
            out.append(Element(*spec))  # type: ignore[arg-type]
    return tuple(out)


@dataclass(frozen=True)
class LineSpec:
    container: str  # sotransitems
    item: str  # sotransitem
    update_container: str  # updatesotransitems
    update_item: str  # updatesotransitem (attribute line_num, 1-based)
    elements: tuple[Element, ...]
    required: tuple[str, ...]


@dataclass(frozen=True)
class DocumentSpec:
    object: str
    create: str
    update: str | None
    key: str  # what <key> holds and what update's key attribute names: DOCID or RECORDNO
    elements: tuple[Element, ...]  # create's children in DTD order (lines come last)
    update_elements: tuple[str, ...]  # legacy names update accepts, in DTD order
    required: tuple[str, ...] = ()
    one_of: tuple[str, ...] = ()  # at least one of these (create_invoice: datedue/termname)
    lines: LineSpec | None = None


# The element tables below restate the DTD as the server knows it. They are kept apart from
# the connector's own (shared/connectors/intacct/legacy.py) on purpose: an emulator that
# imported the client's table would accept whatever the client got wrong.
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

DOCUMENTS: dict[str, DocumentSpec] = {
    spec.object: spec
    for spec in (
        DocumentSpec(
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
            required=("transactiontype", "datecreated", "customerid"),
            lines=LineSpec(
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
                required=("itemid", "quantity"),
            ),
        ),
        DocumentSpec(
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
            required=("customerid", "datecreated"),
            one_of=("datedue", "termname"),
            lines=LineSpec(
                "invoiceitems",
                "lineitem",
                "updateinvoiceitems",
                "updatelineitem",
                _INVOICE_LINE,
                required=("amount",),
            ),
        ),
        DocumentSpec(
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
            required=("customerid", "datecreated"),
            lines=LineSpec(
                "aradjustmentitems", "lineitem", "", "", _INVOICE_LINE, required=("amount",)
            ),
        ),
        DocumentSpec(
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
            required=("customerid", "paymentamount", "datereceived", "paymentmethod"),
            # 0..N arpaymentitem right inside create_arpayment (no container): the invoices
            # (RECORDNO) it pays and how much of each (docs/wire-notes.md I5).
            lines=LineSpec(
                "",
                "arpaymentitem",
                "",
                "",
                _elements("invoicekey", "amount"),
                required=("invoicekey", "amount"),
            ),
        ),
    )
}
BY_FUNCTION = {spec.create: spec for spec in DOCUMENTS.values()} | {
    spec.update: spec for spec in DOCUMENTS.values() if spec.update
}


def schema_error(message: str) -> EmulatedFailure:
    return EmulatedFailure(("XL03000003", "XML Parse schema error", message, ""))


def ordered(parent: ET.Element, allowed: Sequence[str], skip: str = "") -> list[ET.Element]:
    """The children of `parent` checked against the DTD sequence `allowed` (each at most
    once, in that order); `skip` names a repeatable child handled by the caller."""
    position = -1
    out = []
    for child in parent:
        if child.tag == skip:
            continue
        if child.tag not in allowed:
            raise schema_error(f"Element <{child.tag}> is not allowed in <{parent.tag}>.")
        index = allowed.index(child.tag)
        if index <= position:
            raise schema_error(
                f"Element <{child.tag}> is out of order or repeated in <{parent.tag}> "
                f"(order: {', '.join(allowed)})."
            )
        position = index
        out.append(child)
    return out


def parse_date(element: ET.Element) -> str:
    parts = [(element.findtext(name) or "").strip() for name in ("year", "month", "day")]
    try:
        year, month, day = (int(part) for part in parts)
        return date(year, month, day).strftime("%m/%d/%Y")
    except ValueError:
        raise business_error(
            f"Invalid date {'/'.join(parts)} in <{element.tag}>.",
            "Send a real date as year, month and day.",
        ) from None


def _values(parent: ET.Element, elements: Sequence[Element], skip: str = "") -> Row:
    by_name = {e.legacy: e for e in elements}
    out: Row = {}
    for child in ordered(parent, [e.legacy for e in elements], skip):
        spec = by_name[child.tag]
        if spec.date:
            out[spec.generic] = parse_date(child)
        elif (child.text or "") != "":
            out[spec.generic] = child.text
    return out


def _required(parent: ET.Element, names: Sequence[str]) -> None:
    for name in names:
        if parent.find(name) is None:
            raise schema_error(f"Required element <{name}> is missing in <{parent.tag}>.")


def _line(item: ET.Element, lines: LineSpec, *, creating: bool) -> Row:
    if creating:
        _required(item, lines.required)
    return _values(item, lines.elements)


def read_create(spec: DocumentSpec, fn: ET.Element) -> tuple[Row, list[Row] | None]:
    """create_*'s header in generic names and its lines (None: the document has none)."""
    _required(fn, spec.required)
    if spec.one_of and not any(fn.find(name) is not None for name in spec.one_of):
        raise schema_error(f"<{fn.tag}> needs one of <{'>, <'.join(spec.one_of)}>.")
    if spec.lines is not None and not spec.lines.container:  # items right inside, last
        header = _values(fn, spec.elements, skip=spec.lines.item)
        seen_item = False
        for child in fn:
            if child.tag == spec.lines.item:
                seen_item = True
            elif seen_item:
                raise schema_error(f"Element <{child.tag}> is out of order in <{fn.tag}>.")
        return header, [
            _line(item, spec.lines, creating=True) for item in fn.findall(spec.lines.item)
        ]
    names = [e.legacy for e in spec.elements] + ([spec.lines.container] if spec.lines else [])
    ordered(fn, names)
    header = _values(fn, spec.elements, skip=spec.lines.container if spec.lines else "")
    if spec.lines is None:
        return header, None
    container = fn.find(spec.lines.container)
    if container is None or len(container) == 0:
        raise schema_error(f"<{fn.tag}> needs <{spec.lines.container}> with at least one line.")
    items = []
    for item in container:
        if item.tag != spec.lines.item:
            raise schema_error(f"Element <{item.tag}> is not allowed in <{container.tag}>.")
        items.append(_line(item, spec.lines, creating=True))
    return header, items


def read_update(spec: DocumentSpec, fn: ET.Element, current: list[Row]) -> tuple[Row, list[Row]]:
    """update_*'s header changes in generic names and the document's lines after it
    (`updateXitem line_num="n"` changes line n, 1-based; `Xitem` adds a line)."""
    assert spec.update is not None
    container_name = spec.lines.update_container if spec.lines else ""
    by_name = {e.legacy: e for e in spec.elements}
    allowed = [by_name[name] for name in spec.update_elements]
    ordered(fn, [*spec.update_elements, container_name] if container_name else spec.update_elements)
    header = _values(fn, allowed, skip=container_name)
    lines = [dict(line) for line in current]
    container = fn.find(container_name) if container_name else None
    if container is None or spec.lines is None:
        return header, lines
    for item in container:
        if item.tag == spec.lines.item:
            lines.append(_line(item, spec.lines, creating=True))
        elif item.tag == spec.lines.update_item:
            number = (item.get("line_num") or "").strip()
            if not number.isdigit() or not 1 <= int(number) <= len(lines):
                raise business_error(
                    f"Line {number or '?'} does not exist on this document (it has {len(lines)}).",
                    "line_num counts from 1.",
                )
            lines[int(number) - 1].update(_line(item, spec.lines, creating=False))
        else:
            raise schema_error(f"Element <{item.tag}> is not allowed in <{container.tag}>.")
    return header, lines


def create(store: Store, fn: ET.Element, result: ET.Element) -> None:
    """create_*: the document stored in generic names; `<key>` answers it."""
    spec = BY_FUNCTION[fn.tag]
    schema = OBJECTS[spec.object]
    header, lines = read_create(spec, fn)
    if lines is not None and schema.lines is not None:
        header[schema.lines.container] = {schema.lines.element: lines}
    ET.SubElement(result, "key").text = str(store.create(schema, header)[spec.key])


def update(store: Store, fn: ET.Element, result: ET.Element) -> None:
    """update_* key="...": the document found by its key (DOCID or RECORDNO), changed."""
    spec = BY_FUNCTION[fn.tag]
    schema = OBJECTS[spec.object]
    key = (fn.get("key") or "").strip()
    if not key:
        raise schema_error(f"<{fn.tag}> needs a key attribute.")
    row = next((r for r in store.table(schema.name).values() if str(r.get(spec.key)) == key), None)
    if row is None:
        raise business_error(f"Cannot update non-existing {schema.name} with key {key}.")
    current = [dict(line) for line in store.lines(schema, row)] if schema.lines else []
    header, lines = read_update(spec, fn, current)
    changes: Row = {**header, "RECORDNO": row["RECORDNO"]}
    if schema.lines is not None:
        changes[schema.lines.container] = {schema.lines.element: lines}
    ET.SubElement(result, "key").text = str(store.update(schema, changes)[spec.key])
