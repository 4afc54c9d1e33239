"""A learned concurrency cap shared by every worker of a deployment: one Table row.

Dataverse's service protection limits count per application user, not per worker
(shared/connectors/dataverse/throttle.py), so a cap one worker learned from a 429 holds for
all of them. Each worker's `ServiceProtection` reads this row at most every `refresh_s` and
adopts it; when it cuts or regrows its own cap it writes the new value, ETag-guarded: if
another worker changed the row since it was read, that newer value wins and is adopted
instead of being overwritten.
"""

from __future__ import annotations

import logging
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

from shared.limits.keys import table_key

log = logging.getLogger("shuttle.limits")
PARTITION = "cap"


class SharedCap:
    def __init__(self, table: TableClient, key: str, *, refresh_s: float = 5.0) -> None:
        self.table = table
        self.key = table_key(key)
        self.refresh_s = refresh_s
        self.reads = 0
        self.writes = 0

    async def exchange(self, local: float, *, publish: bool) -> float | None:
        """The deployment's cap after this worker's turn: with `publish`, `local` is written
        (unless another worker changed the row meanwhile: then theirs); without, the row's.
        None when there is no row yet or storage is unavailable (keep the local cap)."""
        try:
            row = await self._read_row()
            if not publish:
                return None if row is None else float(row["cap"])
            entity = {"PartitionKey": PARTITION, "RowKey": self.key, "cap": float(local)}
            try:
                self.writes += 1
                if row is None:
                    await self.table.create_entity(entity)
                else:
                    await self.table.update_entity(
                        entity,
                        mode=UpdateMode.REPLACE,
                        etag=row["etag"],
                        match_condition=MatchConditions.IfNotModified,
                    )
                return float(local)
            except (ResourceExistsError, ResourceModifiedError):
                row = await self._read_row()  # a newer change won: adopt it
                return None if row is None else float(row["cap"])
        except AzureError as exc:
            log.warning(
                "shared cap %s unavailable (%s); keeping this worker's own",
                self.key,
                type(exc).__name__,
            )
            return None

    async def _read_row(self) -> dict[str, Any] | None:
        self.reads += 1
        try:
            entity = await self.table.get_entity(PARTITION, self.key)
        except ResourceNotFoundError:
            return None
        return {"cap": entity["cap"], "etag": entity.metadata["etag"]}
