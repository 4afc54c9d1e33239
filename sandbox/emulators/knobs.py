"""Faults, throttling and call accounting that every emulator wraps around its own app.

`FaultLayer` is an ASGI wrapper placed *outside* the emulator's Starlette app (so it sees
uvicorn's own `send` and can really drop a connection). For each API call it:

1. counts it by method and normalised path and journals it (for tests' assertions);
2. applies the request-rate limit (token bucket) -> 429 + Retry-After;
3. applies a scripted fault that matches (deterministic, for tests), else, with probability
   `fail_rate`, a random fault out of `fail_modes`;
4. adds latency, then runs the emulator.

Fault kinds:
- `5xx`        answer a server error without running the request;
- `drop`       reset the connection without running the request;
- `drop_after` run the request (it commits), then reset the connection: the client never
               learns the outcome (the "retried create" case);
- `timeout`    run the request, then hold the connection for `timeout_s` and reset it;
- `hang`       hold the request without running it for `timeout_s`, then reset: a server
               that never answers (it is not run, so nothing commits);
- `429`        answer Too Many Requests with Retry-After (scripted only).

A held call (`timeout`, `hang`) ends early when the client gives up and closes its
connection, as a web server stops working for a client that has gone: layers outside this
one (the emulators' concurrency limits) see the call end then, so a client's own timeout is
what frees the server-side slot. `held` counts the calls being held right now.

Layers outside this one that wrap `send` (as the Dataverse service protection does) call
`keep_transport` first, so `drop` still finds the connection to reset.

Admin endpoints under `/_emulator` are never counted, throttled or failed:
GET|PUT /knobs, POST|DELETE /faults, GET|DELETE /calls, GET /requests, POST /reset,
POST /seed (the emulator's own bulk seeding), plus routes the emulator adds.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import math
import random
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ADMIN_PREFIX = "/_emulator"
FaultKind = Literal["5xx", "drop", "drop_after", "timeout", "hang", "429"]
RandomFaultKind = Literal["5xx", "drop", "drop_after", "timeout", "hang"]
TRANSPORT_SCOPE_KEY = "shuttle.transport"
# status, message, headers -> a response in the emulated system's own error format
RenderError = Callable[[int, str, dict[str, str]], Response]
RouteKey = Callable[[str], str]


class Knobs(BaseModel):
    """What an emulator is told to do to the calls it receives (PUT /_emulator/knobs)."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: float = Field(default=0.0, ge=0)
    latency_jitter_ms: float = Field(default=0.0, ge=0)
    fail_rate: float = Field(default=0.0, ge=0, le=1)
    fail_modes: dict[RandomFaultKind, float] = Field(
        default_factory=lambda: {"5xx": 1.0, "drop": 1.0, "drop_after": 1.0, "timeout": 1.0}
    )
    error_status: int = Field(default=503, ge=500, le=599)
    timeout_s: float = Field(default=30.0, ge=0)
    rate_limit_per_s: float | None = Field(default=None, gt=0)
    rate_limit_burst: int = Field(default=10, ge=1)
    seed: int | None = None


class ScriptedFault(BaseModel):
    """Fail the next `times` calls whose method and path match (fnmatch on the path)."""

    model_config = ConfigDict(extra="forbid")

    fault: FaultKind
    method: str | None = None
    path: str = "*"
    times: int = Field(default=1, ge=1)
    status: int = Field(default=503, ge=400, le=599)
    retry_after: int = Field(default=1, ge=0)

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method.upper() == method) and fnmatch.fnmatchcase(
            path, self.path
        )


