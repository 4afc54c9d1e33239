"""Creatio as the sync engine sees it: the `SyncConnector` protocol over `CreatioClient`.

The client does the wire work (auth, retries, keyset change reads, quoting, idempotent
creates); this adapter only translates between the engine's plain values and the client's:
records become `SyncRecord`s with JSON-able values, `Reference`s become lookup GUIDs, a
document's lines become rows of its product object created after the header.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from shared.connectors.client_sync import ClientSync
from shared.connectors.creatio.client import CreatioClient, deterministic_id
from shared.connectors.creatio.config import MAX_QUERY_STRING, SYSTEM
from shared.connectors.creatio.models import (
    BatchOperation,
    BatchOutcome,
    CreatioChangeCursor,
    Record,
)
from shared.connectors.creatio.odata import (
    all_of,
    any_within,
    encode_query,
    eq,
    format_datetime,
    parse_datetime,
    select_list,
)
from shared.connectors.errors import ConnectorError, InvalidValue
from shared.connectors.json_body import plain
from shared.connectors.protocol import (
    LINES_FIELD,
    ChangePage,
    Reference,
    RejectedRecord,
    SourceRef,
    SyncRecord,
    WriteOutcome,
    gather_writes,
    split_rows,
    unusable,
)
from shared.errors import ErrorCategory
from shared.settings import Settings

# Creatio has no document-with-lines create: a document's lines are rows of a product object
# pointing at it. Only the documents the Creatio emulator hosts with line objects.
LINE_OBJECTS: dict[str, tuple[str, str]] = {
    "Opportunity": ("OpportunityProductInterest", "OpportunityId"),
    "Order": ("OrderProduct", "OrderId"),
    "Invoice": ("InvoiceProduct", "InvoiceId"),
}
_KEY_COLUMNS = ("Id", "ModifiedOn")
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def to_sync_record(record: Record, object: str) -> SyncRecord:
    stamp = record.get("ModifiedOn")
    modified = parse_datetime(stamp) if isinstance(stamp, str) else None
    if modified is None or not isinstance(record.get("Id"), str):
        raise ConnectorError(
            f"read {object}: a record without Id or ModifiedOn",
            category=ErrorCategory.INTERNAL,
            system=SYSTEM,
            code="bad_answer",
            record=str(record.get("Id")),
        )
    # `values` keeps Creatio's ModifiedOn string: its 7th fractional digit is lost in
    # `modified` (Python keeps microseconds, truncated, so a watermark never overshoots).
    return SyncRecord(id=record["Id"], modified=modified, values=plain(record))


def read_page(
    records: Sequence[Record], object: str
) -> tuple[list[SyncRecord], list[RejectedRecord]]:
    """A change page's rows, each on its own (shared/connectors/protocol.py split_rows)."""

    def reject(record: Record) -> RejectedRecord:
        ident = record.get("Id")
        field = "ModifiedOn" if isinstance(ident, str) and ident else "Id"
        known = ident if field == "ModifiedOn" else None
        return unusable("Creatio", object, field, record.get(field), id=known)

    return split_rows(records, lambda r: to_sync_record(r, object), reject)


def render(values: Mapping[str, Any]) -> dict[str, Any]:
    """Engine values -> Creatio's: a Reference is written as its lookup column's GUID."""
    return {k: (v.id if isinstance(v, Reference) else v) for k, v in values.items()}


def criterion(name: str, value: Any) -> Any:
    """A find value as a typed literal: GUIDs on `Id` / lookup (`...Id`) columns must be
    Guid literals, not strings, or Creatio rejects the comparison."""
    if isinstance(value, Reference):
        value = value.id
    if name.endswith("Id") and isinstance(value, str) and _GUID.fullmatch(value):
        return uuid.UUID(value)
    return value


def _key(id: str) -> uuid.UUID:
    try:
        return uuid.UUID(id)
    except ValueError:
        raise InvalidValue(f"not a Creatio record Id: {id!r}", field="Id", system=SYSTEM) from None


def _columns(fields: Sequence[str] | None) -> list[str] | None:
    return list(dict.fromkeys([*_KEY_COLUMNS, *fields])) if fields else None


