"""Creatio connector throughput against the emulator: records/s for incremental reads and for
single vs batched creates, with no added latency and with a small one, plus achieved rate
under a request-rate limit. Prints figures; asserts nothing about timings.

    .venv/bin/python bench/creatio_bench.py [--records 5000] [--latency-ms 0 10]

The emulator runs as its own process (`python -m sandbox.emulators.creatio`) so it does not
share the client's interpreter.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.emulator_process import EmulatorProcess  # noqa: E402
from shared.connectors.creatio import CreatioClient, CreatioConfig  # noqa: E402
from shared.connectors.retry import RetryPolicy  # noqa: E402


class Emulator(EmulatorProcess):
    def __init__(self) -> None:
        super().__init__("creatio")

    def seed_accounts(self, count: int) -> None:
        # Ten records share each ModifiedOn, as after a bulk import.
        rows = [
            {
                "Id": str(uuid.uuid4()),
                "Name": f"seed {i}",
                "ModifiedOn": f"2024-05-01T10:{i // 600 % 60:02d}:{i // 10 % 60:02d}.1234567Z",
            }
            for i in range(count)
        ]
        for start in range(0, count, 5000):
            self.seed({"Account": rows[start : start + 5000]})


def _client(url: str, **overrides: object) -> CreatioClient:
    values: dict[str, object] = {
        "url": url,
        "username": "Supervisor",
        "password": "Supervisor",
        "retry": RetryPolicy(attempts=30, total_s=600),
        **overrides,
    }
    return CreatioClient(CreatioConfig(**values))  # type: ignore[arg-type]


async def bench_read(url: str, count: int, page_size: int) -> float:
    async with _client(url, page_size=page_size) as client:
        await client.check()
        started = time.perf_counter()
        seen = 0
        async for _ in client.read_changes("Account", "2024-01-01T00:00:00Z"):
            seen += 1
        elapsed = time.perf_counter() - started
    assert seen == count, (seen, count)
    return seen / elapsed


async def bench_single(url: str, count: int, in_flight: int) -> float:
    async with _client(url, max_in_flight=in_flight) as client:
        await client.check()
        started = time.perf_counter()
        await asyncio.gather(*(client.create("Contact", {"Name": f"s{i}"}) for i in range(count)))
        return count / (time.perf_counter() - started)


async def bench_batched(url: str, count: int) -> float:
    async with _client(url) as client:
        await client.check()
        started = time.perf_counter()
        outcomes = await client.create_many(
            "Contact", [(None, {"Name": f"b{i}"}) for i in range(count)]
        )
        elapsed = time.perf_counter() - started
    assert all(o.ok for o in outcomes)
    return count / elapsed


async def bench_rate_limited(url: str, count: int, limit: float) -> float:
    async with _client(url, max_in_flight=8) as client:
        await client.check()
        started = time.perf_counter()
        await asyncio.gather(*(client.create("Contact", {"Name": f"r{i}"}) for i in range(count)))
        return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5000, help="records seeded for reads")
    parser.add_argument("--creates", type=int, default=1000, help="records created per run")
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[0.0, 10.0])
    parser.add_argument(
        "--rate-limit", type=float, default=200.0, help="requests/s for the limit run"
    )
    args = parser.parse_args()
    logging.getLogger("shuttle.connectors.creatio").setLevel(logging.ERROR)  # no retry chatter
    emulator = Emulator()
    try:
        print(f"Creatio connector vs emulator ({emulator.url}); records/s, higher is better")
        print(f"{'latency':>8}  {'scenario':<44} {'records/s':>10}")
        for latency in args.latency_ms:
            knobs = {"latency_ms": latency}
            emulator.reset(**knobs)
            emulator.seed_accounts(args.records)
            for page in (500, 5000):
                rate = asyncio.run(bench_read(emulator.url, args.records, page))
                label = f"incremental read, {args.records} records, page {page}"
                print(f"{latency:>6.0f}ms  {label:<44} {rate:>10.0f}")
            for in_flight in (1, 8):
                emulator.reset(**knobs)
                rate = asyncio.run(bench_single(emulator.url, args.creates, in_flight))
                label = f"single creates, {in_flight} in flight"
                print(f"{latency:>6.0f}ms  {label:<44} {rate:>10.0f}")
            emulator.reset(**knobs)
            rate = asyncio.run(bench_batched(emulator.url, args.creates))
            print(f"{latency:>6.0f}ms  {'batched creates, 100 per $batch':<44} {rate:>10.0f}")
        emulator.reset(rate_limit_per_s=args.rate_limit, rate_limit_burst=10)
        count = int(args.rate_limit * 20)
        rate = asyncio.run(bench_rate_limited(emulator.url, count, args.rate_limit))
        stats = emulator.stats()
        label = f"single creates under a {args.rate_limit:.0f}/s limit"
        print(
            f"{0:>6.0f}ms  {label:<44} {rate:>10.0f}"
            f"  ({rate / args.rate_limit:.0%} of the limit, {stats['throttled']} x 429"
            f" for {count} records)"
        )
    finally:
        emulator.stop()


if __name__ == "__main__":
    main()
