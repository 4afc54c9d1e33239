"""Dataverse as the sync engine sees it: the `SyncConnector` protocol over `DataverseClient`.

Objects are table logical names (account, contact, product, opportunity, salesorder,
invoice, incident; lines salesorderdetail / invoicedetail). `SyncRecord.id` is the primary
id GUID, `modified` is modifiedon (UTC), `values` the columns as read.

**Change reads** ask for `modifiedon ge since and modifiedon le until`, ordered by
`modifiedon asc,<primary id> asc`, with `Prefer: odata.maxpagesize`, and then follow each
`@odata.nextLink` verbatim. The cursor is a JSON dict holding the window and the next link,
so another process can continue it. Why the next link and not our own keyset on
(modifiedon, id): `$skip` does not exist, and a keyset needs `<primary id> gt <guid>`
comparisons whose order (SQL Server's uniqueidentifier order) Dataverse does not document;
the paging cookie inside the link holds the last row's values of every `$orderby` column,
and since the order ends with the primary key it is a total order, so every record comes
exactly once even when a thousand share one modifiedon across pages. A record modified
while the window is read moves past `until` and is left to the next window.

Why windows and not change tracking's delta links (`DataverseClient.track_changes`): the
engine's watermark is a time an operator can read and set ("query starts"), bulk loads read
a date range, and a volume check counts a window before reading it; a delta token can only
say "since the last read" and expires after the org's ExpireChangeTrackingInDays. Delta
links serve better where deletions matter or a table must be mirrored whole: the client
offers them for that (they report deleted ids, which a modifiedon window cannot see).

**Creates** from Creatio are upserts by the alternate key `shuttle_creatio<table>id` =
the Creatio Id, sent with `If-None-Match: *` (create only) and
`Prefer: return=representation` (so 201 tells a creation, and the id and modifiedon come
back). A 412 means an earlier attempt made the record (a lost answer, a redelivery): it is
read back by the same key and returned with `created=False` — never overwritten. Creates
from other systems have no key to be idempotent with: a plain POST.

**Lookups**: a `Reference(object, id)` value of lookup column `name` is written as
`"<navprop>@odata.bind": "/<entityset>(<id>)"`, the navigation property chosen by the
target table (`ENTITIES`: e.g. contact.parentcustomerid -> `parentcustomerid_account` or
`parentcustomerid_contact`; salesorder.customerid -> `customerid_account`). None clears the
lookup (on a Customer lookup, through its account navigation property).

**Lines** (`values["lines"]`, salesorder and invoice) are written after the header, in
one `$batch` change set per 1000 lines (all or none), each an upsert by its own alternate
key `<creatio id>:<n>` bound to the header: a repeat completes or rewrites them, never
twins them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel

from shared.connectors.client_sync import ClientSync
from shared.connectors.dataverse.client import DataverseClient
from shared.connectors.dataverse.config import MAX_BATCH, SYSTEM
from shared.connectors.dataverse.entities import ENTITIES, Entity, entity
from shared.connectors.dataverse.models import BatchOperation, ChangeSet, Record
from shared.connectors.dataverse.odata import (
    all_of,
    format_datetime,
    key_segment,
    literal,
    parse_datetime,
)
from shared.connectors.errors import ConnectorError, InvalidValue
from shared.connectors.odata import GUID
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

CREATIO = "creatio"


class DataverseChangeCursor(BaseModel):
    object: str
    since: AwareDatetime
    until: AwareDatetime
    fields: list[str] | None = None
    page_size: int = 500
    next_link: str | None = None
    started: bool = False


def to_sync_record(record: Record, table: Entity) -> SyncRecord:
    id, stamp = record.get(table.primary_key), record.get("modifiedon")
    if not isinstance(id, str) or not isinstance(stamp, str):
        raise ConnectorError(
            f"read {table.logical}: a record without {table.primary_key} or modifiedon",
            category=ErrorCategory.INTERNAL,
            system=SYSTEM,
            code="bad_answer",
            record=str(id),
        )
    values = {k: v for k, v in record.items() if not k.startswith("@")}
    # Lookups also under their own name (what mappings write), so a mapping reads and
    # compares `parentcustomerid`, never the read-only `_parentcustomerid_value`.
    for name in table.lookups:
        column = f"_{name}_value"
        if column in values:
            values[name] = values[column]
    return SyncRecord(id=id, modified=parse_datetime(stamp), values=values)


def read_page(
    records: Sequence[Record], table: Entity
) -> tuple[list[SyncRecord], list[RejectedRecord]]:
    """A change page's rows, each on its own (shared/connectors/protocol.py split_rows)."""

    def reject(record: Record) -> RejectedRecord:
        ident = record.get(table.primary_key)
        field = "modifiedon" if isinstance(ident, str) and ident else table.primary_key
        known = ident if field == "modifiedon" else None
        value = record.get(field)
        return unusable("Dataverse", table.logical, field, value, id=known, noun="row")

    return split_rows(records, lambda r: to_sync_record(r, table), reject)


