"""Dataverse connector throughput against the emulator's service protection: achieved
requests/s as a percentage of the configured request limit, and records/s, for single
upserts vs `$batch` (change sets of upserts), plus the share of 429 answers. Prints figures;
asserts nothing about timings.

    .venv/bin/python bench/dataverse_bench.py [--window 2] [--max-requests 100]
        [--windows 8] [--batch-size 100] [--latency-ms 5]

Both emulators (identity provider and Dataverse) run over HTTPS with a throw-away sandbox
CA, in threads of this process with their own event loops. The sliding window starts empty,
so the first window's requests go through at once: the run spans several windows
(`--windows`) to keep that burst a small part of the figure.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox.emulators.dataverse import Options  # noqa: E402
from sandbox.emulators.dataverse import create_app as create_dataverse  # noqa: E402
from sandbox.emulators.identity import create_app as create_identity  # noqa: E402
from sandbox.emulators.server import EmulatorServer  # noqa: E402
from sandbox.tls import ensure_tls  # noqa: E402
from shared.connectors.dataverse import (  # noqa: E402
    BatchOperation,
    ChangeSet,
    DataverseClient,
    DataverseConfig,
)
from tests.support.dataverse import Admin  # noqa: E402

TENANT, CLIENT_ID, SECRET = (
    "shuttle-sandbox",
    "00000000-0000-0000-0000-00000000a11c",
    "sandbox-client-secret",
)


def _config(url: str, authority: str, ca: str, window_s: float) -> DataverseConfig:
    return DataverseConfig(
        url=url,
        tenant_id=TENANT,
        client_id=CLIENT_ID,
        client_secret=SECRET,
        authority_host=authority,
        ca_file=ca,
        limit_window_s=window_s,
    )


async def _singles(client: DataverseClient, count: int, prefix: str) -> None:
    await asyncio.gather(
        *(
            client.upsert(
                "accounts", {"shuttle_creatioaccountid": f"{prefix}{n}"}, {"name": f"A{n}"}
            )
            for n in range(count)
        )
    )


async def _batches(client: DataverseClient, count: int, size: int, prefix: str) -> None:
    def operation(n: int) -> BatchOperation:
        url = f"accounts(shuttle_creatioaccountid='{prefix}{n}')"
        return BatchOperation(method="PATCH", url=url, body={"name": f"A{n}"})

    chunks = [range(start, min(start + size, count)) for start in range(0, count, size)]
    results = await asyncio.gather(
        *(client.batch([ChangeSet(operations=[operation(n) for n in chunk])]) for chunk in chunks)
    )
    failed = sum(1 for batch in results for r in batch if not r.ok)
    if failed:
        raise SystemExit(f"{failed} batch operations failed")


async def _run(args: argparse.Namespace, url: str, authority: str, ca: str, admin: Admin) -> None:
    limit = args.max_requests / args.window
    print(
        f"service protection: {args.max_requests} requests / {args.window:g} s window "
        f"= {limit:g} requests/s; latency {args.latency_ms:g} ms; client concurrency 52"
    )
    requests = args.max_requests * args.windows
    for label, records in (
        ("single upserts", requests),
        (f"$batch of {args.batch_size}", requests * args.batch_size),
    ):
        admin.reset()
        admin.limits(window_s=args.window, max_requests=args.max_requests)
        admin.knobs(latency_ms=args.latency_ms)
        async with DataverseClient(_config(url, authority, ca, args.window)) as client:
            await client.check()  # token and first budget outside the timing
            admin.limits(window_s=args.window, max_requests=args.max_requests)
            started = time.perf_counter()
            if label == "single upserts":
                await _singles(client, records, "s")
            else:
                await _batches(client, records, args.batch_size, "b")
            elapsed = time.perf_counter() - started
            answers, throttled = client.answers - 1, client.protection.throttled
        written = admin.stats()["rows"]["account"]
        protection = admin.stats()["protection"]
        accepted = protection["accepted"]
        rate = accepted / elapsed
        print(
            f"{label:>18}: {written} records in {elapsed:.1f} s = {written / elapsed:,.0f} "
            f"records/s; {rate:.1f} requests/s = {rate / limit:.0%} of the limit; "
            f"429s {throttled}/{answers} = {throttled / max(answers, 1):.1%} "
            f"{protection['throttled'] or ''}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=float, default=2.0, help="window length, seconds")
    parser.add_argument("--max-requests", type=int, default=100, help="requests per window")
    parser.add_argument("--windows", type=int, default=8, help="windows' worth of requests")
    parser.add_argument("--batch-size", type=int, default=100, help="operations per $batch")
    parser.add_argument("--latency-ms", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        tls = ensure_tls(directory)
        files = {"ssl_certfile": str(tls.cert_path), "ssl_keyfile": str(tls.key_path)}
        with EmulatorServer(create_identity().asgi, name="identity-bench", **files) as identity:
            emulator = create_dataverse(
                Options(identity_url=identity.url, ca_file=str(tls.ca_path))
            )
            with EmulatorServer(emulator.asgi, name="dataverse-bench", **files) as server:
                admin = Admin(server.url, tls.ca_path)
                try:
                    asyncio.run(_run(args, server.url, identity.url, str(tls.ca_path), admin))
                finally:
                    admin.close()


if __name__ == "__main__":
    main()
