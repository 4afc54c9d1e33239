"""The worker's own Services (what the handlers in functions/ get from `get_services`) on the
test's Azurite, configured through app settings in the environment as on a deployed app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from shared.runtime import Services, get_services, reset_services
from tests.support.engines import PlaceholderEngine, engine_swapped


@asynccontextmanager
async def app_services(
    monkeypatch: pytest.MonkeyPatch, connection: str, prefix: str, settings: dict[str, str]
) -> AsyncIterator[Services]:
    """Services built from `settings` (and the test's storage and table prefix), dropped again
    after the block so the next test builds its own."""
    values = {"AzureWebJobsStorage": connection, "SHUTTLE_TABLE_PREFIX": prefix, **settings}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    await reset_services()
    try:
        yield await get_services()
    finally:
        await reset_services()


@asynccontextmanager
async def control_plane(
    monkeypatch: pytest.MonkeyPatch, connection: str, prefix: str, settings: dict[str, str]
) -> AsyncIterator[Services]:
    """`app_services` for tests of the control plane, not of syncing: no run message left
    queued, and runs read nothing."""
    async with app_services(monkeypatch, connection, prefix, settings) as services:
        await services.flows.queue.clear_messages()
        with engine_swapped(services, PlaceholderEngine()):
            yield services
