"""Run rows in Table storage: PartitionKey = flow id, RowKey = inverted time (newest first)."""

from __future__ import annotations

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables.aio import TableClient

from shared.errors import NotFoundError
from shared.flows.models import RunRecord, split_run_id
from shared.storage.entities import etag_of, from_properties, replace_if_unchanged, to_properties

_JSON_FIELDS = {"window", "params", "counts", "errors"}
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
        try:
            flow_id, key = split_run_id(run_id)
            entity = await self.table.get_entity(flow_id, key)
        except (ValueError, ResourceNotFoundError):
            raise NotFoundError(f"unknown run '{run_id}'", code="run_not_found") from None
        return _from_entity(entity)

    async def list(self, flow_id: str, limit: int = 50) -> list[RunRecord]:
        runs: list[RunRecord] = []
        pages = self.table.query_entities(
            "PartitionKey eq @pk", parameters={"pk": flow_id}, results_per_page=limit
        )
        async for entity in pages:
            runs.append(_from_entity(entity))
            if len(runs) >= limit:
                break
        return runs

    async def replace(self, run: RunRecord) -> RunRecord:
        run = run.model_copy(update={"errors": run.errors[:MAX_ERRORS_ON_RUN]})
        etag = await replace_if_unchanged(self.table, _to_entity(run), run.etag)
        return run.model_copy(update={"etag": etag})
