"""The session's emulators (reset per test) and a connector client pointed at them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from shared.connectors.dataverse import DataverseClient
from tests.support.dataverse import RunningDataverse, config, dataverse, dataverse_server

__all__ = ["dataverse", "dataverse_server"]


@pytest.fixture
async def client(dataverse: RunningDataverse) -> AsyncIterator[DataverseClient]:
    async with DataverseClient(config(dataverse)) as instance:
        yield instance
