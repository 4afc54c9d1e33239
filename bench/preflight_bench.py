"""What a preflight of both solutions costs: requests per system and wall time, against the
three emulators (optionally with latency per request). Prints figures; asserts nothing.
Requests are those the system itself answers (Creatio's login included; Dataverse's token
comes from the identity provider and is not counted).

    .venv/bin/python bench/preflight_bench.py [--latency-ms 0] [--rounds 3]

The emulators run in threads of this process (Dataverse and the identity provider over HTTPS
with a throw-away sandbox CA). Each round is a full preflight with fresh clients (a login or
token each), as `shuttle check` does.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shared.connectors.creatio.client import CreatioClient  # noqa: E402
from shared.connectors.dataverse.client import DataverseClient  # noqa: E402
from shared.connectors.intacct.client import IntacctClient  # noqa: E402
from shared.flows.catalog import load_catalog  # noqa: E402
from shared.preflight.service import PreflightService  # noqa: E402
from tests.support import creatio, intacct  # noqa: E402
from tests.support import dataverse as dv  # noqa: E402

SOLUTIONS = ["creatio-intacct", "creatio-dynamics"]


async def one_round(c: Any, i: Any, d: Any) -> bool:
    clients = {
        "creatio": CreatioClient(creatio.config(c.url)),
        "intacct": IntacctClient(intacct.config(i.endpoint)),
        "dataverse": DataverseClient(dv.config(d)),
    }

    async def client_of(system: str) -> Any:
        return clients[system]

    try:
        report = await PreflightService(load_catalog(SOLUTIONS), client_of).run(datetime.now(UTC))
    finally:
        for client in clients.values():
            await client.aclose()
    return report.ok


def requests(admin: Any) -> int:
    return sum(admin.http.get("/calls").json()["calls"].values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with (
        creatio.running_creatio() as c,
        intacct.running_intacct() as i,
        dv.running_dataverse(Path(tempfile.mkdtemp())) as d,
    ):
        admins = {"creatio": c.admin, "intacct": i.admin, "dataverse": d.admin}
        for admin in admins.values():
            admin.reset()
            admin.knobs(latency_ms=args.latency_ms)
        took = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            ok = asyncio.run(one_round(c, i, d))
            took.append(time.perf_counter() - started)
        counts = {system: requests(admin) / args.rounds for system, admin in admins.items()}
    print(f"preflight of {', '.join(SOLUTIONS)}: passed={ok}, latency {args.latency_ms:g} ms")
    for system, count in counts.items():
        print(f"  {system}: {count:g} requests per preflight")
    print(f"  wall time per preflight: best {min(took):.2f} s, worst {max(took):.2f} s")


if __name__ == "__main__":
    main()
