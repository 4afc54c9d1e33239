"""Creatio authentication: forms login (cookies + BPMCSRF) or OAuth 2.0 client credentials.

Both keep their credential (session cookies, bearer token) for the life of the client, so a
worker logs in once, not once per invocation. Each credential has a generation number: a
call that was rejected with generation N asks for a renewal of N, and when many calls fail
together only the first one logs in again; the others reuse its result.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable
from typing import Any

import httpx

from shared.connectors.creatio.config import SYSTEM, CreatioConfig
from shared.connectors.creatio.errors import error_from_response, error_from_transport
from shared.connectors.errors import ConnectorError
from shared.errors import ErrorCategory

LOGIN_PATH = "/ServiceModel/AuthService.svc/Login"
CSRF = "BPMCSRF"
AUTH_COOKIE = ".ASPXAUTH"


class CreatioAuth(httpx.Auth):
    """A Creatio credential as an httpx.Auth (as MsalAuth is for Dataverse): each request
    carries it; a rejected one renews it once and goes again. What is still rejected after
    that comes back to the caller (`rejected`), which names the call in its error."""

    async def prepare(self) -> tuple[dict[str, str], int]:
        """Headers that authenticate one call, and the credential generation they carry."""
        raise NotImplementedError

    async def renew(self, generation: int) -> None:
        """The server rejected a call made with `generation`: get a new credential."""
        raise NotImplementedError

    def rejected(self, response: httpx.Response) -> bool:
        """Whether an answer means the credential is no longer accepted."""
        raise NotImplementedError

    def absorb(self, response: httpx.Response) -> None:
        """Keep what an answer renews (sliding session cookies)."""

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        headers, generation = await self.prepare()
        request.headers.update(headers)
        response = yield request
        if self.rejected(response):
            await self.renew(generation)
            headers, _ = await self.prepare()
            request.headers.update(headers)
            response = yield request
        self.absorb(response)

    def sync_auth_flow(self, request: httpx.Request) -> Any:  # pragma: no cover
        raise RuntimeError("CreatioAuth is for httpx.AsyncClient")


def _auth_error(message: str, code: str, status: int | None = None) -> ConnectorError:
    return ConnectorError(
        message, category=ErrorCategory.AUTH, system=SYSTEM, status=status, code=code
    )


def _set_cookies(response: httpx.Response) -> dict[str, str]:
    """name -> value of every Set-Cookie (parsed by hand: no cookie jar, no domain rules)."""
    cookies: dict[str, str] = {}
    for header in response.headers.get_list("set-cookie"):
        pair = header.split(";", 1)[0]
        name, sep, value = pair.partition("=")
        if sep and name.strip():
            cookies[name.strip()] = value.strip()
    return cookies


class FormsAuth(CreatioAuth):
    """`POST /ServiceModel/AuthService.svc/Login`, then the session cookies on every call and
    the BPMCSRF cookie's value copied into the BPMCSRF header."""

    def __init__(self, config: CreatioConfig, http: httpx.AsyncClient) -> None:
        self.config = config
        self.http = http
        self.generation = 0
        self._cookies: dict[str, str] = {}
        self._lock = asyncio.Lock()
        self.logins = 0

    async def prepare(self) -> tuple[dict[str, str], int]:
        if not self._cookies:
            await self.renew(self.generation)
        headers = {
            "Cookie": "; ".join(f"{k}={v}" for k, v in self._cookies.items()),
            "ForceUseSession": "true",
        }
        if CSRF in self._cookies:
            headers[CSRF] = self._cookies[CSRF]
        return headers, self.generation

    async def renew(self, generation: int) -> None:
        async with self._lock:
            if generation != self.generation and self._cookies:
                return  # another call has logged in again meanwhile
            self._cookies = await self._login()
            self.generation += 1

    def rejected(self, response: httpx.Response) -> bool:
        if response.status_code == 401:
            return True
        # An expired session may be redirected to the login page instead.
        return response.is_redirect

    def absorb(self, response: httpx.Response) -> None:
        renewed = _set_cookies(response)
        if renewed and self._cookies:
            self._cookies.update(renewed)

    async def _login(self) -> dict[str, str]:
        config = self.config
        assert config.username is not None and config.password is not None
        action = f"log in to Creatio as {config.username!r}"
        try:
            response = await self.http.post(
                f"{config.url}{LOGIN_PATH}",
                json={
                    "UserName": config.username,
                    "UserPassword": config.password.get_secret_value(),
                },
                headers={"ForceUseSession": "true"},
            )
        except httpx.HTTPError as exc:
            raise error_from_transport(exc, action=action) from None
        self.logins += 1
        if response.status_code != 200:
            error = error_from_response(response, action=action)
            if error.category is ErrorCategory.NOT_FOUND:
                error = _auth_error(
                    f"{action}: HTTP 404 from {LOGIN_PATH} — is CREATIO_URL the site's root URL?",
                    "login_not_found",
                    404,
                )
            raise error
        try:
            answer = response.json()
            code = answer.get("Code")
        except (ValueError, AttributeError):
            raise _auth_error(
                f"{action}: the login answer is not JSON — is CREATIO_URL a Creatio site?",
                "login_unreadable",
                200,
            ) from None
        if code != 0:
            # Failures come back as HTTP 200 with Code 1 (docs/wire-notes.md C1).
            message = str(answer.get("Message") or "login refused").strip()
            if answer.get("PasswordChangeUrl"):
                message += " (the password has expired: change it in Creatio)"
            raise _auth_error(
                f"{action}: {message} — check CREATIO_USERNAME and CREATIO_PASSWORD",
                "login_failed",
                200,
            )
        cookies = _set_cookies(response)
        if AUTH_COOKIE not in cookies and "BPMSESSIONID" not in cookies:
            raise _auth_error(
                f"{action}: the login succeeded but set no session cookie", "login_no_session", 200
            )
        return cookies


