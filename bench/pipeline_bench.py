"""The batched pipeline end to end (issue 15): Azurite, the flow-runs and record-upserts
queues worked as the host would (sandbox/pump.py), the emulators as their own processes.
One line per run, ending in
`records/s=<x> vendor_requests_per_record=<y> storage_requests_per_record=<z> lost=<n>
duplicates=<n>`. Prints figures; asserts nothing.

    .venv/bin/python bench/pipeline_bench.py intacct [--records 10000] [--latency-ms 300]
    .venv/bin/python bench/pipeline_bench.py dataverse [--records 10000] [--execution-ms 400]
    .venv/bin/python bench/pipeline_bench.py memory [--sizes 10000 100000]
    .venv/bin/python bench/pipeline_bench.py creatio [--records 1000] [--latency-ms 300]

intacct    Creatio accounts -> Intacct customers; the Intacct emulator answers each request
           after --latency-ms (its `latency_ms` knob, sandbox/emulators/knobs.py) and lets 2
           requests in flight (Intacct's default).
dataverse  Creatio accounts -> Dataverse accounts against the emulator's service-protection
           limits scaled down (per --window: --limit requests/s, --execution-ms of execution
           per second, --concurrent at once; the real ones are 20/s, 4000 ms/s and 52 over
           300 s) with --operation-ms of server time per operation (a `$batch` of 100 takes
           100 of them): the binding limit (the one used most) and the share of it used in
           the steady state (sandbox/emulators/dataverse/protection.py `usage`), the 429s.
memory     peak RSS of one bulk window per size, each in a fresh process (bench/engine_bench.py).
creatio    Intacct customers -> Creatio accounts (creatio-intacct.customers-to-creatio): the
           Creatio emulator answers each request after --latency-ms; vendor requests are
           Creatio's OData requests (its sign-in left out).

Storage requests are every HTTP request the worker sends to Azurite (tables and queues),
counted at the Azure SDK's transport. SIGTERM stops every process the bench started.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from azure.core.pipeline.transport import AioHttpTransport  # noqa: E402
from pydantic import SecretStr  # noqa: E402

from bench.engine_bench import Emulator, progress, seed_accounts, settings  # noqa: E402
from sandbox.azurite import Azurite, StoragePorts, free_port  # noqa: E402
from sandbox.pump import Pump  # noqa: E402
from shared.flows.models import RunRecord  # noqa: E402
from shared.flows.service import RunRequest  # noqa: E402
from shared.runtime import Services  # noqa: E402
from shared.settings import Settings  # noqa: E402

GATEWAY = "/ia/xml/xmlgw.phtml"
PREFIX_LENGTH = 11  # "b" + 10 hex digits: bench/engine_bench.py, settings
_storage_requests = 0
_storage_kinds: collections.Counter[str] = collections.Counter()
_children: list[subprocess.Popen[str] | asyncio.subprocess.Process] = []


def _kind(request: Any) -> str:
    """A storage request's kind for --profile: queue, table point read, table query, batch."""
    path = str(request.url).split("?", 1)[0]
    if "/messages" in path:
        return f"queue {request.method}"
    if path.endswith("$batch"):
        return "table transaction"
    table = path.rsplit("/", 1)[-1].split("(", 1)[0][PREFIX_LENGTH:]
    if request.method == "GET":
        return f"{table} point read" if "PartitionKey=" in path else f"{table} query"
    return f"{table} {request.method}"


def count_storage_requests() -> None:
    """Count every request the Azure SDK sends (only Azurite is reached through it here)."""
    real = AioHttpTransport.send

    async def send(self: Any, request: Any, **kwargs: Any) -> Any:
        global _storage_requests
        _storage_requests += 1
        _storage_kinds[_kind(request)] += 1
        return await real(self, request, **kwargs)

    AioHttpTransport.send = send  # type: ignore[method-assign]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def profile(records: int, pids: dict[str, int], before: dict[str, float]) -> None:
    """Where the time went: CPU seconds per process and storage requests per kind."""
    spent = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
    print("  cpu s: " + ", ".join(f"{n}={v:.1f}" for n, v in spent.items()), flush=True)
    kinds = ", ".join(f"{k}={n / records:.3f}" for k, n in sorted(_storage_kinds.items()))
    print(f"  storage requests per record: {kinds}", flush=True)


def failed_deliveries(pump: Pump) -> None:
    """Deliveries that failed and were redelivered (each record still counts once)."""
    if pump.failures:
        print(f"  failed deliveries: {len(pump.failures)}, first: {pump.failures[0][:300]}")