class _TokenBucket:
    def __init__(self, rate: float, burst: int, clock: Callable[[], float]) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.tokens = float(burst)
        self.updated = clock()

    def take(self) -> float | None:
        """None when a token was taken, else the seconds until one is available."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return None
        return (1 - self.tokens) / self.rate


@dataclass
class FaultState:
    """Everything the layer keeps between calls; reset by POST /_emulator/reset."""

    knobs: Knobs = field(default_factory=Knobs)
    faults: list[ScriptedFault] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    journal: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=2000))
    in_flight: int = 0
    max_in_flight: int = 0
    throttled: int = 0
    held: int = 0
    released_early: int = 0
    injected: int = 0  # calls answered with a fault (scripted or random)
    rng: random.Random = field(default_factory=random.Random)
    bucket: _TokenBucket | None = None

    def set_knobs(self, knobs: Knobs, clock: Callable[[], float]) -> None:
        self.knobs = knobs
        self.rng = random.Random(knobs.seed)  # noqa: S311 (fault simulation)
        self.bucket = (
            _TokenBucket(knobs.rate_limit_per_s, knobs.rate_limit_burst, clock)
            if knobs.rate_limit_per_s
            else None
        )

    def clear_counts(self) -> None:
        self.calls.clear()
        self.statuses.clear()
        self.journal.clear()
        self.max_in_flight = self.in_flight
        self.throttled = 0
        self.released_early = 0
        self.injected = 0

    def take_scripted(self, method: str, path: str) -> ScriptedFault | None:
        for fault in self.faults:
            if fault.matches(method, path):
                fault.times -= 1
                if fault.times == 0:
                    self.faults.remove(fault)
                return fault
        return None

    def random_fault(self) -> RandomFaultKind | None:
        knobs = self.knobs
        if knobs.fail_rate <= 0 or self.rng.random() >= knobs.fail_rate:
            return None
        kinds = [k for k, w in knobs.fail_modes.items() if w > 0]
        if not kinds:
            return None
        return self.rng.choices(kinds, weights=[knobs.fail_modes[k] for k in kinds])[0]


def _raw_path(scope: Scope) -> str:
    return scope.get("path", "")


async def _read_body(receive: Receive) -> tuple[bytes, Receive]:
    """Read the whole request body and return a `receive` that replays it."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


def _transport_of(send: Send) -> Any:
    return getattr(getattr(send, "__self__", None), "transport", None)


def keep_transport(scope: Scope, send: Send) -> None:
    """For a layer outside the fault layer that wraps `send`: note uvicorn's transport in the
    scope, so a `drop` inside still resets the connection instead of answering 500."""
    transport = _transport_of(send)
    if transport is not None:
        scope.setdefault(TRANSPORT_SCOPE_KEY, transport)


async def _abort(scope: Scope, send: Send) -> None:
    """Reset the client's connection without an answer (uvicorn's cycle holds the transport;
    under any other server the exception below breaks the connection instead)."""
    transport = _transport_of(send) or scope.get(TRANSPORT_SCOPE_KEY)
    if transport is None:
        raise ConnectionResetError("emulated dropped connection")
    transport.abort()
    await asyncio.sleep(0)  # let the server see the loss before the app returns


async def _discard(message: Message) -> None:
    return None