def render(table: Entity, values: Mapping[str, Any]) -> dict[str, Any]:
    """Engine values -> a Dataverse body: References become `@odata.bind`s."""
    body: dict[str, Any] = {}
    for name, value in values.items():
        navigation = table.lookups.get(name)
        if isinstance(value, Reference):
            target = ENTITIES.get(value.object)
            navprop = navigation.get(value.object) if navigation else None
            if target is None or navprop is None:
                raise InvalidValue(
                    f"write {table.logical}: {name} cannot point at a {value.object} (Shuttle "
                    f"knows lookups {', '.join(table.lookups) or 'none'} on {table.logical})",
                    field=name,
                    system=SYSTEM,
                )
            if not GUID.fullmatch(value.id):
                raise InvalidValue(
                    f"write {table.logical}: {name} must be a Dataverse id, not {value.id!r}",
                    field=name,
                    system=SYSTEM,
                )
            body[f"{navprop}@odata.bind"] = f"/{target.entity_set}({value.id.lower()})"
        elif navigation is not None and value is None:
            body[f"{next(iter(navigation.values()))}@odata.bind"] = None
        elif navigation is not None:
            raise InvalidValue(
                f"write {table.logical}: {name} is a lookup; give it as a Reference",
                field=name,
                system=SYSTEM,
            )
        else:
            body[name] = value
    return body


def _select(table: Entity, fields: Sequence[str] | None) -> list[str] | None:
    if not fields:
        return None
    columns = [f"_{f}_value" if f in table.lookups else f for f in fields]
    return list(dict.fromkeys([table.primary_key, "modifiedon", *columns]))


