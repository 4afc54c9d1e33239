"""One worker process creating Intacct customers through the deployment-wide limit, as a
scaled-out Functions instance would: its own client, connection pool and in-process
limiter, and the lease rows in Table storage shared with the other workers
(shared/limits). For tests/limits/test_deployment_limits.py and bench/intacct_bench.py.

    AzureWebJobsStorage=<connection string> python -m sandbox.intacct_worker '<json WorkerJob>'

Prints one JSON line: WorkerReport.
"""

from __future__ import annotations

import asyncio
import sys
import time

from azure.data.tables.aio import TableClient
from pydantic import BaseModel

from shared.connectors.intacct import Call, IntacctClient, IntacctConfig, IntacctSync
from shared.connectors.intacct import functions as fn
from shared.connectors.retry import RetryPolicy
from shared.limits import DeploymentLimits, LeaseSemaphore
from shared.settings import Settings


class WorkerJob(BaseModel):
    endpoint: str
    table: str
    worker: str  # this worker's name, also the prefix of its customer ids
    records: int = 20
    per_request: int = 1
    tasks: int = 2  # concurrent callers in this worker (as concurrent invocations)
    max_in_flight: int = 2
    shared: bool = True  # False: the in-process limiter alone (the bench's comparison)


class WorkerReport(BaseModel):
    worker: str
    records: int
    requests: int
    throttled: int  # 429 GW-0010 answers this worker saw (each retried)
    lease_waits: int
    started_at: float  # wall clock, so a bench can take the span over all workers
    ended_at: float


def _config(job: WorkerJob) -> IntacctConfig:
    return IntacctConfig(
        endpoint=job.endpoint,
        sender_id="SHUTTLE_SANDBOX",
        sender_password="sandbox-sender-password",  # noqa: S106 (the emulator's sandbox default)
        company_id="SANDBOX",
        user_id="ws_shuttle",
        user_password="sandbox-user-password",  # noqa: S106
        max_in_flight=job.max_in_flight,
        timeout_s=30.0,
        retry=RetryPolicy(attempts=20, base_delay_s=0.05, max_delay_s=0.5, total_s=120.0),
    )


async def run(job: WorkerJob) -> WorkerReport:
    # From the app settings (AzureWebJobsStorage), as the Functions host gives them: never
    # on the command line.
    storage = Settings().storage_connection
    if storage is None:
        raise SystemExit("set AzureWebJobsStorage")
    table = TableClient.from_connection_string(storage.get_secret_value(), job.table)
    sync = IntacctSync(IntacctClient(_config(job)))
    if job.shared:
        DeploymentLimits(table).attach(sync)
    client = sync.client
    batches = [
        [
            Call(
                fn.create("CUSTOMER", {"CUSTOMERID": f"{job.worker}-{n:06}", "NAME": f"{n}"}),
                "create CUSTOMER",
                record=str(n),
            )
            for n in range(start, min(start + job.per_request, job.records))
        ]
        for start in range(0, job.records, job.per_request)
    ]
    requests = 0
    started = time.time()
    try:
        await client.check()

        async def caller() -> None:
            nonlocal requests
            while batches:
                batch = batches.pop()
                results = await client.execute(batch)
                requests += 1
                failed = [r for r in results if not r.ok]
                if failed:
                    raise RuntimeError(f"{len(failed)} creates failed: {failed[0].errors}")

        await asyncio.gather(*(caller() for _ in range(job.tasks)))
    finally:
        await sync.aclose()
        await table.close()
    gate = client.gate
    return WorkerReport(
        worker=job.worker,
        records=job.records,
        requests=requests,
        throttled=client.limiter.throttled_count,
        lease_waits=gate.waits if isinstance(gate, LeaseSemaphore) else 0,
        started_at=started,
        ended_at=time.time(),
    )


def main() -> int:
    job = WorkerJob.model_validate_json(sys.argv[1])
    print(asyncio.run(run(job)).model_dump_json(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