def _written(outcome: BatchOutcome) -> WriteOutcome:
    stamp = (outcome.record or {}).get("ModifiedOn")
    modified = parse_datetime(stamp) if isinstance(stamp, str) else None
    return WriteOutcome(id=str(outcome.operation.id), created=outcome.created, modified=modified)


def _room(select: Sequence[str] | None) -> int:
    """Bytes left for `$filter` in a query string with this `$select` and a `$top`."""
    fixed = encode_query({"$select": select_list(select) if select else None, "$top": 9999})
    return MAX_QUERY_STRING - len(fixed) - len("&$filter=")


def _document(
    object: str, values: Mapping[str, Any]
) -> tuple[dict[str, Any], list[Mapping[str, Any]]]:
    """A create's header values (references rendered) and its lines, checked."""
    header = render({k: v for k, v in values.items() if k != LINES_FIELD})
    lines = values.get(LINES_FIELD)
    if lines is None:
        return header, []
    if object not in LINE_OBJECTS:
        raise _no_lines(object, "create")
    if not (isinstance(lines, list) and all(isinstance(line, Mapping) for line in lines)):
        raise InvalidValue(
            f"create {object}: lines must be a list of objects", field=LINES_FIELD, system=SYSTEM
        )
    return header, lines


def _line_creates(
    object: str, parent: uuid.UUID, lines: Sequence[Mapping[str, Any]], source: SourceRef
) -> list[BatchOperation]:
    """A document's lines as creates after its header (they point at it), each with its own
    deterministic Id: a repeat after a crash between header and lines completes them."""
    line_object, parent_column = LINE_OBJECTS[object]
    return [
        BatchOperation.create(
            line_object,
            {**render(line), parent_column: parent},
            deterministic_id(source.system, source.object, source.id, f"line:{n}"),
        )
        for n, line in enumerate(lines)
    ]


def _line_error(error: ConnectorError, number: int) -> ConnectorError:
    if error.field is not None and not error.field.startswith(LINES_FIELD):
        # Named as the engine names line fields (lines[1].ProductId).
        error.field = f"{LINES_FIELD}[{number}].{error.field}"
    return error


def _no_lines(object: str, action: str) -> ConnectorError:
    return ConnectorError(
        f"{action} {object}: Shuttle writes Creatio lines only with a new "
        f"{'/'.join(LINE_OBJECTS)} (not on {action} of {object}) — fix the mapping",
        category=ErrorCategory.VALIDATION,
        system=SYSTEM,
        code="lines_unsupported",
        field=LINES_FIELD,
    )