class DataverseSync(ClientSync[DataverseClient]):
    """`SyncConnector` for Dataverse (system "dataverse")."""

    system = SYSTEM

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> DataverseSync:
        return cls(DataverseClient.from_settings(settings))

    # -- reads -----------------------------------------------------------------------------
    async def count_changes(self, object: str, *, since: datetime, until: datetime) -> int | None:
        """`@odata.count` of the window, read with a one-row page. Dataverse stops counting at
        5000, so 5000 means "at least 5000": exact for the volume limits below it."""
        table = entity(object)
        window = all_of(
            f"modifiedon ge {format_datetime(since)}", f"modifiedon le {format_datetime(until)}"
        )
        page = await self.client.query(
            table.entity_set, filter=window, select=[table.primary_key], top=1, count=True
        )
        return page.count

    async def open_changes(
        self,
        object: str,
        *,
        since: datetime,
        until: datetime,
        fields: Sequence[str] | None = None,
        page_size: int = 500,
    ) -> dict[str, Any]:
        entity(object)
        cursor = DataverseChangeCursor(
            object=object,
            since=since,
            until=until,
            fields=list(fields) if fields else None,
            page_size=min(page_size, 5000),
        )
        return cursor.model_dump(mode="json")

    async def read_changes(self, cursor: Mapping[str, Any]) -> ChangePage:
        current = DataverseChangeCursor.model_validate(cursor)
        table = entity(current.object)
        if current.next_link:
            page = await self.client.next_page(current.next_link, page_size=current.page_size)
        else:
            window = all_of(
                f"modifiedon ge {format_datetime(current.since)}",
                f"modifiedon le {format_datetime(current.until)}",
            )
            page = await self.client.query(
                table.entity_set,
                filter=window,
                select=_select(table, current.fields),
                orderby=f"modifiedon asc,{table.primary_key} asc",
                page_size=current.page_size,
            )
        following = (
            current.model_copy(update={"next_link": page.next_link, "started": True})
            if page.next_link
            else None
        )
        records, rejected = read_page(page.records, table)
        return ChangePage(
            records=records,
            rejected=rejected,
            cursor=following.model_dump(mode="json") if following else None,
        )

    async def get(
        self, object: str, id: str, *, fields: Sequence[str] | None = None
    ) -> SyncRecord | None:
        table = entity(object)
        record = await self.client.get(table.entity_set, id, select=_select(table, fields))
        return to_sync_record(record, table) if record is not None else None

    async def find(
        self,
        object: str,
        criteria: Mapping[str, Any],
        *,
        fields: Sequence[str] | None = None,
        limit: int = 2,
    ) -> list[SyncRecord]:
        table = entity(object)
        clauses = []
        for name, value in criteria.items():
            if isinstance(value, Reference) or name in table.lookups:
                column = f"_{name}_value"
                raw = value.id if isinstance(value, Reference) else value
                clauses.append(f"{column} eq {literal(raw, guid=raw is not None)}")
            else:
                is_key = name == table.primary_key or (
                    name.startswith("_") and name.endswith("_value")
                )
                clauses.append(f"{name} eq {literal(value, guid=is_key and value is not None)}")
        page = await self.client.query(
            table.entity_set,
            filter=all_of(*clauses),
            select=_select(table, fields),
            top=limit,
        )
        return [to_sync_record(r, table) for r in page.records]

    # -- chunks (several records per request: shared/engine/chunk_calls.py) ------------------
    async def find_many(
        self,
        object: str,
        field: str,
        values: Sequence[Any],
        *,
        fields: Sequence[str] | None = None,
    ) -> dict[str, list[SyncRecord]]:
        """The records whose `field` equals each of `values`, by the value as text: one
        query whose `$filter` ORs the values. Dataverse compares text without regard to
        case, so a record answers every value equal to its own but for case. A value left
        out of the answer could not be told apart (the caller asks for it alone)."""
        table = entity(object)
        if field in table.lookups or field == table.primary_key or field.startswith("_"):
            return {}  # keys and lookups: one by one (find)
        wanted = list(dict.fromkeys(str(v.id if isinstance(v, Reference) else v) for v in values))
        if not wanted:
            return {}
        clauses = " or ".join(f"{field} eq {literal(v)}" for v in wanted)
        select = _select(table, [*fields, field]) if fields else None
        top = 2 * len(wanted) + 1
        page = await self.client.query(table.entity_set, filter=clauses, select=select, top=top)
        if len(page.records) >= top:
            return {}
        out: dict[str, list[SyncRecord]] = {v: [] for v in wanted}
        by_fold: dict[str, list[str]] = {}
        for v in wanted:
            by_fold.setdefault(v.casefold(), []).append(v)
        for row in page.records:
            record = to_sync_record(row, table)
            keys = by_fold.get(str(record.values.get(field)).casefold())
            if not keys:
                return {}  # compared some other way: ask one by one
            for key in keys:
                out[key].append(record)
        return out

    async def create_many(
        self, object: str, items: Sequence[tuple[Mapping[str, Any], SourceRef]]
    ) -> list[WriteOutcome | ConnectorError]:
        """Creates of many records in one `$batch` without change sets and with
        `odata.continue-on-error`, each an upsert by its alternate key that only creates
        (`If-None-Match: *`), so one refusal stops no other and a repeat finds the first.
        Documents (lines) and records from other systems go one by one (`create`)."""
        table = entity(object)
        if table.lines is not None or any(src.system != CREATIO for _, src in items):
            return await gather_writes([self.create(object, v, source=src) for v, src in items])
        out: list[WriteOutcome | ConnectorError | None] = [None] * len(items)
        ops: list[tuple[int, BatchOperation]] = []
        select = f"?$select={table.primary_key},modifiedon"
        for n, (values, source) in enumerate(items):
            try:
                body = render(table, values)
            except ConnectorError as error:
                out[n] = error
                continue
            url = f"{table.entity_set}{key_segment({table.alternate_key: source.id})}{select}"
            headers = {"If-None-Match": "*", "Prefer": "return=representation"}
            ops.append((n, BatchOperation(method="PATCH", url=url, body=body, headers=headers)))
        for start in range(0, len(ops), MAX_BATCH):
            part = ops[start : start + MAX_BATCH]
            results = await self.client.batch([op for _, op in part], continue_on_error=True)
            for (n, _), result in zip(part, results, strict=True):
                values, source = items[n]
                if result.error is not None and result.error.category is ErrorCategory.DUPLICATE:
                    out[n] = await self._one_create(object, values, source)
                elif result.error is not None:
                    out[n] = result.error
                elif result.status is None:
                    out[n] = await self._one_create(object, values, source)
                else:
                    body = result.body or {}
                    stamp = body.get("modifiedon")
                    out[n] = WriteOutcome(
                        id=str(result.id or body.get(table.primary_key)),
                        created=True,
                        modified=parse_datetime(stamp) if isinstance(stamp, str) else None,
                    )
        return [o for o in out if o is not None]

    async def update_many(
        self, object: str, items: Sequence[tuple[str, Mapping[str, Any]]]
    ) -> list[WriteOutcome | ConnectorError]:
        """Updates of many records in one `$batch` without change sets, continuing on error."""
        table = entity(object)
        if any(LINES_FIELD in v for _, v in items):
            return await gather_writes([self.update(object, i, v) for i, v in items])
        out: list[WriteOutcome | ConnectorError | None] = [None] * len(items)
        ops: list[tuple[int, BatchOperation]] = []
        for n, (ident, values) in enumerate(items):
            try:
                body = render(table, values)
                url = f"{table.entity_set}{key_segment(ident)}"
            except ConnectorError as error:
                out[n] = error
                continue
            ops.append(
                (n, BatchOperation(method="PATCH", url=url, body=body, headers={"If-Match": "*"}))
            )
        for start in range(0, len(ops), MAX_BATCH):
            part = ops[start : start + MAX_BATCH]
            results = await self.client.batch([op for _, op in part], continue_on_error=True)
            for (n, _), result in zip(part, results, strict=True):
                if result.error is not None:
                    out[n] = result.error
                elif result.status is None:
                    out[n] = await self._one_update(object, *items[n])
                else:
                    out[n] = WriteOutcome(id=items[n][0], created=False)
        return [o for o in out if o is not None]

    async def _one_create(
        self, object: str, values: Mapping[str, Any], source: SourceRef
    ) -> WriteOutcome | ConnectorError:
        try:
            return await self.create(object, values, source=source)
        except ConnectorError as error:
            return error

    async def _one_update(
        self, object: str, ident: str, values: Mapping[str, Any]
    ) -> WriteOutcome | ConnectorError:
        try:
            return await self.update(object, ident, values)
        except ConnectorError as error:
            return error

    # -- writes ----------------------------------------------------------------------------
    async def create(
        self, object: str, values: Mapping[str, Any], *, source: SourceRef
    ) -> WriteOutcome:
        table = entity(object)
        lines = values.get(LINES_FIELD)
        if lines is not None and table.lines is None:
            raise InvalidValue(
                f"create {object}: only salesorder and invoice carry lines",
                field=LINES_FIELD,
                system=SYSTEM,
            )
        if lines is not None and not (
            isinstance(lines, list) and all(isinstance(line, Mapping) for line in lines)
        ):
            raise InvalidValue(
                f"create {object}: lines must be a list of objects",
                field=LINES_FIELD,
                system=SYSTEM,
            )
        body = render(table, {k: v for k, v in values.items() if k != LINES_FIELD})
        select = [table.primary_key, "modifiedon"]
        if source.system != CREATIO:
            new_id = await self.client.create(table.entity_set, body)
            outcome = WriteOutcome(id=new_id, created=True)
        else:
            key = {table.alternate_key: source.id}
            try:
                result = await self.client.upsert(
                    table.entity_set, key, body, mode="create", select=select
                )
                stamp = (result.record or {}).get("modifiedon")
                outcome = WriteOutcome(
                    id=result.id,
                    created=True,
                    modified=parse_datetime(stamp) if isinstance(stamp, str) else None,
                )
            except ConnectorError as error:
                if error.category is not ErrorCategory.DUPLICATE:
                    raise
                existing = await self.client.get(table.entity_set, key, select=select)
                if existing is None:  # deleted in between: let the engine try again
                    raise
                found = to_sync_record(existing, table)
                outcome = WriteOutcome(id=found.id, created=False, modified=found.modified)
        if lines:
            await self._write_lines(table, outcome.id, lines, source)
        return outcome

    async def _write_lines(
        self, table: Entity, parent: str, lines: Sequence[Mapping[str, Any]], source: SourceRef
    ) -> None:
        assert table.lines is not None
        line_table, parent_navprop = ENTITIES[table.lines[0]], table.lines[1]
        operations = []
        for number, line in enumerate(lines, start=1):
            try:
                body = render(line_table, line)
            except ConnectorError as error:
                error.field = f"{LINES_FIELD}[{number}].{error.field}"
                raise
            body[f"{parent_navprop}@odata.bind"] = f"/{table.entity_set}({parent})"
            key = {line_table.alternate_key: f"{source.id}:{number}"}
            url = f"{line_table.entity_set}{key_segment(key)}"
            operations.append(BatchOperation(method="PATCH", url=url, body=body))
        for start in range(0, len(operations), MAX_BATCH):
            chunk = operations[start : start + MAX_BATCH]
            results = await self.client.batch([ChangeSet(operations=chunk)])
            for offset, result in enumerate(results):
                if result.error is not None and not result.rolled_back:
                    refused = result.error
                    number = start + offset + 1
                    if refused.field and not refused.field.startswith(LINES_FIELD):
                        refused.field = f"{LINES_FIELD}[{number}].{refused.field}"
                    raise refused
                if result.status is None:
                    raise ConnectorError(
                        f"create {table.logical} lines: the $batch stopped before line "
                        f"{start + offset + 1}",
                        category=ErrorCategory.CONNECTION,
                        system=SYSTEM,
                        code="batch_incomplete",
                    )

    async def update(self, object: str, id: str, values: Mapping[str, Any]) -> WriteOutcome:
        table = entity(object)
        if LINES_FIELD in values:
            raise InvalidValue(
                f"update {object}: Shuttle writes lines only with a new {object}",
                field=LINES_FIELD,
                system=SYSTEM,
            )
        result = await self.client.update(
            table.entity_set, id, render(table, values), select=[table.primary_key, "modifiedon"]
        )
        stamp = (result.record or {}).get("modifiedon")
        return WriteOutcome(
            id=result.id,
            created=False,
            modified=parse_datetime(stamp) if isinstance(stamp, str) else None,
        )
