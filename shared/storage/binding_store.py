"""Bindings: which CRM record is which ERP record, and what was last synced between them.

One partition per binding pair (`{solution}.{binding}`, e.g. `creatio-intacct.account`), one
row per side (RowKey `crm|{id}` and `erp|{id}`) with the same content, so either side's id
finds the pair with one point read, and both rows are written in one partition transaction.
Writes MERGE only the fields a direction owns, so the two directions of one pair never undo
each other's bookkeeping.

Key claims (partition `{pair}|keys`, RowKey `key|{side}|{hash}`) keep two source records from
ever being written onto one target record: before an unbound record creates or links a
target record, it claims each of its match-key values on that side (insert-if-absent, so
exactly one record holds a key). A record that finds a key held by another source record
fails as a duplicate instead of merging into, or twinning, that record's target. A claim
whose holder never got bound (it failed, or its worker died) can be taken over with its ETag
after a lease.

Claims have a partition of their own beside the pair's bindings (they are never written in
one transaction with them): Azurite finds a row by scanning its partition, so a first sync
writing both into one partition slowed with every record (docs/engine.md, "What bounds
throughput"). Claims that an older version wrote into the pair's partition are moved the
first time this process uses the pair (`_claims_moved`), before any claim is read or taken.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any, Literal

from azure.core.exceptions import (
    ResourceExistsError,
    ResourceNotFoundError,
)
from azure.data.tables import TableTransactionError, UpdateMode
from azure.data.tables.aio import TableClient
from pydantic import AwareDatetime, BaseModel

from shared.storage.entities import StaleWrite, from_properties, replace_if_unchanged
from shared.storage.keys import decode_key, encode_key
from shared.storage.rows import rows_by_key

TRANSACTION_ROWS = 100  # the most operations one Table transaction takes

Side = Literal["crm", "erp"]


def other(side: Side) -> Side:
    return "erp" if side == "crm" else "crm"


# A list of optional fields, alike in shape to Settled/Settlement (engine/upsert.py,
# outcome_store.py) only: other fields, another row.
class Binding(BaseModel):
    crm_id: str
    erp_id: str
    # The newest source version each side has been synced from (older versions are skipped).
    crm_version: AwareDatetime | None = None
    erp_version: AwareDatetime | None = None
    # Hash of the mapped values last synced towards each side (unchanged suppression).
    hash_to_crm: str | None = None
    hash_to_erp: str | None = None
    # Hash that each side's record maps to right after we wrote it (echo suppression).
    echo_crm: str | None = None
    echo_erp: str | None = None
    # Per-field short hashes of the values both sides held after the last sync towards each
    # side, as JSON (three-way conflict detection: shared/engine/decisions.py).
    base_to_crm: str | None = None
    base_to_erp: str | None = None
    # The run that created the target record and this binding: a redelivery in that run
    # that finds it bound (its worker died before settling) still counts it created.
    created_run: str | None = None
    updated_at: AwareDatetime | None = None

    def id_of(self, side: Side) -> str:
        return self.crm_id if side == "crm" else self.erp_id

    def version_of(self, side: Side) -> datetime | None:
        return self.crm_version if side == "crm" else self.erp_version

    def hash_to(self, side: Side) -> str | None:
        return self.hash_to_crm if side == "crm" else self.hash_to_erp

    def echo_of(self, side: Side) -> str | None:
        return self.echo_crm if side == "crm" else self.echo_erp

    def base_to(self, side: Side) -> dict[str, str] | None:
        text = self.base_to_crm if side == "crm" else self.base_to_erp
        if not text:
            return None
        try:
            loaded = json.loads(text)
        except ValueError:
            return None  # an unreadable base only costs the conflict report, never the sync
        return loaded if isinstance(loaded, dict) else None


class KeyClaim(BaseModel):
    """Who holds a match-key value on one side of a pair."""

    source_id: str
    key: str  # the key as shown to an operator: `CUSTOMER:CUSTOMERID="ACME"`
    at: AwareDatetime
    etag: str | None = None


def _claim_row(side: Side, key: str) -> str:
    # Hashed: key values may hold any character and be long; RowKeys may not.
    return f"key|{side}|{hashlib.sha256(key.encode('utf-8', 'surrogatepass')).hexdigest()}"


def claims_partition(pair: str) -> str:
    return f"{pair}|keys"


class BindingStore:
    def __init__(self, table: TableClient) -> None:
        self.table = table
        self._moved: set[str] = set()  # pairs whose claims this process knows are moved

    async def _claims_moved(self, pair: str) -> str:
        """The pair's claims partition, after moving any claim left in the pair's own
        partition by an older version: copied unless the new partition has that key by now
        (a newer claim wins), then deleted. Idempotent: workers may move at the same time."""
        partition = claims_partition(pair)
        if pair in self._moved:
            return partition
        legacy = self.table.query_entities(
            "PartitionKey eq @pair and RowKey ge @low and RowKey lt @high",
            # "|" is followed by "}" in ASCII: every claim row, and no binding row.
            parameters={"pair": pair, "low": "key|", "high": "key}"},
        )
        async for row in legacy:
            moved = {k: v for k, v in row.items() if k not in ("PartitionKey", "RowKey")}
            with contextlib.suppress(ResourceExistsError):
                await self.table.create_entity(
                    {"PartitionKey": partition, "RowKey": row["RowKey"], **moved}
                )
            with contextlib.suppress(ResourceNotFoundError):
                await self.table.delete_entity(pair, row["RowKey"])
        self._moved.add(pair)
        return partition

    async def get(self, pair: str, side: Side, record_id: str) -> Binding | None:
        try:
            entity = await self.table.get_entity(pair, f"{side}|{encode_key(record_id)}")
        except ResourceNotFoundError:
            return None
        return Binding.model_validate(from_properties(entity, json_fields=set()))

    async def get_many(self, pair: str, side: Side, record_ids: list[str]) -> dict[str, Binding]:
        """The bindings of `record_ids` on `side` that exist, by record id (a chunk's read)."""
        rows = await rows_by_key(self.table, pair, (f"{side}|{encode_key(i)}" for i in record_ids))
        return {
            decode_key(key.split("|", 1)[1]): Binding.model_validate(
                from_properties(row, json_fields=set())
            )
            for key, row in rows.items()
        }

    @staticmethod
    def _rows(pair: str, crm_id: str, erp_id: str, changes: dict[str, Any]) -> list[dict[str, Any]]:
        fields: dict[str, Any] = {
            "crm_id": crm_id,
            "erp_id": erp_id,
            "updated_at": datetime.now(UTC),
        }
        for name, value in changes.items():
            if name not in Binding.model_fields:
                raise ValueError(f"not a binding field: {name}")
            if value is not None:
                fields[name] = value.astimezone(UTC) if isinstance(value, datetime) else value
        return [
            {"PartitionKey": pair, "RowKey": f"crm|{encode_key(crm_id)}", **fields},
            {"PartitionKey": pair, "RowKey": f"erp|{encode_key(erp_id)}", **fields},
        ]

    async def write_many(
        self,
        pair: str,
        writes: list[tuple[str, str, dict[str, Any]]],
        *,
        new: Collection[tuple[str, str]] = (),
    ) -> None:
        """Several pairs' rows (crm id, erp id, changes) in transactions of up to 100 rows;
        both rows of a pair always travel in the same one. A later write of the same pair
        in `writes` wins (its changes are merged over the earlier's).

        Pairs in `new` (crm id, erp id) were unbound when read: their rows are inserted, in
        transactions of their own, and merged like the others if one exists by then (a
        concurrent writer). The result is the same; an insert is one lookup of the row where
        a merge is three in Azurite, whose lookups scan the partition (bench/
        azurite_partition_bench.py): 2.3x the records/s of a first sync (docs/engine.md)."""
        merged: dict[tuple[str, str], dict[str, Any]] = {}
        for crm_id, erp_id, changes in writes:
            merged.setdefault((crm_id, erp_id), {}).update(changes)
        fresh = set(new)
        inserts = self._batches(pair, {k: v for k, v in merged.items() if k in fresh})
        merges = self._batches(pair, {k: v for k, v in merged.items() if k not in fresh})
        for batch in inserts:
            try:
                await self.table.submit_transaction([("create", row) for row in batch])
            except TableTransactionError:
                await self._merge_rows(batch)  # one of them exists by now: merge them all
        for batch in merges:
            await self._merge_rows(batch)

    def _batches(
        self, pair: str, merged: dict[tuple[str, str], dict[str, Any]]
    ) -> list[list[dict[str, Any]]]:
        """The pairs' rows in transactions of up to 100 rows, a pair's two rows in one."""
        rows: list[dict[str, Any]] = []
        seen: set[str] = set()
        batches: list[list[dict[str, Any]]] = []
        for (crm_id, erp_id), changes in merged.items():
            pair_rows = self._rows(pair, crm_id, erp_id, changes)
            clash = any(r["RowKey"] in seen for r in pair_rows)  # one row twice: a new batch
            if clash or len(rows) + 2 > TRANSACTION_ROWS:
                batches.append(rows)
                rows, seen = [], set()
            rows.extend(pair_rows)
            seen.update(r["RowKey"] for r in pair_rows)
        if rows:
            batches.append(rows)
        return batches

    async def claim_many(
        self,
        pair: str,
        side: Side,
        claims: list[tuple[str, str, bool]],
        now: datetime,
    ) -> dict[tuple[str, str, bool], KeyClaim | None]:
        """Claim several (key, source id, creating) at once: one transaction when none is
        held yet (a first sync), else each on its own. The result is `claim`'s for each."""
        out: dict[tuple[str, str, bool], KeyClaim | None] = {}
        partition = await self._claims_moved(pair)
        unique = list(dict.fromkeys(claims))
        rows = {_claim_row(side, key) for key, _, _ in unique}
        if len(rows) == len(unique) and len(unique) <= TRANSACTION_ROWS and len(unique) > 1:
            entities = [
                {
                    "PartitionKey": partition,
                    "RowKey": _claim_row(side, key),
                    "source_id": source_id,
                    "key": key,
                    "at": now.astimezone(UTC),
                    "creating": creating,
                }
                for key, source_id, creating in unique
            ]
            try:
                await self.table.submit_transaction([("create", e) for e in entities])
                return dict.fromkeys(unique)
            except TableTransactionError:
                pass  # one is held already: each on its own
        for key, source_id, creating in unique:
            out[(key, source_id, creating)] = await self.claim(
                pair, side, key, source_id, now, creating=creating
            )
        return out

    async def bound_ids(self, pair: str, side: Side) -> list[str]:
        """Every record id of `side` bound in the pair (the deletion check of a full bulk or
        binding run compares them with the source: shared/engine/sync_engine.py)."""
        rows = self.table.query_entities(
            "PartitionKey eq @pair and RowKey ge @low and RowKey lt @high",
            # "|" is followed by "}" in ASCII: every RowKey of the side, and no key claim.
            parameters={"pair": pair, "low": f"{side}|", "high": f"{side}}}"},
            select=[f"{side}_id"],
        )
        return [str(row[f"{side}_id"]) async for row in rows]

    async def write(self, pair: str, crm_id: str, erp_id: str, changes: dict[str, Any]) -> None:
        """Create or update the pair's two rows at once with `changes` (Binding fields)."""
        await self._merge_rows(self._rows(pair, crm_id, erp_id, changes))

    async def _merge_rows(self, rows: list[dict[str, Any]]) -> None:
        """Merge the rows in one transaction: all of them are written, or none."""
        await self.table.submit_transaction(
            [("upsert", row, {"mode": UpdateMode.MERGE}) for row in rows]
        )

    async def claim(
        self,
        pair: str,
        side: Side,
        key: str,
        source_id: str,
        now: datetime,
        *,
        creating: bool = False,
    ) -> KeyClaim | None:
        """Claim `key` on `side` for `source_id`: None when it holds it (now or already),
        else the other holder's claim. `creating` marks a claim taken just before a create,
        so a redelivery that then finds the target can tell its own create from a link."""
        partition = await self._claims_moved(pair)
        row_key = _claim_row(side, key)
        entity = {
            "PartitionKey": partition,
            "RowKey": row_key,
            "source_id": source_id,
            "key": key,
            "at": now.astimezone(UTC),
            "creating": creating,
        }
        for _ in range(5):
            try:
                await self.table.create_entity(entity)
                return None
            except ResourceExistsError:
                pass
            try:
                row = await self.table.get_entity(partition, row_key)
            except ResourceNotFoundError:
                continue  # released in between: try again
            if row["source_id"] == source_id:
                return None
            return KeyClaim(
                source_id=row["source_id"],
                key=row.get("key") or key,
                at=row["at"],
                etag=row.metadata.get("etag"),
            )
        raise RuntimeError(f"claim of {key} in {pair}: too many concurrent writes")

    async def created_by(self, pair: str, side: Side, key: str, source_id: str) -> bool:
        """Whether `source_id` claimed `key` on its way to creating the target record (a
        worker that created it may have died before the binding was written)."""
        try:
            row = await self.table.get_entity(await self._claims_moved(pair), _claim_row(side, key))
        except ResourceNotFoundError:
            return False
        return row.get("source_id") == source_id and bool(row.get("creating"))

    async def take_over(
        self, pair: str, side: Side, held: KeyClaim, source_id: str, now: datetime
    ) -> bool:
        """Replace `held` (a stale claim) with one of `source_id`, only if nobody changed it
        since it was read."""
        entity = {
            "PartitionKey": await self._claims_moved(pair),
            "RowKey": _claim_row(side, held.key),
            "source_id": source_id,
            "key": held.key,
            "at": now.astimezone(UTC),
        }
        try:
            await replace_if_unchanged(self.table, entity, held.etag)
        except StaleWrite:
            return False
        return True
