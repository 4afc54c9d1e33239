"""The Dataverse Web API (v9.2) client: reads with paging, writes by primary or alternate
key, $batch, all with MSAL auth, retries and service-protection pacing.

Built once per worker (`DataverseClient.from_settings()`): it keeps its token, its MSAL
app (token cache), its connection pool and what it learned about the server's limits.
Writes that carry a key (PATCH, DELETE) are idempotent and retried after a lost answer; a
POST is retried only when it surely never reached the server.
"""

from __future__ import annotations

import json
import logging
import ssl
from collections.abc import AsyncIterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, Literal, TypeVar, Unpack

import httpx

from shared.connectors.dataverse import batch as batch_wire
from shared.connectors.dataverse.auth import MsalAuth
from shared.connectors.dataverse.config import MAX_BATCH, SYSTEM, DataverseConfig
from shared.connectors.dataverse.entities import BY_SET
from shared.connectors.dataverse.errors import (
    error_from_response,
    error_from_transport,
    retry_after,
)
from shared.connectors.dataverse.exact_json import dumps_exact
from shared.connectors.dataverse.models import (
    BatchOperation,
    BatchResult,
    ChangeSet,
    DataverseChangesPage,
    Page,
    Record,
    WriteResult,
)
from shared.connectors.dataverse.odata import check_name, entity_id, key_segment
from shared.connectors.dataverse.throttle import ServiceProtection
from shared.connectors.errors import ConnectorError, InvalidValue
from shared.connectors.http import ClientOptions, ConnectorClient, new_http_client
from shared.connectors.json_body import parse_json, plain
from shared.errors import ErrorCategory
from shared.settings import Settings

log = logging.getLogger("shuttle.connectors.dataverse")
T = TypeVar("T")

JSON = "application/json"
WriteMode = Literal["upsert", "create", "update"]
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def _dumps(body: Any) -> bytes:
    try:
        return dumps_exact(body).encode()
    except ValueError as exc:
        if isinstance(exc, InvalidValue):
            raise
        raise InvalidValue(f"cannot send this value to Dataverse: {exc}", system=SYSTEM) from None


def _json(response: httpx.Response, action: str) -> Any:
    return parse_json(response, system=SYSTEM, action=action)


def _prefer(*values: str | None) -> dict[str, str]:
    chosen = [v for v in values if v]
    return {"Prefer": ",".join(chosen)} if chosen else {}


def _verify(config: DataverseConfig) -> ssl.SSLContext | bool:
    return ssl.create_default_context(cafile=config.ca_file) if config.ca_file else True


