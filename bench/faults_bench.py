"""The fault suite's scenarios at bench size: for each target, N source records (default
3,000) through the real pipeline with each kind of trouble, the same checks as tests/faults
(duplicates, missing, wrong values, merged shared keys, unclassified failures, counts), and
the time each run took next to the target's run without faults (the recovery time). Prints
figures and a table; asserts nothing about timings. Exits 1 when a scenario broke a rule.

    .venv/bin/python bench/faults_bench.py [--records 3000] [--targets intacct,dataverse,creatio]
        [--scenarios "5xx 15%,429 storm"] [--storm 200] [--client-timeout 0.5]

Azurite runs as its own process (in memory, free ports); the emulators run in this process's
threads, as in the tests. SIGTERM or Ctrl-C stops Azurite and every emulator it started.
Retries use the production policy (shared/connectors/retry.py RetryPolicy); the connectors'
timeout is --client-timeout (the settings' defaults are 30-60 s: at 15 % timeouts they would
measure the timeout, not the recovery).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox.azurite import Azurite, StoragePorts, free_port  # noqa: E402
from tests.faults.harness import (  # noqa: E402
    BASELINE,
    SCENARIOS,
    CreatioTarget,
    DataverseTarget,
    IntacctTarget,
    Report,
    Target,
    run_scenario,
    table,
)
from tests.support import dataverse as dv  # noqa: E402
from tests.support.creatio import running_creatio  # noqa: E402
from tests.support.intacct import running_intacct  # noqa: E402

TARGETS = ("intacct", "dataverse", "creatio")


class Terminated(SystemExit):
    pass


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise Terminated(128 + signum)


async def _bench(args: argparse.Namespace, stack: contextlib.ExitStack, storage: str) -> int:
    creatio = stack.enter_context(running_creatio())
    intacct = stack.enter_context(running_intacct())
    tls_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="faults-bench-")))
    dataverse = stack.enter_context(dv.running_dataverse(tls_dir))
    timeout = args.client_timeout
    targets: dict[str, Target] = {
        "intacct": IntacctTarget(creatio, intacct, timeout),
        "dataverse": DataverseTarget(creatio, dataverse, timeout),
        "creatio": CreatioTarget(creatio, intacct, timeout),
    }
    wanted = [s for s in SCENARIOS if not args.scenarios or s.name in args.scenarios]
    reports: list[Report] = []
    baseline: dict[str, float] = {}
    for name in args.targets:
        target = targets[name]
        for scenario in [BASELINE, *wanted]:
            report = await run_scenario(
                target,
                scenario,
                connection=storage,
                prefix="b" + uuid.uuid4().hex[:12],
                records=args.records,
                storm=args.storm,
                limit_s=args.limit,
            )
            if scenario is BASELINE:
                baseline[name] = report.seconds
            reports.append(report)
            print(table([report], baseline), flush=True)
            for problem in report.problems[:10]:
                print("   -", problem, flush=True)
    print()
    print(
        f"{args.records} records per run; storm {args.storm} x 429 (Retry-After 1); "
        f"client timeout {timeout} s; recovery = seconds - the target's run without faults"
    )
    print(table(reports, baseline))
    return 0 if all(r.clean for r in reports) else 1


async def _until_terminated(
    args: argparse.Namespace, stack: contextlib.ExitStack, storage: str
) -> int:
    """`_bench`, cancelled cleanly by SIGTERM (every task unwinds; then the stack stops the
    emulators and Azurite)."""
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        return await _bench(args, stack, storage)
    except asyncio.CancelledError:
        raise Terminated(128 + signal.SIGTERM) from None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=3000)
    parser.add_argument("--targets", type=lambda v: v.split(","), default=list(TARGETS))
    parser.add_argument("--scenarios", type=lambda v: v.split(","), default=None)
    parser.add_argument("--storm", type=int, default=200)
    parser.add_argument("--client-timeout", type=float, default=0.5)
    parser.add_argument("--limit", type=float, default=3600.0, help="seconds a run may take")
    args = parser.parse_args()
    unknown = set(args.targets) - set(TARGETS)
    if unknown:
        parser.error(f"unknown targets {sorted(unknown)}; choose from {TARGETS}")
    signal.signal(signal.SIGTERM, _terminate)
    with contextlib.ExitStack() as stack:  # unwinds on SIGTERM too: every process stops
        azurite = Azurite(StoragePorts(free_port(), free_port(), free_port()))
        azurite.start()
        stack.callback(azurite.stop)
        started = time.monotonic()
        try:
            code = asyncio.run(_until_terminated(args, stack, azurite.connection_string))
        except (KeyboardInterrupt, Terminated):
            print("\ninterrupted: stopping Azurite and the emulators", file=sys.stderr)
            return 143
        print(f"\ntotal {time.monotonic() - started:.0f} s")
        return code


if __name__ == "__main__":
    sys.exit(main())
