"""The Creatio client: OData 4 reads and writes with auth, retries and pacing.

Built once per worker (`CreatioClient.from_settings()`), it keeps its session or token, its
connection pool and its rate estimate across invocations. Every write is idempotent, so a
call retried after a lost answer never makes a second record: creates carry a client-chosen
Id (a duplicate answer is resolved by reading the record back), PATCH and DELETE are
idempotent by nature.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import logging
import random
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx

from shared.connectors.creatio.auth import CreatioAuth, build_auth
from shared.connectors.creatio.config import SYSTEM, CreatioConfig
from shared.connectors.creatio.errors import (
    error_from_answer,
    error_from_response,
    error_from_transport,
)
from shared.connectors.creatio.models import (
    BatchOperation,
    BatchOutcome,
    ChangeCursor,
    ChangePage,
    Record,
    WriteResult,
)
from shared.connectors.creatio.objects import OBJECTS
from shared.connectors.creatio.odata import (
    EMPTY_DATE,
    EMPTY_GUID,
    InvalidValue,
    all_of,
    check_name,
    encode_query,
    eq,
    format_datetime,
    key_path,
    match_filter,
    parse_datetime,
    select_list,
)
from shared.connectors.errors import ConnectorError
from shared.connectors.retry import AdaptiveLimiter, Clock, Random, Sleep, with_retries
from shared.errors import ErrorCategory
from shared.settings import Settings, get_settings

log = logging.getLogger("shuttle.connectors.creatio")

JSON_BODY = "application/json; charset=utf-8; IEEE754Compatible=true"
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


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")  # IEEE754Compatible: decimals as strings, every digit kept
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return f"{value.isoformat()}T00:00:00Z"
    raise InvalidValue(f"cannot send a {type(value).__name__} to Creatio")


def _dumps(body: Any) -> bytes:
    try:
        text = json.dumps(body, default=_encode, ensure_ascii=False, allow_nan=False)
        return text.encode("utf-8")
    except ValueError as exc:  # InvalidValue, or a NaN/circular value
        if isinstance(exc, InvalidValue):
            raise
        raise InvalidValue(f"cannot send this value to Creatio: {exc}") from None


def _no_cookies() -> http.cookiejar.CookieJar:
    # The session cookies are kept by FormsAuth itself; httpx's jar must not add stale ones.
    return http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


def _internal(message: str, *, record: str | None = None) -> ConnectorError:
    return ConnectorError(
        message, category=ErrorCategory.INTERNAL, system=SYSTEM, code="bad_answer", record=record
    )


class CreatioClient:
    """Creatio over OData 4. Public API: `check`, `get`, `find`, `query`, `count`,
    `open_changes` / `read_page` / `read_changes`, `create`, `update`, `delete`, `batch` /
    `create_many`, `lookup_id`, `aclose`."""

    system = SYSTEM

    def __init__(
        self,
        config: CreatioConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        rng: Random = random.random,
    ) -> None:
        self.config = config
        self._clock = clock
        self._sleep = sleep
        self._rng = rng
        pool = config.max_in_flight + 2  # + the login / token call
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(config.timeout_s, connect=config.connect_timeout_s),
            limits=httpx.Limits(max_connections=pool, max_keepalive_connections=pool),
            follow_redirects=False,  # a redirect to the login page means "session expired"
            cookies=_no_cookies(),
            headers={"Accept": "application/json", "User-Agent": "Shuttle"},
        )
        self.auth: CreatioAuth = build_auth(config, self._http, clock)
        self.limiter = AdaptiveLimiter(config.max_in_flight, clock=clock, sleep=sleep)
        self._lookups: dict[tuple[str, str], uuid.UUID] = {}

    @classmethod
    def from_settings(
        cls,
        settings: Settings | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        **kwargs: Any,
    ) -> CreatioClient:
        config = CreatioConfig.from_settings(settings or get_settings())
        return cls(config, transport=transport, **kwargs)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> CreatioClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- transport ---------------------------------------------------------------------------
    def _url(self, resource: str, params: Mapping[str, str | int | None] | None = None) -> str:
        query = encode_query(params or {})
        return f"{self.config.odata_base}{resource}" + (f"?{query}" if query else "")

    async def _exchange(
        self,
        method: str,
        url: str,
        content: bytes | None,
        headers: dict[str, str],
        action: str,
        record: str | None,
    ) -> httpx.Response:
        if content is not None:
            headers = {**headers, "Content-Type": JSON_BODY}
        try:
            return await self._http.request(method, url, content=content, headers=headers)
        except httpx.HTTPError as exc:
            raise error_from_transport(exc, action=action, record=record) from None

    async def _send(
        self,
        method: str,
        url: str,
        content: bytes | None,
        headers: dict[str, str],
        action: str,
        record: str | None,
    ) -> httpx.Response:
        """One call with credentials; on an expired session or token, one renewal and one
        more try."""
        auth_headers, generation = await self.auth.prepare()
        response = await self._exchange(
            method, url, content, {**headers, **auth_headers}, action, record
        )
        if self.auth.rejected(response):
            await self.auth.renew(generation)
            auth_headers, generation = await self.auth.prepare()
            response = await self._exchange(
                method, url, content, {**headers, **auth_headers}, action, record
            )
            if self.auth.rejected(response):
                raise ConnectorError(
                    f"{action}: Creatio rejected the call right after a fresh login (HTTP "
                    f"{response.status_code}) — check the user's permissions for this object",
                    category=ErrorCategory.AUTH,
                    system=SYSTEM,
                    status=response.status_code,
                    code="session_rejected",
                    record=record,
                )
        self.auth.absorb(response)
        return response

    async def _call(
        self,
        method: str,
        url: str,
        *,
        action: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        record: str | None = None,
        ok: tuple[int, ...] = (200,),
    ) -> httpx.Response:
        """A call with retries of transient failures, within the connection's limits."""
        content = _dumps(body) if body is not None else None

        async def attempt() -> httpx.Response:
            async with self.limiter.slot():
                response = await self._send(method, url, content, headers or {}, action, record)
            if response.status_code in ok:
                self.limiter.succeeded()
                return response
            error = error_from_response(response, action=action, record=record)
            if error.category is ErrorCategory.RATE_LIMIT:
                self.limiter.throttled(error.retry_after)
            raise error

        def on_retry(error: ConnectorError, attempt_number: int, delay: float) -> None:
            log.warning("%s (attempt %d); retrying in %.1f s", error, attempt_number, delay)

        return await with_retries(
            attempt,
            policy=self.config.retry,
            sleep=self._sleep,
            clock=self._clock,
            rng=self._rng,
            on_retry=on_retry,
        )

    def _json(self, response: httpx.Response, action: str) -> Any:
        try:
            return json.loads(response.content, parse_float=Decimal)
        except ValueError:
            raise _internal(f"{action}: Creatio answered HTTP {response.status_code} with a "
                            "body that is not JSON") from None  # fmt: skip

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
        await self._call("GET", self.config.odata_base, action="check the Creatio connection")

    async def get(
        self, object: str, id: uuid.UUID, *, select: Sequence[str] | None = None
    ) -> Record | None:
        """One record by Id, or None if it does not exist."""
        params = {"$select": select_list(select) if select else None}
        action = f"read {object} {id}"
        try:
            response = await self._call(
                "GET", self._url(key_path(object, id), params), action=action, record=str(id)
            )
        except ConnectorError as error:
            if error.code == "not_found":
                return None
            raise
        return normalise(self._json(response, action))

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
        response = await self._call("GET", self._url(check_name(object), params), action=action)
        body = self._json(response, action)
        values = body.get("value") if isinstance(body, dict) else None
        if not isinstance(values, list):
            raise _internal(f"{action}: the answer has no 'value' list")
        return [normalise(v) for v in values]

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
        url = self._url(f"{check_name(object)}/$count", {"$filter": filter})
        response = await self._call("GET", url, action=action)
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
    ) -> ChangeCursor:
        """Start reading the records modified in [since, until]. Without `until`, the read
        ends at the newest ModifiedOn existing now (read from Creatio, so no clock skew):
        later changes belong to the next read, which starts where this one ends — pass the
        cursor's `until` string as the next `since` to continue at full precision."""
        check_name(object)
        if isinstance(since, str):
            if not _TIMESTAMP.fullmatch(since):
                raise InvalidValue(f"since {since!r} is not an OData timestamp")
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
        return ChangeCursor(object=object, since=lower, until=until_text, select=columns,
                            where=where, page_size=size)  # fmt: skip

    def _window(self, cursor: ChangeCursor) -> str:
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

    async def read_page(self, cursor: ChangeCursor) -> ChangePage:
        """One page of changes and the cursor of the next (None when the read is complete)."""
        if cursor.until is None:
            return ChangePage(records=[], next=None)
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
            url = self._url(cursor.object, params)
        response = await self._call("GET", url, action=action)
        body = self._json(response, action)
        values = body.get("value") if isinstance(body, dict) else None
        if not isinstance(values, list):
            raise _internal(f"{action}: the answer has no 'value' list")
        records = [normalise(v) for v in values]
        if not records:
            return ChangePage(records=[], next=None)
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
        return ChangePage(records=records, next=following)

    async def pages(self, cursor: ChangeCursor) -> AsyncIterator[ChangePage]:
        current: ChangeCursor | None = cursor
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
            response = await self._call(
                "POST",
                self._url(check_name(object)),
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
        record = normalise(self._json(response, action)) if response.content else None
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
        await self._call(
            "PATCH",
            self._url(key_path(object, id)),
            action=f"update {object}",
            body=changes,
            record=str(id),
            ok=(200, 204),
        )
        return True

    async def delete(self, object: str, id: uuid.UUID) -> bool:
        """Delete a record; False if it did not exist (already deleted, e.g. by a retry)."""
        try:
            await self._call(
                "DELETE",
                self._url(key_path(object, id)),
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
                    _dumps(dict(op.values))
            except ConnectorError as error:
                outcome.error = error
        runnable = [o for o in outcomes if o.error is None]
        size = self.config.batch_size
        for start in range(0, len(runnable), size):
            await self._run_chunk(runnable[start : start + size])
        return outcomes

    async def _run_chunk(self, chunk: list[BatchOutcome]) -> None:
        pending = chunk
        started = self._clock()
        policy = self.config.retry
        failures = 0
        while pending:
            try:
                answers = await self._post_batch(
                    [_sub_request(o.operation, n) for n, o in enumerate(pending, 1)]
                )
            except ConnectorError as error:
                for outcome in pending:
                    outcome.error = error
                return
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
            failures += 1
            errors = [o.error for o in again if o.error is not None]
            delay = (
                policy.delay(errors[0], failures, self._rng)
                if errors
                else policy.backoff(failures, self._rng)
            )
            if failures >= policy.attempts or self._clock() - started + delay > policy.total_s:
                return  # their errors stay on the outcomes
            limited = [e for e in errors if e.category is ErrorCategory.RATE_LIMIT]
            if limited:
                self.limiter.throttled(limited[0].retry_after)
            await self._sleep(delay)
            pending = again

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
        response = await self._call(
            "POST",
            f"{self.config.odata_base}$batch",
            action=action,
            body={"requests": requests},
            headers={"Prefer": "continue-on-error"},
        )
        body = self._json(response, action)
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
        request["body"] = json.loads(_dumps(values))
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
