"""`shuttle provision dataverse`: create the binding columns (`shuttle_creatio<table>id`) and
their alternate keys the enabled solutions need, through the Web API's metadata endpoints,
then wait until every key's index is Active. Idempotent: what exists is left alone, so a
second run changes nothing. Dry run: say what would be created, create nothing.

An operator runs it from their machine (sandbox/onboarding.py), so it lives with the CLI and
is not deployed with the app."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from shared.connectors.dataverse.client import DataverseClient
from shared.connectors.dataverse.metadata import (
    create_key,
    create_money_column,
    create_string_column,
    read_table,
)
from shared.flows.catalog import Catalog
from shared.preflight.needs import BINDING_LENGTH, DATAVERSE_CUSTOM, catalog_needs

Sleep = Callable[[float], Awaitable[None]]


@dataclass
class ProvisionResult:
    lines: list[str] = field(default_factory=list)
    created: int = 0
    failed: bool = False

    def say(self, line: str) -> None:
        self.lines.append(line)


def binding_tables(catalog: Catalog) -> list[str]:
    """The Dataverse tables whose binding column must be an alternate key."""
    tables = {
        need.object
        for needs in catalog_needs(catalog).values()
        for (system, _), need in needs.items()
        if system == "dataverse" and need.key is not None
    }
    return sorted(tables)


def custom_columns(catalog: Catalog) -> list[tuple[str, str]]:
    """The Dataverse custom columns (DATAVERSE_CUSTOM) the enabled flows read or write."""
    wanted = {
        (need.object, name)
        for needs in catalog_needs(catalog).values()
        for (system, _), need in needs.items()
        if system == "dataverse"
        for name in need.fields
        if (need.object, name) in DATAVERSE_CUSTOM
    }
    return sorted(wanted)


async def _provision_custom(
    catalog: Catalog, client: DataverseClient, result: ProvisionResult, dry_run: bool
) -> None:
    for logical, column in custom_columns(catalog):
        kind, length, label = DATAVERSE_CUSTOM[(logical, column)]
        shown = f"{kind}, {length}" if length else kind
        info = await read_table(client, logical)
        if info is None:
            result.say(f"{logical}: the table does not exist in this environment — skipped")
            result.failed = True
        elif column in info.fields:
            result.say(f"{logical}: column {column} exists")
        elif dry_run:
            result.say(f"{logical}: would create column {column} ({shown})")
        else:
            about = f"{label} (read by Shuttle; docs/deploy.md)"
            if kind == "money":
                await create_money_column(client, logical, column, label, about)
            else:
                await create_string_column(client, logical, column, length or 100, label, about)
            result.created += 1
            result.say(f"{logical}: created column {column} ({shown})")


async def provision_dataverse(
    catalog: Catalog,
    client: DataverseClient,
    *,
    dry_run: bool = False,
    sleep: Sleep = asyncio.sleep,
    poll_s: float = 5.0,
    max_polls: int = 360,
) -> ProvisionResult:
    result = ProvisionResult()
    waiting: list[str] = []
    for logical in binding_tables(catalog):
        column, key = f"shuttle_creatio{logical}id", f"shuttle_creatio{logical}id_key"
        info = await read_table(client, logical)
        if info is None:
            result.say(f"{logical}: the table does not exist in this environment — skipped")
            result.failed = True
            continue
        if column in info.fields:
            result.say(f"{logical}: column {column} exists")
        elif dry_run:
            result.say(f"{logical}: would create column {column} (text, {BINDING_LENGTH})")
        else:
            await create_string_column(
                client, logical, column, BINDING_LENGTH, f"Creatio {logical} id"
            )
            result.created += 1
            result.say(f"{logical}: created column {column} (text, {BINDING_LENGTH})")
        keys = [k for k in info.keys if k.attributes == (column,)]
        if keys:
            result.say(f"{logical}: alternate key {keys[0].name} exists ({keys[0].status})")
            if keys[0].status != "Active":
                waiting.append(logical)
        elif dry_run:
            result.say(f"{logical}: would create alternate key {key} on {column}")
        else:
            await create_key(client, logical, key, [column], f"Shuttle {logical} binding")
            result.created += 1
            result.say(f"{logical}: created alternate key {key} on {column}")
            waiting.append(logical)
    await _provision_custom(catalog, client, result, dry_run)
    if dry_run:
        return result
    for logical in waiting:
        column = f"shuttle_creatio{logical}id"
        for _ in range(max_polls):
            info = await read_table(client, logical)
            statuses = [k.status for k in (info.keys if info else []) if k.attributes == (column,)]
            if "Active" in statuses:
                result.say(f"{logical}: alternate key index is Active")
                break
            if "Failed" in statuses:
                result.say(
                    f"{logical}: alternate key index Failed — remove duplicate values of "
                    f"{column} and reactivate the key"
                )
                result.failed = True
                break
            await sleep(poll_s)
        else:
            result.say(f"{logical}: alternate key index still not Active; run again later")
            result.failed = True
    if not result.created and not result.failed:
        result.say(
            "nothing to do: every binding column, alternate key and custom column is in place"
        )
    return result
