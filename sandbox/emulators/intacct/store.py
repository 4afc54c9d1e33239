"""The emulator's company: options, credentials, sessions, result sets and one table per
object, rows keyed by RECORDNO, with server-maintained RECORDNO/WHENCREATED/WHENMODIFIED."""

from __future__ import annotations

import copy
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from sandbox.emulators.intacct.index import Indexes
from sandbox.emulators.intacct.schema import OBJECTS, SERVER_FIELDS, ObjectSchema, server_fields

TIMESTAMP_FORMAT = "%m/%d/%Y %H:%M:%S"
Row = dict[str, Any]


class Options(BaseModel):
    """Intacct-specific settings of the emulator (PUT /_emulator/options)."""

    model_config = ConfigDict(extra="forbid")

    senders: dict[str, str] = Field(
        default_factory=lambda: {"SHUTTLE_SANDBOX": "sandbox-sender-password"}
    )
    company_id: str = "SANDBOX"
    users: dict[str, str] = Field(default_factory=lambda: {"ws_shuttle": "sandbox-user-password"})
    # The company / API user's time zone: WHENMODIFIED is written and filtered in it.
    timezone: str = "America/Los_Angeles"
    session_timeout_s: float = Field(default=3600.0, gt=0)
    result_id_ttl_s: float = Field(default=600.0, gt=0)
    # Server time per function of a request, on top of the fault layer's per-request
    # `latency_ms` knob (bench: 300 ms per request + 5 ms per function).
    function_time_ms: float = Field(default=0.0, ge=0)
    # Requests in flight per company before the gateway answers 429 GW-0010 (None: off).
    max_concurrent: int | None = Field(default=2, ge=1)
    max_functions: int = Field(default=100, ge=1)
    read_by_query_max_page: int = Field(default=1000, ge=1)
    query_max_page: int = Field(default=2000, ge=1)
    # False: document numbers (DOCNO, RECORDID, DOCNUMBER) may repeat, as a company's
    # numbering settings can allow; master-data IDs are always unique.
    unique_document_numbers: bool = True
    # Write WHENMODIFIED as this local timestamp instead of the clock (many rows, one time).
    frozen_now: str | None = None
    # A multi-entity company's entities (location ids a user may sign in to); None: the
    # company does not check the entity (docs/wire-notes.md).
    entities: list[str] | None = None


class EmulatedFailure(Exception):
    """A function-level failure: one or more <error> entries."""

    def __init__(self, *errors: tuple[str, str, str, str]) -> None:
        super().__init__(errors[0][1] if errors else "failure")
        self.errors = errors  # (errorno, description, description2, correction)


def business_error(description2: str, correction: str = "", errorno: str = "BL01001973"):
    return EmulatedFailure((errorno, "", description2, correction))


@dataclass
class Session:
    id: str
    user: str
    location: str
    expires: float


@dataclass
class ResultSet:
    id: str
    session: str
    object: str
    rows: list[Row]
    fields: list[str] | None
    page_size: int
    position: int
    expires: float


