"""The Dataverse emulator as one ASGI app: service protection outside, then the shared fault
layer, then bearer-token checks and the Web API (plain calls and $batch)."""

from __future__ import annotations

import asyncio
import re
import ssl
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.emulators.dataverse import batch
from sandbox.emulators.dataverse.protection import Limits, ServiceProtection
from sandbox.emulators.dataverse.schema import TABLES
from sandbox.emulators.dataverse.store import Store
from sandbox.emulators.dataverse.webapi import Call, Result, WebApi, preferences
from sandbox.emulators.dataverse.wire import EmulatedError, to_json
from sandbox.emulators.identity.tokens import InvalidToken, TokenVerifier
from sandbox.emulators.knobs import ADMIN_PREFIX, FaultLayer
from sandbox.emulators.options import options_routes

API = "/api/data/v9.2"
ALL_METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE"]
_KEYS = re.compile(r"\((?:[^()']|'(?:[^']|'')*')*\)")


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The identity provider whose tokens are accepted (its JWKS is fetched over HTTPS).
    identity_url: str = "https://127.0.0.1:8204"
    tenant: str = "shuttle-sandbox"
    # CA bundle to trust the identity provider with (None: SSL_CERT_FILE / system).
    ca_file: str | None = None
    # Server time of each operation (a plain call is one, a $batch one per operation inside):
    # the call stays in flight meanwhile, and it counts as execution time (benchmarks).
    operation_ms: float = Field(default=0.0, ge=0)


def route_key(path: str) -> str:
    """`/api/data/v9.2/accounts(<key>)` -> `/api/data/v9.2/accounts({key})`."""
    return _KEYS.sub("({key})", path)


def render_fault(status: int, message: str, headers: dict[str, str]) -> Response:
    code = {429: "0x80072322", 500: "0x80040216", 503: "0x80040216"}.get(status, "0x80040216")
    text = {429: message, 500: "An unexpected error occurred."}.get(status, message)
    return EmulatedError(status, code, text, headers).response()


