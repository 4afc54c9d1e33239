"""Service protection (docs/wire-notes.md D6), per user over a sliding window: number of requests,
combined execution time and concurrent requests; a call over a limit answers 429 with
Retry-After and the documented error code, and is not run.

An ASGI layer placed outside the fault layer, so emulated latency counts as execution time
and as time a request is in flight, as it would on a real server."""

from __future__ import annotations

import base64
import json
import math
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.emulators.dataverse.wire import (
    CONCURRENCY_LIMIT,
    REQUESTS_LIMIT,
    TIME_LIMIT,
    EmulatedError,
)
from sandbox.emulators.knobs import ADMIN_PREFIX, keep_transport

API_PREFIX = "/api/data/"


class Limits(BaseModel):
    """The real values by default; tests shrink the window so they run in seconds."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    window_s: float = Field(default=300.0, gt=0)
    max_requests: int = Field(default=6000, ge=1)
    max_execution_ms: float = Field(default=1_200_000.0, gt=0)
    max_concurrent: int = Field(default=52, ge=1)
    # Retry-After for the concurrency limit (whole seconds; real value undocumented).
    concurrency_retry_after_s: int = Field(default=1, ge=1)


@dataclass
class _User:
    requests: deque[float] = field(default_factory=deque)
    executions: deque[tuple[float, float]] = field(default_factory=deque)  # (end, ms)
    in_flight: int = 0
    max_in_flight: int = 0
    # Every accepted call, kept for `usage` (bench runs: a few thousand entries).
    admitted: list[float] = field(default_factory=list)
    ended: list[tuple[float, float]] = field(default_factory=list)


def usage(user: _User, limits: Limits) -> dict[str, Any]:
    """How much of each limit a user used in the steady state: from one window after its
    first call (the first window starts empty, so any client may burst through it) to its
    last answer. Each limit's share is the rate used over the rate it allows (requests per
    second; execution ms per second; the average calls in flight over the most at once);
    the binding one is the one used most."""
    if not user.ended:
        return {}
    first, last = user.admitted[0], max(end for end, _ in user.ended)
    totals: dict[str, Any] = {
        "span_s": round(last - first, 3),
        "requests": len(user.admitted),
        "execution_ms": round(sum(ms for _, ms in user.ended), 1),
        "max_in_flight": user.max_in_flight,
    }
    start = first + limits.window_s
    span = last - start
    if span <= 0:
        return {**totals, "steady_s": 0.0}
    requests = sum(1 for at in user.admitted if at >= start)
    execution = sum(ms for end, ms in user.ended if end >= start)
    rates = {
        "requests": (requests / span, limits.max_requests / limits.window_s),
        "execution_time": (execution / span, limits.max_execution_ms / limits.window_s),
        "concurrency": (execution / span / 1000, float(limits.max_concurrent)),
    }
    shares = {name: used / allowed for name, (used, allowed) in rates.items()}
    return {
        **totals,
        "steady_s": round(span, 3),
        "used_per_s": {name: round(used, 3) for name, (used, _) in rates.items()},
        "allowed_per_s": {name: allowed for name, (_, allowed) in rates.items()},
        "share": {name: round(share, 4) for name, share in shares.items()},
        "binding": max(shares, key=lambda name: shares[name]),
    }


def user_of(scope: Scope) -> str | None:
    """The token's `oid` (its application user), read without checking the token: the app
    checks it; an unreadable token is answered 401 there and never limited here."""
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() != "bearer":
                return None
            try:
                payload = token.split(".")[1]
                claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            except (IndexError, ValueError):
                return None
            oid = claims.get("oid") if isinstance(claims, dict) else None
            return str(oid) if oid else None
    return None


class ServiceProtection:
    def __init__(self, app: ASGIApp, clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.clock = clock
        self.limits = Limits()
        self.users: dict[str, _User] = {}
        self.throttled: Counter[str] = Counter()
        self.accepted = 0

    def reset(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self.users = {}
        self.throttled = Counter()
        self.accepted = 0

    def stats(self) -> dict[str, object]:
        busiest = max(self.users.values(), key=lambda u: len(u.admitted), default=None)
        return {
            "protection": {
                "accepted": self.accepted,
                "throttled": dict(self.throttled),
                "throttled_total": sum(self.throttled.values()),
                "limits": self.limits.model_dump(),
                "usage": usage(busiest, self.limits) if busiest else {},
            }
        }

    def _prune(self, user: _User, now: float) -> None:
        start = now - self.limits.window_s
        while user.requests and user.requests[0] <= start:
            user.requests.popleft()
        while user.executions and user.executions[0][0] <= start:
            user.executions.popleft()

    def _check(self, user: _User, now: float) -> EmulatedError | None:
        limits = self.limits
        if user.in_flight >= limits.max_concurrent:
            self.throttled["concurrency"] += 1
            return EmulatedError(
                429,
                CONCURRENCY_LIMIT,
                f"Number of concurrent requests exceeded the limit of {limits.max_concurrent}.",
                {"Retry-After": str(limits.concurrency_retry_after_s)},
            )
        if len(user.requests) >= limits.max_requests:
            wait = user.requests[0] + limits.window_s - now
            self.throttled["requests"] += 1
            return EmulatedError(
                429,
                REQUESTS_LIMIT,
                f"Number of requests exceeded the limit of {limits.max_requests} over time "
                f"window of {limits.window_s:g} seconds.",
                {"Retry-After": str(max(1, math.ceil(wait)))},
            )
        spent = sum(ms for _, ms in user.executions)
        if spent >= limits.max_execution_ms:
            # Wait until enough of the window's execution time has aged out.
            excess, wait = spent - limits.max_execution_ms, 0.0
            for end, ms in user.executions:
                excess -= ms
                wait = end + limits.window_s - now
                if excess < 0:
                    break
            self.throttled["execution_time"] += 1
            return EmulatedError(
                429,
                TIME_LIMIT,
                "Combined execution time of incoming requests exceeded limit of "
                f"{limits.max_execution_ms:g} milliseconds over time window of "
                f"{limits.window_s:g} seconds. Decrease number of concurrent requests or "
                "reduce the duration of requests and try again later.",
                {"Retry-After": str(max(1, math.ceil(wait)))},
            )
        return None

    def _headers(self, user: _User) -> list[tuple[bytes, bytes]]:
        remaining = max(0, self.limits.max_requests - len(user.requests))
        spent = sum(ms for _, ms in user.executions)
        left = max(0.0, self.limits.max_execution_ms - spent)
        return [
            (b"x-ms-ratelimit-burst-remaining-xrm-requests", str(remaining).encode()),
            (b"x-ms-ratelimit-time-remaining-xrm-requests", f"{left:.2f}".encode()),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        name = user_of(scope) if path.startswith(API_PREFIX) else None
        if not self.limits.enabled or name is None or path.startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        user = self.users.setdefault(name, _User())
        now = self.clock()
        self._prune(user, now)
        error = self._check(user, now)
        if error is not None:
            await error.response()(scope, receive, send)
            return
        user.requests.append(now)
        user.admitted.append(now)
        user.in_flight += 1
        user.max_in_flight = max(user.max_in_flight, user.in_flight)
        self.accepted += 1
        extra = self._headers(user)
        keep_transport(scope, send)  # `with_headers` hides it from the fault layer's `drop`

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            await self.app(scope, receive, with_headers)
        finally:
            user.in_flight -= 1
            end = self.clock()
            user.executions.append((end, (end - now) * 1000))
            user.ended.append(user.executions[-1])
