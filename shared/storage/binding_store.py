"""Bindings: which CRM record is which ERP record, and what was last synced between them.

One row per side (RowKey `crm|{id}` and `erp|{id}`) with the same content, so either side's
id finds the pair with one point read. A side's rows are spread over `BINDING_BUCKETS`
partitions by a hash of the record id (`{solution}.{binding}|{side}|{bucket}`, e.g.
`creatio-intacct.account|crm|2`), because a chunk reads its bindings with RowKeys joined by
`or`, which Table storage serves by scanning the partition (and Azurite scans it for every
point operation too): one partition per pair made every chunk's read and write cost grow with
the pair's size (docs/engine.md, "What bounds throughput", gives the source and figures).
Writes MERGE only the fields a direction owns, so the two directions of one pair never undo
each other's bookkeeping.

The two rows of a pair live in different partitions, so no single transaction writes both:
the target side's rows are written first and the source side's last (`write_many`). A
record's own row is its commit point: a worker that dies in between leaves a target row that
names the right pair, and the redelivered record, finding itself unbound, links its target
again through its key claim (shared/engine/upsert.py) and writes both rows.

Key claims (partition `{pair}|keys`, RowKey `key|{side}|{hash}`) keep two source records from
ever being written onto one target record: before an unbound record creates or links a
target record, it claims each of its match-key values on that side (insert-if-absent, so
exactly one record holds a key). A record that finds a key held by another source record
fails as a duplicate instead of merging into, or twinning, that record's target. A claim
whose holder never got bound (it failed, or its worker died) can be taken over with its ETag
after a lease.

Rows an older version wrote into the pair's single partition `{pair}` (bindings and claims)
are moved to their partitions the first time this process uses the pair (`_moved`), before
any row is read or written; a row the new layout already has is newer and wins.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import Awaitable, Callable, Collection
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
# Partitions per side of a pair. Part of the stored layout: changing it strands every row
# already written. A chunk of 100 records reads in about as many queries as with one
# partition (a query names at most 14 RowKeys: rows.py) and writes in up to 2 x 4
# transactions instead of 1; each partition holds an eighth of the pair's rows.
BINDING_BUCKETS = 4

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


def binding_partition(pair: str, side: Side, record_id: str) -> str:
    """The partition of `record_id`'s row on `side` of the pair."""
    digest = hashlib.sha256(record_id.encode("utf-8", "surrogatepass")).digest()
    return f"{pair}|{side}|{digest[0] % BINDING_BUCKETS}"


def _home(pair: str, row_key: str) -> str | None:
    """Where a row of the older single-partition layout lives now (None: not ours)."""
    if row_key.startswith("key|"):
        return claims_partition(pair)
    side, _, encoded = row_key.partition("|")
    if side in ("crm", "erp") and encoded:
        return binding_partition(pair, side, decode_key(encoded))  # type: ignore[arg-type]
    return None


def _fields(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in ("PartitionKey", "RowKey")}


