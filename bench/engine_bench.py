"""End-to-end engine figures: the whole pipeline (extract → flow-runs → record-upserts → upsert
→ bind) on a real Azurite, with the emulators as their own processes. Prints figures; asserts
nothing about timings.

    .venv/bin/python bench/engine_bench.py throughput [--records 10000]
    .venv/bin/python bench/engine_bench.py memory [--sizes 10000 100000]
    .venv/bin/python bench/engine_bench.py dataverse [--records 1000] [--limit 50] [--window 10]

throughput  Creatio accounts → Intacct customers, zero-latency emulators: records/s, and the
            Intacct requests it took (the connector keeps 2 in flight, Intacct's default).
memory      peak RSS of the worker process for one bulk window of N Creatio accounts, each size
            in a fresh process, into a target that only counts (so the figure is the
            pipeline's, not a target's store): it must not grow with N.
dataverse   Creatio accounts → Dataverse accounts against a Dataverse emulator enforcing a
            service-protection limit of --limit requests per second: the request rate achieved
            as a share of the limit, and the share of 429 answers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import resource
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.emulator_process import EmulatorProcess  # noqa: E402
from sandbox.azurite import Azurite, StoragePorts, free_port  # noqa: E402
from sandbox.pump import Pump  # noqa: E402
from shared.connectors.protocol import SourceRef, SyncRecord, WriteOutcome  # noqa: E402
from shared.flows.models import RunParams  # noqa: E402
from shared.flows.service import RunRequest  # noqa: E402
from shared.runtime import Services  # noqa: E402
from shared.settings import Settings  # noqa: E402

SENDER, SENDER_PASSWORD = "SHUTTLE_SANDBOX", "sandbox-sender-password"
COMPANY, USER, USER_PASSWORD = "SANDBOX", "ws_shuttle", "sandbox-user-password"


class Emulator(EmulatorProcess):
    pass


class CountingTarget:
    """A target that keeps nothing: finds nothing, creates by counting."""

    system = "intacct"

    def __init__(self) -> None:
        self.created = 0

    async def check(self) -> None: ...

    async def aclose(self) -> None: ...

    async def count_changes(self, object: str, *, since: datetime, until: datetime) -> int:
        return 0

    async def open_changes(self, object: str, **kw: Any) -> dict[str, Any]:
        return {}

    async def read_changes(self, cursor: Mapping[str, Any]) -> Any:
        raise NotImplementedError

    async def get(self, object: str, id: str, **kw: Any) -> SyncRecord | None:
        return None

    async def find(self, object: str, criteria: Mapping[str, Any], **kw: Any) -> list[SyncRecord]:
        return []

    async def create(
        self, object: str, values: Mapping[str, Any], *, source: SourceRef
    ) -> WriteOutcome:
        self.created += 1
        return WriteOutcome(id=str(uuid.uuid5(uuid.NAMESPACE_URL, source.key)), created=True)

    async def update(self, object: str, id: str, values: Mapping[str, Any]) -> WriteOutcome:
        return WriteOutcome(id=id, created=False)


def settings(azurite: Azurite, creatio: Emulator, intacct: Emulator | None) -> Settings:
    values = {
        "AzureWebJobsStorage": azurite.connection_string,
        "SHUTTLE_TABLE_PREFIX": "b" + uuid.uuid4().hex[:10],
        "SHUTTLE_SOLUTIONS": "creatio-intacct",
        "CREATIO_URL": creatio.url,
        "CREATIO_USERNAME": "Supervisor",
        "CREATIO_PASSWORD": "Supervisor",
    }
    if intacct is not None:
        values |= {
            "INTACCT_ENDPOINT": f"{intacct.url}/ia/xml/xmlgw.phtml",
            "INTACCT_SENDER_ID": SENDER,
            "INTACCT_SENDER_PASSWORD": SENDER_PASSWORD,
            "INTACCT_COMPANY_ID": COMPANY,
            "INTACCT_USER_ID": USER,
            "INTACCT_USER_PASSWORD": USER_PASSWORD,
        }
    return Settings.model_validate(values)


def seed_accounts(creatio: Emulator, count: int, modified: datetime) -> None:
    stamp = modified.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"
    for start in range(0, count, 5000):
        rows = [
            {"Name": f"Bench account {n:06d}", "ModifiedOn": stamp}
            for n in range(start, min(start + 5000, count))
        ]
        creatio.seed({"Account": rows})


async def progress(services: Services, run_id: str, started: float, out: Any) -> None:
    """A line every 30 s (settled records and the rate so far), so a run cut short still
    says how far it got and whether it slowed down."""
    while True:
        await asyncio.sleep(30)
        counts = (await services.engine.outcomes.tally(run_id)).counts
        settled = counts.read - counts.pending
        elapsed = time.perf_counter() - started
        print(
            f"  ... {elapsed:.0f} s: {settled} settled of {counts.read} read "
            f"({settled / elapsed:.1f} records/s so far)",
            file=out,
            flush=True,
        )


async def throughput(records: int) -> None:
    azurite = Azurite(StoragePorts(free_port(), free_port(), free_port()))
    azurite.start()
    creatio, intacct = Emulator("creatio"), Emulator("intacct")
    try:
        seed_accounts(creatio, records, datetime.now(UTC))
        services = await Services.create(settings(azurite, creatio, intacct))
        started = time.perf_counter()
        run = await services.flows.run_now(
            "creatio-intacct.accounts-to-intacct", RunRequest(), datetime.now(UTC)
        )
        ticker = asyncio.create_task(progress(services, run.id, started, sys.stdout))
        done = await Pump(services, concurrency=32).run_finished(run.id, limit_s=3600)
        ticker.cancel()
        elapsed = time.perf_counter() - started
        stats = intacct.stats()
        await services.close()
        print(
            f"throughput: {records} accounts in {elapsed:.1f} s = {records / elapsed:.0f} "
            f"records/s end to end; run counts {done.counts.model_dump()}"
        )
        print(
            f"  intacct: {stats.get('requests')} requests, functions {stats.get('functions')}, "
            f"max in flight {stats.get('gateway_in_flight_max')}, "
            f"GW-0010 {stats.get('gateway_rejected')}"
        )
    finally:
        creatio.stop()
        intacct.stop()
        azurite.stop()


async def memory_child(size: int) -> dict[str, Any]:
    azurite = Azurite(StoragePorts(free_port(), free_port(), free_port()))
    azurite.start()
    creatio = Emulator("creatio")
    target = CountingTarget()
    try:
        since = datetime.now(UTC) - timedelta(hours=1)
        seed_accounts(creatio, size, since + timedelta(minutes=1))
        factory = None

        def build(system: str, s: Settings) -> Any:
            from shared.engine.connections import build_connector

            return target if system == "intacct" else build_connector(system, s)

        factory = build
        services = await Services.create(settings(azurite, creatio, None), factory=factory)
        baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        request = RunRequest(
            window_from=since, window_to=datetime.now(UTC), params=RunParams(batch_size=1000)
        )
        run = await services.flows.run_now(
            "creatio-intacct.bulk-accounts-to-intacct", request, datetime.now(UTC)
        )
        # Progress on stderr: stdout carries the one JSON line the parent reads.
        ticker = asyncio.create_task(progress(services, run.id, started, sys.stderr))
        done = await Pump(services, concurrency=32).run_finished(run.id, limit_s=7200)
        ticker.cancel()
        elapsed = time.perf_counter() - started
        await services.close()
        return {
            "size": size,
            "created": done.counts.created,
            "seconds": round(elapsed, 1),
            "baseline_mib": baseline / 1024,
            "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    finally:
        creatio.stop()
        azurite.stop()


def memory(sizes: Sequence[int]) -> None:
    for size in sizes:
        out = subprocess.run(
            [sys.executable, __file__, "memory-child", "--size", str(size)],
            cwd=ROOT,
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"memory: bulk window of {result['size']} accounts ({result['created']} written, "
            f"{result['seconds']} s): peak RSS {result['peak_mib']:.0f} MiB "
            f"(after start-up {result['baseline_mib']:.0f} MiB)"
        )


async def dataverse_limit(records: int, limit: int, window: float) -> None:
    import tempfile

    from shared.connectors.dataverse import DataverseClient
    from shared.connectors.dataverse.sync import DataverseSync
    from shared.engine.connections import build_connector
    from tests.support import dataverse as dv

    azurite = Azurite(StoragePorts(free_port(), free_port(), free_port()))
    azurite.start()
    creatio = Emulator("creatio")
    try:
        with tempfile.TemporaryDirectory() as tls, dv.running_dataverse(Path(tls)) as running:
            # The real rule is 6000 requests per 300 s; a shorter window keeps the bench short.
            running.admin.limits(window_s=window, max_requests=round(limit * window))
            seed_accounts(creatio, records, datetime.now(UTC))

            def build(system: str, s: Settings) -> Any:
                if system == "dataverse":
                    config = dv.config(running, limit_window_s=window)
                    return DataverseSync(DataverseClient(config))
                return build_connector(system, s)

            base = settings(azurite, creatio, None).model_dump(by_alias=True)
            base |= {
                "SHUTTLE_SOLUTIONS": "creatio-dynamics",
                "AzureWebJobsStorage": azurite.connection_string,
                "CREATIO_PASSWORD": "Supervisor",
            }
            services = await Services.create(Settings.model_validate(base), factory=build)
            samples: list[tuple[float, int]] = []

            async def sample() -> None:  # accepted requests over time, for the steady rate
                while True:
                    stats = await asyncio.to_thread(running.admin.stats)
                    samples.append((time.perf_counter(), stats["protection"]["accepted"]))
                    await asyncio.sleep(0.5)

            sampler = asyncio.create_task(sample())
            started = time.perf_counter()
            run = await services.flows.run_now(
                "creatio-dynamics.accounts-to-dataverse", RunRequest(), datetime.now(UTC)
            )
            done = await Pump(services, concurrency=32).run_finished(run.id, limit_s=3600)
            elapsed = time.perf_counter() - started
            sampler.cancel()
            await services.close()
            protection = running.admin.stats()["protection"]
        accepted, throttled = protection["accepted"], protection["throttled_total"]
        print(
            f"dataverse: {done.counts.created}/{records} created, {done.counts.failed} failed "
            f"in {elapsed:.1f} s = {records / elapsed:.1f} records/s"
        )
        total = samples[-1][1]
        lo = next(p for p in samples if p[1] >= total * 0.1)
        hi = next(p for p in samples if p[1] >= total * 0.9)
        steady = (hi[1] - lo[1]) / (hi[0] - lo[0]) if hi[0] > lo[0] else float("nan")
        print(
            f"  while writing (10%..90% of requests): {steady:.1f} requests/s = "
            f"{steady / limit:.0%} of the limit"
        )
        print(
            f"  end to end (with start and finish): {accepted / elapsed:.1f} requests/s = "
            f"{accepted / elapsed / limit:.0%} of the {limit}/s limit; 429 answers "
            f"{throttled} = {throttled / (accepted + throttled):.1%} of all answers"
        )
    finally:
        creatio.stop()
        azurite.stop()


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    sub.add_parser("throughput").add_argument("--records", type=int, default=10_000)
    sub.add_parser("memory").add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    sub.add_parser("memory-child").add_argument("--size", type=int, required=True)
    limited = sub.add_parser("dataverse")
    limited.add_argument("--records", type=int, default=1000)
    limited.add_argument("--limit", type=int, default=50, help="requests per second")
    limited.add_argument("--window", type=float, default=10.0, help="window length, seconds")
    args = parser.parse_args()

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt  # unwinds every `finally`: the emulators and Azurite stop

    # bench/pipeline_bench.py stops its memory children with SIGTERM.
    signal.signal(signal.SIGTERM, stop)
    if args.what == "throughput":
        asyncio.run(throughput(args.records))
    elif args.what == "dataverse":
        asyncio.run(dataverse_limit(args.records, args.limit, args.window))
    elif args.what == "memory":
        memory(args.sizes)
    else:
        print(json.dumps(asyncio.run(memory_child(args.size))))


if __name__ == "__main__":
    main()