@dataclass
class Store:
    options: Callable[[], Options]
    clock: Callable[[], float] = time.monotonic
    tables: dict[str, dict[int, Row]] = field(default_factory=dict)
    sessions: dict[str, Session] = field(default_factory=dict)
    results: dict[str, ResultSet] = field(default_factory=dict)
    writes: Counter[str] = field(default_factory=Counter)
    logins: int = 0
    failed_logins: int = 0
    next_recordno: int = 1

    def __post_init__(self) -> None:
        self.indexes = Indexes(self.parse_local)
        self.reset()

    def reset(self) -> None:
        self.indexes.clear()
        self.tables = {name: {} for name in OBJECTS}
        self.sessions.clear()
        self.results.clear()
        self.writes.clear()
        self.logins = self.failed_logins = 0
        self.next_recordno = 1

    def snapshot(self) -> tuple[dict[str, dict[int, Row]], int]:
        return copy.deepcopy(self.tables), self.next_recordno

    def restore(self, snap: tuple[dict[str, dict[int, Row]], int]) -> None:
        self.tables, self.next_recordno = snap
        self.indexes.clear()  # other row objects now: rebuilt on next use

    # -- time --------------------------------------------------------------------------------
    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.options().timezone)

    def now_local(self) -> str:
        frozen = self.options().frozen_now
        if frozen:
            return frozen
        return datetime.now(UTC).astimezone(self.zone).strftime(TIMESTAMP_FORMAT)

    def parse_local(self, text: str) -> datetime:
        """`mm/dd/yyyy[ hh:mm:ss]` in the company's zone -> aware datetime."""
        text = text.strip()
        for pattern in (TIMESTAMP_FORMAT, "%m/%d/%Y"):
            try:
                return datetime.strptime(text, pattern).replace(tzinfo=self.zone)
            except ValueError:
                continue
        raise ValueError(text)

    # -- sessions ----------------------------------------------------------------------------
    def new_session(self, user: str, location: str) -> Session:
        session = Session(secrets.token_urlsafe(24) + "..", user, location, 0.0)
        self.sessions[session.id] = session
        self.touch(session)
        return session

    def session(self, session_id: str) -> Session | None:
        session = self.sessions.get(session_id)
        if session is None or session.expires <= self.clock():
            self.sessions.pop(session_id, None)
            return None
        return session

    def touch(self, session: Session) -> None:
        session.expires = self.clock() + self.options().session_timeout_s

    def session_times(self, session: Session) -> tuple[str, str]:
        now = datetime.now(UTC).replace(microsecond=0)
        left = max(0.0, session.expires - self.clock())
        return (
            now.isoformat(),
            (now + timedelta(seconds=round(left))).isoformat(),
        )

    def expire_sessions(self) -> int:
        count = len(self.sessions)
        self.sessions.clear()
        return count

    # -- rows ------------------------------------------------------------------------------
    def table(self, name: str) -> dict[int, Row]:
        return self.tables[name]

    def by_id(self, schema: ObjectSchema, value: str) -> Row | None:
        if schema.id_field is None or not value:
            return None
        rows = self.indexes.lookup(
            schema.name, self.tables[schema.name], schema.id_field, "raw", [value]
        )
        return rows[0] if rows else None

    def lookup(self, name: str, field: str, values: list[Any], case_insensitive: bool) -> list[Row]:
        """Rows whose `field` may equal one of `values` (as a query compares them)."""
        mode = "ci" if case_insensitive else "cs"
        return self.indexes.lookup(name, self.tables[name], field, mode, values)

    def create(self, schema: ObjectSchema, values: Row) -> Row:
        row = {k: v for k, v in values.items() if k not in SERVER_FIELDS}
        self._validate(schema, row, creating=True)
        ident = str(row.get(schema.id_field) or "") if schema.id_field else ""
        unique = schema.lines is None and schema.name != "ARPAYMENT"
        unique = unique or self.options().unique_document_numbers
        if ident and unique and self.by_id(schema, ident) is not None:
            label = schema.name.capitalize()
            raise EmulatedFailure(
                (
                    "BL34000061",
                    "",
                    f"Another {label} with the given value(s) {ident} already exists",
                    "Use a unique value instead.",
                ),
                ("BL01001973", "", f"Could not create {schema.lower} record!", ""),
            )
        recordno = self.next_recordno
        self.next_recordno += 1
        now = values.get("WHENMODIFIED") if isinstance(values.get("WHENMODIFIED"), str) else None
        stamp = now or self.now_local()
        row["RECORDNO"] = recordno
        row["WHENCREATED"] = values.get("WHENCREATED") or stamp
        row["WHENMODIFIED"] = stamp
        if schema.name == "SODOCUMENT":
            # The transaction definition numbers a document given no number; DOCID is how
            # the legacy functions name it ("Sales Order-SO00007").
            row["DOCNO"] = row.get("DOCNO") or f"SO{recordno:05d}"
            row["DOCPARID"] = row.get("TRANSACTIONTYPE", "")
            row["DOCID"] = f"{row['DOCPARID']}-{row['DOCNO']}"
        self._number_lines(schema, row)
        self._totals(schema, row)
        if schema.name == "ARPAYMENT":
            self._apply_payment(row, stamp)
        self.tables[schema.name][recordno] = row
        self.indexes.added(schema.name, row)
        self.writes[f"create {schema.name}"] += 1
        return row

    def _apply_payment(self, payment: Row, stamp: str) -> None:
        """A payment's arpaymentitem lines pay invoices: each raises the invoice's TOTALPAID,
        lowers its TOTALDUE and moves its STATE to Partially Paid, then Paid (docs/wire-notes.md
        I5), and stamps its WHENMODIFIED. All items are checked before any is applied."""
        schema = OBJECTS["ARINVOICE"]
        items = _line_list(payment, OBJECTS["ARPAYMENT"])
        total = decimal_of(payment.get("PAYMENTAMOUNT"))
        applied: list[tuple[Row, Decimal]] = []
        for number, item in enumerate(items, 1):
            key = str(item.get("INVOICEKEY") or "")
            invoice = self.tables["ARINVOICE"].get(int(key)) if key.isdigit() else None
            if invoice is None:
                raise business_error(f"Invalid invoice key '{key}' on payment line {number}.")
            if invoice.get("CUSTOMERID") != payment.get("CUSTOMERID"):
                raise business_error(
                    f"Invoice {key} belongs to customer {invoice.get('CUSTOMERID')}, not "
                    f"{payment.get('CUSTOMERID')}."
                )
            amount = decimal_of(item.get("AMOUNT"))
            due = decimal_of(invoice.get("TOTALDUE")) - sum(
                (a for i, a in applied if i is invoice), Decimal(0)
            )
            if amount <= 0 or amount > due:
                raise business_error(
                    f"Cannot apply {amount} to invoice {key}: its amount due is {due}."
                )
            applied.append((invoice, amount))
        if sum((a for _, a in applied), Decimal(0)) > total:
            raise business_error(f"The amounts applied exceed the payment amount {total}.")
        for invoice, amount in applied:
            invoice["TOTALPAID"] = format(decimal_of(invoice.get("TOTALPAID")) + amount, "f")
            invoice["WHENMODIFIED"] = stamp
            self._totals(schema, invoice)
            self.writes["apply ARINVOICE"] += 1

    def locate(self, schema: ObjectSchema, values: Row) -> Row:
        recordno = values.get("RECORDNO")
        if recordno not in (None, ""):
            try:
                row = self.tables[schema.name].get(int(str(recordno)))
            except ValueError:
                row = None
            key = f"RECORDNO={recordno}"
        else:
            ident = str(values.get(schema.id_field) or "") if schema.id_field else ""
            row = self.by_id(schema, ident)
            key = f"{schema.id_field}={ident}"
        if row is None:
            raise business_error(f"Cannot update non-existing {schema.name} with {key}.")
        return row

    def update(self, schema: ObjectSchema, values: Row) -> Row:
        row = self.locate(schema, values)
        changes = {k: v for k, v in values.items() if k not in server_fields(schema)}
        if schema.id_field and values.get("RECORDNO") in (None, ""):
            changes.pop(schema.id_field, None)  # the key located the row
        merged = _merge(copy.deepcopy(row), changes, schema.lines.container if schema.lines else "")
        self._validate(schema, merged, creating=False)
        new_id = merged.get(schema.id_field) if schema.id_field else None
        other = self.by_id(schema, str(new_id or ""))
        if other is not None and other is not row:
            raise EmulatedFailure(
                (
                    "BL34000061",
                    "",
                    f"Another {schema.name.capitalize()} with the given value(s) {new_id} "
                    "already exists",
                    "Use a unique value instead.",
                )
            )
        merged["WHENMODIFIED"] = self.now_local()
        self._number_lines(schema, merged)
        self._totals(schema, merged)
        self.indexes.removed(schema.name, row)
        row.clear()
        row.update(merged)
        self.indexes.added(schema.name, row)
        self.writes[f"update {schema.name}"] += 1
        return row

    def delete(self, schema: ObjectSchema, recordno: str) -> None:
        try:
            key = int(recordno)
        except ValueError:
            key = -1
        if key not in self.tables[schema.name]:
            raise business_error(f"Cannot find {schema.lower} with key '{recordno}' to delete.")
        self.indexes.removed(schema.name, self.tables[schema.name].pop(key))
        self.writes[f"delete {schema.name}"] += 1

    def seed(self, payload: dict[str, list[Row]]) -> dict[str, int]:
        """Bulk rows per object (admin). Rows may carry WHENMODIFIED (local time)."""
        counts: dict[str, int] = {}
        for name, rows in payload.items():
            schema = OBJECTS.get(str(name).upper())
            if schema is None:
                raise KeyError(f"unknown object {name}")
            for values in rows:
                try:
                    self.create(schema, dict(values))
                except EmulatedFailure as failure:
                    raise ValueError(failure.errors[0][2]) from None
            counts[schema.name] = len(rows)
        return counts

    def lines(self, schema: ObjectSchema, row: Row) -> list[Row]:
        return _line_list(row, schema)

    # -- rules -------------------------------------------------------------------------------
    def _validate(self, schema: ObjectSchema, row: Row, *, creating: bool) -> None:
        for name in schema.required:
            if row.get(name) in (None, ""):
                raise EmulatedFailure(
                    (
                        "BL03000018",
                        "",
                        f"Required field {name} is missing.",
                        f"Provide a value for {name}.",
                    ),
                    ("BL01001973", "", f"Could not create {schema.lower} record!", ""),
                )
        for name, limit in schema.max_lengths.items():
            value = row.get(name)
            if isinstance(value, str) and len(value) > limit:
                raise EmulatedFailure(
                    (
                        "BL03000021",
                        "",
                        f"The value of field {name} is longer than {limit} characters.",
                        f"Shorten {name}.",
                    ),
                )
        for name, target in schema.references.items():
            self._check_reference(target, row.get(name), name)
        if schema.lines is not None:
            lines = _line_list(row, schema)
            for number, line in enumerate(lines, 1):
                for name in schema.lines.required:
                    if line.get(name) in (None, ""):
                        raise EmulatedFailure(
                            (
                                "BL03000018",
                                "",
                                f"Required field {name} is missing on line {number}.",
                                f"Provide a value for {name}.",
                            ),
                        )
                for name, target in schema.lines.references.items():
                    self._check_reference(target, line.get(name), name)

    def _check_reference(self, target: str, value: Any, name: str) -> None:
        if value in (None, ""):
            return
        if self.by_id(OBJECTS[target], str(value)) is None:
            raise EmulatedFailure(
                (
                    "BL03000113",
                    "",
                    f"Invalid {target.capitalize()} '{value}' specified in field {name}.",
                    f"Create the {target.lower()} first.",
                ),
            )

    def _number_lines(self, schema: ObjectSchema, row: Row) -> None:
        if schema.lines is None or schema.lines.container not in row:
            return
        lines = _line_list(row, schema)
        for number, line in enumerate(lines):
            line["LINE_NO"] = str(number)  # 0-based on generic reads (docs/wire-notes.md I5)
        row[schema.lines.container] = {schema.lines.element: lines}

    def _totals(self, schema: ObjectSchema, row: Row) -> None:
        if schema.lines is not None and schema.lines.container in row:
            self._line_totals(schema, row)
        if schema.name in ("ARINVOICE", "ARADJUSTMENT"):  # still open: entered less paid/applied
            entered, paid = decimal_of(row.get("TOTALENTERED")), decimal_of(row.get("TOTALPAID"))
            row["TOTALPAID"] = format(paid.quantize(Decimal("0.01")), "f")
            row["TOTALDUE"] = format((entered - paid).quantize(Decimal("0.01")), "f")
        if schema.name == "ARINVOICE":
            # Posted until paid (our choice: the state of a new invoice is UNCONFIRMED).
            if entered > 0 and paid >= entered:
                row["STATE"] = "Paid"
            elif paid > 0:
                row["STATE"] = "Partially Paid"
            else:
                row["STATE"] = row.get("STATE") or "Posted"

    def _line_totals(self, schema: ObjectSchema, row: Row) -> None:
        lines = _line_list(row, schema)
        for total, expr in schema.totals.items():
            amount = Decimal(0)
            for line in lines:
                product = Decimal(1)
                for part in expr.split("*"):
                    try:
                        product *= Decimal(str(line.get(part) or 0))
                    except InvalidOperation:
                        product = Decimal(0)
                # A sales order line's discount: DISCOUNTPERCENT off PRICE*QUANTITY, each
                # line rounded half-up to the cent (our choice; Intacct's rounding unconfirmed).
                discount = decimal_of(line.get("DISCOUNTPERCENT"))
                if discount:
                    product = (product * (100 - discount) / 100).quantize(
                        Decimal("0.01"), rounding=ROUND_HALF_UP
                    )
                amount += product
            row[total] = format(amount.quantize(Decimal("0.01")), "f")


def decimal_of(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if value not in (None, "") else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def _line_list(row: Row, schema: ObjectSchema) -> list[Row]:
    assert schema.lines is not None
    container = row.get(schema.lines.container)
    if not isinstance(container, dict):
        return []
    # The line element's case is unconfirmed (docs/wire-notes.md I6: ARINVOICEITEM in write
    # examples, arinvoiceitem on reads): either is accepted; reads answer lower case.
    name = next((k for k in container if k.lower() == schema.lines.element), None)
    lines = container.get(name, []) if name else []
    if isinstance(lines, dict):
        lines = [lines]
    return [line for line in lines if isinstance(line, dict)]


def _merge(row: Row, changes: Row, lines: str = "") -> Row:
    """Only supplied fields change; nested blocks merge field by field; the line container
    (`lines`) is replaced as a whole."""
    for name, value in changes.items():
        current = row.get(name)
        if isinstance(value, dict) and isinstance(current, dict) and name != lines:
            _merge(current, value)
        else:
            row[name] = value
    return row
