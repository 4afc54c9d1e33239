"""Intacct as the sync engine sees it (`SyncConnector`), over one `IntacctClient`.

Change reads are a keyset over the `query` function, ordered by (WHENMODIFIED, RECORDNO):
each page asks for rows after the last one it returned — `WHENMODIFIED > t OR
(WHENMODIFIED = t AND RECORDNO > n)` — within [since, until]. The cursor is those two
values and the window, so it survives between processes and sessions (readByQuery's
`resultId` is tied to the session and expires, and an offset shifts when rows change
under it), and every record is read exactly once even when thousands share one timestamp.
Each page is two calls: the keyset query for the keys, then the records themselves with
`read` (several `read` functions in one request), which also brings document lines.

WHENMODIFIED is written in the company's time zone (INTACCT_TIMEZONE), whole seconds; the
window's bounds are converted to it (`since` rounded down, `until` kept to its second,
both inclusive) and read values are converted back to UTC. In the hour a DST change
repeats, a local time is read as its first occurrence.

IDs: CUSTOMERID, CONTACTNAME, ITEMID for master data; RECORDNO for documents (SODOCUMENT,
ARINVOICE, ARPAYMENT, ARADJUSTMENT). A create whose values carry no ID gets one derived
from its source (`objects.derived_id`); documents get it as their number (DOCNO,
RECORDID, DOCNUMBER) and are looked up by it before the create, so a repeat never makes a
second one.

Documents are written with Intacct's legacy functions (legacy.py: create_sotransaction,
create_invoice, ...; update_sotransaction, update_invoice), the only ones its XML API offers
for them. Their dates are required there, so a document given none is dated today in the
company's zone, and an invoice given neither WHENDUE nor TERMNAME falls due on its date
(due on receipt). An update sends the lines as changes to the document's lines by number;
a sales order's customer, type and number cannot change.

`ARAGING` is AR aging, read-only: one record per customer (see aging.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.connectors.client_sync import ClientSync
from shared.connectors.errors import ConnectorError
from shared.connectors.intacct import aging, legacy
from shared.connectors.intacct import functions as fn
from shared.connectors.intacct.client import Call, IntacctClient, building
from shared.connectors.intacct.config import QUERY_MAX_PAGE, SYSTEM
from shared.connectors.intacct.errors import bad_answer
from shared.connectors.intacct.objects import (
    OBJECTS,
    IntacctObject,
    derived_id,
    from_wire,
    render,
    to_wire,
)
from shared.connectors.intacct.wire import rows
from shared.connectors.protocol import (
    LINES_FIELD,
    ChangePage,
    Reference,
    RejectedRecord,
    SourceRef,
    SyncRecord,
    WriteOutcome,
    gather_writes,
    unusable,
)
from shared.errors import ErrorCategory
from shared.settings import Settings

TIMESTAMP_FORMAT = "%m/%d/%Y %H:%M:%S"
ORDER = (("WHENMODIFIED", True), ("RECORDNO", True))


class IntacctChangeCursor(BaseModel):
    """Where a change read stands; JSON round-trippable."""

    model_config = ConfigDict(extra="forbid")

    v: int = 1
    object: str
    since: str  # company-local WHENMODIFIED text, inclusive
    until: str  # inclusive
    after_modified: str | None = None
    after_recordno: int | None = None
    page_size: int = Field(ge=1, le=QUERY_MAX_PAGE)
    fields: list[str] | None = None


def _validation(
    message: str, *, field: str | None = None, record: str | None = None
) -> ConnectorError:
    return ConnectorError(
        message,
        category=ErrorCategory.VALIDATION,
        system=SYSTEM,
        code="invalid_request",
        field=field,
        record=record,
    )


class IntacctSync(ClientSync[IntacctClient]):
    system = SYSTEM

    def __init__(self, client: IntacctClient, *, today: Callable[[], date] | None = None) -> None:
        super().__init__(client)
        self.zone = client.config.zone
        # The company's date today (a document's default date; injectable for tests).
        self.today = today or (lambda: datetime.now(self.zone).date())
        self.aging = aging.AgingReport(client, self.today)

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **kwargs: Any) -> IntacctSync:
        return cls(IntacctClient.from_settings(settings, **kwargs))

    # -- time --------------------------------------------------------------------------------
    def local(self, moment: datetime) -> str:
        if moment.tzinfo is None:
            raise _validation("a change window bound must carry a time zone")
        try:
            return moment.astimezone(self.zone).strftime(TIMESTAMP_FORMAT)
        except OverflowError:  # the last (or first) day there is, in a zone off UTC
            return "12/31/9999 23:59:59" if moment.year == 9999 else "01/01/0001 00:00:00"

    def utc(self, text: str) -> datetime:
        try:
            naive = datetime.strptime(text.strip(), TIMESTAMP_FORMAT)
        except ValueError:
            naive = datetime.strptime(text.strip(), "%m/%d/%Y")
        return naive.replace(tzinfo=self.zone).astimezone(UTC)

    # -- helpers ---------------------------------------------------------------------------
    def _object(self, name: str) -> IntacctObject:
        obj = OBJECTS.get(name.upper())
        if obj is None:
            raise _validation(
                f"Shuttle does not sync the Intacct object {name!r} (known: {', '.join(OBJECTS)})"
            )
        return obj

    def _record(self, obj: IntacctObject, row: Mapping[str, Any]) -> SyncRecord | None:
        values = from_wire(obj, row)
        ident = values.get(obj.id_field)
        modified = values.get("WHENMODIFIED")
        if not ident or not modified:
            return None
        return SyncRecord(id=str(ident), modified=self.utc(str(modified)), values=values)

    def _rejected(self, obj: IntacctObject, row: Mapping[str, Any]) -> RejectedRecord | None:
        """Why a row read for a change page cannot be synced (None: it can)."""
        try:
            values = from_wire(obj, row)
        except (ValueError, TypeError) as exc:
            ident = row.get(obj.id_field) or row.get("RECORDNO")
            text = f"Intacct answered an unreadable {obj.name}: {exc}"
            return RejectedRecord(id=str(ident) if ident else None, message=text)
        ident, stamp = values.get(obj.id_field), values.get("WHENMODIFIED")
        field = obj.id_field if not ident else "WHENMODIFIED"
        if ident and stamp:
            try:
                self.utc(str(stamp))
                return None
            except (ValueError, OverflowError):
                pass
        named = str(ident) if ident else None
        if named is None and row.get("RECORDNO"):
            named = f"RECORDNO {row['RECORDNO']}"
        return unusable("Intacct", obj.name, field, values.get(field), id=named)

    async def _full(
        self, obj: IntacctObject, recordnos: Sequence[str], fields: Sequence[str] | None
    ) -> list[SyncRecord]:
        """The records of `recordnos`, in that order (rows gone since are left out)."""
        if not recordnos:
            return []
        wanted = None if fields is None or obj.lines else _with_keys(obj, fields)
        rows = await self.client.read(obj.name, list(recordnos), wanted)
        by_no = {str(row.get("RECORDNO")): row for row in rows}
        out = []
        for number in recordnos:
            row = by_no.get(str(number))
            record = self._record(obj, row) if row is not None else None
            if record is not None:
                out.append(record)
        return out

    async def _page_records(
        self, obj: IntacctObject, recordnos: Sequence[str], fields: Sequence[str] | None
    ) -> tuple[list[SyncRecord], list[RejectedRecord]]:
        """A change page's records, each on its own: a row without a usable key or
        WHENMODIFIED is rejected alone instead of being dropped or failing the page."""
        if not recordnos:
            return [], []
        wanted = None if fields is None or obj.lines else _with_keys(obj, fields)
        rows = await self.client.read(obj.name, list(recordnos), wanted)
        by_no = {str(row.get("RECORDNO")): row for row in rows}
        good: list[SyncRecord] = []
        bad: list[RejectedRecord] = []
        for number in recordnos:
            row = by_no.get(str(number))
            if row is None:
                continue  # deleted since the keys were read
            rejected = self._rejected(obj, row)
            if rejected is not None:
                bad.append(rejected)
                continue
            record = self._record(obj, row)
            if record is not None:
                good.append(record)
        return good, bad

    def _window(self, since: datetime, until: datetime) -> tuple[str, str]:
        if until < since:
            raise _validation("the change window ends before it starts")
        return self.local(since), self.local(until)

    # -- change reads ------------------------------------------------------------------------
    async def count_changes(self, object: str, *, since: datetime, until: datetime) -> int | None:
        if object.upper() == aging.OBJECT:
            return None  # only the report itself could tell
        obj = self._object(object)
        lower, upper = self._window(since, until)
        page = await self.client.query(
            obj.name,
            ["RECORDNO"],
            filter=fn.all_of(fn.ge("WHENMODIFIED", lower), fn.le("WHENMODIFIED", upper)),
            page_size=1,
        )
        return page.total if page.total is not None else page.count + page.remaining

    async def open_changes(
        self,
        object: str,
        *,
        since: datetime,
        until: datetime,
        fields: Sequence[str] | None = None,
        page_size: int = 500,
    ) -> dict[str, Any]:
        size = min(max(page_size, 1), QUERY_MAX_PAGE)
        if object.upper() == aging.OBJECT:
            self._window(since, until)
            return self.aging.open(until.astimezone(self.zone).date(), until, size)
        obj = self._object(object)
        lower, upper = self._window(since, until)
        cursor = IntacctChangeCursor(
            object=obj.name,
            since=lower,
            until=upper,
            page_size=size,
            fields=list(fields) if fields is not None else None,
        )
        return cursor.model_dump()

    async def read_changes(self, cursor: Mapping[str, Any]) -> ChangePage:
        if str(cursor.get("object", "")).upper() == aging.OBJECT:
            return await self.aging.page(cursor)
        try:
            state = IntacctChangeCursor.model_validate(dict(cursor))
        except ValidationError as exc:
            raise _validation(f"not an Intacct change cursor: {exc.errors()[0]['msg']}") from None
        obj = self._object(state.object)
        window = [fn.ge("WHENMODIFIED", state.since), fn.le("WHENMODIFIED", state.until)]
        if state.after_modified is not None and state.after_recordno is not None:
            window[0] = fn.any_of(
                fn.gt("WHENMODIFIED", state.after_modified),
                fn.all_of(
                    fn.eq("WHENMODIFIED", state.after_modified),
                    fn.gt("RECORDNO", state.after_recordno),
                ),
            )
        page = await self.client.query(
            obj.name,
            ["RECORDNO", "WHENMODIFIED"],
            filter=fn.all_of(*window),
            order_by=ORDER,
            page_size=state.page_size,
        )
        keys = [str(row.get("RECORDNO")) for row in page.records]
        records, rejected = await self._page_records(obj, keys, state.fields)
        if page.remaining <= 0 or not page.records:
            return ChangePage(records=records, rejected=rejected, cursor=None)
        last = page.records[-1]
        following = state.model_copy(
            update={
                "after_modified": str(last.get("WHENMODIFIED")),
                "after_recordno": int(str(last.get("RECORDNO"))),
            }
        )
        return ChangePage(records=records, rejected=rejected, cursor=following.model_dump())

    # -- single records ----------------------------------------------------------------------
    async def get(
        self, object: str, id: str, *, fields: Sequence[str] | None = None
    ) -> SyncRecord | None:
        if object.upper() == aging.OBJECT:
            return await self.aging.one(id)
        obj = self._object(object)
        if obj.is_document:
            full = await self._full(obj, [id], fields) if id.isdigit() else []
            return full[0] if full else None
        found = await self.find(obj.name, {obj.id_field: id}, fields=fields, limit=1)
        return found[0] if found else None

    async def find(
        self,
        object: str,
        criteria: Mapping[str, Any],
        *,
        fields: Sequence[str] | None = None,
        limit: int = 2,
    ) -> list[SyncRecord]:
        if object.upper() == aging.OBJECT:
            if set(criteria) != {"CUSTOMERID"} or not criteria["CUSTOMERID"]:
                raise _validation("AR aging is found by CUSTOMERID only", field="CUSTOMERID")
            record = await self.aging.one(str(render(criteria["CUSTOMERID"])))
            return [record] if record is not None else []
        obj = self._object(object)
        if not criteria:
            raise _validation("find needs at least one criterion")
        with building(f"find {obj.name}"):
            conditions = [
                fn.is_null(name)
                if value is None
                else fn.eq(name, value.id if isinstance(value, Reference) else value)
                for name, value in criteria.items()
            ]
        page = await self.client.query(
            obj.name,
            ["RECORDNO"],
            filter=fn.all_of(*conditions),
            order_by=(("RECORDNO", True),),
            page_size=max(1, min(limit, QUERY_MAX_PAGE)),
        )
        return await self._full(obj, [str(r.get("RECORDNO")) for r in page.records], fields)

    # -- chunks (several records per request: shared/engine/chunk_calls.py) --------------------
    async def find_many(
        self,
        object: str,
        field: str,
        values: Sequence[Any],
        *,
        fields: Sequence[str] | None = None,
    ) -> dict[str, list[SyncRecord]]:
        """The records whose `field` equals each of `values`, by the value as text: one
        `query` with an `in` filter and one `read` for all of them. A value left out of the
        answer could not be told apart (the caller asks for it alone)."""
        if object.upper() == aging.OBJECT:
            return {}
        obj = self._object(object)
        wanted = list(dict.fromkeys(v.id if isinstance(v, Reference) else v for v in values))
        if not wanted:
            return {}
        with building(f"find {obj.name}"):
            condition = fn.compare("in", field, *wanted)
        page = await self.client.query(
            obj.name,
            ["RECORDNO", field],
            filter=condition,
            order_by=(("RECORDNO", True),),
            page_size=min(QUERY_MAX_PAGE, 2 * len(wanted)),
        )
        if page.remaining > 0:
            return {}  # more matches than a chunk's check needs: each value on its own
        found = await self._full(obj, [str(r.get("RECORDNO")) for r in page.records], fields)
        out: dict[str, list[SyncRecord]] = {str(v): [] for v in wanted}
        for record in found:
            key = str(record.values.get(field))
            if key not in out:
                return {}  # the company compared differently (case, spaces): ask one by one
            out[key].append(record)
        return out

    async def get_many(
        self, object: str, ids: Sequence[str], *, fields: Sequence[str] | None = None
    ) -> dict[str, SyncRecord]:
        obj = self._object(object)
        if obj.is_document or object.upper() == aging.OBJECT:
            got = await asyncio.gather(*(self.get(object, i, fields=fields) for i in ids))
            return {i: r for i, r in zip(ids, got, strict=True) if r is not None}
        found = await self.find_many(obj.name, obj.id_field, list(ids), fields=fields)
        if not found:
            got = await asyncio.gather(*(self.get(object, i, fields=fields) for i in ids))
            return {i: r for i, r in zip(ids, got, strict=True) if r is not None}
        return {i: hits[0] for i, hits in found.items() if hits}

    async def create_many(
        self, object: str, items: Sequence[tuple[Mapping[str, Any], SourceRef]]
    ) -> list[WriteOutcome | ConnectorError]:
        """Creates of many records in one request, one `create` function each (controlid =
        the record's key), outside a transaction so one refusal rolls back no other; each
        answer (or error) is its own record's. Documents go one by one (`create`)."""
        obj = self._writable(object)
        if obj.writer is not None:
            return await gather_writes([self.create(object, v, source=src) for v, src in items])
        out: list[WriteOutcome | ConnectorError | None] = [None] * len(items)
        calls: list[tuple[int, str, Call]] = []
        used: set[str] = set()
        for n, (values, source) in enumerate(items):
            key = str(values.get(obj.key_field) or "") or derived_id(obj, source)
            try:
                wire = self._wire(obj, values, {obj.key_field: key}, record=key)
                with building(f"create {obj.name}", key):
                    body = fn.create(obj.name, wire)
            except ConnectorError as error:
                out[n] = error
                continue
            call = Call(body, f"create {obj.name}", key)
            if key not in used and len(key) <= 100:
                call = Call(body, f"create {obj.name}", key, controlid=key)
                used.add(key)
            calls.append((n, key, call))
        results = await self.client.execute([c for _, _, c in calls], transaction=False)
        for (n, key, call), result in zip(calls, results, strict=True):
            try:
                self.client.raise_for(result, call)
            except ConnectorError as error:
                if error.category is not ErrorCategory.DUPLICATE:
                    out[n] = error
                    continue
                # Made by an earlier attempt whose answer was lost: find it.
                existing = await self.find(obj.name, {obj.key_field: key}, limit=1)
                out[n] = (
                    WriteOutcome(id=existing[0].id, created=False, modified=existing[0].modified)
                    if existing
                    else error
                )
                continue
            found = rows(result.data)
            row = found[0] if found else {}
            out[n] = WriteOutcome(id=str(row.get(obj.id_field) or key), created=True)
        return [o for o in out if o is not None]

    # Laid out like create_many above on purpose: both build one function call per record and
    # settle each answer alone, but a create adds controlids and the duplicate lookup; merged,
    # the two would need flags for every step.
    async def update_many(
        self, object: str, items: Sequence[tuple[str, Mapping[str, Any]]]
    ) -> list[WriteOutcome | ConnectorError]:
        """Updates of many records in one request, one `update` function each, outside a
        transaction. Documents go one by one (`update`)."""
        obj = self._writable(object)
        if obj.writer is not None:
            return await gather_writes([self.update(object, i, v) for i, v in items])
        out: list[WriteOutcome | ConnectorError | None] = [None] * len(items)
        calls: list[tuple[int, str, Call]] = []
        for n, (ident, values) in enumerate(items):
            changes = {k: v for k, v in values.items() if k not in (obj.id_field, "RECORDNO")}
            try:
                wire = self._wire(obj, changes, {obj.id_field: ident}, record=ident)
                with building(f"update {obj.name}", ident):
                    body = fn.update(obj.name, wire)
            except ConnectorError as error:
                out[n] = error
                continue
            calls.append((n, ident, Call(body, f"update {obj.name}", ident)))
        results = await self.client.execute([c for _, _, c in calls], transaction=False)
        for (n, ident, call), result in zip(calls, results, strict=True):
            try:
                self.client.raise_for(result, call)
                out[n] = WriteOutcome(id=ident, created=False)
            except ConnectorError as error:
                out[n] = error
        return [o for o in out if o is not None]

    # -- writes --------------------------------------------------------------------------------
    async def create(
        self, object: str, values: Mapping[str, Any], *, source: SourceRef
    ) -> WriteOutcome:
        obj = self._writable(object)
        key = str(values.get(obj.key_field) or "") or derived_id(obj, source)
        if obj.writer is not None:
            return await self._create_document(obj, obj.writer, values, key)
        wire = self._wire(obj, values, {obj.key_field: key}, record=key)
        try:
            row = await self.client.create(obj.name, wire, record=key)
        except ConnectorError as error:
            if error.category is not ErrorCategory.DUPLICATE:
                raise
            existing = await self.find(obj.name, {obj.key_field: key}, limit=1)
            if not existing:
                raise
            return WriteOutcome(id=existing[0].id, created=False, modified=existing[0].modified)
        return WriteOutcome(id=str(row.get(obj.id_field) or key), created=True)

    @staticmethod
    def _split(
        values: Mapping[str, Any],
    ) -> tuple[dict[str, Any], list[dict[str, Any]] | None]:
        """A document's header values and its lines, references rendered as IDs."""
        header = {k: render(v) for k, v in values.items() if k != LINES_FIELD}
        lines = values.get(LINES_FIELD)
        items = [{k: render(v) for k, v in line.items()} for line in lines] if lines else None
        return header, items

    async def _create_document(
        self, obj: IntacctObject, writer: legacy.Writer, values: Mapping[str, Any], key: str
    ) -> WriteOutcome:
        """A company may allow duplicate document numbers, so a duplicate answer cannot be
        relied on: before the first try and before every retry, look for the number; a
        create whose answer was lost is found instead of made twice."""
        header, items = self._split(values)
        header[obj.key_field] = key
        if writer.element("WHENCREATED") and header.get("WHENCREATED") in (None, ""):
            header["WHENCREATED"] = self.today()
        if obj.name == "ARINVOICE" and not header.get("WHENDUE") and not header.get("TERMNAME"):
            header["WHENDUE"] = header["WHENCREATED"]  # due on receipt
        if obj.name == "ARPAYMENT" and header.get("PAYMENTDATE") in (None, ""):
            header["PAYMENTDATE"] = self.today()
        with building(f"create {obj.name}", key):
            body = legacy.create_body(writer, header, items)

        async def attempt() -> WriteOutcome:
            existing = await self.find(obj.name, {obj.key_field: key}, limit=1)
            if existing:
                return WriteOutcome(id=existing[0].id, created=False, modified=existing[0].modified)
            call = Call(body, f"create {obj.name}", key)
            answer = (await self.client.call(call, retry=False)).key or ""
            if answer.isdigit():
                return WriteOutcome(id=answer, created=True)
            # A sales order's key is its DOCID: its RECORDNO is looked up by it.
            made = await self.find(obj.name, {writer.key: answer}, limit=1) if answer else []
            if not made:
                raise bad_answer(
                    f"create {obj.name}: Intacct's answer names no record ({answer!r})",
                    record=key,
                )
            return WriteOutcome(id=made[0].id, created=True)

        return await self.client.retrying(attempt)

    async def update(self, object: str, id: str, values: Mapping[str, Any]) -> WriteOutcome:
        obj = self._writable(object)
        changes = {k: v for k, v in values.items() if k not in (obj.id_field, "RECORDNO")}
        if obj.writer is not None:
            await self._update_document(obj, obj.writer, id, changes)
            return WriteOutcome(id=id, created=False)
        wire = self._wire(obj, changes, {obj.id_field: id}, record=id)
        await self.client.update(obj.name, wire, record=id)
        return WriteOutcome(id=id, created=False)

    async def _update_document(
        self, obj: IntacctObject, writer: legacy.Writer, id: str, changes: Mapping[str, Any]
    ) -> None:
        """The legacy update names the document by its key and its lines by number, so the
        document is read first."""
        if writer.update is None:
            raise _validation(
                f"update {obj.name}: Intacct's API cannot change an existing {obj.name}; "
                "change it in Intacct",
                record=id,
            )
        rows = await self.client.read(obj.name, [id]) if id.isdigit() else []
        if not rows:
            raise ConnectorError(
                f"update {obj.name}: there is no {obj.name} with RECORDNO {id} in Intacct",
                category=ErrorCategory.NOT_FOUND,
                system=SYSTEM,
                code="not_found",
                record=id,
            )
        current = from_wire(obj, rows[0])
        header, items = self._split(changes)
        for name in writer.fixed:  # a value equal to the document's own is simply left out
            if name in header and str(header.pop(name)) != str(current.get(name, "")):
                raise _validation(
                    f"update {obj.name}: Intacct's API cannot change {name} of an existing "
                    f"{obj.name} (it is {current.get(name)!r}); change it in Intacct",
                    field=name,
                    record=id,
                )
        with building(f"update {obj.name}", id):
            body = legacy.update_body(
                writer,
                str(current.get(writer.key, id)),
                header,
                items,
                len(current.get(LINES_FIELD) or []),
            )
        await self.client.call(Call(body, f"update {obj.name}", id))

    def _writable(self, name: str) -> IntacctObject:
        if name.upper() == aging.OBJECT:
            raise _validation("AR aging is a report: Shuttle reads it, it cannot be written")
        return self._object(name)

    def _wire(
        self,
        obj: IntacctObject,
        values: Mapping[str, Any],
        first: Mapping[str, Any],
        *,
        record: str,
    ) -> dict[str, Any]:
        try:
            return to_wire(obj, values, first)
        except ValueError as exc:
            raise ConnectorError(
                f"write {obj.name}: {exc}",
                category=ErrorCategory.VALIDATION,
                system=SYSTEM,
                code="invalid_value",
                record=record,
            ) from None


def _with_keys(obj: IntacctObject, fields: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(["RECORDNO", obj.id_field, "WHENMODIFIED", *fields]))
