"""Per-record outcomes of a run: PartitionKey = the run id, followed by the record's chunk
bucket when it has one (`partition_of`); RowKey = the source record's id. A chunk's rows
are then one small partition: read with one query instead of an OR of RowKeys (which Table
storage answers by scanning the partition) and written in transactions that never touch a
big partition (Azurite's cost per written row grows with its partition). A run's rows are
its own partition and the range of its bucket partitions (`_RUN`).

The extractor writes a row (no status: pending) before it queues the record; the upsert
worker sets its status. A run's counts are the tally of its rows, so every record read is
accounted for: read = created + updated + unchanged + skipped + failed + pending.

Queues deliver at least once, and two deliveries of one record may be worked at the same
time: the row keeps what really happened to the record in this run. A settled row changes
only to a stronger outcome (created > updated > unchanged > skipped > failed), written with
the row's ETag: a delivery that finds the record another delivery just created (and so sees
"updated" or "unchanged") never turns "created" into anything else, whichever settles last.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableEntity, TableTransactionError, UpdateMode
from azure.data.tables.aio import TableClient

from shared.errors import ErrorCategory
from shared.flows.models import RunCounts, RunErrorEntry
from shared.storage.keys import decode_key, encode_key
from shared.storage.rows import rows_by_key

BATCH = 100  # the most operations one Table transaction takes


# Same shape as RunStatus (flows/models.py) and FlowKind (flows/definitions.py), a StrEnum
# with one yes/no property, but other values: storage does not import flow definitions.
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

    @property
    def strength(self) -> int:
        """Which of two deliveries' outcomes the row keeps: what was written beats what
        found nothing to write (see the module doc)."""
        return _STRENGTH[self]


_STRENGTH = {
    Outcome.PENDING: -1,
    Outcome.FAILED: 0,
    Outcome.SKIPPED: 1,
    Outcome.UNCHANGED: 2,
    Outcome.UPDATED: 3,
    Outcome.CREATED: 4,
}
SETTLE_ATTEMPTS = 20


@dataclass(frozen=True)
class Refusal:
    """A record refused before it was queued (unreadable, unserialisable, a shared match
    key): its row is written failed at once."""

    record_id: str
    modified: datetime | None
    category: ErrorCategory
    field: str | None
    message: str


@dataclass(frozen=True)
class Settlement:
    """One record's outcome as a chunk settles it (settle_many)."""

    record_id: str
    outcome: Outcome
    target_id: str | None = None
    category: ErrorCategory | None = None
    field: str | None = None
    message: str | None = None
    note: str | None = None
    action: str | None = None  # a dry run's planned action (shared/engine/decisions.py)
    changes: dict[str, list[Any]] | None = None


@dataclass
class Tally:
    counts: RunCounts
    errors: list[RunErrorEntry] = field(default_factory=list)
    failed_ids: list[str] = field(default_factory=list)


# A plan row's field changes are cut to fit well inside a Table property (64 KiB).
MAX_CHANGES_CHARS = 16_000


def _changes_text(changes: dict[str, list[Any]] | None) -> str | None:
    if not changes:
        return None
    text = json.dumps(changes, default=str, separators=(",", ":"))
    if len(text) <= MAX_CHANGES_CHARS:
        return text
    kept: dict[str, Any] = {}
    for name, pair in changes.items():
        kept[name] = pair
        if len(json.dumps(kept, default=str)) > MAX_CHANGES_CHARS - 200:
            kept.pop(name)
            kept["…"] = f"{len(changes) - len(kept)} more fields changed"
            break
    return json.dumps(kept, default=str, separators=(",", ":"))


@dataclass(frozen=True)
class PlanRow:
    """One record's row as the plan and paged-errors routes show it."""

    record: str
    outcome: Outcome
    action: str | None
    target_id: str | None
    category: str | None
    field: str | None
    message: str | None
    changes: dict[str, Any] | None