def figures(records: int, seconds: float, vendor: int, names: Sequence[str]) -> str:
    counts = collections.Counter(names)
    expected = {f"Bench account {n:06d}" for n in range(records)}
    lost = len(expected - set(counts))
    duplicates = sum(n - 1 for n in counts.values() if n > 1)
    return (
        f"records/s={records / seconds:.1f} vendor_requests_per_record={vendor / records:.3f} "
        f"storage_requests_per_record={_storage_requests / records:.3f} lost={lost} "
        f"duplicates={duplicates}"
    )


async def intacct(
    records: int,
    latency_ms: float,
    function_ms: float,
    concurrency: int,
    show: bool,
    workers: int = 1,
) -> None:
    azurite = Azurite(StoragePorts(free_port(), free_port(), free_port()))
    azurite.start()
    creatio, target = Emulator("creatio"), Emulator("intacct")
    try:
        target.reset(latency_ms=latency_ms)
        target.admin.put("/options", json={"function_time_ms": function_ms}).raise_for_status()
        seed_accounts(creatio, records, datetime.now(UTC))
        pids = {"azurite": azurite, "creatio": creatio, "intacct": target}
        timed = await timed_run(
            settings(azurite, creatio, target),
            "creatio-intacct.accounts-to-intacct",
            pids,
            concurrency,
            workers,
        )
        stats = target.stats()
        vendor = sum(n for key, n in stats["calls"].items() if GATEWAY in key)
        names = [r["NAME"] for r in target.admin.get("/rows/CUSTOMER").json()["rows"]]
        print(
            f"intacct {records} accounts, {latency_ms:g} ms per request + {function_ms:g} ms "
            f"per function, 2 in flight, {workers} worker process(es): "
            f"{timed.seconds:.1f} s, counts {timed.run.counts.model_dump()}, max in flight "
            f"{stats.get('gateway_in_flight_max')}, GW-0010 {stats.get('gateway_rejected')}: "
            f"{figures(records, timed.seconds, vendor, names)}",
            flush=True,
        )
        timed.report(records, show)
    finally:
        creatio.stop()
        target.stop()
        azurite.stop()


@dataclass
class TimedRun:
    """A finished run, how long it took, and what each process spent on it."""

    run: RunRecord
    seconds: float
    pump: Pump
    pids: dict[str, int]
    cpu_before: dict[str, float]

    def report(self, records: int, show: bool) -> None:
        failed_deliveries(self.pump)
        if show:
            profile(records, self.pids, self.cpu_before)


async def timed_run(
    config: Settings,
    flow_id: str,
    processes: dict[str, Any],
    concurrency: int,
    workers: int = 1,
) -> TimedRun:
    """Run `flow_id` now and work the queues until it ends: in this process, or in `workers`
    worker processes (as scaled-out hosts would). Storage requests are counted from here on;
    `processes` (Azurite and the emulators, by name) have their CPU seconds taken."""
    global _storage_requests
    services = await Services.create(config)
    _storage_requests = 0
    _storage_kinds.clear()
    pids = {"bench": os.getpid()} | {n: p.process.pid for n, p in processes.items()}
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    started = time.perf_counter()
    run = await services.flows.run_now(flow_id, RunRequest(), datetime.now(UTC))
    ticker = asyncio.create_task(progress(services, run.id, started, sys.stderr))
    pump = Pump(services, concurrency=concurrency)
    if workers > 1:
        _storage_requests += await worker_processes(workers, config, run.id, concurrency)
        done = await services.flows.runs.get(run.id)
    else:
        done = await pump.run_finished(run.id, limit_s=7200)
    ticker.cancel()
    seconds = time.perf_counter() - started
    await services.close()
    return TimedRun(done, seconds, pump, pids, cpu_before)


async def worker_processes(count: int, config: Settings, run_id: str, concurrency: int) -> int:
    """Work the run's queues in `count` processes until it ends; their storage requests."""
    own = {
        name: value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        for name, value in config.model_dump(by_alias=True).items()
        if isinstance(value, SecretStr | str | int | float) and not isinstance(value, bool)
    }
    env = os.environ | own | config.connector_environ()
    command = [__file__, "worker", "--run-id", run_id, "--concurrency", str(concurrency)]
    spawned = [
        await asyncio.create_subprocess_exec(
            sys.executable, *command, cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE
        )
        for _ in range(count)
    ]
    _children.extend(spawned)
    total = 0
    for child in spawned:
        out, _ = await child.communicate()
        if child.returncode != 0:
            raise RuntimeError(f"worker process exited with {child.returncode}")
        result = json.loads(out.decode().strip().splitlines()[-1])
        total += result["storage_requests"]
        _storage_kinds.update(result["kinds"])
        for failure in result["failures"][:1]:
            print(f"  a worker's failed delivery: {failure[:300]}")
    return int(total)