class CreatioSync(ClientSync[CreatioClient]):
    """`SyncConnector` for Creatio (system "creatio")."""

    system = SYSTEM

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> CreatioSync:
        return cls(CreatioClient.from_settings(settings))

    # -- reads -----------------------------------------------------------------------------
    async def count_changes(self, object: str, *, since: datetime, until: datetime) -> int | None:
        window = all_of(
            f"ModifiedOn ge {format_datetime(since)}", f"ModifiedOn le {format_datetime(until)}"
        )
        return await self.client.count(object, filter=window)

    async def open_changes(
        self,
        object: str,
        *,
        since: datetime,
        until: datetime,
        fields: Sequence[str] | None = None,
        page_size: int = 500,
    ) -> dict[str, Any]:
        cursor = await self.client.open_changes(
            object, since, until=until, select=fields or None, page_size=page_size
        )
        return cursor.model_dump(mode="json")

    async def read_changes(self, cursor: Mapping[str, Any]) -> ChangePage:
        current = CreatioChangeCursor.model_validate(cursor)
        page = await self.client.read_page(current)
        records, rejected = read_page(page.records, current.object)
        return ChangePage(
            records=records,
            rejected=rejected,
            cursor=page.next.model_dump(mode="json") if page.next is not None else None,
        )

    async def get(
        self, object: str, id: str, *, fields: Sequence[str] | None = None
    ) -> SyncRecord | None:
        record = await self.client.get(object, _key(id), select=_columns(fields))
        return to_sync_record(record, object) if record is not None else None

    async def find(
        self,
        object: str,
        criteria: Mapping[str, Any],
        *,
        fields: Sequence[str] | None = None,
        limit: int = 2,
    ) -> list[SyncRecord]:
        match = {name: criterion(name, value) for name, value in criteria.items()}
        records = await self.client.find(object, match, select=_columns(fields), top=limit)
        return [to_sync_record(r, object) for r in records]

    # -- chunks (several records per request: shared/engine/chunk_calls.py) ------------------
    async def find_many(
        self,
        object: str,
        field: str,
        values: Sequence[Any],
        *,
        fields: Sequence[str] | None = None,
    ) -> dict[str, list[SyncRecord]]:
        """The records whose `field` equals each of `values`, keyed by the value as text (as
        chunk_calls._key): `eq`s joined by `or`, in as few requests as fit IIS's query string
        limit, sent at once (docs/wire-notes.md C9). Creatio compares text without case, so a
        record answers the value equal to its own but for case. A value left out of the
        answer could not be told apart (the caller asks for it alone)."""
        wanted: dict[str, str] = {}  # key -> its `eq` clause
        for value in values:
            literal = criterion(field, value)
            if not isinstance(literal, str | uuid.UUID):
                continue  # numbers, flags, dates: alone (find), compared as Creatio does
            key = value.id if isinstance(value, Reference) else str(value)
            try:
                wanted.setdefault(key, eq(field, literal))
            except ConnectorError:
                return {}  # a name find reports better, alone
        select = _columns([*fields, field]) if fields else None
        keys = list(wanted)
        clauses = list(wanted.values())
        groups = any_within(clauses, _room(select))
        answers = await asyncio.gather(
            *(
                self._find_group(
                    object, field, [keys[i] for i in g], [clauses[i] for i in g], select
                )
                for g in groups
            )
        )
        return {key: hits for answer in answers for key, hits in answer.items()}

    async def _find_group(
        self,
        object: str,
        field: str,
        keys: list[str],
        clauses: list[str],
        select: list[str] | None,
    ) -> dict[str, list[SyncRecord]]:
        top = 2 * len(keys) + 1
        rows = await self.client.query(object, filter=" or ".join(clauses), select=select, top=top)
        if len(rows) >= top:
            return {}  # more matches than a chunk's check needs: each value alone
        by_fold: dict[str, list[str]] = {}
        for key in keys:
            by_fold.setdefault(key.casefold(), []).append(key)
        out: dict[str, list[SyncRecord]] = {key: [] for key in keys}
        unsure: set[str] = set()
        for row in rows:
            value = row.get(field)
            owners = by_fold.get(str(value).casefold()) if value is not None else None
            if not owners:
                return {}  # compared some other way (spaces, accents): each value alone
            if len(owners) > 1:  # "acme" and "ACME" both asked: whose it is depends on the site
                unsure.update(owners)
                continue
            out[owners[0]].append(to_sync_record(row, object))
        return {key: hits for key, hits in out.items() if key not in unsure}

    async def get_many(
        self, object: str, ids: Sequence[str], *, fields: Sequence[str] | None = None
    ) -> dict[str, SyncRecord | ConnectorError]:
        """The records of `ids` by `Id eq` joined by `or`, split as `find_many` splits. An id
        missing from the answer does not exist; one that is no GUID gets its own error."""
        out: dict[str, SyncRecord | ConnectorError] = {}
        guids: dict[uuid.UUID, list[str]] = {}
        for ident in dict.fromkeys(ids):
            try:
                guids.setdefault(_key(ident), []).append(ident)
            except ConnectorError as error:
                out[ident] = error
        select = _columns(fields)
        wanted = list(guids)
        clauses = [eq("Id", guid) for guid in wanted]
        groups = any_within(clauses, _room(select))
        pages = await asyncio.gather(
            *(
                self.client.query(
                    object,
                    filter=" or ".join(clauses[i] for i in g),
                    select=select,
                    top=len(g),
                )
                for g in groups
            )
        )
        for rows in pages:
            for row in rows:
                record = to_sync_record(row, object)
                for ident in guids.get(uuid.UUID(record.id), []):
                    out[ident] = record
        return out

    async def create_many(
        self, object: str, items: Sequence[tuple[Mapping[str, Any], SourceRef]]
    ) -> list[WriteOutcome | ConnectorError]:
        """Creates in `$batch`es of at most 100 with `continue-on-error` (client.batch), each
        record with its deterministic Id: one refusal stops no other, and a batch sent again
        after its answer was lost meets its own records and reads them back, never twins.
        Documents' lines follow in `$batch`es of their own once their headers exist. Each
        record's answer or error is its own."""
        out: list[WriteOutcome | ConnectorError | None] = [None] * len(items)
        ops: list[tuple[int, BatchOperation]] = []
        lines_of: dict[int, list[Mapping[str, Any]]] = {}
        for n, (values, source) in enumerate(items):
            try:
                header, lines = _document(object, values)
            except ConnectorError as error:
                out[n] = error
                continue
            if lines:
                lines_of[n] = lines
            record_id = deterministic_id(source.system, source.object, source.id)
            ops.append((n, BatchOperation.create(object, header, record_id)))
        results = await self.client.batch([op for _, op in ops])
        line_ops: list[tuple[int, int, BatchOperation]] = []  # record, line number, create
        for (n, op), result in zip(ops, results, strict=True):
            values, source = items[n]
            if result.error is not None and result.error.category is ErrorCategory.DUPLICATE:
                # Ours, but the batch could not read it back: as a single create does.
                (out[n],) = await gather_writes([self.create(object, values, source=source)])
            elif result.error is not None:
                out[n] = result.error
            else:
                out[n] = _written(result)
                if n in lines_of:
                    creates = _line_creates(object, op.id, lines_of[n], source)
                    line_ops += [(n, number, c) for number, c in enumerate(creates, start=1)]
        line_results = await self.client.batch([c for _, _, c in line_ops])
        for (n, number, _), result in zip(line_ops, line_results, strict=True):
            if result.error is not None and not isinstance(out[n], ConnectorError):
                out[n] = _line_error(result.error, number)  # the first refused line
        return [o for o in out if o is not None]

    async def update_many(
        self, object: str, items: Sequence[tuple[str, Mapping[str, Any]]]
    ) -> list[WriteOutcome | ConnectorError]:
        """PATCHes in `$batch`es of at most 100 with `continue-on-error`; PATCH is idempotent,
        so a batch sent again after a lost answer changes nothing twice."""
        out: list[WriteOutcome | ConnectorError | None] = [None] * len(items)
        ops: list[tuple[int, BatchOperation]] = []
        for n, (ident, values) in enumerate(items):
            try:
                if LINES_FIELD in values:
                    raise _no_lines(object, "update")
                ops.append((n, BatchOperation.update(object, _key(ident), render(values))))
            except ConnectorError as error:
                out[n] = error
        results = await self.client.batch([op for _, op in ops])
        for (n, _), result in zip(ops, results, strict=True):
            out[n] = result.error or WriteOutcome(id=items[n][0], created=False, modified=None)
        return [o for o in out if o is not None]

    # -- writes ----------------------------------------------------------------------------
    async def create(
        self, object: str, values: Mapping[str, Any], *, source: SourceRef
    ) -> WriteOutcome:
        header, lines = _document(object, values)
        record_id = deterministic_id(source.system, source.object, source.id)
        result = await self.client.create(object, header, id=record_id)
        if lines:
            await self._create_lines(_line_creates(object, record_id, lines, source))
        stamp = (result.record or {}).get("ModifiedOn")
        modified = parse_datetime(stamp) if isinstance(stamp, str) else None
        return WriteOutcome(id=str(result.id), created=result.created, modified=modified)

    async def _create_lines(self, creates: list[BatchOperation]) -> None:
        """A document's lines in one `$batch` (a few if over 100); the first refused line
        fails the document."""
        for number, result in enumerate(await self.client.batch(creates), start=1):
            if result.error is not None:
                raise _line_error(result.error, number)

    async def update(self, object: str, id: str, values: Mapping[str, Any]) -> WriteOutcome:
        if LINES_FIELD in values:
            raise _no_lines(object, "update")
        # Creatio answers a PATCH with 204 and no body (docs/wire-notes.md C4): ModifiedOn would
        # cost a second call, so `modified` stays None.
        await self.client.update(object, _key(id), render(values))
        return WriteOutcome(id=id, created=False, modified=None)
