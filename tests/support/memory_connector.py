"""An in-memory `SyncConnector` for fast engine tests (tests only: the product never builds
one): no HTTP, a controllable clock, call counters ("zero write calls"), injected failures
and lost answers, and per-object validators that reject values the way a target system would.

conn = MemoryConnector("erp", clock=clock)
record_id = conn.seed("Customer", {"Name": "Acme"})
conn.fail_next("update", ConnectorError(...), times=2)
conn.lose_answer_next("create")       # the create happens; its answer is "lost"
assert conn.calls["create"] == 0
"""

from __future__ import annotations

import copy
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.connectors.errors import ConnectorError
from shared.connectors.protocol import ChangePage, Reference, SourceRef, SyncRecord, WriteOutcome
from shared.errors import ErrorCategory

Validator = Callable[[dict[str, Any]], None]
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


class TickClock:
    """The default clock: starts at `start` and moves one `step` on every call, so each write
    gets a distinct, strictly later `modified` without touching the wall clock."""

    def __init__(self, start: datetime = EPOCH, step: timedelta = timedelta(seconds=1)) -> None:
        self.now = start
        self.step = step

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now


def stored(value: Any) -> Any:
    """A value as the connector keeps it: References become their id, recursively."""
    if isinstance(value, Reference):
        return value.id
    if isinstance(value, Mapping):
        return {str(k): stored(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [stored(v) for v in value]
    return value


class MemoryConnector:
    """Records per object as {id: SyncRecord}. Ids are uuid4 strings, or the value of the
    object's field named in `id_fields` (e.g. {"CUSTOMER": "CUSTOMERID"})."""

    def __init__(
        self,
        system: str = "memory",
        *,
        clock: Callable[[], datetime] | None = None,
        id_fields: Mapping[str, str] | None = None,
        validators: Mapping[str, Validator] | None = None,
    ) -> None:
        self.system = system
        self.clock: Callable[[], datetime] = clock or TickClock()
        self.id_fields = dict(id_fields or {})
        self.validators = dict(validators or {})
        self.records: dict[str, dict[str, SyncRecord]] = defaultdict(dict)
        self.sources: dict[str, str] = {}  # SourceRef.key -> id of the record it created
        self.calls: Counter[str] = Counter()
        self.closed = False
        self._failures: dict[str, list[ConnectorError]] = defaultdict(list)
        self._lost: Counter[str] = Counter()

    # -- test controls -----------------------------------------------------------------------
    def seed(
        self,
        object: str,
        values: Mapping[str, Any],
        *,
        id: str | None = None,
        modified: datetime | None = None,
    ) -> str:
        """Put a record in place without counting a call; returns its id."""
        record_id = id or self._new_id(object, values)
        self._store(object, record_id, stored(dict(values)), modified or self.clock())
        return record_id

    def fail_next(self, operation: str, error: ConnectorError, *, times: int = 1) -> None:
        """The next `times` calls of `operation` raise `error` (before doing anything)."""
        self._failures[operation].extend([error] * times)

    def lose_answer_next(self, operation: str = "create", *, times: int = 1) -> None:
        """The next `times` writes of `operation` happen, then raise a connection error, as
        when the answer is dropped on the way back."""
        self._lost[operation] += times

    def values(self, object: str, id: str) -> dict[str, Any]:
        return self.records[object][id].values

    @property
    def writes(self) -> int:
        return self.calls["create"] + self.calls["update"]

    # -- protocol ---------------------------------------------------------------------------
    async def check(self) -> None:
        self._enter("check")

    async def aclose(self) -> None:
        self.closed = True

    async def count_changes(self, object: str, *, since: datetime, until: datetime) -> int | None:
        self._enter("count")
        return sum(1 for r in self.records[object].values() if since <= r.modified <= until)

    async def open_changes(
        self,
        object: str,
        *,
        since: datetime,
        until: datetime,
        fields: Sequence[str] | None = None,
        page_size: int = 500,
    ) -> dict[str, Any]:
        self._enter("open")
        return {
            "object": object,
            "since": since.isoformat(),
            "until": until.isoformat(),
            "fields": list(fields) if fields else None,
            "page_size": page_size,
            "after": None,  # [modified, id] of the last record read
        }

    async def read_changes(self, cursor: Mapping[str, Any]) -> ChangePage:
        self._enter("read")
        since = datetime.fromisoformat(cursor["since"])
        until = datetime.fromisoformat(cursor["until"])
        after = cursor.get("after")
        start = (datetime.fromisoformat(after[0]), after[1]) if after else None
        window = sorted(
            (r for r in self.records[cursor["object"]].values() if since <= r.modified <= until),
            key=lambda r: (r.modified, r.id),
        )
        # Keyset: strictly after the last (modified, id) read, so ties never repeat or drop.
        rest = [r for r in window if start is None or (r.modified, r.id) > start]
        page = rest[: cursor["page_size"]]
        fields = cursor.get("fields")
        records = [self._copy(r, fields) for r in page]
        following = None
        if len(rest) > len(page):
            following = {**cursor, "after": [page[-1].modified.isoformat(), page[-1].id]}
        return ChangePage(records=records, cursor=following)

    async def get(
        self, object: str, id: str, *, fields: Sequence[str] | None = None
    ) -> SyncRecord | None:
        self._enter("get")
        record = self.records[object].get(id)
        return self._copy(record, fields) if record is not None else None

    async def find(
        self,
        object: str,
        criteria: Mapping[str, Any],
        *,
        fields: Sequence[str] | None = None,
        limit: int = 2,
    ) -> list[SyncRecord]:
        self._enter("find")
        wanted = stored(dict(criteria))
        found = [
            r
            for r in self.records[object].values()
            if all(r.values.get(k) == v for k, v in wanted.items())
        ]
        return [self._copy(r, fields) for r in found[:limit]]

    async def create(
        self, object: str, values: Mapping[str, Any], *, source: SourceRef
    ) -> WriteOutcome:
        self._enter("create")
        existing = self.records[object].get(self.sources.get(source.key, ""))
        if existing is not None:  # a repeat (redelivery or retry after a lost answer)
            return WriteOutcome(id=existing.id, created=False, modified=existing.modified)
        data = stored(dict(values))
        record_id = self._new_id(object, data)
        if record_id in self.records[object]:
            raise self._error(
                f"create {object}: {record_id} exists",
                ErrorCategory.DUPLICATE,
                record_id,
                self.id_fields.get(object),
            )
        self._validate(object, data)
        record = self._store(object, record_id, data, self.clock())
        self.sources[source.key] = record_id
        self._maybe_lose("create", object, record_id)
        return WriteOutcome(id=record_id, created=True, modified=record.modified)

    async def update(self, object: str, id: str, values: Mapping[str, Any]) -> WriteOutcome:
        self._enter("update")
        current = self.records[object].get(id)
        if current is None:
            raise self._error(f"update {object}: no record {id}", ErrorCategory.NOT_FOUND, id)
        merged = {**current.values, **stored(dict(values))}
        self._validate(object, merged)
        record = self._store(object, id, merged, self.clock())
        self._maybe_lose("update", object, id)
        return WriteOutcome(id=id, created=False, modified=record.modified)

    # -- internals ---------------------------------------------------------------------------
    def _enter(self, operation: str) -> None:
        self.calls[operation] += 1
        if self._failures[operation]:
            raise self._failures[operation].pop(0)

    def _maybe_lose(self, operation: str, object: str, id: str) -> None:
        if self._lost[operation] > 0:
            self._lost[operation] -= 1
            raise ConnectorError(
                f"{operation} {object}: the connection dropped before the answer",
                category=ErrorCategory.CONNECTION,
                system=self.system,
                code="answer_lost",
                record=id,
            )

    def _new_id(self, object: str, values: Mapping[str, Any]) -> str:
        field = self.id_fields.get(object)
        if field is None:
            return str(uuid.uuid4())
        value = values.get(field)
        if value in (None, ""):
            raise self._error(f"{object} needs a {field}", ErrorCategory.VALIDATION, None, field)
        return str(value)

    def _validate(self, object: str, values: dict[str, Any]) -> None:
        validator = self.validators.get(object)
        if validator is not None:
            validator(copy.deepcopy(values))

    def _store(
        self, object: str, id: str, values: dict[str, Any], modified: datetime
    ) -> SyncRecord:
        record = SyncRecord(id=id, modified=modified, values=copy.deepcopy(values))
        self.records[object][id] = record
        return record

    def _copy(self, record: SyncRecord, fields: Sequence[str] | None) -> SyncRecord:
        values = copy.deepcopy(record.values)
        if fields:
            values = {k: v for k, v in values.items() if k in fields}
        return SyncRecord(id=record.id, modified=record.modified, values=values)

    def _error(
        self, message: str, category: ErrorCategory, record: str | None, field: str | None = None
    ) -> ConnectorError:
        return ConnectorError(
            message, category=category, system=self.system, record=record, field=field
        )