class FaultLayer:
    """ASGI wrapper: admin routes, accounting, throttling, faults, latency; then the app."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        render_error: RenderError,
        route_key: RouteKey = lambda path: path,
        on_reset: Callable[[], None] = lambda: None,
        on_seed: Callable[[Any], Mapping[str, Any]] | None = None,
        stats: Callable[[], Mapping[str, Any]] = dict,
        admin_routes: list[BaseRoute] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.app = app
        self.state = FaultState()
        self.render_error = render_error
        self.route_key = route_key
        self.on_reset = on_reset
        self.on_seed = on_seed
        self.stats = stats
        self.clock = clock
        self.sleep = sleep
        self.admin = Starlette(routes=self._admin_routes() + list(admin_routes or []))

    # -- ASGI ---------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = _raw_path(scope)
        if path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/"):
            await self.admin(scope, receive, send)
            return
        state = self.state
        method = scope["method"]
        key = f"{method} {self.route_key(path)}"
        state.calls[key] += 1
        body, receive = await _read_body(receive)
        entry: dict[str, Any] = {
            "method": method,
            "path": path,
            "query": scope.get("query_string", b"").decode("latin-1"),
            "body": body[:20000].decode("utf-8", "replace"),
            "status": None,
        }
        state.journal.append(entry)
        state.in_flight += 1
        state.max_in_flight = max(state.max_in_flight, state.in_flight)
        try:
            await self._handle(scope, receive, send, method, path, entry)
        finally:
            state.in_flight -= 1
            state.statuses[f"{key} {entry['status']}"] += 1

    async def _handle(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        method: str,
        path: str,
        entry: dict[str, Any],
    ) -> None:
        state = self.state
        if state.bucket is not None:
            wait = state.bucket.take()
            if wait is not None:
                state.throttled += 1
                seconds = max(1, math.ceil(wait))
                await self._reply_error(
                    scope, receive, send, entry, 429, "Too many requests.", seconds
                )
                return
        scripted = state.take_scripted(method, path)
        kind: FaultKind | None = scripted.fault if scripted else state.random_fault()
        if kind is not None:
            state.injected += 1
        if kind == "429":
            assert scripted is not None
            await self._reply_error(
                scope, receive, send, entry, 429, "Too many requests.", scripted.retry_after
            )
            return
        if kind == "5xx":
            status = scripted.status if scripted else state.knobs.error_status
            await self._reply_error(
                scope, receive, send, entry, status, "The service is unavailable.", None
            )
            return
        if kind == "drop":
            entry["status"] = "dropped"
            await _abort(scope, send)
            return
        if kind == "hang":
            entry["status"] = "hung"
            await self._hold(receive)
            await _abort(scope, send)
            return
        await self._latency()
        if kind in ("drop_after", "timeout"):
            await self.app(scope, receive, _discard)  # it commits; the answer is lost
            if kind == "timeout":
                entry["status"] = "timeout"
                await self._hold(receive)
            else:
                entry["status"] = "dropped_after"
            await _abort(scope, send)
            return

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry["status"] = message["status"]
            await send(message)

        await self.app(scope, receive, recording_send)

    async def _hold(self, receive: Receive) -> None:
        """Hold the call for `timeout_s`, or until the client closes the connection."""
        state = self.state

        async def gone() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        state.held += 1
        try:
            await asyncio.wait_for(gone(), timeout=state.knobs.timeout_s)
            state.released_early += 1
        except TimeoutError:
            pass
        finally:
            state.held -= 1

    async def _latency(self) -> None:
        knobs = self.state.knobs
        delay = knobs.latency_ms
        if knobs.latency_jitter_ms:
            delay += self.state.rng.uniform(0, knobs.latency_jitter_ms)
        if delay > 0:
            await self.sleep(delay / 1000)

    async def _reply_error(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        entry: dict[str, Any],
        status: int,
        message: str,
        retry_after: int | None,
    ) -> None:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        entry["status"] = status
        await self.render_error(status, message, headers)(scope, receive, send)

    # -- admin ----------------------------------------------------------------------------
    def reset(self) -> None:
        self.state = FaultState()
        self.on_reset()

    def _admin_routes(self) -> list[BaseRoute]:
        async def get_knobs(request: Request) -> Response:
            return JSONResponse(self.state.knobs.model_dump())

        async def put_knobs(request: Request) -> Response:
            try:
                merged = {**self.state.knobs.model_dump(), **(await request.json())}
                knobs = Knobs.model_validate(merged)
            except (ValidationError, ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=422)
            self.state.set_knobs(knobs, self.clock)
            return JSONResponse(knobs.model_dump())

        async def add_faults(request: Request) -> Response:
            try:
                payload = await request.json()
                items = payload if isinstance(payload, list) else [payload]
                faults = [ScriptedFault.model_validate(item) for item in items]
            except (ValidationError, ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=422)
            self.state.faults.extend(faults)
            return JSONResponse({"faults": [f.model_dump() for f in self.state.faults]})

        async def clear_faults(request: Request) -> Response:
            self.state.faults.clear()
            return JSONResponse({"faults": []})

        async def get_calls(request: Request) -> Response:
            state = self.state
            return JSONResponse(
                {
                    "calls": dict(state.calls),
                    "statuses": dict(state.statuses),
                    "in_flight": state.in_flight,
                    "max_in_flight": state.max_in_flight,
                    "throttled": state.throttled,
                    "held": state.held,
                    "released_early": state.released_early,
                    "injected": state.injected,
                    **self.stats(),
                }
            )

        async def clear_calls(request: Request) -> Response:
            self.state.clear_counts()
            return JSONResponse({"calls": {}})

        async def get_requests(request: Request) -> Response:
            return JSONResponse({"requests": list(self.state.journal)})

        async def reset(request: Request) -> Response:
            self.reset()
            return JSONResponse({"reset": True})

        async def seed(request: Request) -> Response:
            if self.on_seed is None:
                return JSONResponse({"error": "this emulator has no bulk seeding"}, 404)
            try:
                payload = json.loads(await request.body())
                result = self.on_seed(payload)
            except (ValueError, TypeError, KeyError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=422)
            return JSONResponse(dict(result))

        return [
            Route(f"{ADMIN_PREFIX}/knobs", get_knobs, methods=["GET"]),
            Route(f"{ADMIN_PREFIX}/knobs", put_knobs, methods=["PUT", "PATCH"]),
            Route(f"{ADMIN_PREFIX}/faults", add_faults, methods=["POST"]),
            Route(f"{ADMIN_PREFIX}/faults", clear_faults, methods=["DELETE"]),
            Route(f"{ADMIN_PREFIX}/calls", get_calls, methods=["GET"]),
            Route(f"{ADMIN_PREFIX}/calls", clear_calls, methods=["DELETE"]),
            Route(f"{ADMIN_PREFIX}/requests", get_requests, methods=["GET"]),
            Route(f"{ADMIN_PREFIX}/reset", reset, methods=["POST"]),
            Route(f"{ADMIN_PREFIX}/seed", seed, methods=["POST"]),
        ]
