"""Many scheduler ticks at once, on two hosts (processes) with several threads each: every
due flow is claimed exactly once — one run row, one queue message."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import threading
from datetime import datetime, timedelta

from shared.flows.definitions import FlowKind
from shared.flows.models import utcnow
from shared.runtime import Services
from shared.scheduler import tick
from tests.integration.conftest import make_settings, queued_runs

THREADS_PER_HOST = 4


def _host(conn: str, prefix: str, now: datetime, barrier, out) -> None:  # type: ignore[no-untyped-def]
    claimed: list[str] = []
    lock = threading.Lock()

    def one_tick() -> None:
        async def go() -> list[str]:
            services = await Services.create(make_settings(conn, prefix))
            try:
                barrier.wait(timeout=60)  # every tick of both hosts starts together
                return (await tick(services.flows, now)).claimed
            finally:
                await services.close()

        result = asyncio.run(go())
        with lock:
            claimed.extend(result)

    threads = [threading.Thread(target=one_tick) for _ in range(THREADS_PER_HOST)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put(claimed)


async def test_concurrent_ticks_on_two_hosts_claim_each_due_flow_once(
    services: Services, storage_connection_string: str, table_prefix: str
) -> None:
    t0 = utcnow()
    scheduled = [e.flow_id for e in services.catalog if e.flow.kind is FlowKind.SCHEDULED]
    for flow_id in scheduled:
        await services.flows.patch(flow_id, {"shift_ms": 0})
        await services.flows.start(flow_id, t0)
    now = t0 + timedelta(seconds=1)

    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(2 * THREADS_PER_HOST)
    out = ctx.Queue()
    hosts = [
        ctx.Process(
            target=_host,
            args=(storage_connection_string, table_prefix, now, barrier, out),
            name=f"host-{name}",
        )
        for name in ("a", "b")
    ]
    for p in hosts:
        p.start()
    claimed = [run for _ in hosts for run in out.get(timeout=120)]
    for p in hosts:
        p.join(timeout=30)
        assert p.exitcode == 0

    flows_claimed = sorted(run_id.rsplit(".", 1)[0] for run_id in claimed)
    assert flows_claimed == sorted(scheduled), "each due flow exactly once across all ticks"
    for flow_id in scheduled:
        assert len(await services.flows.runs.list(flow_id)) == 1
    messages = await queued_runs(services)
    assert sorted(m.run_id for m in messages) == sorted(claimed)
