"""Per-record outcomes of a run: PartitionKey = run id, RowKey = the source record's id.

The extractor writes a row (no status: pending) before it queues the record; the upsert
worker sets its status. A run's counts are the tally of its rows, so every record read is
accounted for: read = created + updated + unchanged + skipped + failed + pending.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

from shared.errors import ErrorCategory
from shared.flows.models import RunCounts, RunErrorEntry
from shared.storage.keys import decode_key, encode_key

BATCH = 100  # the most operations one Table transaction takes


class Outcome(StrEnum):
    PENDING = "pending"
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        return self is not Outcome.PENDING


@dataclass
class Tally:
    counts: RunCounts
    errors: list[RunErrorEntry] = field(default_factory=list)
    failed_ids: list[str] = field(default_factory=list)


class OutcomeStore:
    def __init__(self, table: TableClient) -> None:
        self.table = table

    async def add_pending(self, run_id: str, records: Iterable[tuple[str, datetime]]) -> None:
        """Rows for records about to be queued. MERGE without a status: a replayed page
        never turns a finished record back into a pending one."""
        rows = [
            {"PartitionKey": run_id, "RowKey": encode_key(rid), "modified": mod.astimezone(UTC)}
            for rid, mod in records
        ]
        for start in range(0, len(rows), BATCH):
            chunk = rows[start : start + BATCH]
            await self.table.submit_transaction(
                [("upsert", row, {"mode": UpdateMode.MERGE}) for row in chunk]
            )

    async def status(self, run_id: str, record_id: str) -> Outcome | None:
        """None when the run never queued the record; PENDING while it waits."""
        try:
            row = await self.table.get_entity(run_id, encode_key(record_id), select=["status"])
        except ResourceNotFoundError:
            return None
        return Outcome(row.get("status") or Outcome.PENDING)

    async def settle(
        self,
        run_id: str,
        record_id: str,
        outcome: Outcome,
        *,
        target_id: str | None = None,
        category: ErrorCategory | None = None,
        field_name: str | None = None,
        message: str | None = None,
        note: str | None = None,
    ) -> None:
        props: dict[str, Any] = {
            "PartitionKey": run_id,
            "RowKey": encode_key(record_id),
            "status": outcome.value,
            "at": datetime.now(UTC),
        }
        extra = {
            "target_id": target_id,
            "category": category.value if category else None,
            "field": field_name,
            "message": message,
            "note": note,
        }
        # Blank out what an earlier attempt left (a dependency wait's message, say).
        props.update({k: v if v is not None else "" for k, v in extra.items()})
        await self.table.upsert_entity(props, mode=UpdateMode.MERGE)

    async def note_wait(
        self, run_id: str, record_id: str, category: ErrorCategory, message: str
    ) -> None:
        """Why a pending record waits (shown on the run while it does); status untouched."""
        props = {
            "PartitionKey": run_id,
            "RowKey": encode_key(record_id),
            "category": category.value,
            "message": message,
        }
        await self.table.upsert_entity(props, mode=UpdateMode.MERGE)

    async def tally(self, run_id: str, max_errors: int = 100) -> Tally:
        counts = RunCounts()
        tally = Tally(counts=counts)
        rows = self.table.query_entities(
            "PartitionKey eq @run",
            parameters={"run": run_id},
            select=["RowKey", "status", "category", "field", "message", "note", "at"],
        )
        async for row in rows:
            outcome = Outcome(row.get("status") or Outcome.PENDING)
            counts.read += 1
            setattr(counts, outcome.value, getattr(counts, outcome.value) + 1)
            record = decode_key(row["RowKey"])
            at = row.get("at") or datetime.now(UTC)
            if outcome is Outcome.FAILED:
                tally.failed_ids.append(record)
            if outcome is Outcome.FAILED and row.get("message"):
                entry = RunErrorEntry(
                    record=record,
                    category=ErrorCategory(row.get("category") or "internal"),
                    field=row.get("field") or None,
                    message=row["message"],
                    at=at,
                )
                if len(tally.errors) < max_errors:
                    tally.errors.append(entry)
            elif (
                outcome is Outcome.PENDING and row.get("message") and len(tally.errors) < max_errors
            ):
                # Why a record still waits (a parent not synced yet, a 429): shown while it runs.
                waits = ErrorCategory(row.get("category") or "dependency")
                text = f"waiting: {row['message']}"
                tally.errors.append(
                    RunErrorEntry(record=record, category=waits, message=text, at=at)
                )
            elif row.get("note") and len(tally.errors) < max_errors:
                tally.errors.append(
                    RunErrorEntry(
                        record=record,
                        category=ErrorCategory.CONFLICT,
                        field=row.get("field") or None,
                        message=row["note"],
                        at=at,
                    )
                )
        return tally
