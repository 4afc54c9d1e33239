"""The Creatio client: OData 4 reads and writes with auth, retries and pacing.

Built once per worker (`CreatioClient.from_settings()`), it keeps its session or token, its
connection pool and its rate estimate across invocations. Every write is idempotent, so a
call retried after a lost answer never makes a second record: creates carry a client-chosen
Id (a duplicate answer is resolved by reading the record back), PATCH and DELETE are
idempotent by nature.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar, Unpack

from shared.connectors.creatio.auth import CreatioAuth
from shared.connectors.creatio.config import SYSTEM, CreatioConfig
from shared.connectors.creatio.errors import error_from_answer
from shared.connectors.creatio.http import CreatioHttp, dumps
from shared.connectors.creatio.models import (
    BatchOperation,
    BatchOutcome,
    CreatioChangeCursor,
    CreatioChangePage,
    Record,
    WriteResult,
)
from shared.connectors.creatio.objects import OBJECTS
from shared.connectors.creatio.odata import (
    EMPTY_DATE,
    EMPTY_GUID,
    all_of,
    check_name,
    eq,
    format_datetime,
    key_path,
    match_filter,
    parse_datetime,
    select_list,
)
from shared.connectors.errors import ConnectorError, InvalidValue
from shared.connectors.http import ClientOptions, ConnectorClient
from shared.connectors.retry import AdaptiveLimiter
from shared.errors import ErrorCategory
from shared.settings import Settings

log = logging.getLogger("shuttle.connectors.creatio")
T = TypeVar("T")

CHANGE_ORDER = "ModifiedOn asc,Id asc"
# Namespace of Shuttle's deterministic Creatio Ids (uuid5 of the source key).
ID_NAMESPACE = uuid.UUID("5f2b3c1e-8a47-4c55-9b8e-2d7f0c6a9e31")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2})")


def deterministic_id(*source_key: str) -> uuid.UUID:
    """The Creatio Id Shuttle gives the record created for `source_key` (e.g. system,
    object, key): the same on every retry and every redelivery, so a create is idempotent."""
    return uuid.uuid5(ID_NAMESPACE, "\x1f".join(source_key))


def normalise(raw: Mapping[str, Any]) -> Record:
    """Creatio's JSON record -> Shuttle's: OData annotations dropped, the empty-lookup GUID
    and the empty date -> None. Timestamps stay Creatio's strings (7 fractional digits);
    decimals are Decimal."""
    record: Record = {}
    for name, value in raw.items():
        if name.startswith("@odata."):
            continue
        record[name] = None if value in (EMPTY_GUID, EMPTY_DATE) else value
    return record


def _comparable(value: Any) -> tuple[str, Any]:
    """A value tagged by kind (so False never equals 0) in the form Creatio compares."""
    if value is None or (isinstance(value, str) and value in ("", EMPTY_GUID, EMPTY_DATE)):
        return ("empty", None)
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float | Decimal):
        return ("number", Decimal(str(value)).normalize())
    if isinstance(value, uuid.UUID):
        return ("text", str(value))
    if isinstance(value, datetime):
        return ("time", value.astimezone(UTC))
    if isinstance(value, str):
        if _TIMESTAMP.fullmatch(value):
            return ("time", parse_datetime(value))
        return ("text", value.lower() if re.fullmatch(r"[0-9a-fA-F-]{36}", value) else value)
    return ("other", value)


def changed_columns(current: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    """The columns of `desired` whose value differs from `current` (as Creatio compares:
    None, "" and the empty GUID/date are all empty; 1.50 equals 1.5; GUID case ignored)."""
    return {k: v for k, v in desired.items() if _comparable(current.get(k)) != _comparable(v)}


def _internal(message: str, *, record: str | None = None) -> ConnectorError:
    return ConnectorError(
        message, category=ErrorCategory.INTERNAL, system=SYSTEM, code="bad_answer", record=record
    )


class CreatioClient(ConnectorClient):
    """Creatio over OData 4. Public API: `check`, `get`, `find`, `query`, `count`,
    `open_changes` / `read_page` / `read_changes`, `create`, `update`, `delete`, `batch` /
    `create_many`, `lookup_id`, `aclose`."""

    system = SYSTEM

    def __init__(self, config: CreatioConfig, **options: Unpack[ClientOptions]) -> None:
        self.config = config
        self.http = CreatioHttp(config, **options)
        self._http, self.retrier = self.http._http, self.http.retrier  # closed and shared
        self._lookups: dict[tuple[str, str], uuid.UUID] = {}

    @property
    def auth(self) -> CreatioAuth:
        return self.http.auth

    @property
    def limiter(self) -> AdaptiveLimiter:
        return self.http.limiter

    # Alike in IntacctClient (intacct/client.py): each client builds its own config class,
    # and connectors do not import each other.
    @classmethod
    def from_settings(
        cls, settings: Settings | None = None, **options: Unpack[ClientOptions]
    ) -> CreatioClient:
        return cls(
            CreatioConfig.from_environ()
            if settings is None
            else CreatioConfig.from_settings(settings),
            **options,
        )

    def _check_columns(self, object: str, values: Mapping[str, Any], record: str | None) -> None:
        known = OBJECTS.get(check_name(object))
        if known is None:
            return
        unknown = known.unknown(values)
        if unknown:
            raise ConnectorError(
                f"write {object}: no column {unknown[0]!r} on the Creatio object (Creatio would "
                "silently drop its value) — fix the field mapping",
                category=ErrorCategory.VALIDATION,
                system=SYSTEM,
                code="unknown_column",
                field=unknown[0],
                record=record,
            )

    # -- reads -----------------------------------------------------------------------------
    async def check(self) -> None:
        """Log in (or get a token) and read the service document: the connection monitor."""
        await self.http.call("GET", self.config.odata_base, action="check the Creatio connection")

    async def get(
        self, object: str, id: uuid.UUID, *, select: Sequence[str] | None = None
    ) -> Record | None:
        """One record by Id, or None if it does not exist."""
        params = {"$select": select_list(select) if select else None}
        action = f"read {object} {id}"
        try:
            response = await self.http.call(
                "GET", self.http.url(key_path(object, id), params), action=action, record=str(id)
            )
        except ConnectorError as error:
            if error.code == "not_found":
                return None
            raise
        return normalise(self.http.json(response, action))

    # The OData query keywords DataverseClient.query (dataverse/client.py) takes too: both
    # speak OData, and connectors do not import each other.
    async def query(
        self,
        object: str,
        *,
        filter: str | None = None,
        select: Sequence[str] | None = None,
        orderby: str | None = None,
        top: int | None = None,
        skip: int | None = None,
    ) -> list[Record]:
        """One OData query (one page). `filter` must be built with the helpers of
        `shared.connectors.creatio.odata`, which quote values."""
        params: dict[str, str | int | None] = {
            "$filter": filter,
            "$select": select_list(select) if select else None,
            "$orderby": orderby,
            "$top": top,
            "$skip": skip,
        }
        action = f"query {object}"
        response = await self.http.call(
            "GET", self.http.url(check_name(object), params), action=action
        )
        body = self.http.json(response, action)
        values = body.get("value") if isinstance(body, dict) else None
        if not isinstance(values, list):
            raise _internal(f"{action}: the answer has no 'value' list")
        return [normalise(v) for v in values]

    # The same keywords as SyncConnector.find (connectors/protocol.py), which its adapter
    # (creatio/sync.py) passes on: the signature repeats, the work does not.
    async def find(
        self,
        object: str,
        match: Mapping[str, Any],
        *,
        select: Sequence[str] | None = None,
        top: int = 2,
    ) -> list[Record]:
        """Records whose match fields equal the given values (binding and matching). Values
        are literals, never filter text: pass uuid.UUID for Id and lookup columns."""
        return await self.query(object, filter=match_filter(match), select=select, top=top)

    async def count(self, object: str, *, filter: str | None = None) -> int:
        action = f"count {object}"
        url = self.http.url(f"{check_name(object)}/$count", {"$filter": filter})
        response = await self.http.call("GET", url, action=action)
        try:
            return int(response.text.strip())
        except ValueError:
            raise _internal(f"{action}: the answer is not a number") from None

    async def lookup_id(self, object: str, name: str) -> uuid.UUID:
        """The Id of a lookup value by its Name (e.g. OpportunityStage "Closed won"); lookup
        GUIDs differ per install. Cached for the life of the client."""
        key = (object, name)
        if key not in self._lookups:
            rows = await self.query(object, filter=eq("Name", name), select=["Id", "Name"], top=1)
            if not rows:
                raise ConnectorError(
                    f"Creatio has no {object} named {name!r} — check the lookup values",
                    category=ErrorCategory.NOT_FOUND,
                    system=SYSTEM,
                    code="lookup_missing",
                    field=object,
                )
            self._lookups[key] = uuid.UUID(rows[0]["Id"])
        return self._lookups[key]

    # -- incremental reads -----------------------------------------------------------------
    async def open_changes(
        self,
        object: str,
        since: datetime | str,
        *,
        until: datetime | None = None,
        select: Sequence[str] | None = None,
        where: str | None = None,
        page_size: int | None = None,
    ) -> CreatioChangeCursor:
        """Start reading the records modified in [since, until]. Without `until`, the read
        ends at the newest ModifiedOn existing now (read from Creatio, so no clock skew):
        later changes belong to the next read, which starts where this one ends — pass the
        cursor's `until` string as the next `since` to continue at full precision."""
        check_name(object)
        if isinstance(since, str):
            if not _TIMESTAMP.fullmatch(since):
                raise InvalidValue(f"since {since!r} is not an OData timestamp", system=SYSTEM)
            lower = since
        else:
            lower = format_datetime(since)
        columns = None
        if select:
            columns = tuple(dict.fromkeys(["Id", "ModifiedOn", *(check_name(c) for c in select)]))
        size = page_size or self.config.page_size
        if until is not None:
            until_text: str | None = format_datetime(until)
        else:
            newest = await self.query(
                object,
                filter=all_of(f"ModifiedOn ge {lower}", where),
                select=["ModifiedOn"],
                orderby="ModifiedOn desc",
                top=1,
            )
            until_text = _timestamp(newest[0].get("ModifiedOn"), object) if newest else None
        return CreatioChangeCursor(
            object=object,
            since=lower,
            until=until_text,
            select=columns,
            where=where,
            page_size=size,
        )

    def _window(self, cursor: CreatioChangeCursor) -> str:
        after = None
        if cursor.after_modified is not None:
            last = cursor.after_modified
            after = f"ModifiedOn gt {last} or (ModifiedOn eq {last} and Id gt {cursor.after_id})"
        clause = all_of(
            f"ModifiedOn ge {cursor.since}",
            f"ModifiedOn le {cursor.until}",
            after,
            cursor.where,
        )
        assert clause is not None
        return clause

    async def read_page(self, cursor: CreatioChangeCursor) -> CreatioChangePage:
        """One page of changes and the cursor of the next (None when the read is complete)."""
        if cursor.until is None:
            return CreatioChangePage(records=[], next=None)
        action = f"read changed {cursor.object} records"
        if cursor.next_link is not None:
            url = cursor.next_link
        else:
            params: dict[str, str | int | None] = {
                "$filter": self._window(cursor),
                "$orderby": CHANGE_ORDER,
                "$top": cursor.page_size,
                "$select": select_list(cursor.select) if cursor.select else None,
            }
            url = self.http.url(cursor.object, params)
        response = await self.http.call("GET", url, action=action)
        body = self.http.json(response, action)
        values = body.get("value") if isinstance(body, dict) else None
        if not isinstance(values, list):
            raise _internal(f"{action}: the answer has no 'value' list")
        records = [normalise(v) for v in values]
        if not records:
            return CreatioChangePage(records=[], next=None)
        last = records[-1]
        after_modified = _timestamp(last.get("ModifiedOn"), cursor.object)
        try:
            after_id = uuid.UUID(str(last.get("Id")))
        except ValueError:
            raise _internal(f"{action}: a record without a valid Id") from None
        if (after_modified, after_id) == (cursor.after_modified, cursor.after_id):
            raise _internal(f"{action}: Creatio returned the same page again")
        link = body.get("@odata.nextLink")
        chain_rows = (cursor.chain_rows if cursor.next_link else 0) + len(records)
        moved = {"after_modified": after_modified, "after_id": after_id, "pages": cursor.pages + 1}
        if isinstance(link, str) and "$skiptoken" in link:
            # The server's own keyset continuation: follow it verbatim (same site only).
            self._same_site(link, action)
            following = cursor.model_copy(
                update={**moved, "next_link": link, "chain_rows": chain_rows}
            )
        elif link or chain_rows >= cursor.page_size:
            # More may follow. A `$skip` nextLink is continued by keyset from the last
            # record instead: an offset shifts when records change mid-read.
            following = cursor.model_copy(update={**moved, "next_link": None, "chain_rows": 0})
        else:
            following = None
        return CreatioChangePage(records=records, next=following)

    async def pages(self, cursor: CreatioChangeCursor) -> AsyncIterator[CreatioChangePage]:
        current: CreatioChangeCursor | None = cursor
        while current is not None:
            page = await self.read_page(current)
            yield page
            current = page.next

    async def read_changes(
        self, object: str, since: datetime | str, **options: Any
    ) -> AsyncIterator[Record]:
        """Every record modified since `since` (see `open_changes`), each exactly once."""
        cursor = await self.open_changes(object, since, **options)
        async for page in self.pages(cursor):
            for record in page.records:
                yield record

    def _same_site(self, link: str, action: str) -> None:
        # A continuation is sent with our session: never to another site.
        if not link.startswith(self.config.odata_base):
            raise _internal(f"{action}: Creatio's nextLink points outside {self.config.url}")

    # -- writes ----------------------------------------------------------------------------
    async def create(
        self, object: str, values: Mapping[str, Any], *, id: uuid.UUID | None = None
    ) -> WriteResult:
        """Create a record with a client-chosen Id (pass `deterministic_id(...)` to make
        redeliveries idempotent too). A retry after a lost answer meets a duplicate key and
        reads the existing record back instead of creating a second one."""
        record_id = id or uuid.uuid4()
        self._check_columns(object, values, str(record_id))
        action = f"create {object}"
        try:
            response = await self.http.call(
                "POST",
                self.http.url(check_name(object)),
                action=action,
                body={**values, "Id": str(record_id)},
                record=str(record_id),
                ok=(200, 201, 204),
            )
        except ConnectorError as error:
            if error.category is ErrorCategory.DUPLICATE:
                existing = await self.get(object, record_id)
                if existing is not None:
                    return WriteResult(id=record_id, created=False, record=existing)
            raise
        record = normalise(self.http.json(response, action)) if response.content else None
        return WriteResult(id=record_id, created=True, record=record)

    async def update(
        self,
        object: str,
        id: uuid.UUID,
        values: Mapping[str, Any],
        *,
        current: Mapping[str, Any] | None = None,
    ) -> bool:
        """PATCH the given columns (only those that differ from `current`, when given).
        False when there was nothing to send. A missing record raises not_found."""
        changes = changed_columns(current, values) if current is not None else dict(values)
        if not changes:
            return False
        self._check_columns(object, changes, str(id))
        await self.http.call(
            "PATCH",
            self.http.url(key_path(object, id)),
            action=f"update {object}",
            body=changes,
            record=str(id),
            ok=(200, 204),
        )
        return True

    async def delete(self, object: str, id: uuid.UUID) -> bool:
        """Delete a record; False if it did not exist (already deleted, e.g. by a retry)."""
        try:
            await self.http.call(
                "DELETE",
                self.http.url(key_path(object, id)),
                action=f"delete {object}",
                record=str(id),
                ok=(200, 204),
            )
        except ConnectorError as error:
            if error.code == "not_found":
                return False
            raise
        return True

    async def create_many(
        self, object: str, rows: Iterable[tuple[uuid.UUID | None, Mapping[str, Any]]]
    ) -> list[BatchOutcome]:
        return await self.batch([BatchOperation.create(object, v, i) for i, v in rows])

    async def batch(self, operations: Sequence[BatchOperation]) -> list[BatchOutcome]:
        """Run writes in `$batch` requests of at most `batch_size` (100), continuing past
        failures. Returns one outcome per operation, in order; never raises for a record's
        own error. Transient failures of single requests are retried in a later batch;
        creates that meet a duplicate key are read back (as `create` does)."""
        outcomes = [BatchOutcome(op) for op in operations]
        for outcome in outcomes:
            op = outcome.operation
            try:
                key_path(op.object, op.id)
                if op.values is not None:
                    self._check_columns(op.object, op.values, str(op.id))
                    dumps(dict(op.values))
            except ConnectorError as error:
                outcome.error = error
        runnable = [o for o in outcomes if o.error is None]
        size = self.config.batch_size
        for start in range(0, len(runnable), size):
            await self._run_chunk(runnable[start : start + size])
        return outcomes

    async def _run_chunk(self, chunk: list[BatchOutcome]) -> None:
        """One `$batch` of writes within the client's retry budget: a failed request is sent
        again, and of a delivered one only the sub-requests that failed transiently (the
        `_call` inside is then tried once: this loop owns the retries). What still fails
        keeps its error on its outcome."""
        pending = chunk

        async def attempt() -> None:
            nonlocal pending
            answers = await self._post_batch(
                [_sub_request(o.operation, n) for n, o in enumerate(pending, 1)]
            )
            again: list[BatchOutcome] = []
            read_back: list[BatchOutcome] = []
            for index, outcome in enumerate(pending):
                answer = answers.get(str(index + 1))
                if answer is None:  # not executed (the batch stopped before it)
                    outcome.error = _not_executed(outcome.operation)
                    again.append(outcome)
                    continue
                verdict = self._settle(outcome, answer)
                if verdict == "retry":
                    again.append(outcome)
                elif verdict == "read_back":
                    read_back.append(outcome)
            if read_back:
                await self._read_back(read_back)
            if not again:
                return
            pending = again
            errors = [o.error for o in again if o.error is not None]
            limited = [e for e in errors if e.category is ErrorCategory.RATE_LIMIT]
            if limited:
                self.limiter.throttled(limited[0].retry_after)
            raise errors[0]

        try:
            await self.retrying(attempt)
        except ConnectorError as error:
            if not any(error is o.error for o in pending):  # the request itself failed
                for outcome in pending:
                    outcome.error = error

    def _settle(self, outcome: BatchOutcome, answer: Mapping[str, Any]) -> str:
        op = outcome.operation
        status = int(answer.get("status", 0))
        body = answer.get("body")
        outcome.status = status
        if status < 400:
            outcome.error = None
            if isinstance(body, dict) and op.method in ("POST", "GET"):
                outcome.record = normalise(body)
            outcome.created = op.method == "POST"
            return "done"
        text = body if isinstance(body, str) else json.dumps(body, default=str)
        error = error_from_answer(
            status,
            text,
            {str(k): str(v) for k, v in (answer.get("headers") or {}).items()},
            action=f"{op.method} {op.object} in a batch",
            record=str(op.id),
            body=body if isinstance(body, dict) else None,
        )
        outcome.error = error
        if op.method == "POST" and error.category is ErrorCategory.DUPLICATE:
            return "read_back"
        if op.method == "DELETE" and error.code == "not_found":
            outcome.error = None  # already gone
            return "done"
        return "retry" if error.retryable else "done"

    async def _read_back(self, outcomes: list[BatchOutcome]) -> None:
        reads = [BatchOperation("GET", o.operation.object, o.operation.id) for o in outcomes]
        try:
            answers = await self._post_batch([_sub_request(r, n) for n, r in enumerate(reads, 1)])
        except ConnectorError:
            return  # the duplicate errors stay: the record exists, but we could not read it
        for index, outcome in enumerate(outcomes):
            answer = answers.get(str(index + 1)) or {}
            body = answer.get("body")
            if answer.get("status") == 200 and isinstance(body, dict):
                outcome.error = None
                outcome.record = normalise(body)
                outcome.created = False

    async def _post_batch(self, requests: list[dict[str, Any]]) -> dict[str, Mapping[str, Any]]:
        action = "send a batch to Creatio"
        response = await self.http.call(
            "POST",
            f"{self.config.odata_base}$batch",
            action=action,
            body={"requests": requests},
            headers={"Prefer": "continue-on-error"},
        )
        body = self.http.json(response, action)
        answers = body.get("responses") if isinstance(body, dict) else None
        if not isinstance(answers, list):
            raise _internal(f"{action}: the answer has no 'responses' list")
        return {str(a.get("id")): a for a in answers if isinstance(a, dict)}


def _sub_request(op: BatchOperation, number: int) -> dict[str, Any]:
    url = op.object if op.method == "POST" else key_path(op.object, op.id)
    request: dict[str, Any] = {"id": str(number), "method": op.method, "url": url}
    if op.method in ("POST", "PATCH"):
        values = dict(op.values or {})
        if op.method == "POST":
            values["Id"] = str(op.id)
        request["headers"] = {"Content-Type": "application/json;IEEE754Compatible=true"}
        request["body"] = json.loads(dumps(values))
    return request


def _not_executed(op: BatchOperation) -> ConnectorError:
    return ConnectorError(
        f"{op.method} {op.object} in a batch: not executed (an earlier request of the batch "
        "stopped it)",
        category=ErrorCategory.CONNECTION,
        system=SYSTEM,
        code="not_executed",
        record=str(op.id),
    )


def _timestamp(value: Any, object: str) -> str:
    """A ModifiedOn from Creatio, checked before it goes back into a filter verbatim."""
    if not isinstance(value, str) or not _TIMESTAMP.fullmatch(value):
        raise _internal(f"read {object}: ModifiedOn {value!r} is not a timestamp")
    return value