async def worker(run_id: str, concurrency: int) -> None:
    """One worker process: the settings from the environment, both queues until the run ends;
    prints its storage requests as JSON."""
    services = await Services.create(Settings())
    try:
        pump = Pump(services, concurrency=concurrency)
        await pump.run_finished(run_id, limit_s=7200)
    finally:
        await services.close()
    result = {"storage_requests": _storage_requests, "kinds": _storage_kinds}
    print(json.dumps(result | {"failures": pump.failures}))


async def dataverse(
    records: int,
    window: float,
    limit: float,
    execution_ms: float,
    concurrent: int,
    operation_ms: float,
    concurrency: int,
) -> None:
    from shared.connectors.dataverse import DataverseClient
    from shared.connectors.dataverse.sync import DataverseSync
    from shared.engine.connections import build_connector
    from tests.support import dataverse as dv

    azurite = Azurite(StoragePorts(free_port(), free_port(), free_port()))
    azurite.start()
    creatio = Emulator("creatio")
    try:
        with tempfile.TemporaryDirectory() as tls, dv.running_dataverse(Path(tls)) as running:
            running.admin.limits(
                window_s=window,
                max_requests=round(limit * window),
                max_execution_ms=execution_ms * window,
                max_concurrent=concurrent,
            )
            running.admin.options(operation_ms=operation_ms)
            seed_accounts(creatio, records, datetime.now(UTC))

            clients: list[Any] = []

            def build(system: str, s: Settings) -> Any:
                if system == "dataverse":
                    config = dv.config(running, limit_window_s=window)
                    clients.append(DataverseClient(config))
                    return DataverseSync(clients[-1])
                return build_connector(system, s)

            values = {
                "AzureWebJobsStorage": azurite.connection_string,
                "SHUTTLE_TABLE_PREFIX": "b" + uuid.uuid4().hex[:10],
                "SHUTTLE_SOLUTIONS": "creatio-dynamics",
                "CREATIO_URL": creatio.url,
                "CREATIO_USERNAME": "Supervisor",
                "CREATIO_PASSWORD": "Supervisor",
            }
            services = await Services.create(Settings.model_validate(values), factory=build)
            global _storage_requests
            _storage_requests = 0
            started = time.perf_counter()
            run = await services.flows.run_now(
                "creatio-dynamics.accounts-to-dataverse", RunRequest(), datetime.now(UTC)
            )
            ticker = asyncio.create_task(progress(services, run.id, started, sys.stderr))
            pump = Pump(services, concurrency=concurrency)
            done = await pump.run_finished(run.id, limit_s=7200)
            ticker.cancel()
            elapsed = time.perf_counter() - started
            await services.close()
            protection = running.admin.stats()["protection"]
            for client in clients:
                pacer = client.protection
                print(
                    f"  client: {pacer.sent} sent, {pacer.paced} waits for room, "
                    f"{pacer.per_operation_s * 1000:.1f} ms per operation, execution limit "
                    f"heard {pacer.execution.heard:.1f} s, most in flight {pacer.max_in_flight}",
                    file=sys.stderr,
                )
            names = [r.get("name") for r in running.admin.rows("account")]
        accepted, throttled = protection["accepted"], protection["throttled_total"]
        answers = accepted + throttled
        usage = protection["usage"]
        print(
            f"dataverse {records} accounts, limits per {window:g} s window: "
            f"{round(limit * window)} requests, {execution_ms * window:g} ms execution, "
            f"{concurrent} at once; {operation_ms:g} ms per operation: {elapsed:.1f} s, counts "
            f"{done.counts.model_dump()}; {binding(usage)}; 429 {throttled / max(1, answers):.1%} "
            f"({throttled} of {answers} answers): "
            f"{figures(records, elapsed, answers, names)}",
            flush=True,
        )
        failed_deliveries(pump)
    finally:
        creatio.stop()
        azurite.stop()


def binding(usage: dict[str, Any]) -> str:
    """The binding limit and the share of it used in the steady state (the emulator's
    `protection.usage`: from one window after the first call to the last answer)."""
    if not usage.get("share"):
        return f"no steady state (the run took {usage.get('span_s', 0)} s, under two windows)"
    units = {"requests": "requests/s", "execution_time": "ms/s", "concurrency": "in flight"}
    name = usage["binding"]
    others = ", ".join(f"{n} {v:.0%}" for n, v in usage["share"].items() if n != name)
    return (
        f"binding limit {name} ({usage['allowed_per_s'][name]:g} {units[name]}): used "
        f"{usage['used_per_s'][name]:.1f} = {usage['share'][name]:.1%} of it over "
        f"{usage['steady_s']:.0f} s (others: {others})"
    )


def seed_customers(intacct: Emulator, count: int) -> None:
    for start in range(0, count, 5000):
        rows = [
            {"CUSTOMERID": f"B{n:06d}", "NAME": f"Bench account {n:06d}", "STATUS": "active"}
            for n in range(start, min(start + 5000, count))
        ]
        intacct.seed({"CUSTOMER": rows})


