"""Run rows in Table storage: PartitionKey = flow id, RowKey = inverted time (newest first)."""

from __future__ import annotations

import logging

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

from shared.errors import NotFoundError
from shared.flows.models import RunRecord, split_run_id
from shared.storage.entities import (
    BrokenRow,
    UnreadableRowError,
    etag_of,
    from_properties,
    read_row,
    read_rows,
    replace_if_unchanged,
    to_properties,
)

# Imports the same row helpers as flow_store.py (shared/storage/entities.py is the one
# copy); the import list is what repeats.
log = logging.getLogger(__name__)

_JSON_FIELDS = {"window", "params", "counts", "errors"}
_PROPERTIES = [name for name in RunRecord.model_fields if name not in ("id", "etag")]
# A Table property holds at most 64 KiB; the run row keeps the first errors, the per-record
# outcome rows (engine) keep them all.
MAX_ERRORS_ON_RUN = 100


def _to_entity(run: RunRecord) -> dict[str, object]:
    flow_id, key = split_run_id(run.id)
    entity = to_properties(run, exclude={"id"})
    entity["PartitionKey"] = flow_id
    entity["RowKey"] = key
    return entity


def _from_entity(entity: dict[str, object]) -> RunRecord:
    data = from_properties(entity, json_fields=_JSON_FIELDS)
    data["id"] = f"{entity['PartitionKey']}.{entity['RowKey']}"
    return RunRecord.model_validate({**data, "etag": etag_of(entity)})


class RunStore:
    def __init__(self, table: TableClient) -> None:
        self.table = table

    async def create(self, run: RunRecord) -> RunRecord:
        meta = await self.table.create_entity(_to_entity(run))
        return run.model_copy(update={"etag": meta.get("etag")})

    async def get(self, run_id: str) -> RunRecord:
        """The run's row; UnreadableRowError (naming the field) if it cannot be read."""
        try:
            flow_id, key = split_run_id(run_id)
            got = await read_row(self.table, flow_id, key, _from_entity, _PROPERTIES)
        except (ValueError, ResourceNotFoundError):
            raise NotFoundError(f"unknown run '{run_id}'", code="run_not_found") from None
        if isinstance(got, BrokenRow):
            raise UnreadableRowError(f"run '{run_id}'", got)
        return got

    async def scan(self, flow_id: str, limit: int = 50) -> tuple[list[RunRecord], list[BrokenRow]]:
        """The flow's newest runs, the unreadable rows apart (and logged)."""
        rows = await read_rows(
            self.table,
            _from_entity,
            _PROPERTIES,
            query_filter="PartitionKey eq @pk",
            parameters={"pk": flow_id},
            limit=limit,
        )
        runs = [r for r in rows if isinstance(r, RunRecord)]
        broken = [r for r in rows if isinstance(r, BrokenRow)]
        for row in broken:
            run_id = f"{row.partition_key}.{row.row_key}"
            log.error(
                "run %s: %s",
                run_id,
                row.describe(f"run '{run_id}'"),
                extra={"flow_id": flow_id, "run_id": run_id},
            )
        return runs, broken

    async def list(self, flow_id: str, limit: int = 50) -> list[RunRecord]:
        return (await self.scan(flow_id, limit))[0]

    async def overwrite(self, run: RunRecord) -> RunRecord:
        """Replace the row whatever it holds: only for a row that cannot be read any more."""
        meta = await self.table.upsert_entity(_to_entity(run), mode=UpdateMode.REPLACE)
        return run.model_copy(update={"etag": meta.get("etag")})

    async def save_resume(self, run_id: str, step: str) -> None:
        """Keep a run's last queued step (RunRecord.resume): one property merged, so it never
        races the run's other writers over the rest of the row."""
        flow_id, key = split_run_id(run_id)
        await self.table.update_entity(
            {"PartitionKey": flow_id, "RowKey": key, "resume": step}, mode=UpdateMode.MERGE
        )

    async def replace(self, run: RunRecord) -> RunRecord:
        run = run.model_copy(update={"errors": run.errors[:MAX_ERRORS_ON_RUN]})
        etag = await replace_if_unchanged(self.table, _to_entity(run), run.etag)
        return run.model_copy(update={"etag": etag})
