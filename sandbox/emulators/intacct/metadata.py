"""The object definitions the emulator answers `lookup` and `inspect` with (docs/wire-notes.md:
I4 and "Object definitions"): every field of the objects it hosts, with Intacct's data types.

`lookup` lists an object's fields as `<Type Name="CUSTOMER"><Fields><Field>` with `ID`,
`LABEL`, `DESCRIPTION`, `REQUIRED`, `READONLY`, `DATATYPE`, `ISCUSTOM` (and `VALIDVALUES` for
enumerations). `inspect` with `<object>*</object>` lists every object as
`<type typename="CUSTOMER">Customer</type>`; with an object it lists its field names.
Fields removed through the admin routes (sandbox/emulators/removals.py) are left out, as a
company without that custom field would answer.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # building only
from dataclasses import dataclass

from sandbox.emulators.intacct.store import business_error
from sandbox.emulators.intacct.wire import text
from sandbox.emulators.removals import Removals


@dataclass(frozen=True)
class FieldDef:
    id: str
    datatype: str = "TEXT"
    label: str = ""
    required: bool = False
    readonly: bool = False
    custom: bool = False
    valid_values: tuple[str, ...] = ()


def _f(spec: str) -> FieldDef:
    """`NAME:TYPE[!][*]`: ! required, * read only."""
    name, _, rest = spec.partition(":")
    kind = rest.rstrip("!*") or "TEXT"
    return FieldDef(name, kind, name.replace("_", " ").title(), "!" in rest, "*" in rest)


_STATUS = FieldDef("STATUS", "ENUM", "Status", valid_values=("active", "inactive"))
_SERVER = ("RECORDNO:INTEGER*", "WHENCREATED:TIMESTAMP*", "WHENMODIFIED:TIMESTAMP*")


def _object(label: str, *specs: str | FieldDef) -> tuple[str, tuple[FieldDef, ...]]:
    fields = [s if isinstance(s, FieldDef) else _f(s) for s in (*_SERVER, *specs)]
    return label, tuple(fields)


OBJECTS: dict[str, tuple[str, tuple[FieldDef, ...]]] = {
    "CUSTOMER": _object(
        "Customer",
        "CUSTOMERID:TEXT!",
        "NAME:TEXT!",
        _STATUS,
        "CUSTTYPE",
        "PARENTID",
        "TERMNAME",
        "CREDITLIMIT:CURRENCY",
        "ONHOLD:BOOLEAN",
        "CURRENCY",
        "DISPLAYCONTACT.EMAIL1",
        "DISPLAYCONTACT.PHONE1",
        "DISPLAYCONTACT.URL1",
        "TOTALDUE:CURRENCY*",
    ),
    "CONTACT": _object(
        "Contact",
        "CONTACTNAME:TEXT!",
        "PRINTAS:TEXT!",
        "COMPANYNAME",
        "FIRSTNAME",
        "LASTNAME",
        "EMAIL1",
        "EMAIL2",
        "PHONE1",
        "PHONE2",
        "CELLPHONE",
        _STATUS,
    ),
    "ITEM": _object(
        "Item",
        "ITEMID:TEXT!",
        "NAME:TEXT!",
        _STATUS,
        FieldDef(
            "ITEMTYPE",
            "ENUM",
            "Item type",
            valid_values=(
                "Inventory",
                "Non-Inventory",
                "Non-Inventory (Purchase only)",
                "Non-Inventory (Sales only)",
                "Kit",
            ),
        ),
        "PRODUCTLINEID",
        "BASEPRICE:CURRENCY",
        "STANDARD_COST:CURRENCY",
        "UOMGRP",
        "EXTENDED_DESCRIPTION",
        "TAXABLE:BOOLEAN",
    ),
    "SODOCUMENT": _object(
        "Order Entry Transaction",
        "DOCNO",
        "DOCPARID",
        "TRANSACTIONTYPE:TEXT!",
        "CUSTOMERID:TEXT!",
        "MESSAGE",
        "PONUMBER",
        "WHENDUE:DATE",
        "STATE:TEXT*",
        "TOTAL:CURRENCY*",
        "CURRENCY",
    ),
    "SODOCUMENTENTRY": _object(
        "Order Entry Transaction Detail",
        "DOCHDRNO:INTEGER*",
        "LINE_NO:INTEGER",
        "ITEMID:TEXT!",
        "QUANTITY:DECIMAL!",
        "UNIT",
        "PRICE:CURRENCY",
        "DISCOUNTPERCENT:PERCENT",
        "MEMO",
    ),
    "ARINVOICE": _object(
        "AR Invoice",
        "RECORDID",
        "CUSTOMERID:TEXT!",
        "CUSTOMERNAME:TEXT*",
        "DOCNUMBER",
        "DESCRIPTION",
        "TERMNAME",
        "WHENDUE:DATE",
        "WHENPOSTED:DATE",
        "WHENPAID:DATE*",
        "TOTALENTERED:CURRENCY*",
        "TOTALPAID:CURRENCY*",
        "TOTALDUE:CURRENCY*",
        "CURRENCY",
        FieldDef(
            "STATE",
            "ENUM",
            "State",
            readonly=True,
            valid_values=("Draft", "Posted", "Partially Paid", "Paid"),
        ),
    ),
    "ARINVOICEITEM": _object(
        "AR Invoice Detail",
        "RECORDKEY:INTEGER*",
        "LINE_NO:INTEGER",
        "ACCOUNTNO",
        "ITEMID",
        "TRX_AMOUNT:CURRENCY!",
        "MEMO",
    ),
    "ARPAYMENT": _object(
        "AR Payment",
        "DOCNUMBER",
        "CUSTOMERID:TEXT!",
        "PAYMENTAMOUNT:CURRENCY!",
        "PAYMENTDATE:DATE",
        "PAYMENTMETHOD",
        "FINANCIALENTITY",
        "STATE:TEXT*",
        "CURRENCY",
    ),
    "ARPAYMENTITEM": _object(
        "AR Payment Detail",
        "RECORDKEY:INTEGER*",
        "INVOICEKEY:INTEGER!",
        "AMOUNT:CURRENCY!",
    ),
    "ARADJUSTMENT": _object(
        "AR Adjustment",
        "RECORDID",
        "CUSTOMERID:TEXT!",
        "DESCRIPTION",
        "WHENPOSTED:DATE",
        "TOTALENTERED:CURRENCY*",
        "TOTALPAID:CURRENCY*",
        "TOTALDUE:CURRENCY*",
        "STATE:TEXT*",
        "CURRENCY",
        "DOCNUMBER",
    ),
    "ARADJUSTMENTITEM": _object(
        "AR Adjustment Detail",
        "RECORDKEY:INTEGER*",
        "LINE_NO:INTEGER",
        "ACCOUNTNO",
        "TRX_AMOUNT:CURRENCY!",
        "MEMO",
    ),
}


def hosts(object: str, field: str | None) -> bool:
    definition = OBJECTS.get(object)
    return definition is not None and (field is None or any(f.id == field for f in definition[1]))


def _definition(removals: Removals, name: str) -> tuple[str, list[FieldDef]]:
    definition = OBJECTS.get(name)
    if definition is None or removals.object_removed(name):
        raise business_error(f"Object definition {name} not found.", errorno="DL02000001")
    label, fields = definition
    return label, [f for f in fields if not removals.field_removed(name, f.id)]


def _yes(flag: bool) -> str:
    return "true" if flag else "false"


def lookup(removals: Removals, fn: ET.Element, result: ET.Element) -> None:
    name = text(fn, "object").strip().upper()
    _, fields = _definition(removals, name)
    data = ET.SubElement(result, "data", listtype="All", count="1")
    kind = ET.SubElement(data, "Type", Name=name, DocumentType=text(fn, "docparid"))
    block = ET.SubElement(kind, "Fields")
    for field in fields:
        node = ET.SubElement(block, "Field")
        for tag, value in (
            ("ID", field.id),
            ("LABEL", field.label),
            ("DESCRIPTION", field.label),
            ("REQUIRED", _yes(field.required)),
            ("READONLY", _yes(field.readonly)),
            ("DATATYPE", field.datatype),
            ("ISCUSTOM", _yes(field.custom)),
        ):
            ET.SubElement(node, tag).text = value
        if field.valid_values:
            values = ET.SubElement(node, "VALIDVALUES")
            for option in field.valid_values:
                ET.SubElement(values, "VALIDVALUE").text = option
    ET.SubElement(kind, "Relationships")


def inspect(removals: Removals, fn: ET.Element, result: ET.Element) -> None:
    name = text(fn, "object").strip().upper()
    if name == "*":
        names = [n for n in OBJECTS if not removals.object_removed(n)]
        data = ET.SubElement(result, "data", listtype="All", count=str(len(names)))
        for object_name in names:
            ET.SubElement(data, "type", typename=object_name).text = OBJECTS[object_name][0]
        return
    label, fields = _definition(removals, name)
    data = ET.SubElement(result, "data", listtype="All", count="1")
    kind = ET.SubElement(data, "Type", typename=name, Name=label)
    block = ET.SubElement(kind, "Fields")
    for field in fields:
        ET.SubElement(block, "Field").text = field.id
