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
from shared.connectors.creatio.config import SYSTEM
from shared.connectors.creatio.models import CreatioChangeCursor, Record
from shared.connectors.creatio.odata import (
    all_of,
    format_datetime,
    parse_datetime,
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

    # -- writes ----------------------------------------------------------------------------
    async def create(
        self, object: str, values: Mapping[str, Any], *, source: SourceRef
    ) -> WriteOutcome:
        header = render({k: v for k, v in values.items() if k != LINES_FIELD})
        lines = values.get(LINES_FIELD)
        if lines is not None and object not in LINE_OBJECTS:
            raise _no_lines(object, "create")
        if lines is not None and not (
            isinstance(lines, list) and all(isinstance(line, Mapping) for line in lines)
        ):
            raise InvalidValue(
                f"create {object}: lines must be a list of objects",
                field=LINES_FIELD,
                system=SYSTEM,
            )
        record_id = deterministic_id(source.system, source.object, source.id)
        result = await self.client.create(object, header, id=record_id)
        if lines:
            # After the header (the lines point at it), each with its own deterministic Id:
            # a repeat after a crash between header and lines completes them, never twins.
            await self._create_lines(object, record_id, lines, source)
        stamp = (result.record or {}).get("ModifiedOn")
        modified = parse_datetime(stamp) if isinstance(stamp, str) else None
        return WriteOutcome(id=str(result.id), created=result.created, modified=modified)

    async def _create_lines(
        self, object: str, parent: uuid.UUID, lines: Sequence[Mapping[str, Any]], source: SourceRef
    ) -> None:
        line_object, parent_column = LINE_OBJECTS[object]
        # One create per line rather than a $batch: the emulator's $batch cannot yet carry
        # decimal values, and a document has few lines (they go out concurrently).
        results = await asyncio.gather(
            *(
                self.client.create(
                    line_object,
                    {**render(line), parent_column: parent},
                    id=deterministic_id(source.system, source.object, source.id, f"line:{n}"),
                )
                for n, line in enumerate(lines)
            ),
            return_exceptions=True,
        )
        for number, result in enumerate(results, start=1):
            if isinstance(result, ConnectorError):
                if result.field is not None and not result.field.startswith(LINES_FIELD):
                    # Named as the engine names line fields (lines[1].ProductId).
                    result.field = f"{LINES_FIELD}[{number}].{result.field}"
                raise result
            if isinstance(result, BaseException):
                raise result

    async def update(self, object: str, id: str, values: Mapping[str, Any]) -> WriteOutcome:
        if LINES_FIELD in values:
            raise _no_lines(object, "update")
        # Creatio answers a PATCH with 204 and no body (docs/wire-notes.md C4): ModifiedOn would
        # cost a second call, so `modified` stays None.
        await self.client.update(object, _key(id), render(values))
        return WriteOutcome(id=id, created=False, modified=None)
