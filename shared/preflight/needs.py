"""What each enabled flow needs from each live system, derived from the solution files:
the objects it reads and writes, every mapped field (with the length the mapping writes),
the lookup objects, and on Dataverse the binding column and its alternate key. The custom
fields the guides ask for carry their type too (docs/deploy.md lists them)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from shared.connectors.dataverse.entities import ENTITIES as DATAVERSE_TABLES
from shared.flows.catalog import Catalog
from shared.flows.definitions import SolutionDefinition, System

# Sources that are reports, not objects with metadata (connectors/intacct/aging.py).
NOT_OBJECTS = {("intacct", "ARAGING")}
# Intacct document lines as `lookup` knows them.
INTACCT_LINES = {
    "SODOCUMENT": "SODOCUMENTENTRY",
    "ARINVOICE": "ARINVOICEITEM",
    "ARADJUSTMENT": "ARADJUSTMENTITEM",
    "ARPAYMENT": "ARPAYMENTITEM",
}
# A source field of a document's line ("lines[0].INVOICEKEY", shared/mapping/apply.py).
LINE_FIELD = re.compile(r"^lines\[\d+\]\.(.+)$")
BINDING_LENGTH = 100
# Tables below: one row per field (data, alike by nature).
# Creatio custom fields and objects (docs/deploy.md, "Creatio: custom fields and objects"):
# (object, field) -> (kind, length).
# Rows alike by shape (the Payment and CreditMemo objects share fields): data, one row a field.
CREATIO_CUSTOM: dict[tuple[str, str], tuple[str, int | None]] = {
    ("Account", "UsrErpFullName"): ("text", 210),
    ("Account", "UsrErpLastModified"): ("datetime", None),
    ("Account", "UsrActive"): ("boolean", None),
    ("Account", "UsrCurrBalPymts"): ("decimal", None),
    ("Account", "UsrArOver30"): ("decimal", None),
    ("Account", "UsrArOver60"): ("decimal", None),
    ("Account", "UsrArOver90"): ("decimal", None),
    ("Opportunity", "UsrErpLastModified"): ("datetime", None),
    ("Opportunity", "UsrSalesOrderNumber"): ("text", 50),
    ("Opportunity", "UsrInvoiceNumber"): ("text", 50),
    ("Opportunity", "UsrCurrencyId"): ("lookup", None),
    ("OpportunityProductInterest", "UsrDiscountPercent"): ("decimal", None),
    ("Product", "UsrErpLastModified"): ("datetime", None),
    ("UsrPayment", "UsrName"): ("text", 250),
    ("UsrPayment", "UsrNumber"): ("text", 50),
    ("UsrPayment", "UsrRefNumber"): ("text", 50),
    ("UsrPayment", "UsrOpportunityId"): ("lookup", None),
    ("UsrPayment", "UsrInvoiceId"): ("lookup", None),
    ("UsrPayment", "UsrAccountId"): ("lookup", None),
    ("UsrPayment", "UsrAmount"): ("decimal", None),
    ("UsrPayment", "UsrDate"): ("datetime", None),
    ("UsrPayment", "UsrCurrencyId"): ("lookup", None),
    ("UsrCreditMemo", "UsrName"): ("text", 250),
    ("UsrCreditMemo", "UsrRefNumber"): ("text", 50),
    ("UsrCreditMemo", "UsrRemaining"): ("decimal", None),
    ("UsrCreditMemo", "UsrOpportunityId"): ("lookup", None),
    ("UsrCreditMemo", "UsrAccountId"): ("lookup", None),
    ("UsrCreditMemo", "UsrAmount"): ("decimal", None),
    ("UsrCreditMemo", "UsrDate"): ("datetime", None),
    ("UsrCreditMemo", "UsrInvoiceId"): ("lookup", None),
    ("UsrCreditMemo", "UsrCurrencyId"): ("lookup", None),
}
CREATIO_CUSTOM_OBJECTS = {"UsrPayment", "UsrCreditMemo"}
# Dataverse custom columns the Creatio-Dynamics solution reads (docs/deploy.md), which
# `shuttle provision dataverse` creates: (table, column) -> (kind, length, display name).
# Dataverse keeps no amount paid on an invoice and has no credit memo table
# (docs/wire-notes.md, "Invoices keep no amount paid; there is no credit memo table").
DATAVERSE_CUSTOM: dict[tuple[str, str], tuple[str, int | None, str]] = {
    ("invoice", "shuttle_amountpaid"): ("money", None, "Amount Paid"),
    ("invoice", "shuttle_creditedinvoice"): ("text", 100, "Credited Invoice"),
}


@dataclass
class FieldNeed:
    flows: set[str] = field(default_factory=set)
    max_length: int | None = None  # the longest value a mapping writes
    kind: str | None = None  # text, datetime, boolean, decimal, lookup (custom fields)


@dataclass
class ObjectNeed:
    system: str
    object: str
    flows: set[str] = field(default_factory=set)
    fields: dict[str, FieldNeed] = field(default_factory=dict)
    key: str | None = None  # Dataverse: the binding column that must be an alternate key
    key_flows: set[str] = field(default_factory=set)

    def need_field(self, name: str, flow: str, max_length: int | None = None) -> None:
        if name.startswith("@"):
            return
        need = self.fields.setdefault(name, FieldNeed())
        need.flows.add(flow)
        if max_length is not None:
            need.max_length = max(need.max_length or 0, max_length)
        custom = CREATIO_CUSTOM.get((self.object, name)) if self.system == "creatio" else None
        if custom is not None:
            need.kind = custom[0]


Needs = dict[tuple[str, str], ObjectNeed]  # (system, object) -> need


def _object(needs: Needs, system: str, name: str, flow: str) -> ObjectNeed | None:
    if (system, name) in NOT_OBJECTS:
        return None
    need = needs.setdefault((system, name), ObjectNeed(system, name))
    need.flows.add(flow)
    return need


def solution_needs(solution: SolutionDefinition) -> Needs:
    needs: Needs = {}
    for flow in solution.flows:
        mapping = solution.mapping_of(flow)
        if mapping is None:
            continue
        flow_id = f"{solution.id}.{flow.id}"
        source, target = flow.source.system.value, flow.target.system.value
        read = _object(needs, source, flow.source.object, flow_id)
        write = _object(needs, target, flow.target.object, flow_id)
        for item in mapping.fields:
            for name in item.sources:
                line = LINE_FIELD.match(name)
                line_object = _line_object(source, flow.source.object) if line else None
                if line and line_object:
                    found = _object(needs, source, line_object, flow_id)
                    if found is not None:
                        found.need_field(line.group(1), flow_id)
                elif read is not None:
                    read.need_field(name, flow_id)
            if write is not None:
                write.need_field(item.to, flow_id, item.max_length)
            if item.lookup is not None:
                _object(needs, target, item.lookup.object, flow_id)
            for how in item.find:  # the rows looked up, on their side
                side = source if how.side == "source" else target
                looked = _object(needs, side, how.object, flow_id)
                if looked is not None:
                    for name in (how.by, how.take):
                        looked.need_field(name, flow_id)  # "@id" needs nothing
        for condition in mapping.filter:
            if read is not None:
                read.need_field(condition.field, flow_id)
            if condition.lookup:
                _object(needs, source, condition.lookup, flow_id)
        if mapping.lines is not None:
            lines = _object(needs, source, mapping.lines.object, flow_id)
            target_lines = _line_object(target, flow.target.object)
            written = _object(needs, target, target_lines, flow_id) if target_lines else None
            for item in mapping.lines.fields:
                for name in item.sources:
                    if lines is not None:
                        lines.need_field(name, flow_id)
                if written is not None and target != "dataverse":
                    written.need_field(item.to, flow_id, item.max_length)
                if item.lookup is not None:
                    _object(needs, target, item.lookup.object, flow_id)
            if lines is not None:
                lines.need_field(mapping.lines.parent_field, flow_id)
            if written is not None and target == "dataverse" and source == "creatio":
                _binding(written, flow_id)
        if write is not None and target == "dataverse" and source == System.CREATIO.value:
            _binding(write, flow_id)
    return needs


def _line_object(system: str, document: str) -> str | None:
    if system == "intacct":
        return INTACCT_LINES.get(document)
    if system == "dataverse":
        table = DATAVERSE_TABLES.get(document)
        return table.lines[0] if table is not None and table.lines else None
    return None


def _binding(need: ObjectNeed, flow: str) -> None:
    """Creates from Creatio upsert by `shuttle_creatio<table>id` (connectors/dataverse/sync.py)."""
    column = f"shuttle_creatio{need.object}id"
    need.key = column
    need.key_flows.add(flow)
    need.need_field(column, flow, BINDING_LENGTH)


def catalog_needs(catalog: Catalog) -> dict[str, Needs]:
    return {sid: solution_needs(s) for sid, s in catalog.solutions.items()}
