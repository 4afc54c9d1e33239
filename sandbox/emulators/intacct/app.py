"""The Intacct emulator as one ASGI app: the XML gateway endpoint, the company-wide limit on
requests in flight (429 GW-0010), admin routes, all wrapped in the shared fault layer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from sandbox.emulators.intacct import metadata
from sandbox.emulators.intacct.gateway import Gateway
from sandbox.emulators.intacct.store import Options, Store
from sandbox.emulators.intacct.wire import gateway_error
from sandbox.emulators.knobs import ADMIN_PREFIX, FaultLayer
from sandbox.emulators.options import options_routes

GATEWAY_PATH = "/ia/xml/xmlgw.phtml"
THROTTLED = "GW-0010"
_PAGES = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


def render_fault(status: int, message: str, headers: dict[str, str]) -> Response:
    """Injected failures as they look in front of the real gateway."""
    if status == 429:
        response = gateway_error(THROTTLED, "Rate limit exceeded: too many requests.", 429)
        response.headers.update(headers)
        return response
    page = _PAGES.get(status, "Internal Server Error")
    return Response(
        f"<html><head><title>{status} {page}</title></head><body><h1>{page}</h1></body></html>",
        status,
        headers=headers,
        media_type="text/html",
    )


class ConcurrencyGate:
    """Requests in flight for the company, counted outside everything else (so the fault
    layer's latency counts as time in flight); over the limit: 429 GW-0010 at once.

    `max_in_flight` is the most requests it *saw* at once, the refused one included: with a
    limit of 2 and clients that keep to it, it stays at most 2; a third concurrent request
    makes it 3 even though that one is refused (the benches' "max_in_flight_seen")."""

    def __init__(self, app: Any, limit: Any) -> None:
        self.app = app
        self.limit = limit
        self.in_flight = 0
        self.max_in_flight = 0
        self.rejected = 0

    def reset(self) -> None:
        self.max_in_flight = self.in_flight
        self.rejected = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path", "").startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        limit = self.limit()
        self.max_in_flight = max(self.max_in_flight, self.in_flight + 1)
        if limit is not None and self.in_flight >= limit:
            self.rejected += 1
            await gateway_error(
                THROTTLED,
                f"Too many concurrent requests: this company allows {limit} at a time.",
                429,
            )(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


class IntacctEmulator:
    """One emulated Intacct company. `asgi` is what a server runs."""

    def __init__(
        self,
        options: Options | None = None,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.sleep = sleep
        self.initial_options = options or Options()
        self.options = self.initial_options.model_copy(deep=True)
        self.store = Store(lambda: self.options)
        self.gateway = Gateway(self.store, lambda: self.options)
        # Objects and fields "not created yet" (sandbox/emulators/removals.py).
        self.removals = self.gateway.removals
        self.app = Starlette(routes=self._routes())
        self.faults = FaultLayer(
            self.app,
            render_error=render_fault,
            on_reset=self.reset,
            on_seed=self.store.seed,
            stats=self.stats,
            admin_routes=self._admin_routes(),
            sleep=sleep,  # the latency knob and the per-function time sleep alike
        )
        self.gate = ConcurrencyGate(self.faults, lambda: self.options.max_concurrent)
        self.asgi = self.gate

    def reset(self) -> None:
        self.options = self.initial_options.model_copy(deep=True)
        self.store.reset()
        self.gateway.reset()
        self.removals.reset()
        if hasattr(self, "gate"):
            self.gate.reset()

    def stats(self) -> dict[str, Any]:
        return {
            "requests": self.gateway.requests,
            "functions": dict(self.gateway.functions),
            "writes": dict(self.store.writes),
            "logins": self.store.logins,
            "failed_logins": self.store.failed_logins,
            "sessions": len(self.store.sessions),
            "gateway_in_flight_max": self.gate.max_in_flight,
            "rows_examined": self.gateway.examined,
            "gateway_rejected": self.gate.rejected,
        }

    def _routes(self) -> list[BaseRoute]:
        async def xmlgw(request: Request) -> Response:
            body = await request.body()
            before = self.gateway.functions.total()
            response = self.gateway.handle(body, str(request.url.replace(query="")))
            ran = self.gateway.functions.total() - before
            if ran and self.options.function_time_ms:  # the request stays in flight meanwhile
                await self.sleep(ran * self.options.function_time_ms / 1000)
            return response

        async def not_found(request: Request) -> Response:
            return Response(
                "<html><body><h1>404 Not Found</h1></body></html>", 404, media_type="text/html"
            )

        return [
            Route(GATEWAY_PATH, xmlgw, methods=["POST"]),
            Route("/{rest:path}", not_found, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        ]

    def _admin_routes(self) -> list[BaseRoute]:
        async def expire_sessions(request: Request) -> Response:
            return JSONResponse({"expired": self.store.expire_sessions()})

        async def expire_results(request: Request) -> Response:
            count = len(self.store.results)
            self.store.results.clear()
            return JSONResponse({"expired": count})

        async def rows(request: Request) -> Response:
            name = request.path_params["object"].upper()
            table = self.store.tables.get(name)
            if table is None:
                return JSONResponse({"error": f"unknown object {name}"}, 404)
            return JSONResponse({"rows": list(table.values())})

        return [
            *options_routes(self),
            Route(f"{ADMIN_PREFIX}/sessions/expire", expire_sessions, methods=["POST"]),
            Route(f"{ADMIN_PREFIX}/results/expire", expire_results, methods=["POST"]),
            Route(f"{ADMIN_PREFIX}/rows/{{object}}", rows, methods=["GET"]),
            *self.removals.routes(metadata.hosts),
        ]


def create_app(options: Options | None = None) -> IntacctEmulator:
    return IntacctEmulator(options)
