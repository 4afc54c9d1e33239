"""The Creatio emulator as one ASGI app: auth endpoints, the OData service, admin routes,
all wrapped in the shared fault layer."""

from __future__ import annotations

import random
import re
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.emulators.creatio.identity import LOGIN_PATH, Identity
from sandbox.emulators.creatio.odata import Call, ODataService
from sandbox.emulators.creatio.schema import ENTITIES
from sandbox.emulators.creatio.store import Options, Store
from sandbox.emulators.creatio.wire import (
    GUID_PATTERN,
    EmulatedError,
    http_error,
    iis_query_string_too_long,
    routing_error,
    serialize,
)
from sandbox.emulators.knobs import ADMIN_PREFIX, FaultLayer
from sandbox.emulators.options import options_routes
from sandbox.emulators.removals import Removals

ALL_METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE", "MERGE"]
_KEY = re.compile(rf"\((?:Id=)?{GUID_PATTERN}\)")
_GATEWAY_PAGES = {
    502: "502 - Web server received an invalid response while acting as a gateway or proxy.",
    503: "Service Unavailable",
    504: "504 - Gateway Timeout",
}


def route_key(path: str) -> str:
    """`/0/odata/Contact(<guid>)` -> `/0/odata/Contact({id})`, so counts group by resource."""
    return _KEY.sub("({id})", path)


def render_fault(status: int, message: str, headers: dict[str, str]) -> Response:
    """Injected failures, in the form each would take in front of a real Creatio."""
    if status == 429:
        return JSONResponse({"Message": message}, status, headers=headers)
    if status == 500:  # a transient database error surfacing as an unhandled exception
        return http_error(
            500,
            "Transaction (Process ID 57) was deadlocked on lock resources with another process "
            "and has been chosen as the deadlock victim. Rerun the transaction.",
            "System.Data.SqlClient.SqlException",
        ).response()
    page = _GATEWAY_PAGES.get(status, f"{status} - Server Error")
    return Response(
        f"<html><body><h1>{page}</h1></body></html>",
        status,
        headers=headers,
        media_type="text/html",
    )


class CreatioEmulator:
    """One emulated Creatio site. `asgi` is what a server runs."""

    def __init__(self, options: Options | None = None, *, seed: int | None = None) -> None:
        self.initial_options = options or Options()
        self.options = self.initial_options.model_copy(deep=True)
        self.rng = random.Random(seed)  # noqa: S311 (simulation, not security)
        self.store = Store(lambda: self.options, self.rng)
        self.identity = Identity(lambda: self.options, self.store.supervisor_id)
        self.odata = ODataService(self.store, lambda: self.options, self.rng)
        # Fields and objects "not created yet" (sandbox/emulators/removals.py).
        self.removals = Removals()
        self.odata.removals = self.removals
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
        self.asgi = self.faults

    def reset(self) -> None:
        self.options = self.initial_options.model_copy(deep=True)
        self.store.reset()
        self.identity.reset()
        self.removals.reset()

    def stats(self) -> dict[str, Any]:
        return {
            "writes": dict(self.store.writes),
            "logins": self.identity.logins,
            "failed_logins": self.identity.failed_logins,
            "tokens_issued": self.identity.tokens_issued,
            "sessions": len(self.identity.sessions),
        }

    # -- API routes --------------------------------------------------------------------------
    def _routes(self) -> list[BaseRoute]:
        async def odata(request: Request) -> Response:
            limit = self.options.max_query_string
            if limit is not None and len(request.scope.get("query_string", b"")) > limit:
                return iis_query_string_too_long().response()
            try:
                principal = self.identity.authenticate(request)
            except EmulatedError as error:
                return error.response()
            call = Call(
                method=request.method,
                resource=request.path_params.get("rest", ""),
                query=request.query_params.multi_items(),
                body=await request.body(),
                headers={k.lower(): v for k, v in request.headers.items()},
                base=f"{str(request.base_url).rstrip('/')}/0/odata/",
            )
            result = self.odata.execute(call, principal)
            headers = {"OData-Version": "4.0", **result.headers}
            if result.status == 204:
                return Response(None, 204, headers=headers)
            return Response(
                result.content(), result.status, headers=headers, media_type=result.media_type
            )

        async def ping(request: Request) -> Response:
            try:
                self.identity.authenticate(request)
            except EmulatedError as error:
                return error.response()
            return Response("", 200, media_type="text/plain")

        async def no_route(request: Request) -> Response:
            return routing_error(
                404,
                f"No HTTP resource was found that matches the request URI '{request.url}'.",
                "No type was found that matches the controller named "
                f"'{request.url.path.strip('/').split('/')[-1]}'.",
            ).response()

        return [
            Route(LOGIN_PATH, self.identity.login, methods=["POST"]),
            Route("/connect/token", self.identity.token, methods=["POST"]),
            Route("/0/ping", ping, methods=["GET", "POST"]),
            Route("/0/odata", odata, methods=ALL_METHODS),
            Route("/0/odata/{rest:path}", odata, methods=ALL_METHODS),
            Route("/{rest:path}", no_route, methods=ALL_METHODS),
        ]

    # -- admin routes (besides the fault layer's own) --------------------------------------
    def _admin_routes(self) -> list[BaseRoute]:
        async def expire_sessions(request: Request) -> Response:
            return JSONResponse({"expired": self.identity.expire_sessions()})

        async def expire_tokens(request: Request) -> Response:
            return JSONResponse({"expired": self.identity.expire_tokens()})

        async def lookups(request: Request) -> Response:
            data = {
                t: {n: str(i) for n, i in ids.items()} for t, ids in self.store.lookup_ids.items()
            }
            data["Currency"] = {c: str(i) for c, i in self.store.currency_ids.items()}
            return JSONResponse(data)

        async def rows(request: Request) -> Response:
            # A table as OData would render it, uncounted (benches read what was written).
            entity = ENTITIES.get(request.path_params["object"])
            if entity is None:
                return JSONResponse({"error": "no such object"}, status_code=404)
            table = self.store.tables[entity.name].values()
            rendered = [
                {c.name: serialize(c, row[c.name], ieee754=True) for c in entity.columns}
                for row in table
            ]
            return JSONResponse({"rows": rendered})

        return [
            Route(f"{ADMIN_PREFIX}/rows/{{object}}", rows, methods=["GET"]),
            *options_routes(self),
            Route(f"{ADMIN_PREFIX}/sessions/expire", expire_sessions, methods=["POST"]),
            Route(f"{ADMIN_PREFIX}/tokens/expire", expire_tokens, methods=["POST"]),
            Route(f"{ADMIN_PREFIX}/lookups", lookups, methods=["GET"]),
            *self.removals.routes(_hosts),
        ]


def _hosts(object: str, field: str | None) -> bool:
    entity = ENTITIES.get(object)
    return entity is not None and (field is None or field in entity.by_name)


def create_app(options: Options | None = None, *, seed: int | None = None) -> CreatioEmulator:
    return CreatioEmulator(options, seed=seed)
