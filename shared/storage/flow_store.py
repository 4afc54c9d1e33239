"""Flow state rows in Table storage, every write guarded by the row's ETag.

Table `{prefix}flows`: PartitionKey = solution, RowKey = flow name; plus one guard row per
solution (RowKey "~guard"). Transitions that take a flow out of STOPPED are written together
with the guard row in one partition transaction, so the solution rules (no utility flow
beside a scheduled one) cannot be broken by two racing requests. One bulk load at a time holds
across solutions, which no partition transaction spans: a bulk load first takes the
deployment's bulk slot row (PartitionKey "~deployment") by ETag (shared/flows/service.py).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableTransactionError, UpdateMode
from azure.data.tables.aio import TableClient

from shared.errors import NotFoundError
from shared.flows.catalog import Catalog
from shared.flows.models import FlowRecord
from shared.storage.entities import (
    BrokenRow,
    StaleWrite,
    UnreadableRowError,
    etag_of,
    from_properties,
    read_row,
    read_rows,
    replace_if_unchanged,
    to_properties,
)

log = logging.getLogger(__name__)

GUARD_KEY = "~guard"
DEPLOYMENT_PARTITION = "~deployment"
BULK_SLOT_KEY = "bulk-load"


@dataclass(frozen=True)
class BulkSlot:
    """Which bulk flow last claimed the deployment's one bulk-load slot, and when."""

    holder: str | None = None
    claimed_at: datetime | None = None
    etag: str | None = None  # None: the row does not exist yet


_PROPERTIES = [name for name in FlowRecord.model_fields if name not in ("flow_id", "etag")]


# A frozen pair with one derived property, like CatalogEntry (flows/catalog.py): alike in
# shape only.
@dataclass(frozen=True)
class BrokenFlow:
    """A flow whose row exists but cannot be read (see shared/storage/entities.py)."""

    flow_id: str
    row: BrokenRow

    @property
    def message(self) -> str:
        return self.row.describe(f"flow '{self.flow_id}'")


@dataclass
class FlowScan:
    records: list[FlowRecord] = field(default_factory=list)
    broken: list[BrokenFlow] = field(default_factory=list)


class SolutionGuard:
    def __init__(self, solution: str, version: int, etag: str | None) -> None:
        self.solution = solution
        self.version = version
        self.etag = etag


def _to_entity(rec: FlowRecord) -> dict[str, object]:
    entity = to_properties(rec, exclude={"flow_id"})
    entity["PartitionKey"] = rec.solution
    entity["RowKey"] = rec.name
    return entity


def _from_entity(entity: dict[str, object]) -> FlowRecord:
    data = from_properties(entity, json_fields=set())
    data["flow_id"] = f"{entity['PartitionKey']}.{entity['RowKey']}"
    return FlowRecord.model_validate({**data, "etag": etag_of(entity)})


