"""The `find` of field mappings (shared/mapping/model.py `Find`): a value looked up by a field
on the source or the target — a lookup row by its name or code (payment status "Paid",
currency "EUR", a price list), or a link the target already holds (the opportunity of the
Creatio invoice numbered X).

Ids of rows found by name or code are kept per connector for a while
(shared/engine/lookup_cache.py); anything else (another field of a record) is read each
time."""

from __future__ import annotations

from typing import Any

from shared.connectors.protocol import Reference, SyncConnector
from shared.engine.lookup_cache import cached, keep
from shared.mapping.apply import Finder
from shared.mapping.model import Find


def finder(source: SyncConnector, target: SyncConnector) -> Finder:
    async def find(how: Find, key: Any) -> Any:
        side = target if how.side == "target" else source
        memo = ("find", how.object, how.by, str(key))
        hit = cached(side, memo)
        if how.take == "@id" and hit is not None:
            return Reference(object=how.object, id=str(hit))
        if how.by == "@id":
            record = await side.get(how.object, str(key))
            rows = [record] if record is not None else []
        else:
            rows = await side.find(how.object, {how.by: key}, limit=2)
        if len(rows) != 1:
            return None  # none, or two that the value cannot tell apart
        (row,) = rows
        if how.take != "@id":
            return row.values.get(how.take)
        if how.by != "@id":
            keep(side, memo, row.id)
        return Reference(object=how.object, id=row.id)

    return find
