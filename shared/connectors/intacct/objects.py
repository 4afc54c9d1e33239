"""The objects Shuttle syncs and how Shuttle's values map to Intacct's elements.

Values are flat: nested blocks are dotted names (`DISPLAYCONTACT.EMAIL1`), exactly as the
`query` function names them; document lines are a list of flat dicts under "lines".
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.connectors.intacct.legacy import WRITERS, Writer
from shared.connectors.protocol import LINES_FIELD, Reference, SourceRef

MAX_ID_LENGTH = 20  # Intacct's ID fields (CUSTOMERID...) hold at most 20 characters


@dataclass(frozen=True)
class IntacctObject:
    name: str
    # SyncRecord.id: what update, get and Reference use. Master data: the user key;
    # documents: RECORDNO (their numbers are optional and may be auto-assigned).
    id_field: str
    # Where a create's idempotency key goes: the ID itself for master data, the document
    # number for documents (so a repeat finds the first document by it).
    key_field: str
    prefix: str
    lines: tuple[str, str] | None = None  # (container, element) as reads list them

    @property
    def is_document(self) -> bool:
        return self.id_field == "RECORDNO"

    @property
    def writer(self) -> Writer | None:
        """The legacy functions that write this document (legacy.py); None: generic."""
        return WRITERS.get(self.name)


OBJECTS: dict[str, IntacctObject] = {
    o.name: o
    for o in (
        IntacctObject("CUSTOMER", "CUSTOMERID", "CUSTOMERID", "SHC-"),
        IntacctObject("CONTACT", "CONTACTNAME", "CONTACTNAME", "SHP-"),
        IntacctObject("ITEM", "ITEMID", "ITEMID", "SHI-"),
        IntacctObject(
            "SODOCUMENT", "RECORDNO", "DOCNO", "SHS-", ("SODOCUMENTENTRIES", "sodocumententry")
        ),
        IntacctObject(
            "ARINVOICE", "RECORDNO", "RECORDID", "SHV-", ("ARINVOICEITEMS", "arinvoiceitem")
        ),
        # A payment's lines are the invoices it pays (INVOICEKEY = their RECORDNO, AMOUNT).
        IntacctObject(
            "ARPAYMENT", "RECORDNO", "DOCNUMBER", "SHY-", ("ARPAYMENTITEMS", "arpaymentitem")
        ),
        IntacctObject(
            "ARADJUSTMENT",
            "RECORDNO",
            "RECORDID",
            "SHA-",
            ("ARADJUSTMENTITEMS", "aradjustmentitem"),
        ),
    )
}


def derived_id(obj: IntacctObject, source: SourceRef) -> str:
    """The ID Shuttle gives the record it creates for `source`: a 4-character prefix per
    object and the first 16 base32 characters (80 bits) of SHA-256 of the source key —
    20 characters, Intacct's limit, the same on every retry and redelivery."""
    digest = hashlib.sha256(source.key.encode("utf-8")).digest()
    code = base64.b32encode(digest).decode("ascii").rstrip("=")
    return (obj.prefix + code)[:MAX_ID_LENGTH]


def render(value: Any) -> Any:
    """References as the ID they point at (Intacct refers to records by their ID)."""
    return _render(value)


def _render(value: Any) -> Any:
    if isinstance(value, Reference):
        return value.id
    if isinstance(value, Mapping):
        return {str(k): _render(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_render(v) for v in value]
    return value


def _nest(values: Mapping[str, Any]) -> dict[str, Any]:
    """`{"A.B": 1}` -> `{"A": {"B": 1}}`; the order of first appearance is kept."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        parts = name.split(".")
        target = out
        for part in parts[:-1]:
            nested = target.setdefault(part, {})
            if not isinstance(nested, dict):
                raise ValueError(f"field {name} conflicts with the value of {part}")
            target = nested
        target[parts[-1]] = _render(value)
    return out


def to_wire(
    obj: IntacctObject, values: Mapping[str, Any], first: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Shuttle values -> the nested element structure of a create/update, `first` leading
    (the SDK writes the locating key first)."""
    first = first or {}
    flat = {k: v for k, v in values.items() if k != LINES_FIELD}
    wire = {**_nest(first), **_nest({k: v for k, v in flat.items() if k not in first})}
    lines = values.get(LINES_FIELD)
    if lines is not None:
        if obj.lines is None:
            raise ValueError(f"{obj.name} has no lines")
        container, element = obj.lines
        wire[container] = {element: [_nest(line) for line in lines]}
    return wire


def flatten(value: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, item in value.items():
        key = f"{prefix}{name}"
        if isinstance(item, Mapping):
            out.update(flatten(item, f"{key}."))
        else:
            out[key] = item
    return out


def from_wire(obj: IntacctObject, row: Mapping[str, Any]) -> dict[str, Any]:
    """A record as read -> flat values, lines (if any) as a list under "lines"."""
    body = dict(row)
    lines: list[dict[str, Any]] | None = None
    if obj.lines is not None and obj.lines[0] in body:
        container = body.pop(obj.lines[0])
        items: Any = []
        if isinstance(container, Mapping):  # the line element's case is unconfirmed (§2.6)
            name = next((k for k in container if k.lower() == obj.lines[1].lower()), None)
            items = container.get(name, []) if name else []
        if isinstance(items, Mapping):
            items = [items]
        lines = [flatten(item) for item in items if isinstance(item, Mapping)]
    values = flatten(body)
    if lines is not None:
        values[LINES_FIELD] = lines
    return values
