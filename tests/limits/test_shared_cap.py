"""Dataverse's learned concurrency cap shared through one Table row (real Azurite, virtual
clocks): a cut one worker learned reaches another at its next call, a regrow goes back the
other way, and a fresh worker starts at the deployment's cap instead of probing from one."""

from __future__ import annotations

import httpx
from azure.data.tables.aio import TableClient

from shared.connectors.dataverse.throttle import CONCURRENCY_LIMIT, ServiceProtection, Ticket
from shared.limits import SharedCap
from tests.support.clock import VirtualTime

KEY = "dataverse|org.crm.dynamics.com|app-user"


def worker(table: TableClient, time: VirtualTime) -> ServiceProtection:
    protection = ServiceProtection(52, clock=time.clock, sleep=time.sleep, regrow_s=10.0)
    protection.shared = SharedCap(table, KEY, refresh_s=5.0)
    return protection


async def call(protection: ServiceProtection) -> Ticket:
    async with protection.slot() as ticket:
        protection.observe(httpx.Response(200), ticket)
        return ticket


async def test_a_learned_cap_is_shared_by_every_worker(limits_table: TableClient) -> None:
    time_a, time_b = VirtualTime(), VirtualTime()
    a, b = worker(limits_table, time_a), worker(limits_table, time_b)
    for _ in range(7):  # slow start: rounds of 1, 2 and 4 answers -> 8
        ticket = await call(a)
    assert a.limit == 8
    # A concurrency 429 to the 6th call in flight: fewer than 6 fit -> 4, published by the
    # next call (after the pause).
    a.throttled_for(1.0, Ticket(6, ticket.epoch, ticket.round), CONCURRENCY_LIMIT)
    assert a.limit == 4
    await call(a)

    await call(b)  # a fresh worker: adopts the deployment's cap, no slow start from 1
    assert b.limit == 4

    time_b.now += 10.0  # b went 10 s without a cut: it regrows, and publishes that
    await call(b)
    await call(b)
    assert b.limit == 5
    time_a.now += 5.0  # a reads the row again after refresh_s
    await call(a)
    assert a.limit == 5
    row = await limits_table.get_entity("cap", KEY)
    assert row["cap"] == 5.0
