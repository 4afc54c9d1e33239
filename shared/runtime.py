"""The per-worker service container: built once per event loop, reused by every invocation,
so storage clients (and later the connectors' sessions and token caches) survive across
invocations on a warm worker."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from dataclasses import dataclass
from datetime import timedelta

from azure.core.exceptions import ResourceExistsError

from shared.engine.connections import ConnectorFactory, ConnectorPool
from shared.engine.record_worker import RecordWorker
from shared.engine.sync_engine import SyncEngine
from shared.flows.catalog import Catalog, load_catalog
from shared.flows.models import utcnow
from shared.flows.service import FlowService
from shared.limits import DeploymentLimits
from shared.messages import (
    FLOW_RUNS_POISON_QUEUE,
    FLOW_RUNS_QUEUE,
    RECORD_UPSERTS_POISON_QUEUE,
    RECORD_UPSERTS_QUEUE,
)
from shared.notifications.service import Notifications
from shared.schedule.gate import SleepGate
from shared.schedule.store import SleepWindowStore
from shared.settings import Settings, get_settings
from shared.storage.binding_store import BindingStore
from shared.storage.clients import StorageClients, build_storage_clients
from shared.storage.flow_store import FlowStore
from shared.storage.outcome_store import OutcomeStore
from shared.storage.run_store import RunStore

QUEUES = (
    FLOW_RUNS_QUEUE,
    FLOW_RUNS_POISON_QUEUE,
    RECORD_UPSERTS_QUEUE,
    RECORD_UPSERTS_POISON_QUEUE,
)
TABLES = ("flows", "runs", "outcomes", "bindings", "limits")


@dataclass
class Services:
    settings: Settings
    catalog: Catalog
    storage: StorageClients
    flows: FlowService
    connectors: ConnectorPool
    engine: SyncEngine
    records: RecordWorker
    sleep: SleepGate
    notifications: Notifications | None = None

    @classmethod
    async def create(
        cls,
        settings: Settings,
        catalog: Catalog | None = None,
        factory: ConnectorFactory | None = None,
    ) -> Services:
        catalog = catalog or load_catalog(settings.solution_ids)
        storage = build_storage_clients(settings)
        prefix = settings.table_prefix
        for name in (f"{prefix}{table}" for table in TABLES):
            with contextlib.suppress(ResourceExistsError):
                await storage.tables.create_table(name)
        for queue in QUEUES:
            with contextlib.suppress(ResourceExistsError):
                await storage.queue(queue).create_queue()
        sleep_store = SleepWindowStore(storage.tables.get_table_client(f"{prefix}settings"))
        await sleep_store.ensure()
        sleep = SleepGate(sleep_store)
        flow_store = FlowStore(storage.tables.get_table_client(f"{prefix}flows"))
        await flow_store.ensure(catalog, utcnow())
        service = FlowService(
            catalog,
            flow_store,
            RunStore(storage.tables.get_table_client(f"{prefix}runs")),
            storage.queue(FLOW_RUNS_QUEUE),
            lease=timedelta(seconds=settings.run_lease_seconds),
            sleep=sleep,
        )
        limits = DeploymentLimits(storage.tables.get_table_client(f"{prefix}limits"))
        connectors = ConnectorPool(settings, factory, limits)
        outcomes = OutcomeStore(storage.tables.get_table_client(f"{prefix}outcomes"))
        record_queue = storage.queue(RECORD_UPSERTS_QUEUE)
        bindings = BindingStore(storage.tables.get_table_client(f"{prefix}bindings"))
        engine = SyncEngine(
            catalog,
            connectors,
            outcomes,
            record_queue,
            overlap=timedelta(seconds=settings.read_overlap_seconds),
            page_size=settings.page_size,
            bindings=bindings,
            chunk_size=settings.chunk_size,
        )
        records = RecordWorker(
            catalog,
            connectors,
            bindings,
            outcomes,
            record_queue,
            sleep=sleep,
        )
        notifications = await Notifications.create(settings, catalog, storage.tables, service)
        return cls(
            settings=settings,
            catalog=catalog,
            storage=storage,
            flows=service,
            connectors=connectors,
            engine=engine,
            records=records,
            sleep=sleep,
            notifications=notifications,
        )

    async def close(self) -> None:
        if self.notifications is not None:
            await self.notifications.close()
        await self.flows.flows.table.close()
        await self.flows.runs.table.close()
        await self.flows.queue.close()
        await self.connectors.aclose()
        if self.connectors.limits is not None:
            await self.connectors.limits.table.close()
        await self.engine.close()
        await self.records.bindings.table.close()
        await self.sleep.store.table.close()
        await self.storage.close()


# Async clients belong to the loop that made them; key the cache by loop.
_services: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Services] = (
    weakref.WeakKeyDictionary()
)
_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


async def get_services() -> Services:
    loop = asyncio.get_running_loop()
    services = _services.get(loop)
    if services is not None:
        return services
    lock = _locks.setdefault(loop, asyncio.Lock())
    async with lock:
        services = _services.get(loop)
        if services is None:
            services = await Services.create(get_settings())
            _services[loop] = services
    return services


async def reset_services() -> None:
    """Forget (and close) this loop's services: the local host does when it stops
    (sandbox/host/host.py), tests after changing settings."""
    services = _services.pop(asyncio.get_running_loop(), None)
    if services is not None:
        await services.close()
    get_settings.cache_clear()
