"""The HTTP pool every client is built on: one place for the pool size, timeouts and the
User-Agent, so the three clients differ only in their wire specifics."""

from __future__ import annotations

from typing import Any

import httpx


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