class DataverseClient(ConnectorClient):
    """Public API: `check`, `who_am_i`, `get`, `query`, `next_page`, `iter_records`,
    `track_changes`, `next_changes`, `create`, `upsert`, `update`, `delete`, `batch`,
    `aclose`."""

    system = SYSTEM

    def __init__(
        self,
        config: DataverseConfig,
        *,
        auth: httpx.Auth | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        self.config = config
        clock, sleep = self._start(config.retry, options, log)
        self.auth = auth if auth is not None else MsalAuth(config)
        self._http = new_http_client(
            pool=config.max_concurrency + 2,
            timeout_s=config.timeout_s,
            connect_timeout_s=config.connect_timeout_s,
            transport=options.get("transport"),
            headers={"Accept": JSON, "OData-MaxVersion": "4.0", "OData-Version": "4.0"},
            auth=self.auth,
            verify=_verify(config),
            follow_redirects=False,
        )
        self.protection = ServiceProtection(
            config.max_concurrency, clock=clock, sleep=sleep, window_s=config.limit_window_s
        )
        self.answers = 0  # HTTP answers received (for the share of 429s)

    @classmethod
    def from_settings(
        cls,
        settings: Settings | None = None,
        *,
        auth: httpx.Auth | None = None,
        **options: Unpack[ClientOptions],
    ) -> DataverseClient:
        config = (
            DataverseConfig.from_environ()
            if settings is None
            else DataverseConfig.from_settings(settings)
        )
        return cls(config, auth=auth, **options)

    # -- transport ---------------------------------------------------------------------------
    def url(self, resource: str) -> str:
        return f"{self.config.api_base}{resource}"

    async def _request(
        self,
        method: str,
        url: str,
        *,
        action: str,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        record: str | None = None,
        ok: tuple[int, ...] = (200,),
        missing_ok: bool = False,
        idempotent: bool = True,
        create_only: bool = False,
        operations: int = 1,
    ) -> httpx.Response | None:
        """One call: retried on transient failures, paced under service protection; a
        429 is waited out (every call of this client pauses) and never fails the call
        before `throttle_max_wait_s`."""
        if body is not None:
            content = _dumps(body)
        sent_headers = dict(headers or {})
        if content is not None:
            sent_headers.setdefault("Content-Type", f"{JSON}; charset=utf-8")
        values = body if isinstance(body, Mapping) else None
        started = self.retrier.clock()
        # Errors of a request that surely never reached the server: the only ones a call
        # that is not idempotent (a POST) may send again.
        unsent: list[ConnectorError] = []

        async def send() -> httpx.Response:
            """The request, with 429s waited out: the pause holds every call of this client,
            and the call gives up once the waits would pass `throttle_max_wait_s`."""
            while True:
                async with self.protection.slot(operations) as ticket:
                    try:
                        response = await self._http.request(
                            method, url, params=params, content=content, headers=sent_headers
                        )
                    except httpx.HTTPError as exc:
                        failed = error_from_transport(exc, action=action, record=record)
                        if isinstance(exc, _NOT_SENT):
                            unsent.append(failed)
                        raise failed from None
                    except ConnectorError as refused:  # from the auth (token endpoint)
                        unsent.append(refused)
                        raise
                    self.answers += 1
                    self.protection.observe(response, ticket)
                    if response.status_code != 429:
                        return response
                    # Paused inside the slot, so no call slips out between answer and pause.
                    error = error_from_response(response, action=action, record=record)
                    wait = _throttle_wait(error)
                    rng = self.retrier.rng
                    self.protection.throttled_for(wait * (1 + 0.1 * rng()), ticket, error.code)
                if self.retrier.clock() - started + wait > self.config.throttle_max_wait_s:
                    raise error

        async def attempt() -> httpx.Response | None:
            response = await send()
            if response.status_code in ok:
                return response
            if missing_ok and response.status_code == 404:
                return None
            raise error_from_response(
                response, action=action, record=record, body=values, create_only=create_only
            )

        def may_retry(error: ConnectorError) -> bool:
            # A 429 here is one `send` already waited out as long as allowed.
            if error.category is ErrorCategory.RATE_LIMIT:
                return False
            return idempotent or any(error is e for e in unsent)

        return await self.retrying(attempt, retry_if=may_retry)

    # -- reads -----------------------------------------------------------------------------
    async def who_am_i(self) -> Record:
        response = await self._request("GET", self.url("WhoAmI"), action="WhoAmI")
        assert response is not None
        return dict(_json(response, "WhoAmI"))

    async def check(self) -> None:
        """Get a token and call WhoAmI: the connection monitor."""
        await self.who_am_i()

    async def get(
        self,
        entity_set: str,
        key: str | Mapping[str, Any],
        *,
        select: Sequence[str] | None = None,
    ) -> Record | None:
        """One record by primary key (GUID) or alternate key, or None."""
        resource = f"{check_name(entity_set)}{key_segment(key)}"
        params = {"$select": ",".join(check_name(s) for s in select)} if select else None
        record = str(key) if isinstance(key, str) else None
        response = await self._request(
            "GET",
            self.url(resource),
            action=f"read {resource}",
            params=params,
            headers={"If-None-Match": "null"},
            record=record,
            missing_ok=True,
        )
        return None if response is None else _plain(_json(response, f"read {resource}"))

    async def query(
        self,
        entity_set: str,
        *,
        filter: str | None = None,
        select: Sequence[str] | None = None,
        orderby: str | None = None,
        top: int | None = None,
        page_size: int | None = None,
        count: bool = False,
        annotations: bool = False,
    ) -> Page:
        """The first page of a query (`next_page` follows `next_link`)."""
        params: dict[str, str] = {}
        if select:
            params["$select"] = ",".join(check_name(s) for s in select)
        if filter:
            params["$filter"] = filter
        if orderby:
            params["$orderby"] = orderby
        if top is not None:
            params["$top"] = str(top)
        if count:
            params["$count"] = "true"
        return await self._page(
            self.url(check_name(entity_set)), params, page_size, annotations, entity_set
        )

    async def next_page(
        self, next_link: str, *, page_size: int | None = None, annotations: bool = False
    ) -> Page:
        """The page at `next_link`, followed verbatim (it carries the paging cookie); the
        same page size must be asked for again."""
        self._own_link(next_link, "read the next page")
        return await self._page(next_link, None, page_size, annotations, "next page")

    def _own_link(self, link: str, action: str) -> None:
        if not link.startswith(self.config.api_base):
            # Never send the token anywhere but the configured environment.
            raise ConnectorError(
                f"{action}: the link does not point at DATAVERSE_URL",
                category=ErrorCategory.INTERNAL,
                system=SYSTEM,
                code="bad_next_link",
            )

    async def track_changes(
        self,
        entity_set: str,
        *,
        select: Sequence[str] | None = None,
        page_size: int | None = None,
    ) -> DataverseChangesPage:
        """Start change tracking on a table (`Prefer: odata.track-changes`): the first page
        of every row; follow `next_link`, then keep the last page's `delta_link`.
        Dataverse allows only `$select` with it (no filter, order or top)."""
        params = {"$select": ",".join(check_name(s) for s in select)} if select else None
        url = self.url(check_name(entity_set))
        return await self._changes(url, params, page_size, f"track changes of {entity_set}")

    async def next_changes(
        self, link: str, *, page_size: int | None = None
    ) -> DataverseChangesPage:
        """The page at a `next_link` or `delta_link` of `track_changes`, followed verbatim:
        a delta link gives what was written or deleted since the read that returned it."""
        self._own_link(link, "read changes")
        return await self._changes(link, None, page_size, "read changes")

    async def _changes(
        self, url: str, params: Mapping[str, str] | None, page_size: int | None, action: str
    ) -> DataverseChangesPage:
        size = min(page_size or self.config.page_size, 5000)
        prefer = _prefer("odata.track-changes", f"odata.maxpagesize={size}")
        response = await self._request(
            "GET", url, action=action, params=params, headers={**prefer, "If-None-Match": "null"}
        )
        assert response is not None
        data = _json(response, action)
        records: list[Record] = []
        deleted: list[str] = []
        for item in data.get("value", []):
            if str(item.get("@odata.context", "")).endswith("/$deletedEntity"):
                deleted.append(str(item.get("id", "")).lower())
            else:
                records.append(_plain(item))
        return DataverseChangesPage(
            records=records,
            deleted=deleted,
            next_link=data.get("@odata.nextLink"),
            delta_link=data.get("@odata.deltaLink"),
        )

    async def _page(
        self,
        url: str,
        params: Mapping[str, str] | None,
        page_size: int | None,
        annotations: bool,
        what: str,
    ) -> Page:
        size = min(page_size or self.config.page_size, 5000)
        prefer = _prefer(
            f"odata.maxpagesize={size}",
            'odata.include-annotations="*"' if annotations else None,
        )
        response = await self._request(
            "GET",
            url,
            action=f"read {what}",
            params=params,
            headers={**prefer, "If-None-Match": "null"},
        )
        assert response is not None
        data = _json(response, f"read {what}")
        return Page(
            records=[_plain(r) for r in data.get("value", [])],
            next_link=data.get("@odata.nextLink"),
            count=data.get("@odata.count"),
        )

    async def iter_records(self, entity_set: str, **query: Any) -> AsyncIterator[Record]:
        """Every record of a query, page after page."""
        page = await self.query(entity_set, **query)
        while True:
            for record in page.records:
                yield record
            if not page.next_link:
                return
            page = await self.next_page(page.next_link, page_size=query.get("page_size"))

    # -- writes ----------------------------------------------------------------------------
    async def create(self, entity_set: str, values: Mapping[str, Any]) -> str:
        """POST a new record; its id from the `OData-EntityId` header. Not idempotent:
        prefer `upsert(..., mode="create")` with an alternate key."""
        action = f"create {entity_set}"
        response = await self._request(
            "POST",
            self.url(check_name(entity_set)),
            action=action,
            body=dict(values),
            ok=(201, 204),
            idempotent=False,
        )
        assert response is not None
        new_id = entity_id(response.headers.get("OData-EntityId"))
        if new_id is None:
            raise ConnectorError(
                f"{action}: Dataverse answered without an OData-EntityId",
                category=ErrorCategory.INTERNAL,
                system=SYSTEM,
                code="bad_answer",
            )
        return new_id

    async def upsert(
        self,
        entity_set: str,
        key: str | Mapping[str, Any],
        values: Mapping[str, Any],
        *,
        mode: WriteMode = "upsert",
        select: Sequence[str] | None = None,
    ) -> WriteResult:
        """PATCH by primary or alternate key. `mode`: "upsert" (create or update), "create"
        (`If-None-Match: *`: an existing record is a duplicate error), "update"
        (`If-Match: *`: a missing record is not_found). With `select` the answer carries
        those columns and tells created (201) from updated (200)."""
        resource = f"{check_name(entity_set)}{key_segment(key)}"
        headers = _prefer("return=representation" if select else None)
        if mode == "create":
            headers["If-None-Match"] = "*"
        elif mode == "update":
            headers["If-Match"] = "*"
        params = {"$select": ",".join(check_name(s) for s in select)} if select else None
        record = str(key) if isinstance(key, str) else str(next(iter(key.values()), ""))
        response = await self._request(
            "PATCH",
            self.url(resource),
            action=f"{mode} {resource}",
            params=params,
            body=dict(values),
            headers=headers,
            record=record,
            ok=(200, 201, 204),
            create_only=mode == "create",
        )
        assert response is not None
        if response.status_code == 204:
            new_id = entity_id(response.headers.get("OData-EntityId"))
            return WriteResult(id=new_id or str(key), created=None)
        data = _plain(_json(response, f"{mode} {resource}"))
        known = BY_SET.get(entity_set)
        new_id = entity_id(response.headers.get("OData-EntityId")) or (
            data.get(known.primary_key) if known else None
        )
        if not new_id:
            raise ConnectorError(
                f"{mode} {resource}: Dataverse answered without the record id",
                category=ErrorCategory.INTERNAL,
                system=SYSTEM,
                code="bad_answer",
            )
        return WriteResult(id=str(new_id), created=response.status_code == 201, record=data)

    async def update(
        self,
        entity_set: str,
        id: str,
        values: Mapping[str, Any],
        *,
        select: Sequence[str] | None = None,
    ) -> WriteResult:
        return await self.upsert(entity_set, id, values, mode="update", select=select)

    async def delete(self, entity_set: str, key: str | Mapping[str, Any]) -> bool:
        """Delete; False when it did not exist (a repeat after a lost answer)."""
        resource = f"{check_name(entity_set)}{key_segment(key)}"
        response = await self._request(
            "DELETE",
            self.url(resource),
            action=f"delete {resource}",
            ok=(204,),
            missing_ok=True,
        )
        return response is not None

    # -- $batch ----------------------------------------------------------------------------
    async def batch(
        self,
        items: Sequence[BatchOperation | ChangeSet],
        *,
        continue_on_error: bool = False,
    ) -> list[BatchResult]:
        """Run `items` in one $batch (at most 1000 operations); one result per operation,
        in order. A $batch counts as one request toward service protection."""
        operations = [
            op
            for item in items
            for op in (item.operations if isinstance(item, ChangeSet) else [item])
        ]
        if len(operations) > MAX_BATCH:
            raise InvalidValue(
                f"a $batch holds at most {MAX_BATCH} operations, not {len(operations)}",
                system=SYSTEM,
            )
        if not operations:
            return []
        content_type, content = batch_wire.build(items, self.config.api_base)
        idempotent = all(op.method in ("GET", "PATCH", "DELETE") for op in operations)
        response = await self._request(
            "POST",
            self.url("$batch"),
            action=f"$batch of {len(operations)}",
            content=content,
            headers={
                "Content-Type": content_type,
                **_prefer("odata.continue-on-error" if continue_on_error else None),
            },
            ok=(200, 400),
            idempotent=idempotent,
            operations=len(operations),
        )
        assert response is not None
        try:
            answers = batch_wire.parse(response.headers.get("Content-Type", ""), response.content)
        except ValueError:
            raise error_from_response(response, action="$batch") from None
        return self._batch_results(items, answers)

    def _batch_results(
        self,
        items: Sequence[BatchOperation | ChangeSet],
        answers: list[batch_wire.RawAnswer | batch_wire.RawChangeSet],
    ) -> list[BatchResult]:
        results: list[BatchResult] = []
        pending = iter(answers)
        for item in items:
            answer = next(pending, None)
            if isinstance(item, BatchOperation):
                if not isinstance(answer, batch_wire.RawAnswer):
                    results.append(BatchResult(status=None))
                    continue
                results.append(self._one(item, answer))
                continue
            if isinstance(answer, batch_wire.RawChangeSet):
                for op, inner in zip(item.operations, answer.answers, strict=False):
                    results.append(self._one(op, inner))
                results += [BatchResult(status=None)] * (len(item.operations) - len(answer.answers))
            elif isinstance(answer, batch_wire.RawAnswer):
                content_id = answer.content_id or ""
                failing = int(content_id) - 1 if content_id.isdigit() else 0
                failing = min(failing, len(item.operations) - 1)
                failed = self._one(item.operations[failing], answer)
                for index in range(len(item.operations)):
                    results.append(failed.model_copy(update={"rolled_back": index != failing}))
            else:
                results += [BatchResult(status=None)] * len(item.operations)
        return results

    def _one(self, operation: BatchOperation, answer: batch_wire.RawAnswer) -> BatchResult:
        body: Record | None = None
        if answer.body:
            try:
                body = _plain(json.loads(answer.body, parse_float=Decimal))
            except ValueError:
                body = None
        new_id = entity_id(answer.headers.get("odata-entityid"))
        if answer.status < 400:
            return BatchResult(status=answer.status, id=new_id, body=body)
        fake = httpx.Response(
            answer.status,
            headers=answer.headers,
            content=answer.body,
        )
        error = error_from_response(
            fake,
            action=f"{operation.method} {operation.url} in a $batch",
            body=operation.body,
            create_only=operation.headers.get("If-None-Match") == "*",
        )
        if answer.status == 429:
            error.retry_after = retry_after(fake)
        return BatchResult(status=answer.status, id=new_id, body=body, error=error)


def _throttle_wait(error: ConnectorError) -> float:
    """A 429's Retry-After (a second when the server did not say)."""
    return 1.0 if error.retry_after is None else error.retry_after


def _plain(data: Any) -> Record:
    """A record as JSON-able values: decimals as floats when exact, else text."""
    return plain(dict(data)) if isinstance(data, Mapping) else {}
