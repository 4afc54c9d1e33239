"""The session's Intacct emulator (reset per test) and connector clients pointed at it over
real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from shared.connectors.intacct import IntacctClient, IntacctSync
from tests.support.intacct import RunningIntacct, config, intacct, intacct_server

__all__ = ["intacct", "intacct_server"]


@pytest.fixture
async def client(intacct: RunningIntacct) -> AsyncIterator[IntacctClient]:
    async with IntacctClient(config(intacct.endpoint)) as instance:
        yield instance


@pytest.fixture
async def sync(intacct: RunningIntacct) -> AsyncIterator[IntacctSync]:
    connector = IntacctSync(IntacctClient(config(intacct.endpoint)))
    try:
        yield connector
    finally:
        await connector.aclose()