def _batches(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Rows of one partition in transactions of up to 100; a RowKey met again starts a new
    one (a transaction may name a row once), so a later write of a row stays later."""
    batches: list[list[dict[str, Any]]] = [[]]
    seen: set[str] = set()
    for row in rows:
        if row["RowKey"] in seen or len(batches[-1]) == TRANSACTION_ROWS:
            batches.append([])
            seen = set()
        batches[-1].append(row)
        seen.add(row["RowKey"])
    return [b for b in batches if b]


async def _in_order(
    rows: list[dict[str, Any]], write: Callable[[list[dict[str, Any]]], Awaitable[None]]
) -> None:
    for batch in _batches(rows):
        await write(batch)


class BindingStore:
    def __init__(self, table: TableClient) -> None:
        self.table = table
        self._current: set[str] = set()  # pairs whose older-layout rows this process moved
        self._moving: dict[str, asyncio.Lock] = {}  # a chunk's records start together

    async def _moved(self, pair: str) -> None:
        """Move the rows an older version left in the pair's single partition: each is
        created in its partition unless that has the row by now (a newer write wins), then
        deleted. Idempotent: workers may move at the same time. Page by page, in
        transactions, so a pair of 100,000 bindings moves in a few thousand requests."""
        if pair in self._current:
            return
        async with self._moving.setdefault(pair, asyncio.Lock()):
            if pair in self._current:
                return  # moved while this caller waited
            legacy = self.table.query_entities("PartitionKey eq @pair", parameters={"pair": pair})
            page: list[dict[str, Any]] = []
            async for row in legacy:
                page.append(dict(row))
                if len(page) == 1000:
                    await self._move(pair, page)
                    page = []
            await self._move(pair, page)
            self._current.add(pair)

    async def _move(self, pair: str, rows: list[dict[str, Any]]) -> None:
        homes: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            home = _home(pair, row["RowKey"])
            if home is not None:
                homes.setdefault(home, []).append(
                    {"PartitionKey": home, "RowKey": row["RowKey"], **_fields(row)}
                )
        for batch in (b for moved in homes.values() for b in _batches(moved)):
            try:
                await self.table.submit_transaction([("create", r) for r in batch])
            except TableTransactionError:
                for r in batch:  # some exist already: those are newer
                    with contextlib.suppress(ResourceExistsError):
                        await self.table.create_entity(r)
        gone = [{"PartitionKey": pair, "RowKey": r["RowKey"]} for m in homes.values() for r in m]
        for batch in _batches(gone):
            try:
                await self.table.submit_transaction([("delete", r) for r in batch])
            except TableTransactionError:
                for r in batch:  # another worker deleted some
                    with contextlib.suppress(ResourceNotFoundError):
                        await self.table.delete_entity(pair, r["RowKey"])

    async def get(self, pair: str, side: Side, record_id: str) -> Binding | None:
        await self._moved(pair)
        try:
            entity = await self.table.get_entity(
                binding_partition(pair, side, record_id), f"{side}|{encode_key(record_id)}"
            )
        except ResourceNotFoundError:
            return None
        return Binding.model_validate(from_properties(entity, json_fields=set()))

    async def get_many(self, pair: str, side: Side, record_ids: list[str]) -> dict[str, Binding]:
        """The bindings of `record_ids` on `side` that exist, by record id (a chunk's read):
        a query per partition and 14 ids, the partitions' queries at once."""
        await self._moved(pair)
        by_partition: dict[str, list[str]] = {}
        for record_id in dict.fromkeys(record_ids):
            by_partition.setdefault(binding_partition(pair, side, record_id), []).append(
                f"{side}|{encode_key(record_id)}"
            )
        found = await asyncio.gather(
            *(rows_by_key(self.table, p, keys) for p, keys in by_partition.items())
        )
        return {
            decode_key(key.split("|", 1)[1]): Binding.model_validate(
                from_properties(row, json_fields=set())
            )
            for rows in found
            for key, row in rows.items()
        }

    @staticmethod
    def _row(
        pair: str, side: Side, crm_id: str, erp_id: str, changes: dict[str, Any]
    ) -> dict[str, Any]:
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
        record_id = crm_id if side == "crm" else erp_id
        return {
            "PartitionKey": binding_partition(pair, side, record_id),
            "RowKey": f"{side}|{encode_key(record_id)}",
            **fields,
        }

    async def write_many(
        self,
        pair: str,
        writes: list[tuple[str, str, dict[str, Any]]],
        *,
        source: Side,
        new: Collection[tuple[str, str]] = (),
    ) -> None:
        """Several pairs' rows (crm id, erp id, changes): the target side's rows first, then
        the `source` side's (its record's commit point: module docstring), each side's
        partitions in transactions of up to 100 rows, at once. A later write of the same
        pair in `writes` wins (its changes are merged over the earlier's).

        Pairs in `new` (crm id, erp id) were unbound when read: their rows are inserted, in
        transactions of their own, and merged like the others if one exists by then (a
        concurrent writer, or a target row a dead worker wrote). The result is the same; an
        insert is one lookup of the row where a merge is three in Azurite, whose lookups scan
        the partition (bench/azurite_partition_bench.py, docs/engine.md)."""
        await self._moved(pair)
        merged: dict[tuple[str, str], dict[str, Any]] = {}
        for crm_id, erp_id, changes in writes:
            merged.setdefault((crm_id, erp_id), {}).update(changes)
        fresh = set(new)
        for side in (other(source), source):
            inserts: dict[str, list[dict[str, Any]]] = {}
            merges: dict[str, list[dict[str, Any]]] = {}
            for ids, changes in merged.items():
                row = self._row(pair, side, *ids, changes)
                (inserts if ids in fresh else merges).setdefault(row["PartitionKey"], []).append(
                    row
                )
            # Partitions at once; a partition's transactions, and inserts before merges, in
            # order (a pair's row may come twice: the later write must land last).
            await asyncio.gather(*(_in_order(rows, self._insert_rows) for rows in inserts.values()))
            await asyncio.gather(*(_in_order(rows, self._merge_rows) for rows in merges.values()))

    async def _insert_rows(self, rows: list[dict[str, Any]]) -> None:
        try:
            await self.table.submit_transaction([("create", row) for row in rows])
        except TableTransactionError:
            await self._merge_rows(rows)  # one of them exists by now: merge them all

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
        await self._moved(pair)
        partition = claims_partition(pair)
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
        await self._moved(pair)
        rows = self.table.query_entities(
            "PartitionKey ge @low and PartitionKey lt @high",
            # "|" is followed by "}" in ASCII: every partition of the side, and nothing else.
            parameters={"low": f"{pair}|{side}|", "high": f"{pair}|{side}}}"},
            select=[f"{side}_id"],
        )
        return [str(row[f"{side}_id"]) async for row in rows]

    async def write(
        self, pair: str, crm_id: str, erp_id: str, changes: dict[str, Any], *, source: Side
    ) -> None:
        """Create or update the pair's two rows with `changes` (Binding fields), the
        `source` side's last."""
        await self.write_many(pair, [(crm_id, erp_id, changes)], source=source)

    async def _merge_rows(self, rows: list[dict[str, Any]]) -> None:
        """Merge the rows (of one partition) in one transaction: all of them, or none."""
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
        await self._moved(pair)
        partition = claims_partition(pair)
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
        await self._moved(pair)
        try:
            row = await self.table.get_entity(claims_partition(pair), _claim_row(side, key))
        except ResourceNotFoundError:
            return False
        return row.get("source_id") == source_id and bool(row.get("creating"))

    async def take_over(
        self, pair: str, side: Side, held: KeyClaim, source_id: str, now: datetime
    ) -> bool:
        """Replace `held` (a stale claim) with one of `source_id`, only if nobody changed it
        since it was read."""
        await self._moved(pair)
        entity = {
            "PartitionKey": claims_partition(pair),
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
