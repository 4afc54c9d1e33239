"""The calls a chunk's records make at about the same time, sent together (issue 15): each
record of a chunk is synced by its own task (upsert.py, one record's decisions), and the
lookups, matches, claims and writes those tasks make meet here and leave as one batch per
kind — an Intacct request with many functions, an `in` query, one Table query or
transaction — while every record still gets its own answer or its own error.

A batch leaves once every live task of the chunk waits on this batcher (so the first
record's call waits for the others), or after `window` seconds (a task busy elsewhere, such
as a source read, never holds the others up for longer).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from datetime import datetime
from typing import Any

from shared.connectors.protocol import (
    Reference,
    SourceRef,
    SyncConnector,
    SyncRecord,
    WriteOutcome,
)
from shared.storage.binding_store import Binding, BindingStore, KeyClaim, Side

Flush = Callable[[list[Any]], Awaitable[Sequence[Any]]]


class Batcher:
    def __init__(self, live: int, window: float = 0.05) -> None:
        self.live = live
        self.window = window
        self.queued: dict[Hashable, tuple[Flush, list[tuple[Any, asyncio.Future[Any]]]]] = {}
        self.count = 0  # calls queued
        self.sent = 0  # calls whose batch is in flight
        self.batches = 0  # batches sent (for logs and the bench)
        self._timer: asyncio.TimerHandle | None = None

    def finished(self) -> None:
        self.live -= 1
        self._check()

    async def call(self, kind: Hashable, flush: Flush, arg: Any) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.queued.setdefault(kind, (flush, []))[1].append((arg, future))
        self.count += 1
        self._check()
        return await future

    def _check(self) -> None:
        if not self.count:
            return
        if self.count + self.sent >= self.live:
            self._flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.window, self._flush)

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        queued, self.queued = self.queued, {}
        for flush, items in queued.values():
            self.sent += len(items)
            self.batches += 1
            asyncio.get_running_loop().create_task(self._send(flush, items))
        self.count = 0

    async def _send(self, flush: Flush, items: list[tuple[Any, asyncio.Future[Any]]]) -> None:
        try:
            results: Sequence[Any] = await flush([arg for arg, _ in items])
        except BaseException as exc:  # the whole batch failed: each call gets the error
            results = [exc] * len(items)
        self.sent -= len(items)
        for (_, future), result in zip(items, results, strict=True):
            if future.done():
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
        self._check()


def _key(value: Any) -> str:
    return value.id if isinstance(value, Reference) else str(value)


class ChunkTarget:
    """The target connector as a chunk's records see it: `find` by one field, `get`,
    `create` and `update` go out in batches when the connector has the batch methods
    (`find_many`, `create_many`, `update_many`); everything else passes through."""

    def __init__(self, target: SyncConnector, batcher: Batcher) -> None:
        self._target = target
        self._batcher = batcher
        self.system = target.system

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)

    async def find(
        self,
        object: str,
        criteria: Mapping[str, Any],
        *,
        fields: Sequence[str] | None = None,
        limit: int = 2,
    ) -> list[SyncRecord]:
        many = getattr(self._target, "find_many", None)
        if many is None or len(criteria) != 1:
            return await self._target.find(object, criteria, fields=fields, limit=limit)
        ((field, value),) = criteria.items()
        if value is None or isinstance(value, dict | list):
            return await self._target.find(object, criteria, fields=fields, limit=limit)
        kind = ("find", object, field, tuple(fields) if fields else None)

        async def flush(values: list[Any]) -> list[list[SyncRecord]]:
            found = await many(object, field, values, fields=fields)
            out: list[list[SyncRecord]] = []
            for v in values:
                hits = found.get(_key(v))
                if hits is None:  # the batch could not tell: ask for this value alone
                    hits = await self._target.find(object, {field: v}, fields=fields, limit=2)
                out.append(hits)
            return out

        hits: list[SyncRecord] = await self._batcher.call(kind, flush, value)
        return hits[:limit]

    async def get(
        self, object: str, id: str, *, fields: Sequence[str] | None = None
    ) -> SyncRecord | None:
        many = getattr(self._target, "get_many", None)
        if many is None:
            return await self._target.get(object, id, fields=fields)
        kind = ("get", object, tuple(fields) if fields else None)

        async def flush(ids: list[str]) -> list[SyncRecord | None]:
            found = await many(object, ids, fields=fields)
            return [found.get(i) for i in ids]

        result: SyncRecord | None = await self._batcher.call(kind, flush, id)
        return result

    async def create(
        self, object: str, values: Mapping[str, Any], *, source: SourceRef
    ) -> WriteOutcome:
        many = getattr(self._target, "create_many", None)
        if many is None:
            return await self._target.create(object, values, source=source)

        async def flush(items: list[tuple[Mapping[str, Any], SourceRef]]) -> list[Any]:
            return list(await many(object, items))

        result: WriteOutcome = await self._batcher.call(("create", object), flush, (values, source))
        return result

    async def update(self, object: str, id: str, values: Mapping[str, Any]) -> WriteOutcome:
        many = getattr(self._target, "update_many", None)
        if many is None:
            return await self._target.update(object, id, values)

        async def flush(items: list[tuple[str, Mapping[str, Any]]]) -> list[Any]:
            return list(await many(object, items))

        result: WriteOutcome = await self._batcher.call(("update", object), flush, (id, values))
        return result


# Its methods repeat BindingStore's signatures (shared/storage/binding_store.py) on purpose:
# it stands in for the store, batching each call into the store's *_many form.
class ChunkBindings:
    """The binding store as a chunk's records see it: reads and key claims in batches, and
    binding writes held until the chunk's records are done, then written in transactions
    (`flush`) before any of their outcomes is settled."""

    def __init__(self, store: BindingStore, batcher: Batcher) -> None:
        self.store = store
        self.table = store.table
        self._batcher = batcher
        self._writes: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
        self._written: dict[tuple[str, Side, str], Binding] = {}
        self._unbound: set[tuple[str, Side, str]] = set()  # read, and found unbound
        self._sources: dict[str, Side] = {}  # each pair's source side (written last)

    async def get(self, pair: str, side: Side, record_id: str) -> Binding | None:
        mine = self._written.get((pair, side, record_id))
        if mine is not None:
            return mine

        async def flush(ids: list[str]) -> list[Binding | None]:
            found = await self.store.get_many(pair, side, ids)
            return [found.get(i) for i in ids]

        result: Binding | None = await self._batcher.call(("get", pair, side), flush, record_id)
        if result is None:
            self._unbound.add((pair, side, record_id))
        return result

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
        async def flush(items: list[tuple[str, str, bool]]) -> list[KeyClaim | None]:
            held = await self.store.claim_many(pair, side, items, now)
            return [held[i] for i in items]

        result: KeyClaim | None = await self._batcher.call(
            ("claim", pair, side), flush, (key, source_id, creating)
        )
        return result

    async def created_by(self, pair: str, side: Side, key: str, source_id: str) -> bool:
        return await self.store.created_by(pair, side, key, source_id)

    async def take_over(
        self, pair: str, side: Side, held: KeyClaim, source_id: str, now: datetime
    ) -> bool:
        return await self.store.take_over(pair, side, held, source_id, now)

    async def write(
        self, pair: str, crm_id: str, erp_id: str, changes: dict[str, Any], *, source: Side
    ) -> None:
        self._writes.setdefault(pair, []).append((crm_id, erp_id, changes))
        self._sources[pair] = source  # a chunk is one flow's: one direction per pair
        previous = self._written.get((pair, "crm", crm_id))
        data = previous.model_dump() if previous else {}
        data.update({"crm_id": crm_id, "erp_id": erp_id, **changes})
        binding = Binding.model_validate(data)
        self._written[(pair, "crm", crm_id)] = binding
        self._written[(pair, "erp", erp_id)] = binding

    async def flush(self) -> None:
        for pair, writes in self._writes.items():
            # A pair whose either side was read unbound is new (its rows are inserted).
            new = {
                (crm_id, erp_id)
                for crm_id, erp_id, _ in writes
                if (pair, "crm", crm_id) in self._unbound or (pair, "erp", erp_id) in self._unbound
            }
            await self.store.write_many(pair, writes, source=self._sources[pair], new=new)
        self._writes.clear()
