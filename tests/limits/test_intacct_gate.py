"""The Intacct client holds a deployment-wide slot around every gateway request and gives
it back however the request ends: answered, connection reset, or timed out (real emulator,
real Azurite)."""

from __future__ import annotations

import asyncio

from azure.data.tables.aio import TableClient

from shared.connectors.intacct import IntacctClient, IntacctSync
from shared.engine.connections import ConnectorPool
from shared.limits import DeploymentLimits, LeaseSemaphore
from shared.limits.deployment import lease_seconds
from shared.settings import Settings
from tests.support.intacct import config, running_intacct


class SeenHolding:
    """Wraps the client's gate: the rows present while each request is in flight."""

    def __init__(self, gate: LeaseSemaphore) -> None:
        self.gate = gate
        self.seen: list[int] = []

    def slot(self):  # type: ignore[no-untyped-def]
        gate, seen = self.gate, self.seen

        class _Slot:
            async def __aenter__(self) -> object:
                self.inner = gate.slot()
                lease = await self.inner.__aenter__()
                seen.append(len([r async for r in gate.table.list_entities()]))
                return lease

            async def __aexit__(self, *exc: object) -> None:
                await self.inner.__aexit__(*exc)

        return _Slot()


async def test_every_request_holds_a_slot_and_gives_it_back_however_it_ends(
    limits_table: TableClient,
) -> None:
    with running_intacct() as intacct:
        intacct.admin.knobs(timeout_s=60)
        sync = IntacctSync(IntacctClient(config(intacct.endpoint, timeout_s=0.3)))
        DeploymentLimits(limits_table).attach(sync)
        gate = sync.client.gate
        assert isinstance(gate, LeaseSemaphore)
        assert gate.key == "intacct|SANDBOX" and gate.capacity == 2
        assert gate.lease_s == lease_seconds(0.3)
        watched = SeenHolding(gate)
        sync.client.gate = watched
        try:
            await sync.client.check()  # login + check: answered
            intacct.admin.faults({"fault": "drop"}, {"fault": "hang"})
            await asyncio.gather(sync.client.check(), sync.client.check())  # reset, timed out
        finally:
            await sync.aclose()
        statuses = intacct.admin.stats()["statuses"]
    gateway = "POST /ia/xml/xmlgw.phtml"
    assert statuses[f"{gateway} dropped"] == 1 and statuses[f"{gateway} hung"] == 1
    # login, check, 2 checks that failed, their 2 retries: each held a slot while in flight
    assert len(watched.seen) == 6 and all(1 <= n <= 2 for n in watched.seen)
    assert gate.acquired == 6 and gate.unavailable == 0
    assert [row async for row in limits_table.list_entities()] == []  # all given back


async def test_the_workers_connector_pool_attaches_the_deployment_limits(
    limits_table: TableClient,
) -> None:
    """What shared/runtime.py builds: the pool's Intacct connector gets the shared gate."""
    settings = Settings(
        INTACCT_SENDER_ID="S",
        INTACCT_SENDER_PASSWORD="p",
        INTACCT_COMPANY_ID="ACME/EU",
        INTACCT_ENTITY_ID="E1",
        INTACCT_USER_ID="u",
        INTACCT_USER_PASSWORD="p",
        INTACCT_MAX_IN_FLIGHT=3,
        INTACCT_TIMEOUT_SECONDS=20,
    )
    pool = ConnectorPool(settings, limits=DeploymentLimits(limits_table))
    try:
        connector = await pool.get("intacct")
        gate = getattr(connector, "client").gate  # noqa: B009
        assert isinstance(gate, LeaseSemaphore)
        assert gate.key == "intacct|ACME_EU|E1" and gate.capacity == 3 and gate.lease_s == 50
    finally:
        await pool.aclose()