class OAuthAuth(CreatioAuth):
    """Client credentials at `{identity}/connect/token`; the token is reused until shortly
    before `expires_in` runs out."""

    def __init__(
        self,
        config: CreatioConfig,
        http: httpx.AsyncClient,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.http = http
        self.clock = clock
        self.generation = 0
        self._token: str | None = None
        self._renew_at = 0.0
        self._lock = asyncio.Lock()
        self.tokens_fetched = 0

    async def prepare(self) -> tuple[dict[str, str], int]:
        if self._token is None or self.clock() >= self._renew_at:
            await self.renew(self.generation)
        return {"Authorization": f"Bearer {self._token}"}, self.generation

    async def renew(self, generation: int) -> None:
        async with self._lock:
            fresh = self._token is not None and self.clock() < self._renew_at
            if generation != self.generation and fresh:
                return
            self._token, lifetime = await self._fetch()
            margin = min(self.config.token_refresh_margin_s, lifetime / 10)
            self._renew_at = self.clock() + lifetime - margin
            self.generation += 1

    def rejected(self, response: httpx.Response) -> bool:
        return response.status_code == 401

    # Begins like _login above (config, its required fields, the action's text), but posts
    # another grant to another endpoint: each flow keeps its own checks.
    async def _fetch(self) -> tuple[str, float]:
        config = self.config
        assert config.client_id is not None and config.client_secret is not None
        action = f"get an OAuth token for client {config.client_id!r}"
        try:
            response = await self.http.post(
                config.token_url,
                data={
                    "grant_type": "client_credentials",
                    "client_id": config.client_id,
                    "client_secret": config.client_secret.get_secret_value(),
                },
            )
        except httpx.HTTPError as exc:
            raise error_from_transport(exc, action=action) from None
        self.tokens_fetched += 1
        if response.status_code in (400, 401, 403):
            try:
                reason = str(response.json().get("error") or "refused")
            except (ValueError, AttributeError):
                reason = f"HTTP {response.status_code}"
            raise _auth_error(
                f"{action}: the identity service answered {reason} — check "
                "CREATIO_CLIENT_ID, CREATIO_CLIENT_SECRET and CREATIO_IDENTITY_URL",
                "token_refused",
                response.status_code,
            )
        if response.status_code != 200:
            raise error_from_response(response, action=action)
        try:
            answer = response.json()
            token = str(answer["access_token"])
            lifetime = float(answer.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError):
            raise _auth_error(
                f"{action}: the token answer has no access_token", "token_unreadable", 200
            ) from None
        return token, lifetime


def build_auth(
    config: CreatioConfig, http: httpx.AsyncClient, clock: Callable[[], float] = time.monotonic
) -> CreatioAuth:
    if config.auth == "oauth":
        return OAuthAuth(config, http, clock)
    return FormsAuth(config, http)
