"""Four worker processes, each with its own Intacct client, connection pool and in-process
limiter, against one emulated company that allows 2 requests at a time: together, through
the lease rows in the session's Azurite, they never send a third (the emulator counts every
request it sees at once, refused ones included)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from azure.data.tables.aio import TableClient

from sandbox.emulators.intacct import Options
from sandbox.intacct_worker import WorkerJob, WorkerReport
from tests.support.intacct import running_intacct

ROOT = Path(__file__).resolve().parents[2]
WORKERS, RECORDS = 4, 12


async def _worker(job: WorkerJob, storage: str) -> WorkerReport:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sandbox.intacct_worker",
        job.model_dump_json(),
        cwd=ROOT,
        env={**os.environ, "AzureWebJobsStorage": storage},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 240)
    assert process.returncode == 0, err.decode()[-2000:]
    return WorkerReport.model_validate_json(out.decode().strip().splitlines()[-1])


async def test_four_workers_keep_to_the_companys_two_requests_in_flight(
    limits_table: TableClient, storage_connection_string: str
) -> None:
    with running_intacct(Options(max_concurrent=2)) as intacct:
        intacct.admin.knobs(latency_ms=30)  # long enough for the workers' requests to overlap
        reports = await asyncio.gather(
            *(
                _worker(
                    WorkerJob(
                        endpoint=intacct.endpoint,
                        table=limits_table.table_name,
                        worker=f"W{n}",
                        records=RECORDS,
                        tasks=2,
                    ),
                    storage_connection_string,
                )
                for n in range(WORKERS)
            )
        )
        stats = intacct.admin.stats()
        assert len(intacct.admin.rows("CUSTOMER")) == WORKERS * RECORDS
    assert stats["gateway_rejected"] == 0  # no GW-0010
    assert stats["gateway_in_flight_max"] <= 2
    assert sum(r.throttled for r in reports) == 0
    # The workers did contend for the two slots: each had to wait for one at times.
    assert sum(r.lease_waits for r in reports) > 0
    assert [row async for row in limits_table.list_entities()] == []  # every slot given back
