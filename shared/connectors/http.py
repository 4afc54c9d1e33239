"""What the three clients are built on: their HTTP pool (one place for the pool size,
timeouts and User-Agent) and a base class with their retry budget and lifecycle, so each
client keeps only its wire specifics (see docs/engine.md, "Who retries a transient
failure")."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, Self, TypedDict, TypeVar

import httpx

from shared.connectors.retry import Clock, Random, Retrier, RetryIf, RetryPolicy, Sleep

T = TypeVar("T")


def new_http_client(
    *,
    pool: int,
    timeout_s: float,
    connect_timeout_s: float,
    transport: httpx.AsyncBaseTransport | None = None,
    headers: dict[str, str] | None = None,
    **options: Any,
) -> httpx.AsyncClient:
    """An AsyncClient of `pool` connections (kept alive), read/write timeout `timeout_s`;
    `options` are httpx's own (auth, verify, cookies, follow_redirects)."""
    return httpx.AsyncClient(
        transport=transport,
        timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
        limits=httpx.Limits(max_connections=pool, max_keepalive_connections=pool),
        headers={**(headers or {}), "User-Agent": "Shuttle"},
        **options,
    )


class ClientOptions(TypedDict, total=False):
    """What a client's constructor takes besides its config: a transport (tests: a
    MockTransport), and the clock, sleep and randomness its retries and pacing run on."""

    transport: httpx.AsyncBaseTransport | None
    clock: Clock
    sleep: Sleep
    rng: Random


class ConnectorClient:
    """What the three clients share: their pool (`_http`), their retry budget (`retrier`,
    public as `retrying()`), closing. Each subclass adds only its wire specifics."""

    _http: httpx.AsyncClient
    retrier: Retrier

    def _start(
        self, policy: RetryPolicy, options: ClientOptions, log: logging.Logger
    ) -> tuple[Clock, Sleep]:
        """Set up the retrier from `options`; the clock and sleep the subclass paces with."""
        clock = options.get("clock", time.monotonic)
        sleep = options.get("sleep", asyncio.sleep)
        rng = options.get("rng", random.random)
        self.retrier = Retrier(policy, clock=clock, sleep=sleep, rng=rng, log=log)
        return clock, sleep

    async def retrying(
        self, call: Callable[[], Awaitable[T]], *, retry_if: RetryIf | None = None
    ) -> T:
        """`call()` retried on transient failures within this client's retry budget: for a
        caller that retries a larger unit than one request (a look-then-create)."""
        return await self.retrier.retrying(call, retry_if=retry_if)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
