"""The last preflight result per solution, in Table storage (`{prefix}preflight`, one row
per solution), so starting a flow reads one row instead of calling the live systems."""

from __future__ import annotations

import contextlib

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

from shared.preflight.model import SolutionCheck

PARTITION = "preflight"


class PreflightStore:
    def __init__(self, table: TableClient) -> None:
        self.table = table

    async def save(self, checks: list[SolutionCheck]) -> None:
        with contextlib.suppress(ResourceExistsError):
            await self.table.create_table()
        for check in checks:
            await self.table.upsert_entity(
                {
                    "PartitionKey": PARTITION,
                    "RowKey": check.solution,
                    "result": check.model_dump_json(),
                },
                mode=UpdateMode.REPLACE,
            )

    async def load(self, solution: str) -> SolutionCheck | None:
        try:
            row = await self.table.get_entity(PARTITION, solution)
        except ResourceNotFoundError:  # no preflight yet (or no table)
            return None
        try:
            return SolutionCheck.model_validate_json(row.get("result", ""))
        except ValueError:
            return None  # an unreadable row never blocks a start
