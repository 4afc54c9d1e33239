"""`shuttle check` and `shuttle provision dataverse`: the preflight (shared/preflight) from
the command line, against the systems the settings point at, and the Dataverse provisioning.

`check` prints every missing or mismatched item with the flows that need it and the fix,
caches the result in Table storage when storage answers (the start gate reads it), and
exits 0 when everything is there, 1 otherwise. `make demo` runs it before starting flows.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from sandbox.provision import provision_dataverse
from shared.engine.connections import ConnectorPool
from shared.flows.catalog import load_catalog
from shared.preflight.model import PreflightReport
from shared.preflight.service import PreflightService
from shared.preflight.store import PreflightStore
from shared.settings import Settings, get_settings
from shared.storage.clients import build_storage_clients

log = logging.getLogger("shuttle")


def render(report: PreflightReport) -> str:
    verdict = "passed" if report.ok else "FAILED"
    lines = [f"Preflight {verdict} at {report.checked_at:%Y-%m-%d %H:%M:%S} UTC"]
    for solution in report.solutions:
        lines.append(f"  {solution.solution}: {'ok' if solution.ok else 'not ready'}")
        for system in solution.systems:
            note = f" — {system.message}" if system.message else ""
            lines.append(f"    {system.system}: {system.status} ({system.objects} objects){note}")
        for problem in solution.problems:
            flows = ", ".join(f.split(".", 1)[1] for f in problem.flows)
            lines.append(f"    ✗ {problem.message} [{problem.kind}; flows: {flows}]")
            lines.append(f"      fix: {problem.fix}")
    return "\n".join(lines)


async def run_check(settings: Settings, *, cache: bool = True) -> PreflightReport:
    catalog = load_catalog(settings.solution_ids)
    pool = ConnectorPool(settings)
    storage = build_storage_clients(settings) if cache else None
    table: Any = None
    try:
        if storage is not None:
            table = storage.tables.get_table_client(f"{settings.table_prefix}preflight")

        async def client_of(system: str) -> Any:
            return (await pool.get(system)).client  # type: ignore[attr-defined]

        preflight = PreflightService(
            catalog,
            client_of,
            PreflightStore(table) if table is not None else None,
            configured=settings.connection_configured,
        )
        return await preflight.run(datetime.now(UTC))
    finally:
        await pool.aclose()
        if table is not None:
            await table.close()
        if storage is not None:
            await storage.close()


def check(cache: bool = True) -> int:
    report = asyncio.run(run_check(get_settings(), cache=cache))
    print(render(report), flush=True)
    return 0 if report.ok else 1


async def run_provision(settings: Settings, dry_run: bool) -> tuple[list[str], bool]:
    from shared.connectors.dataverse.client import DataverseClient

    catalog = load_catalog(settings.solution_ids)
    client = DataverseClient.from_settings(settings)
    try:
        result = await provision_dataverse(catalog, client, dry_run=dry_run)
    finally:
        await client.aclose()
    return result.lines, result.failed


def provision(system: str, dry_run: bool) -> int:
    if system != "dataverse":
        print("only `shuttle provision dataverse` exists (Creatio: docs/deploy.md)", flush=True)
        return 2
    lines, failed = asyncio.run(run_provision(get_settings(), dry_run))
    for line in lines:
        print(line, flush=True)
    return 1 if failed else 0