class DataverseEmulator:
    """One emulated Dataverse environment. `asgi` is what a server runs."""

    def __init__(self, options: Options | None = None, *, verifier: Any = None) -> None:
        self.options = options or Options()
        self.store = Store()
        self.api = WebApi(self.store)
        self._verifier = verifier
        self.seen_tokens: set[str] = set()
        self.expired_tokens: set[str] = set()
        self.unauthorized = 0
        self.batches = 0
        self.batch_operations = 0
        self.app = Starlette(routes=self._routes())
        self.faults = FaultLayer(
            self.app,
            render_error=render_fault,
            route_key=route_key,
            on_reset=self.reset,
            on_seed=self.store.seed,
            stats=self.stats,
            admin_routes=self._admin_routes(),
        )
        self.protection = ServiceProtection(self.faults)
        self.asgi = self.protection

    @property
    def verifier(self) -> TokenVerifier:
        if self._verifier is None:
            base = self.options.identity_url.rstrip("/")
            self._verifier = TokenVerifier(
                f"{base}/{self.options.tenant}/discovery/v2.0/keys",
                verify=(
                    ssl.create_default_context(cafile=self.options.ca_file)
                    if self.options.ca_file
                    else True
                ),
            )
        return self._verifier  # type: ignore[no-any-return]

    def reset(self) -> None:
        self.store.reset()
        self.api.customisation.reset()
        self.protection.reset()
        self.options = self.options.model_copy(update={"operation_ms": 0.0})
        self.seen_tokens = set()  # tokens expired before stay expired
        self.unauthorized = self.batches = self.batch_operations = 0

    def stats(self) -> dict[str, Any]:
        return {
            "writes": dict(self.store.writes),
            "rows": {name: len(rows) for name, rows in self.store.rows.items()},
            "tokens_seen": len(self.seen_tokens),
            "unauthorized": self.unauthorized,
            "batches": self.batches,
            "batch_operations": self.batch_operations,
            **self.protection.stats(),
        }

    # -- auth -----------------------------------------------------------------------------
    async def _authenticate(self, request: Request) -> str:
        base = str(request.base_url).rstrip("/")
        challenge = {
            "WWW-Authenticate": f"Bearer authorization_uri={self.options.identity_url.rstrip('/')}"
            f"/{self.options.tenant}/oauth2/authorize, resource_id={base}/"
        }
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            self.unauthorized += 1
            raise EmulatedError(401, "", "", challenge)
        try:
            claims = await self.verifier.verify_token(token.strip(), audience=base)
        except InvalidToken:
            self.unauthorized += 1
            raise EmulatedError(401, "", "", challenge) from None
        uti = str(claims.get("uti", ""))
        if uti in self.expired_tokens:
            self.unauthorized += 1
            raise EmulatedError(401, "", "", challenge)
        self.seen_tokens.add(uti)
        return str(claims.get("oid") or claims.get("appid") or "unknown")

    # -- routes ---------------------------------------------------------------------------
    def _call(self, request: Request, body: bytes) -> Call:
        return Call(
            method=request.method,
            path=request.path_params.get("rest", ""),
            query=request.query_params.multi_items(),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            base=f"{str(request.base_url).rstrip('/')}{API}/",
        )

    def _routes(self) -> list[BaseRoute]:
        async def api(request: Request) -> Response:
            try:
                user = await self._authenticate(request)
            except EmulatedError as error:  # 401 answers carry no body
                return Response(None, 401, headers=error.headers)
            body = await request.body()
            call = self._call(request, body)
            operations = self.batch_operations
            if call.path.strip("/") == "$batch" and call.method == "POST":
                response = self._batch(call, user, request.headers.get("content-type", ""))
                operations = self.batch_operations - operations
            else:
                response, operations = _respond(self.api.execute(call, user)), 1
            if self.options.operation_ms and operations:
                await asyncio.sleep(operations * self.options.operation_ms / 1000)
            return response

        return [
            Route(API, api, methods=ALL_METHODS),
            Route(API + "/{rest:path}", api, methods=ALL_METHODS),
        ]

    def _batch(self, call: Call, user: str, content_type: str) -> Response:
        try:
            items = batch.parse(call.body, content_type)
        except EmulatedError as error:
            return error.response()
        self.batches += 1
        self.batch_operations += sum(
            len(i.operations) if isinstance(i, batch.ChangeSet) else 1 for i in items
        )
        status, media, content = batch.execute(
            items,
            base=call.base,
            run=lambda inner: self.api.execute(inner, user),
            transaction=self.store.transaction,
            continue_on_error="odata.continue-on-error" in preferences(call.headers),
        )
        return Response(content, status, headers={"OData-Version": "4.0"}, media_type=media)

    # -- admin ----------------------------------------------------------------------------
    def _admin_routes(self) -> list[BaseRoute]:
        async def get_limits(request: Request) -> Response:
            return JSONResponse(self.protection.limits.model_dump())

        async def put_limits(request: Request) -> Response:
            try:
                merged = {**self.protection.limits.model_dump(), **(await request.json())}
                limits = Limits.model_validate(merged)
            except (ValidationError, ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=422)
            self.protection.reset(limits)
            return JSONResponse(limits.model_dump())

        async def expire_tokens(request: Request) -> Response:
            fresh = self.seen_tokens - self.expired_tokens
            self.expired_tokens |= self.seen_tokens
            return JSONResponse({"expired": len(fresh)})

        async def rows(request: Request) -> Response:
            name = request.path_params["table"]
            if name not in TABLES:
                return JSONResponse({"error": f"no table {name}"}, 404)
            return JSONResponse(
                {
                    "rows": [
                        {k: to_json(v) for k, v in r.items()}
                        for r in self.store.rows[name].values()
                    ]
                }
            )

        return [
            Route(f"{ADMIN_PREFIX}/limits", get_limits, methods=["GET"]),
            Route(f"{ADMIN_PREFIX}/limits", put_limits, methods=["PUT", "PATCH"]),
            *options_routes(self),
            Route(f"{ADMIN_PREFIX}/tokens/expire", expire_tokens, methods=["POST"]),
            Route(f"{ADMIN_PREFIX}/rows/{{table}}", rows, methods=["GET"]),
            *self.api.customisation.routes(),
        ]


def _respond(result: Result) -> Response:
    headers = {"OData-Version": "4.0", **result.headers}
    if result.status == 204 or result.body is None:
        return Response(None, result.status, headers=headers)
    return Response(
        result.content(),
        result.status,
        headers=headers,
        media_type="application/json; odata.metadata=minimal",
    )


def create_app(options: Options | None = None, *, verifier: Any = None) -> DataverseEmulator:
    return DataverseEmulator(options, verifier=verifier)
