"""Services wired to the session's Azurite, each test with tables of its own."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import pytest

from shared.messages import FLOW_RUNS_QUEUE, FlowRunMessage
from shared.runtime import Services
from shared.settings import Settings
from tests.support.emulator_fixtures import (  # noqa: F401 (fixtures)
    creatio_emulator,
    dataverse_emulator,
    intacct_emulator,
)


def make_settings(conn: str, prefix: str, **extra: str) -> Settings:
    return Settings.model_validate(
        {"AzureWebJobsStorage": conn, "SHUTTLE_TABLE_PREFIX": prefix, **extra}
    )


@pytest.fixture
async def services(storage_connection_string: str, table_prefix: str) -> AsyncIterator[Services]:
    built = await Services.create(make_settings(storage_connection_string, table_prefix))
    await built.flows.queue.clear_messages()
    try:
        yield built
    finally:
        await built.close()


async def queued_runs(services: Services) -> list[FlowRunMessage]:
    """Every flow-runs message now visible (peeked, so they stay queued)."""
    client = services.storage.queues.get_queue_client(FLOW_RUNS_QUEUE)
    async with client:
        props = await client.get_queue_properties()
        assert props.approximate_message_count <= 32, "peek sees at most 32 messages"
        peeked = await client.peek_messages(max_messages=32)
    return [FlowRunMessage.model_validate_json(base64.b64decode(m.content)) for m in peeked]
