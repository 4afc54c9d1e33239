"""Intacct connector throughput against the emulator: records/s for creates sent several
functions per request vs one function per request, and for incremental reads, with no added
latency and with a small one. Prints figures; asserts nothing about timings.

    .venv/bin/python bench/intacct_bench.py [--records 2000] [--per-request 50]
                                            [--latency-ms 0 20]

The emulator runs as its own process (`python -m sandbox.emulators.intacct`) so it does not
share the client's interpreter. The client keeps Intacct's default of 2 requests in flight.

Several workers against one company (the deployment-wide limit, shared/limits):

    .venv/bin/python bench/intacct_bench.py --workers 4 [--records 500] [--per-request 50]
                                            [--latency-ms 300] [--function-ms 5]

starts Azurite and N worker processes (sandbox/intacct_worker.py), each with its own client
and 2 callers, against one emulated company limited to 2 requests in flight, once with the
shared lease rows and once without (each worker's own limiter only), and prints per run
`workers=<n> requests=<n> gw0010=<n> max_in_flight_seen=<n> records/s=<x>`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from azure.data.tables import TableClient  # noqa: E402

from bench.emulator_process import EmulatorProcess  # noqa: E402
from sandbox.azurite import Azurite, StoragePorts, free_port  # noqa: E402
from sandbox.intacct_worker import WorkerJob, WorkerReport  # noqa: E402
from shared.connectors.intacct import Call, IntacctClient, IntacctConfig, IntacctSync  # noqa: E402
from shared.connectors.intacct import functions as fn  # noqa: E402
from shared.connectors.retry import RetryPolicy  # noqa: E402

GATEWAY = "/ia/xml/xmlgw.phtml"


class Emulator(EmulatorProcess):
    def __init__(self) -> None:
        super().__init__("intacct")


def _config(url: str) -> IntacctConfig:
    return IntacctConfig(
        endpoint=f"{url}{GATEWAY}",
        sender_id="SHUTTLE_SANDBOX",
        sender_password="sandbox-sender-password",  # noqa: S106 (the emulator's sandbox default)
        company_id="SANDBOX",
        user_id="ws_shuttle",
        user_password="sandbox-user-password",  # noqa: S106
        retry=RetryPolicy(attempts=8, base_delay_s=0.05, max_delay_s=1.0),
    )


def _customer(run: str, number: int) -> dict[str, object]:
    return {
        "CUSTOMERID": f"{run}{number:06}",
        "NAME": f"Customer {number} & Co",
        "DISPLAYCONTACT": {"PRINTAS": f"Customer {number}", "EMAIL1": f"c{number}@x.test"},
    }


async def creates(url: str, records: int, per_request: int) -> float:
    """Records/s creating `records` customers, `per_request` create functions per request,
    from as many concurrent tasks as the client's in-flight limit."""
    async with IntacctClient(_config(url)) as client:
        await client.check()
        batches = [
            [
                Call(fn.create("CUSTOMER", _customer("B", n)), "create CUSTOMER")
                for n in range(start, min(start + per_request, records))
            ]
            for start in range(0, records, per_request)
        ]
        queue: asyncio.Queue[list[Call]] = asyncio.Queue()
        for batch in batches:
            queue.put_nowait(batch)

        async def worker() -> None:
            while not queue.empty():
                batch = queue.get_nowait()
                results = await client.execute(batch)
                failed = [r for r in results if not r.ok]
                if failed:
                    raise RuntimeError(f"{len(failed)} creates failed: {failed[0].errors}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(client.config.max_in_flight)))
        return records / (time.perf_counter() - started)


async def reads(url: str, records: int, page_size: int) -> float:
    sync = IntacctSync(IntacctClient(_config(url)))
    try:
        started = time.perf_counter()
        cursor: dict | None = await sync.open_changes(
            "CUSTOMER",
            since=datetime(2000, 1, 1, tzinfo=UTC),
            until=datetime(2100, 1, 1, tzinfo=UTC),
            page_size=page_size,
        )
        seen = 0
        while cursor is not None:
            page = await sync.read_changes(cursor)
            seen += len(page.records)
            cursor = page.cursor
        elapsed = time.perf_counter() - started
    finally:
        await sync.aclose()
    if seen != records:
        raise RuntimeError(f"read {seen} records, expected {records}")
    return seen / elapsed


async def _worker(job: WorkerJob, storage: str) -> WorkerReport | None:
    """A worker's report; None when it failed (without the shared limit, GW-0010 storms can
    outlast its retries)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sandbox.intacct_worker",
        job.model_dump_json(),
        cwd=ROOT,
        env={**os.environ, "AzureWebJobsStorage": storage},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,  # each GW-0010 retry is logged: counted below
    )
    out, _ = await process.communicate()
    if process.returncode != 0:
        return None
    return WorkerReport.model_validate_json(out.decode().strip().splitlines()[-1])


def workers(args: argparse.Namespace) -> None:
    """N worker processes against one emulated company limited to 2 requests in flight."""
    azurite = Azurite(StoragePorts(free_port(), free_port(), free_port()))
    azurite.start()
    emulator = Emulator()
    try:
        latency = args.latency_ms[0]
        print(
            f"Intacct, {args.workers} worker processes x {args.records} customers, "
            f"{args.per_request} functions/request, {latency:.0f} ms/request + "
            f"{args.function_ms:.0f} ms/function, company limit 2 in flight"
        )
        for shared in (True, False):
            emulator.reset(latency_ms=latency)
            emulator.admin.put("/options", json={"function_time_ms": args.function_ms})
            table = f"bench{uuid.uuid4().hex[:8]}limits"
            with TableClient.from_connection_string(azurite.connection_string, table) as t:
                t.create_table()
            jobs = [
                WorkerJob(
                    endpoint=f"{emulator.url}{GATEWAY}",
                    table=table,
                    worker=f"W{n}",
                    records=args.records,
                    per_request=args.per_request,
                    tasks=2,
                    shared=shared,
                )
                for n in range(args.workers)
            ]

            async def run_all(jobs: list[WorkerJob] = jobs) -> list[WorkerReport | None]:
                return await asyncio.gather(*(_worker(j, azurite.connection_string) for j in jobs))

            results = asyncio.run(run_all())
            reports = [r for r in results if r is not None]
            # From the first worker's first request to the last one's end (not the
            # processes' start-up).
            elapsed = max(r.ended_at for r in reports) - min(r.started_at for r in reports)
            stats = emulator.stats()
            records = sum(r.records for r in reports)
            print(
                f"  shared limit {'on ' if shared else 'off'}: workers={args.workers} "
                f"requests={stats['requests']} gw0010={stats['gateway_rejected']} "
                f"max_in_flight_seen={stats['gateway_in_flight_max']} "
                f"records/s={records / elapsed:.1f}"
                + (
                    f" failed_workers={len(results) - len(reports)}"
                    if len(reports) < len(results)
                    else ""
                )
            )
    finally:
        emulator.stop()
        azurite.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--per-request", type=int, default=50)
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[0.0, 20.0])
    parser.add_argument("--workers", type=int, default=0, help="worker processes (0: one client)")
    parser.add_argument("--function-ms", type=float, default=0.0)
    args = parser.parse_args()
    if args.workers:
        workers(args)
        return 0
    emulator = Emulator()
    try:
        print(f"Intacct emulator bench: {args.records} customers, 2 requests in flight")
        for latency in args.latency_ms:
            for per_request in (1, args.per_request):
                emulator.reset(latency_ms=latency)
                rate = asyncio.run(creates(emulator.url, args.records, per_request))
                stats = emulator.stats()
                print(
                    f"  latency {latency:>4.0f} ms  create, {per_request:>3} function(s)/request:"
                    f" {rate:8.0f} records/s  ({stats['requests']} requests, "
                    f"{stats['gateway_rejected']} GW-0010)"
                )
            rate = asyncio.run(reads(emulator.url, args.records, 1000))
            print(
                f"  latency {latency:>4.0f} ms  read changes (query + read, 1000/page):"
                f" {rate:8.0f} records/s"
            )
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
