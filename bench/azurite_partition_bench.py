"""What a Table operation costs Azurite as a partition grows (why a chunk's outcome rows have
partitions of their own: shared/storage/outcome_store.py). Prints, per partition size, the
time of a 100-row transaction into that partition and into a new one, a query naming 14
RowKeys (an OR, as shared/storage/rows.py sends), a RowKey range query and a point read.
Prints figures; asserts nothing.

    .venv/bin/python bench/azurite_partition_bench.py [--sizes 2000 10000 30000]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from azure.data.tables.aio import TableServiceClient  # noqa: E402

from sandbox.azurite import Azurite, StoragePorts, free_port  # noqa: E402

REPEATS = 3


async def measure(sizes: Sequence[int]) -> None:
    azurite = Azurite(StoragePorts(free_port(), free_port(), free_port()))
    azurite.start()
    try:
        async with TableServiceClient.from_connection_string(azurite.connection_string) as svc:
            table = await svc.create_table("partitionbench")
            async with table:
                have = 0
                for size in sizes:
                    for start in range(have, size, 100):
                        rows = [
                            {"PartitionKey": "p", "RowKey": f"k{n:06d}"}
                            for n in range(start, min(start + 100, size))
                        ]
                        await table.submit_transaction([("upsert", r) for r in rows])
                    have = size
                    started = time.perf_counter()
                    for rep in range(REPEATS):
                        rows = [
                            {"PartitionKey": "p", "RowKey": f"z{size}-{rep}-{n:03d}"}
                            for n in range(100)
                        ]
                        await table.submit_transaction([("upsert", r) for r in rows])
                    big = (time.perf_counter() - started) / REPEATS
                    started = time.perf_counter()
                    for rep in range(REPEATS):
                        rows = [
                            {"PartitionKey": f"new{size}-{rep}", "RowKey": f"z{n:03d}"}
                            for n in range(100)
                        ]
                        await table.submit_transaction([("upsert", r) for r in rows])
                    small = (time.perf_counter() - started) / REPEATS
                    keys = [f"k{n:06d}" for n in range(0, size, max(1, size // 14))][:14]
                    either = " or ".join(f"RowKey eq '{k}'" for k in keys)
                    timings: dict[str, float] = {}
                    ranged = "PartitionKey eq 'p' and RowKey gt 'k000100' and RowKey lt 'k000200'"
                    for name, query in (
                        ("OR of 14 RowKeys", f"PartitionKey eq 'p' and ( {either} )"),
                        ("RowKey range", ranged),
                    ):
                        started = time.perf_counter()
                        for _ in range(REPEATS):
                            _ = [r async for r in table.query_entities(query)]
                        timings[name] = (time.perf_counter() - started) / REPEATS
                    started = time.perf_counter()
                    for key in keys:
                        await table.get_entity("p", key)
                    point = (time.perf_counter() - started) / len(keys)
                    or_ms = timings["OR of 14 RowKeys"] * 1000
                    range_ms = timings["RowKey range"] * 1000
                    print(
                        f"partition of {size} rows: 100-row transaction into it "
                        f"{big * 1000:.0f} ms, into a new partition {small * 1000:.0f} ms; "
                        f"query with an OR of 14 RowKeys {or_ms:.0f} ms, RowKey range query "
                        f"{range_ms:.0f} ms, point read {point * 1000:.1f} ms",
                        flush=True,
                    )
    finally:
        azurite.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 10_000, 30_000])
    args = parser.parse_args()

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt  # unwinds the `finally`: Azurite stops

    signal.signal(signal.SIGTERM, stop)
    asyncio.run(measure(sorted(args.sizes)))


if __name__ == "__main__":
    main()
