"""A fresh `limits` table in the session's Azurite for each test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from azure.data.tables.aio import TableClient


@pytest.fixture
async def limits_table(
    storage_connection_string: str, table_prefix: str
) -> AsyncIterator[TableClient]:
    table = TableClient.from_connection_string(storage_connection_string, f"{table_prefix}limits")
    await table.create_table()
    try:
        yield table
    finally:
        await table.delete_table()
        await table.close()