class FlowStore:
    def __init__(self, table: TableClient) -> None:
        self.table = table

    async def ensure(self, catalog: Catalog, now: datetime) -> None:
        """Create the row of every catalogued flow that has none (STOPPED, defaults)."""
        # A broken row still exists: it is reported, never recreated over (nor fatal here).
        scan = await self.scan()
        existing = {r.flow_id for r in scan.records} | {b.flow_id for b in scan.broken}
        for entry in catalog:
            if entry.flow_id in existing:
                continue
            rec = FlowRecord(
                flow_id=entry.flow_id,
                interval_ms=entry.flow.interval_ms,
                shift_ms=entry.flow.shift_ms,
                # A new flow reads changes from the day it was installed; history is the
                # bulk load flow's job (a scheduled run over years would exceed its limit).
                query_starts=now,
                volume_limit=entry.flow.volume_limit,
                error_policy=entry.flow.error_policy,
                state_changed_at=now,
            )
            with contextlib.suppress(ResourceExistsError):  # another worker was first: fine
                await self.table.create_entity(_to_entity(rec))
        for solution in catalog.solutions:
            with contextlib.suppress(ResourceExistsError):
                await self.table.create_entity(
                    {"PartitionKey": solution, "RowKey": GUARD_KEY, "version": 0}
                )

    async def get(self, flow_id: str) -> FlowRecord:
        """The flow's row; UnreadableRowError (naming the field) if it cannot be read."""
        solution, _, name = flow_id.partition(".")
        try:
            got = await read_row(self.table, solution, name, _from_entity, _PROPERTIES)
        except ResourceNotFoundError:
            raise NotFoundError(f"unknown flow '{flow_id}'", code="flow_not_found") from None
        if isinstance(got, BrokenRow):
            raise UnreadableRowError(f"flow '{flow_id}'", got)
        return got

    async def scan(self, solution: str | None = None) -> FlowScan:
        """Every flow row (of one solution), the unreadable ones apart."""
        rows = await read_rows(
            self.table,
            _from_entity,
            _PROPERTIES,
            query_filter=None if solution is None else "PartitionKey eq @pk",
            parameters=None if solution is None else {"pk": solution},
            skip=lambda e: e["RowKey"] == GUARD_KEY or e["PartitionKey"] == DEPLOYMENT_PARTITION,
        )
        scan = FlowScan()
        for row in rows:
            if isinstance(row, BrokenRow):
                broken = BrokenFlow(f"{row.partition_key}.{row.row_key}", row)
                log.error(
                    "flow %s: %s", broken.flow_id, broken.message, extra={"flow_id": broken.flow_id}
                )
                scan.broken.append(broken)
            else:
                scan.records.append(row)
        return scan

    async def list(self, solution: str | None = None) -> list[FlowRecord]:
        """The readable flow rows (unreadable ones are logged; `scan` returns them too)."""
        return (await self.scan(solution)).records

    async def get_guard(self, solution: str) -> SolutionGuard:
        entity = await self.table.get_entity(solution, GUARD_KEY)
        return SolutionGuard(solution, int(entity.get("version", 0)), etag_of(entity))

    async def replace(self, rec: FlowRecord) -> FlowRecord:
        """Write rec if its row still has rec.etag; StaleWrite otherwise."""
        etag = await replace_if_unchanged(self.table, _to_entity(rec), rec.etag)
        return rec.model_copy(update={"etag": etag})

    async def replace_guarded(self, rec: FlowRecord, guard: SolutionGuard) -> FlowRecord:
        """Write rec and bump the solution guard atomically, both conditional on their ETags."""
        ops: Iterable[tuple[str, dict[str, object], dict[str, object]]] = [
            (
                "update",
                _to_entity(rec),
                {
                    "mode": UpdateMode.REPLACE,
                    "etag": rec.etag,
                    "match_condition": MatchConditions.IfNotModified,
                },
            ),
            (
                "update",
                {"PartitionKey": guard.solution, "RowKey": GUARD_KEY, "version": guard.version + 1},
                {
                    "mode": UpdateMode.REPLACE,
                    "etag": guard.etag,
                    "match_condition": MatchConditions.IfNotModified,
                },
            ),
        ]
        try:
            results = await self.table.submit_transaction(list(ops))
        except (TableTransactionError, ResourceModifiedError) as exc:
            raise StaleWrite(rec.flow_id) from exc
        return rec.model_copy(update={"etag": results[0].get("etag")})

    async def get_bulk_slot(self) -> BulkSlot:
        try:
            entity = await self.table.get_entity(DEPLOYMENT_PARTITION, BULK_SLOT_KEY)
        except ResourceNotFoundError:
            return BulkSlot()
        claimed = entity.get("claimed_at")
        return BulkSlot(
            holder=entity.get("holder") or None,
            claimed_at=datetime.fromtimestamp(claimed.timestamp(), UTC) if claimed else None,
            etag=etag_of(entity),
        )

    async def take_bulk_slot(self, flow_id: str, now: datetime, seen: BulkSlot) -> None:
        """Claim the slot for flow_id if it is still as `seen`; StaleWrite otherwise."""
        entity = {
            "PartitionKey": DEPLOYMENT_PARTITION,
            "RowKey": BULK_SLOT_KEY,
            "holder": flow_id,
            "claimed_at": now.astimezone(UTC),
        }
        if seen.etag is None:
            try:
                await self.table.create_entity(entity)
            except ResourceExistsError as exc:
                raise StaleWrite(BULK_SLOT_KEY) from exc
            return
        await replace_if_unchanged(self.table, entity, seen.etag)
