"""The `find` of field mappings (shared/mapping/model.py `Find`): a value looked up by a field
on the source or the target — a lookup row by its name or code (payment status "Paid",
currency "EUR", a price list), or a link the target already holds (the opportunity of the
Creatio invoice numbered X).

Ids of rows found by name or code are cached per connector for ten minutes: lookup tables
hold a handful of rows and seldom change, and a row an admin re-creates (a price list) is
found again soon after. Anything else (another field of a record) is read each time."""

from __future__ import annotations

import time
from typing import Any

from shared.connectors.protocol import Reference, SyncConnector
from shared.mapping.apply import Finder
from shared.mapping.model import Find

CACHE_SECONDS = 600.0
_ids: dict[tuple[int, str, str, str], tuple[str, float]] = {}


def finder(source: SyncConnector, target: SyncConnector) -> Finder:
    async def find(how: Find, key: Any) -> Any:
        side = target if how.side == "target" else source
        cached = (id(side), how.object, how.by, str(key))
        hit = _ids.get(cached)
        if how.take == "@id" and hit is not None and time.monotonic() - hit[1] < CACHE_SECONDS:
            return Reference(object=how.object, id=hit[0])
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
            _ids[cached] = (row.id, time.monotonic())
        return Reference(object=how.object, id=row.id)

    return find
