"""Services wired to the session's Azurite, each test with tables of its own."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import pytest

from shared.messages import FLOW_RUNS_QUEUE, FlowRunMessage
from shared.runtime import Services
from shared.settings import Settings
from tests.support import engine as support
from tests.support.app_env import control_plane
from tests.support.emulator_fixtures import (  # noqa: F401 (fixtures)
    creatio_emulator,
    dataverse_client_options,
    dataverse_emulator,
    dynamics_services,
    intacct_emulator,
    intacct_engine_settings,
    intacct_services,
)
from tests.support.memory_systems import Systems


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


@pytest.fixture
def systems() -> Systems:
    return Systems()


@pytest.fixture
async def memory_services(
    storage_connection_string: str, table_prefix: str, systems: Systems
) -> AsyncIterator[Services]:
    """creatio-intacct with both sides in memory (`systems`), pages of 7."""
    many_pages = {"SHUTTLE_PAGE_SIZE": "7"}
    async with support.engine_services(
        storage_connection_string, table_prefix, "creatio-intacct", many_pages, systems.factory
    ) as built:
        built.records.wait_base = 0.5  # dependency waits in tests: 0.5 s, 1 s, 2 s …
        yield built


@pytest.fixture
def app_settings() -> dict[str, str]:
    """App settings of `app_env` beyond storage and table prefix (a module may override)."""
    return {}


@pytest.fixture
async def app_env(
    monkeypatch: pytest.MonkeyPatch,
    storage_connection_string: str,
    table_prefix: str,
    app_settings: dict[str, str],
) -> AsyncIterator[Services]:
    """The handlers' own Services for control-plane tests: runs read nothing."""
    async with control_plane(
        monkeypatch, storage_connection_string, table_prefix, app_settings
    ) as services:
        yield services


async def queued_runs(services: Services) -> list[FlowRunMessage]:
    """Every flow-runs message now visible (peeked, so they stay queued)."""
    client = services.storage.queue(FLOW_RUNS_QUEUE)
    async with client:
        props = await client.get_queue_properties()
        assert props.approximate_message_count <= 32, "peek sees at most 32 messages"
        peeked = await client.peek_messages(max_messages=32)
    return [FlowRunMessage.model_validate_json(base64.b64decode(m.content)) for m in peeked]
