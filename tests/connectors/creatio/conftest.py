"""The session's Creatio emulator (reset per test) and connector clients pointed at it over
real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from shared.connectors.creatio import CreatioClient
from tests.support.creatio import RunningCreatio, config, creatio, creatio_server

__all__ = ["creatio", "creatio_server"]


@pytest.fixture
async def client(creatio: RunningCreatio) -> AsyncIterator[CreatioClient]:
    async with CreatioClient(config(creatio.url)) as instance:
        yield instance


@pytest.fixture
async def oauth_client(creatio: RunningCreatio) -> AsyncIterator[CreatioClient]:
    async with CreatioClient(config(creatio.url, "oauth")) as instance:
        yield instance