def partition_of(run_id: str, bucket: str | None = None) -> str:
    """The partition of a run's record rows: the run id, then the chunk's bucket if any."""
    return f"{run_id}|{bucket}" if bucket else run_id


def record_of(key: str) -> str:
    """The record id a RowKey names."""
    return decode_key(key)


def _bucket_of(run_id: str, partition: str) -> str | None:
    return partition[len(run_id) + 1 :] or None


# Every row of a run: its own partition, and its buckets' ("|" is followed by "}" in ASCII).
# (The SDK substitutes a parameter only when spaces surround it.)
_RUN = "( PartitionKey eq @run or ( PartitionKey gt @low and PartitionKey lt @high ) )"


def _run_params(run_id: str) -> dict[str, Any]:
    return {"run": run_id, "low": f"{run_id}|", "high": f"{run_id}}}"}


def outcome_of(row: Mapping[str, Any] | None) -> Outcome:
    """A row's outcome (no row, or no status yet: pending)."""
    return Outcome((row or {}).get("status") or Outcome.PENDING)


class OutcomeStore:
    def __init__(self, table: TableClient) -> None:
        self.table = table

    async def add_pending(
        self, run_id: str, records: Iterable[tuple[str, datetime]], bucket: str | None = None
    ) -> None:
        """Rows for records about to be queued (in their chunk's bucket). MERGE without a
        status: a replayed page never turns a finished record back into a pending one."""
        rows = [
            {
                "PartitionKey": partition_of(run_id, bucket),
                "RowKey": encode_key(rid),
                "modified": mod.astimezone(UTC),
            }
            for rid, mod in records
        ]
        for start in range(0, len(rows), BATCH):
            chunk = rows[start : start + BATCH]
            await self.table.submit_transaction(
                [("upsert", row, {"mode": UpdateMode.MERGE}) for row in chunk]
            )

    async def add_failed(self, run_id: str, refusals: Iterable[Refusal]) -> None:
        """Failed rows for records refused before they were queued (a replayed page writes
        the same rows again)."""
        now = datetime.now(UTC)
        rows = []
        for r in refusals:
            row: dict[str, Any] = {
                "PartitionKey": run_id,
                "RowKey": encode_key(r.record_id),
                "status": Outcome.FAILED.value,
                "category": r.category.value,
                "field": r.field or "",
                "message": r.message,
                "note": "",
                "at": now,
            }
            if r.modified is not None:
                row["modified"] = r.modified.astimezone(UTC)
            rows.append(row)
        for start in range(0, len(rows), BATCH):
            chunk = rows[start : start + BATCH]
            await self.table.submit_transaction(
                [("upsert", row, {"mode": UpdateMode.MERGE}) for row in chunk]
            )

    async def add_skipped(
        self, run_id: str, records: Iterable[tuple[str, datetime]], action: str
    ) -> None:
        """Rows settled skipped at once (a dry run's records outside the flow's filter); the
        action says why, and no note: they are no run error."""
        now = datetime.now(UTC)
        rows = [
            {
                "PartitionKey": run_id,
                "RowKey": encode_key(rid),
                "modified": mod.astimezone(UTC),
                "status": Outcome.SKIPPED.value,
                "action": action,
                "at": now,
            }
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
            rows = self.table.query_entities(  # in a chunk's bucket: look it up (rare)
                f"{_RUN} and RowKey eq @key",
                parameters={**_run_params(run_id), "key": encode_key(record_id)},
                select=["status"],
            )
            found = [r async for r in rows]
            return outcome_of(found[0]) if found else None
        return Outcome(row.get("status") or Outcome.PENDING)

    async def rows(
        self, run_id: str, record_ids: list[str], *, bucket: str | None = None
    ) -> dict[str, TableEntity]:
        """The rows of several records by record id (with their ETags), those that exist: a
        chunk's bucket in one query, else by their RowKeys."""
        wanted = set(record_ids)
        if bucket:
            found = self.table.query_entities(
                "PartitionKey eq @part",
                parameters={"part": partition_of(run_id, bucket)},
                select=["RowKey", "status", "cancelled"],
            )
            rows = {record_of(r["RowKey"]): r async for r in found}
            return {i: r for i, r in rows.items() if i in wanted}
        keyed = await rows_by_key(
            self.table, run_id, (encode_key(i) for i in record_ids), select=["status", "cancelled"]
        )
        return {decode_key(k): r for k, r in keyed.items()}

    async def statuses(
        self, run_id: str, record_ids: list[str], *, bucket: str | None = None
    ) -> dict[str, Outcome]:
        """`status` of several records at once (those the run never queued are left out)."""
        rows = await self.rows(run_id, record_ids, bucket=bucket)
        return {i: outcome_of(r) for i, r in rows.items()}

    async def settle_many(
        self,
        run_id: str,
        settled: list[Settlement],
        *,
        known: Mapping[str, TableEntity] | None = None,
        bucket: str | None = None,
    ) -> dict[str, Outcome]:
        """Settle a chunk's records in transactions of up to 100 rows, each written only if
        its row is unchanged since read (ETag) and keeping a stronger earlier outcome, as
        `settle` does; a transaction that meets a concurrent write settles its records one
        by one. `known`: the rows as the caller read them (`rows`), by record id, so they
        are not read again; a record without one has no row yet. Returns the outcome each
        row holds afterwards."""
        held: dict[str, Outcome] = {}
        latest = {s.record_id: s for s in settled}  # one row, one operation
        if known is None:
            known = await self.rows(run_id, list(latest), bucket=bucket)
        ops: list[tuple[Settlement, tuple[Any, ...]]] = []
        now = datetime.now(UTC)
        for s in latest.values():
            props = self._props(run_id, s, now, bucket)
            row = known.get(s.record_id)
            if row is None:
                ops.append((s, ("create", props)))
                continue
            current = Outcome(row.get("status") or Outcome.PENDING)
            if current.is_final and current.strength >= s.outcome.strength:
                held[s.record_id] = current
                continue
            unchanged = {
                "mode": UpdateMode.MERGE,
                "etag": row.metadata["etag"],
                "match_condition": MatchConditions.IfNotModified,
            }
            ops.append((s, ("update", props, unchanged)))
        for start in range(0, len(ops), BATCH):
            part = ops[start : start + BATCH]
            try:
                await self.table.submit_transaction([op for _, op in part])
                held.update({s.record_id: s.outcome for s, _ in part})
            except TableTransactionError:
                for s, _ in part:  # another delivery wrote one of them: each on its own
                    held[s.record_id] = await self.settle(
                        run_id,
                        s.record_id,
                        s.outcome,
                        target_id=s.target_id,
                        category=s.category,
                        field_name=s.field,
                        message=s.message,
                        note=s.note,
                        action=s.action,
                        changes=s.changes,
                        bucket=bucket,
                    )
        return held

    @staticmethod
    def _props(run_id: str, s: Settlement, now: datetime, bucket: str | None) -> dict[str, Any]:
        extra = {
            "target_id": s.target_id,
            "category": s.category.value if s.category else None,
            "field": s.field,
            "message": s.message,
            "note": s.note,
            "action": s.action,
            "changes": _changes_text(s.changes),
        }
        return {
            "PartitionKey": partition_of(run_id, bucket),
            "RowKey": encode_key(s.record_id),
            "status": s.outcome.value,
            "at": now,
            **{k: v if v is not None else "" for k, v in extra.items()},
        }

    async def note_waits(
        self,
        run_id: str,
        waits: list[tuple[str, ErrorCategory, str]],
        *,
        bucket: str | None = None,
    ) -> None:
        """`note_wait` for several records, in transactions (status untouched)."""
        rows = {
            encode_key(rid): {
                "PartitionKey": partition_of(run_id, bucket),
                "RowKey": encode_key(rid),
                "category": category.value,
                "message": message,
            }
            for rid, category, message in waits
        }
        ordered = list(rows.values())
        for start in range(0, len(ordered), BATCH):
            await self.table.submit_transaction(
                [
                    ("upsert", row, {"mode": UpdateMode.MERGE})
                    for row in ordered[start : start + BATCH]
                ]
            )

    # Its keywords mirror ConnectorError's and Settlement's fields on purpose: a record's
    # error and outcome pass through here field by field (engine/record_worker.py).
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
        action: str | None = None,
        changes: dict[str, list[Any]] | None = None,
        bucket: str | None = None,
    ) -> Outcome:
        """Settle the record's row (in its chunk's bucket, if any); returns the outcome the
        row holds afterwards (an earlier, stronger one wins: see the module doc)."""
        part, key = partition_of(run_id, bucket), encode_key(record_id)
        props: dict[str, Any] = {
            "PartitionKey": part,
            "RowKey": key,
            "status": outcome.value,
            "at": datetime.now(UTC),
        }
        extra = {
            "target_id": target_id,
            "category": category.value if category else None,
            "field": field_name,
            "message": message,
            "note": note,
            "action": action,
            "changes": _changes_text(changes),
        }
        # Blank out what an earlier attempt left (a dependency wait's message, say).
        props.update({k: v if v is not None else "" for k, v in extra.items()})
        for _ in range(SETTLE_ATTEMPTS):
            try:
                row = await self.table.get_entity(part, key)
            except ResourceNotFoundError:
                try:
                    await self.table.create_entity(props)
                    return outcome
                except ResourceExistsError:
                    continue  # another delivery wrote it first: compare with it
            held = Outcome(row.get("status") or Outcome.PENDING)
            if held.is_final and held.strength >= outcome.strength:
                return held
            try:
                await self.table.update_entity(
                    props,
                    mode=UpdateMode.MERGE,
                    etag=row.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
                return outcome
            except (ResourceModifiedError, ResourceNotFoundError):
                continue  # changed under us: read it again
        raise RuntimeError(f"outcome of {record_id} in run {run_id}: too many concurrent writes")

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

    async def mark_cancelled(self, run_id: str, at: datetime) -> int:
        """Mark every pending row of a cancelled run (status untouched): a delivery that
        reads a marked row settles it skipped without writing it (shared/engine/
        record_worker.py), while one already writing its record settles what it wrote, so
        the run's tally counts every written record. Returns how many rows are pending."""
        rows = self.table.query_entities(
            _RUN,
            parameters=_run_params(run_id),
            select=["PartitionKey", "RowKey", "status", "cancelled"],
        )
        pending: dict[str, list[dict[str, Any]]] = {}
        count = 0
        async for r in rows:
            if r.get("status"):
                continue
            count += 1
            if not r.get("cancelled"):
                part = str(r["PartitionKey"])
                mark = {"PartitionKey": part, "RowKey": r["RowKey"], "cancelled": at}
                pending.setdefault(part, []).append(mark)
        for marks in pending.values():
            for start in range(0, len(marks), BATCH):
                # A merge without ETag: a delivery settling the row meanwhile keeps its
                # status; its own ETag-guarded write then re-reads the row (settle).
                await self.table.submit_transaction(
                    [
                        ("upsert", m, {"mode": UpdateMode.MERGE})
                        for m in marks[start : start + BATCH]
                    ]
                )
        return count

    async def skip_pending(self, run_id: str, message: str) -> int:
        """Settle every record still pending as skipped (a cancelled run); a delivery already
        writing one settles it again with what really happened (a stronger outcome wins)."""
        rows = self.table.query_entities(
            _RUN, parameters=_run_params(run_id), select=["PartitionKey", "RowKey", "status"]
        )
        pending = [
            (str(r["PartitionKey"]), str(r["RowKey"])) async for r in rows if not r.get("status")
        ]
        for part, key in pending:
            bucket = _bucket_of(run_id, part)
            await self.settle(
                run_id, record_of(key), Outcome.SKIPPED, message=message, bucket=bucket
            )
        return len(pending)

    async def page(
        self, run_id: str, *, after: str | None, limit: int, outcome: Outcome | None = None
    ) -> tuple[list[PlanRow], str | None]:
        """Rows of a run chunk by chunk (record ids in order inside each) after `after` (the
        cursor an earlier page returned: partition and RowKey), at most `limit`; returns
        them and the cursor to continue after (None at the end)."""
        query = _RUN
        params = _run_params(run_id)
        if after is not None:
            part, _, key = after.rpartition("/")
            query += (
                " and ( PartitionKey gt @apart or ( PartitionKey eq @apart and RowKey gt @akey ) )"
            )
            params |= {"apart": part, "akey": key}
        if outcome is not None:
            query += " and status eq @status"
            params["status"] = outcome.value
        rows = self.table.query_entities(
            query,
            parameters=params,
            results_per_page=min(limit + 1, 1000),
            select=[
                "PartitionKey",
                "RowKey",
                "status",
                "action",
                "target_id",
                "category",
                "field",
                "message",
                "note",
                "changes",
            ],
        )
        out: list[PlanRow] = []
        last = ""
        more = False
        async for row in rows:
            if len(out) == limit:
                more = True
                break
            out.append(_plan_row(row))
            last = f"{row['PartitionKey']}/{row['RowKey']}"
        return out, (last if more and out else None)

    async def record_ids(self, run_id: str) -> set[str]:
        """Every record the run has a row for (read, refused or re-read)."""
        rows = self.table.query_entities(_RUN, parameters=_run_params(run_id), select=["RowKey"])
        return {record_of(r["RowKey"]) async for r in rows}

    async def failed_ids(self, run_id: str) -> list[str]:
        """Every failed record of a run (a retry re-reads them all, however many)."""
        rows = self.table.query_entities(
            f"{_RUN} and status eq @failed",
            parameters={**_run_params(run_id), "failed": Outcome.FAILED.value},
            select=["RowKey"],
        )
        return [record_of(r["RowKey"]) async for r in rows]

    async def tally(self, run_id: str, max_errors: int = 100) -> Tally:
        counts = RunCounts()
        tally = Tally(counts=counts)
        rows = self.table.query_entities(
            _RUN,
            parameters=_run_params(run_id),
            select=["RowKey", "status", "category", "field", "message", "note", "at"],
        )
        async for row in rows:
            outcome = Outcome(row.get("status") or Outcome.PENDING)
            counts.read += 1
            setattr(counts, outcome.value, getattr(counts, outcome.value) + 1)
            record = record_of(row["RowKey"])
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
                # A note on a synced record: a mastership conflict unless it names its own
                # category (a modification time outside the windows is `validation`).
                tally.errors.append(
                    RunErrorEntry(
                        record=record,
                        category=ErrorCategory(row.get("category") or "conflict"),
                        field=row.get("field") or None,
                        message=row["note"],
                        at=at,
                    )
                )
        return tally


def _plan_row(row: dict[str, Any]) -> PlanRow:
    changes = None
    if row.get("changes"):
        try:
            changes = json.loads(row["changes"])
        except ValueError:
            changes = None
    return PlanRow(
        record=record_of(row["RowKey"]),
        outcome=Outcome(row.get("status") or Outcome.PENDING),
        action=row.get("action") or None,
        target_id=row.get("target_id") or None,
        category=row.get("category") or None,
        field=row.get("field") or None,
        message=row.get("message") or row.get("note") or None,
        changes=changes if isinstance(changes, dict) else None,
    )
