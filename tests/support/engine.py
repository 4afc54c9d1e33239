"""What the engine tests share: app settings pointing at the emulators, Services on the test's
Azurite with empty queues (over the running emulators, reset), and running one flow to its end
through the in-process driver."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sandbox.pump import Pump
from shared.connectors.dataverse import DataverseClient
from shared.connectors.dataverse.sync import DataverseSync
from shared.connectors.protocol import SyncConnector
from shared.engine.connections import ConnectorFactory, build_connector
from shared.flows.models import RunRecord
from shared.flows.service import RunRequest
from shared.messages import FLOW_RUNS_QUEUE, RECORD_UPSERTS_QUEUE
from shared.runtime import Services
from shared.settings import Settings
from tests.support import creatio, dataverse, intacct


def creatio_settings(running: creatio.RunningCreatio) -> dict[str, str]:
    return {
        "CREATIO_URL": running.url,
        "CREATIO_USERNAME": creatio.USER,
        "CREATIO_PASSWORD": creatio.PASSWORD,
    }


def intacct_settings(running: intacct.RunningIntacct) -> dict[str, str]:
    return {
        "INTACCT_ENDPOINT": running.endpoint,
        "INTACCT_SENDER_ID": intacct.SENDER,
        "INTACCT_SENDER_PASSWORD": intacct.SENDER_PASSWORD,
        "INTACCT_COMPANY_ID": intacct.COMPANY,
        "INTACCT_USER_ID": intacct.USER,
        "INTACCT_USER_PASSWORD": intacct.USER_PASSWORD,
    }


@asynccontextmanager
async def engine_services(
    connection: str,
    prefix: str,
    solution: str,
    settings: dict[str, str] | None = None,
    factory: ConnectorFactory | None = None,
) -> AsyncIterator[Services]:
    values = {
        "AzureWebJobsStorage": connection,
        "SHUTTLE_TABLE_PREFIX": prefix,
        "SHUTTLE_SOLUTIONS": solution,
        **(settings or {}),
    }
    built = await Services.create(Settings.model_validate(values), factory=factory)
    for name in (FLOW_RUNS_QUEUE, RECORD_UPSERTS_QUEUE):  # a test's prefix names its queues
        await built.storage.queue(name).clear_messages()
    try:
        yield built
    finally:
        await built.close()


def dataverse_factory(running: dataverse.RunningDataverse, **options: Any) -> ConnectorFactory:
    """Connectors as deployed, but Dataverse built from the emulator's config (and `options`,
    DataverseConfig values): its test CA is trusted through the config, not the environment."""

    def factory(system: str, settings: Settings) -> SyncConnector:
        if system == "dataverse":
            return DataverseSync(DataverseClient(dataverse.config(running, **options)))
        return build_connector(system, settings)

    return factory


@asynccontextmanager
async def emulator_services(
    connection: str,
    prefix: str,
    solution: str,
    *,
    creatio_emulator: creatio.RunningCreatio,
    intacct_emulator: intacct.RunningIntacct | None = None,
    dataverse_emulator: dataverse.RunningDataverse | None = None,
    settings: dict[str, str] | None = None,
    dataverse_options: dict[str, Any] | None = None,
) -> AsyncIterator[Services]:
    """`engine_services` of `solution` over the running emulators given, each reset first."""
    values = dict(creatio_settings(creatio_emulator))
    creatio_emulator.admin.reset()
    if intacct_emulator is not None:
        intacct_emulator.admin.reset()
        values.update(intacct_settings(intacct_emulator))
    factory = None
    if dataverse_emulator is not None:
        dataverse_emulator.admin.reset()
        factory = dataverse_factory(dataverse_emulator, **(dataverse_options or {}))
    values.update(settings or {})
    async with engine_services(connection, prefix, solution, values, factory) as built:
        yield built


def fail_missing_links_fast(services: Services) -> None:
    """A record whose linked record is missing fails in seconds, not after the production
    waits (the finance flows link orders, invoices and payments)."""
    services.records.wait_base, services.records.max_waits = 0.2, 2


async def run_flow(
    services: Services, flow_id: str, pump: Pump | None = None, limit_s: float = 300
) -> RunRecord:
    """Run `flow_id` once now, work the queues until the run ends, check its counts."""
    run = await services.flows.run_now(flow_id, RunRequest(), datetime.now(UTC))
    finished = await (pump or Pump(services)).run_finished(run.id, limit_s=limit_s)
    c = finished.counts
    assert c.read == c.created + c.updated + c.unchanged + c.skipped + c.failed + c.pending, c
    assert c.pending == 0
    return finished
