"""The Intacct client: the XML gateway with sessions, retries and a limit on calls in flight.

Built once per worker (`IntacctClient.from_settings()`): its session, its connection pool
and its in-flight limit (Intacct's per-company concurrency, default 2) are shared by every
concurrent invocation on that worker's event loop.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import uuid
import xml.etree.ElementTree as ET  # building only
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, Unpack

import httpx

from shared.connectors.errors import ConnectorError, InvalidValue
from shared.connectors.http import ClientOptions, ConnectorClient, new_http_client
from shared.connectors.intacct import functions as fn
from shared.connectors.intacct.config import READ_MAX_KEYS, SYSTEM, IntacctConfig
from shared.connectors.intacct.errors import bad_answer, from_details, from_status, from_transport
from shared.connectors.intacct.session import Grant, Session, Sessions, lifetime
from shared.connectors.intacct.wire import (
    Login,
    NotXml,
    Response,
    Result,
    SessionAuth,
    build_request,
    parse_response,
    rows,
)
from shared.connectors.retry import AdaptiveLimiter, SharedSlots
from shared.errors import ErrorCategory
from shared.settings import Settings

log = logging.getLogger("shuttle.connectors.intacct")
T = TypeVar("T")
CONTENT_TYPE = "application/xml; charset=UTF-8"


@dataclass
class QueryPage:
    records: list[dict[str, Any]]
    count: int
    total: int | None
    remaining: int
    result_id: str | None = None
    offset: int | None = None


@dataclass
class Call:
    """One function of a request: its body, and what to say when it fails."""

    body: ET.Element
    action: str
    record: str | None = None
    controlid: str = field(default_factory=lambda: uuid.uuid4().hex[:12])


@contextlib.asynccontextmanager
async def _no_gate() -> AsyncIterator[None]:
    yield None


@contextlib.contextmanager
def building(action: str, record: str | None = None) -> Iterator[None]:
    """Turn a value that cannot be sent (a control character, an unknown type) into a
    validation error naming the field, before anything is sent."""
    try:
        yield
    except InvalidValue as exc:
        raise exc.naming(action, record) from None


class IntacctClient(ConnectorClient):
    """Sage Intacct over the XML gateway. Public API: `check`, `execute` (several functions
    per request), `create`, `update`, `delete`, `read`, `read_by_name`, `read_by_query`,
    `read_more`, `query`, `aclose`."""

    system = SYSTEM

    def __init__(self, config: IntacctConfig, **options: Unpack[ClientOptions]) -> None:
        self.config = config
        clock, sleep = self._start(config.retry, options, log)
        self._http = new_http_client(
            pool=config.max_in_flight + 1,
            timeout_s=config.timeout_s,
            connect_timeout_s=config.connect_timeout_s,
            transport=options.get("transport"),
            headers={"Accept-Encoding": "gzip"},
        )
        # Every request (logins included) holds a slot: the gateway counts them all.
        self.limiter = AdaptiveLimiter(config.max_in_flight, clock=clock, sleep=sleep)
        # The deployment-wide slot (shared/limits/deployment.py attaches it): every worker's
        # requests together stay within the company's limit. None: this process alone.
        self.gate: SharedSlots | None = None
        self.sessions = Sessions(clock, config.session_margin_s)
        self._requests = itertools.count(1)

    @classmethod
    def from_settings(
        cls, settings: Settings | None = None, **options: Unpack[ClientOptions]
    ) -> IntacctClient:
        return cls(
            IntacctConfig.from_environ()
            if settings is None
            else IntacctConfig.from_settings(settings),
            **options,
        )

    @property
    def logins(self) -> int:
        return self.sessions.logins

    # -- transport ---------------------------------------------------------------------------
    def _secrets(self, session: Session | None = None) -> list[str]:
        return [*self.config.secrets(), *([session.id] if session else [])]

    def _body(self, auth: Login | SessionAuth, calls: Sequence[Call], transaction: bool) -> bytes:
        try:
            return build_request(
                sender_id=self.config.sender_id,
                sender_password=self.config.sender_password.get_secret_value(),
                controlid=f"shuttle-{next(self._requests)}-{uuid.uuid4().hex[:8]}",
                auth=auth,
                functions=[(call.controlid, call.body) for call in calls],
                transaction=transaction,
            )
        except InvalidValue as exc:
            raise exc.naming(calls[0].action, calls[0].record) from None

    async def _post(self, url: str, body: bytes, action: str, record: str | None) -> Response:
        async with self.limiter.slot(), self.gate.slot() if self.gate else _no_gate():
            try:
                answer = await self._http.post(
                    url, content=body, headers={"Content-Type": CONTENT_TYPE}
                )
            except httpx.HTTPError as exc:
                raise from_transport(exc, action=action, record=record) from None
        try:
            parsed: Response | None = parse_response(answer.content)
        except NotXml:
            parsed = None
        if answer.status_code != 200:
            details = (parsed.gateway_errors or parsed.control_errors) if parsed else []
            error = from_status(answer, details, action=action, record=record)
            if error.category is ErrorCategory.RATE_LIMIT:
                self._throttled(error)
            raise error
        if parsed is None:
            raise bad_answer(
                f"{action}: Intacct answered HTTP 200 with a body that is not an XML response",
                record=record,
            )
        return parsed

    def _throttled(self, error: ConnectorError) -> None:
        """A 429 GW-0010: with a Retry-After it is a rate limit (pace below it); without one
        it is the company's concurrency limit (see AdaptiveLimiter.refused_concurrency)."""
        if error.retry_after is None:
            self.limiter.refused_concurrency()
        else:
            self.limiter.throttled(error.retry_after)

    def _check_envelope(
        self, parsed: Response, action: str, record: str | None, session: Session | None
    ) -> None:
        secrets = self._secrets(session)
        if parsed.gateway_errors or not parsed.control_ok:
            error = from_details(
                parsed.gateway_errors or parsed.control_errors,
                level="control",
                action=action,
                record=record,
                secrets=secrets,
            )
            if error.category is ErrorCategory.RATE_LIMIT:
                self._throttled(error)
            raise error
        if parsed.auth_ok is not True:
            raise from_details(
                parsed.auth_errors,
                level="authentication",
                action=action,
                record=record,
                secrets=secrets,
            )

    async def _login(self) -> Grant:
        """Log in with the company user and open an API session (sent alone,
        docs/wire-notes.md I2)."""
        config = self.config
        action = "log in to Intacct"
        auth = Login(
            config.user_id,
            config.company_id,
            config.user_password.get_secret_value(),
            config.entity_id,
        )
        body = self._body(auth, [Call(fn.get_api_session(config.entity_id), action)], False)
        parsed = await self._post(config.endpoint, body, action, None)
        self._check_envelope(parsed, action, None, None)
        result = parsed.results[0] if parsed.results else None
        if result is None or not result.ok or result.data is None:
            raise from_details(
                result.errors if result else [],
                level="function",
                action=action,
                secrets=self._secrets(),
                category=ErrorCategory.AUTH,
            )
        session_id = (result.data.findtext("api/sessionid") or "").strip()
        endpoint = (result.data.findtext("api/endpoint") or "").strip()
        if not session_id:
            raise bad_answer(f"{action}: getAPISession returned no session id")
        if not endpoint or not config.follow_session_endpoint:
            endpoint = config.endpoint
        return Grant(
            session_id, endpoint, lifetime(parsed.session_timestamp, parsed.session_timeout)
        )

    async def _exchange(self, calls: Sequence[Call], transaction: bool) -> list[Result]:
        """One request with the session; an invalid session is renewed once."""
        action, record = calls[0].action, calls[0].record
        for renewed in (False, True):
            session = await self.sessions.get(self._login)
            body = self._body(SessionAuth(session.id), calls, transaction)
            parsed = await self._post(session.endpoint, body, action, record)
            if parsed.control_ok and parsed.auth_ok is False and not renewed:
                log.info("Intacct session no longer valid; logging in again")
                self.sessions.invalidate(session)
                continue
            self._check_envelope(parsed, action, record, session)
            self.sessions.extend(
                session, lifetime(parsed.session_timestamp, parsed.session_timeout)
            )
            self.limiter.succeeded()
            if len(parsed.results) != len(calls):
                raise bad_answer(
                    f"{action}: Intacct answered {len(parsed.results)} results "
                    f"for {len(calls)} functions",
                    record=record,
                )
            by_id = {r.controlid: r for r in parsed.results}
            return [
                by_id.get(call.controlid, result)
                for call, result in zip(calls, parsed.results, strict=True)
            ]
        raise AssertionError("unreachable")

    async def execute(
        self, calls: Sequence[Call], *, transaction: bool = False, retry: bool = True
    ) -> list[Result]:
        """Several functions in one request, one result each (failures inside them are left
        to the caller: see `raise_for`). Transient failures of the request are retried
        unless `retry` is False; with `transaction=True` the functions succeed or fail
        together."""
        if not calls:
            return []
        if not retry:
            return await self._exchange(calls, transaction)
        return await self.retrying(lambda: self._exchange(calls, transaction))

    def raise_for(self, result: Result, call: Call) -> Result:
        if result.ok:
            return result
        raise from_details(
            result.errors,
            level="function",
            action=call.action,
            record=call.record,
            secrets=self._secrets(),
        )

    async def call(self, call: Call, *, retry: bool = True) -> Result:
        (result,) = await self.execute([call], retry=retry)
        return self.raise_for(result, call)

    # -- functions -------------------------------------------------------------------------
    async def check(self) -> None:
        """A cheap authenticated call (the connection monitor): logs in when needed."""
        await self.call(Call(fn.get_api_session(), "check the Intacct connection"))

    async def create(
        self,
        object: str,
        values: Mapping[str, Any],
        *,
        record: str | None = None,
        retry: bool = True,
    ) -> dict[str, Any]:
        """The created record's RECORDNO and ID field. `retry=False` for a caller that must
        look for the record before trying again (a lost answer may have committed)."""
        with building(f"create {object}", record):
            body = fn.create(object, values)
        result = await self.call(Call(body, f"create {object}", record), retry=retry)
        found = rows(result.data)
        return found[0] if found else {}

    async def update(
        self,
        object: str,
        values: Mapping[str, Any],
        *,
        record: str | None = None,
    ) -> dict[str, Any]:
        with building(f"update {object}", record):
            body = fn.update(object, values)
        result = await self.call(Call(body, f"update {object}", record))
        found = rows(result.data)
        return found[0] if found else {}

    async def delete(self, object: str, keys: Sequence[str | int]) -> None:
        await self.call(Call(fn.delete(object, keys), f"delete {object}", ",".join(map(str, keys))))

    async def read(
        self, object: str, keys: Sequence[str | int], fields: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """Records by RECORDNO, in several `read` functions of one request when there are
        more than 100 keys."""
        chunks = [keys[i : i + READ_MAX_KEYS] for i in range(0, len(keys), READ_MAX_KEYS)]
        calls = [Call(fn.read(object, chunk, fields), f"read {object}") for chunk in chunks]
        found: list[dict[str, Any]] = []
        for call, result in zip(calls, await self.execute(calls), strict=True):
            found.extend(rows(self.raise_for(result, call).data))
        return found

    async def read_by_name(
        self, object: str, names: Sequence[str], fields: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        try:
            body = fn.read_by_name(object, names, fields)
        except ValueError:
            return []  # such an ID cannot exist via this lookup; callers fall back to query
        result = await self.call(Call(body, f"read {object}", ",".join(names)))
        return rows(result.data)

    async def read_by_query(
        self, object: str, query: str, *, fields: Sequence[str] | None = None, page_size: int = 1000
    ) -> QueryPage:
        result = await self.call(
            Call(fn.read_by_query(object, query, fields, page_size), f"read {object} changes")
        )
        return _page(result)

    async def read_more(self, result_id: str, object: str = "records") -> QueryPage:
        result = await self.call(Call(fn.read_more(result_id), f"read more {object}"))
        return _page(result)

    async def query(
        self,
        object: str,
        select: Sequence[str],
        *,
        filter: fn.Filter | None = None,
        order_by: Sequence[tuple[str, bool]] = (),
        page_size: int = 1000,
        offset: int = 0,
        case_insensitive: bool = False,
    ) -> QueryPage:
        body = fn.query(
            object,
            select,
            filter=filter,
            order_by=order_by,
            page_size=page_size,
            offset=offset,
            case_insensitive=case_insensitive,
        )
        return _page(await self.call(Call(body, f"query {object}")))


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def _page(result: Result) -> QueryPage:
    data = result.data
    found = rows(data)
    attrs = data.attrib if data is not None else {}
    return QueryPage(
        records=found,
        count=_int(attrs.get("count")) or len(found),
        total=_int(attrs.get("totalcount")),
        remaining=_int(attrs.get("numremaining")) or 0,
        result_id=attrs.get("resultId") or None,
        offset=_int(attrs.get("offset")),
    )