async def creatio(records: int, latency_ms: float, concurrency: int, show: bool) -> None:
    azurite = Azurite(StoragePorts(free_port(), free_port(), free_port()))
    azurite.start()
    target, source = Emulator("creatio"), Emulator("intacct")
    try:
        target.reset(latency_ms=latency_ms)
        source.reset()
        seed_customers(source, records)
        timed = await timed_run(
            settings(azurite, target, source),
            "creatio-intacct.customers-to-creatio",
            {"azurite": azurite, "creatio": target, "intacct": source},
            concurrency,
        )
        calls = target.stats()["calls"]
        vendor = sum(n for key, n in calls.items() if "/0/odata/" in key)
        batches = calls.get("POST /0/odata/$batch", 0)
        names = [r["Name"] for r in target.admin.get("/rows/Account").json()["rows"]]
        print(
            f"creatio {records} customers -> accounts, {latency_ms:g} ms per Creatio request: "
            f"{timed.seconds:.1f} s, counts {timed.run.counts.model_dump()}, $batch {batches}, "
            f"queries {vendor - batches}: {figures(records, timed.seconds, vendor, names)}",
            flush=True,
        )
        timed.report(records, show)
    finally:
        target.stop()
        source.stop()
        azurite.stop()


def memory(sizes: Sequence[int]) -> None:
    peaks: dict[int, float] = {}
    for size in sizes:
        child = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "bench" / "engine_bench.py"),
                "memory-child",
                "--size",
                str(size),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        _children.append(child)
        out, _ = child.communicate()
        result = json.loads(out.strip().splitlines()[-1])
        peaks[size] = result["peak_mib"]
        print(
            f"memory: bulk window of {size} accounts ({result['created']} written, "
            f"{result['seconds']} s = {size / result['seconds']:.1f} records/s): peak RSS "
            f"{result['peak_mib']:.0f} MiB",
            flush=True,
        )
    if len(peaks) > 1:
        small, large = min(peaks), max(peaks)
        print(f"memory: peak RSS at {large} / at {small} = {peaks[large] / peaks[small]:.2f}x")


def main() -> None:
    logging.basicConfig(level=logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    one = sub.add_parser("intacct")
    one.add_argument("--records", type=int, default=10_000)
    one.add_argument("--latency-ms", type=float, default=300.0)
    one.add_argument("--function-ms", type=float, default=5.0, help="server time per function")
    one.add_argument("--concurrency", type=int, default=4, help="chunks worked at once")
    one.add_argument(
        "--profile", action="store_true", help="CPU seconds per process, storage requests by kind"
    )
    one.add_argument("--workers", type=int, default=1, help="worker processes on the queues")
    hidden = sub.add_parser("worker")
    hidden.add_argument("--run-id", required=True)
    hidden.add_argument("--concurrency", type=int, default=4)
    two = sub.add_parser("dataverse")
    two.add_argument("--records", type=int, default=10_000)
    two.add_argument("--window", type=float, default=10.0, help="the limits' window, s")
    two.add_argument("--limit", type=float, default=20.0, help="requests per second")
    two.add_argument(
        "--execution-ms", type=float, default=400.0, help="execution ms per second of window"
    )
    two.add_argument("--concurrent", type=int, default=52, help="requests at once")
    two.add_argument("--operation-ms", type=float, default=10.0, help="server time per operation")
    two.add_argument("--concurrency", type=int, default=4, help="chunks worked at once")
    sub.add_parser("memory").add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    crm = sub.add_parser("creatio")
    crm.add_argument("--records", type=int, default=1_000)
    crm.add_argument("--latency-ms", type=float, default=300.0, help="per Creatio request")
    crm.add_argument("--concurrency", type=int, default=4, help="chunks worked at once")
    crm.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    def stop(signum: int, frame: Any) -> None:
        for child in _children:
            if child.returncode is None:
                child.terminate()
        raise KeyboardInterrupt  # unwinds every `finally`: emulators and Azurite stop

    signal.signal(signal.SIGTERM, stop)
    count_storage_requests()
    if args.what == "intacct":
        run = intacct(
            args.records,
            args.latency_ms,
            args.function_ms,
            args.concurrency,
            args.profile,
            args.workers,
        )
        asyncio.run(run)
    elif args.what == "worker":
        asyncio.run(worker(args.run_id, args.concurrency))
    elif args.what == "dataverse":
        run = dataverse(
            args.records,
            args.window,
            args.limit,
            args.execution_ms,
            args.concurrent,
            args.operation_ms,
            args.concurrency,
        )
        asyncio.run(run)
    elif args.what == "creatio":
        asyncio.run(creatio(args.records, args.latency_ms, args.concurrency, args.profile))
    else:
        memory(args.sizes)


if __name__ == "__main__":
    main()
