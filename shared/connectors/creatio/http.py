"""Creatio's transport: one authenticated OData call, within the connection's limits and its
retry budget. The operations (reads, writes, `$batch`) are built on it in
shared/connectors/creatio/client.py; this module knows nothing of objects or records."""

from __future__ import annotations

import http.cookiejar
import json
import logging
import uuid
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar, Unpack

import httpx

from shared.connectors.creatio.auth import CreatioAuth, build_auth
from shared.connectors.creatio.config import SYSTEM, CreatioConfig
from shared.connectors.creatio.errors import error_from_response, error_from_transport
from shared.connectors.creatio.odata import encode_query, format_datetime
from shared.connectors.errors import ConnectorError, InvalidValue
from shared.connectors.http import ClientOptions, ConnectorClient, new_http_client
from shared.connectors.json_body import parse_json
from shared.connectors.retry import AdaptiveLimiter
from shared.errors import ErrorCategory

log = logging.getLogger("shuttle.connectors.creatio")
T = TypeVar("T")

JSON_BODY = "application/json; charset=utf-8; IEEE754Compatible=true"


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")  # IEEE754Compatible: decimals as strings, every digit kept
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return f"{value.isoformat()}T00:00:00Z"
    raise InvalidValue(f"cannot send a {type(value).__name__} to Creatio", system=SYSTEM)


def dumps(body: Any) -> bytes:
    """A JSON body as Creatio reads it; a value it cannot carry is an InvalidValue."""
    try:
        text = json.dumps(body, default=_encode, ensure_ascii=False, allow_nan=False)
        return text.encode("utf-8")
    except ValueError as exc:  # InvalidValue, or a NaN/circular value
        if isinstance(exc, InvalidValue):
            raise
        raise InvalidValue(f"cannot send this value to Creatio: {exc}", system=SYSTEM) from None


def _no_cookies() -> http.cookiejar.CookieJar:
    # The session cookies are kept by FormsAuth itself; httpx's jar must not add stale ones.
    return http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


class CreatioHttp(ConnectorClient):
    """One Creatio connection: its HTTP pool, credential (`auth`, an httpx.Auth), in-flight
    and rate limit (`limiter`) and retry budget (`retrier`)."""

    def __init__(self, config: CreatioConfig, **options: Unpack[ClientOptions]) -> None:
        self.config = config
        clock, sleep = self._start(config.retry, options, log)
        self._http = new_http_client(
            pool=config.max_in_flight + 2,  # + the login / token call
            timeout_s=config.timeout_s,
            connect_timeout_s=config.connect_timeout_s,
            transport=options.get("transport"),
            follow_redirects=False,  # a redirect to the login page means "session expired"
            cookies=_no_cookies(),
            headers={"Accept": "application/json"},
        )
        # Logins and token calls go out on the same pool, without it.
        self.auth: CreatioAuth = build_auth(config, self._http, clock)
        self.limiter = AdaptiveLimiter(config.max_in_flight, clock=clock, sleep=sleep)

    def url(self, resource: str, params: Mapping[str, str | int | None] | None = None) -> str:
        query = encode_query(params or {})
        return f"{self.config.odata_base}{resource}" + (f"?{query}" if query else "")

    async def _send(
        self,
        method: str,
        url: str,
        content: bytes | None,
        headers: dict[str, str],
        action: str,
        record: str | None,
    ) -> httpx.Response:
        """One call with credentials (the auth renews an expired session or token once and
        sends it again)."""
        if content is not None:
            headers = {**headers, "Content-Type": JSON_BODY}
        try:
            response = await self._http.request(
                method, url, content=content, headers=headers, auth=self.auth
            )
        except httpx.HTTPError as exc:
            raise error_from_transport(exc, action=action, record=record) from None
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
        return response

    async def call(
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
        content = dumps(body) if body is not None else None

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

        return await self.retrying(attempt)

    def json(self, response: httpx.Response, action: str) -> Any:
        return parse_json(response, system=SYSTEM, action=action)
