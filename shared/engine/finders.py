"""The `find` of field mappings (shared/mapping/model.py `Find`): a value looked up by a field
on the source or the target — a lookup row by its name or code (payment status "Paid",
currency "EUR", a price list), or a link the target already holds (the opportunity of the
Creatio invoice numbered X).

Ids of rows found by name or code are cached per worker process, as flow filters cache theirs
(shared/engine/filters.py): lookup tables hold a handful of rows and almost never change.
Anything else (another field of a record) is read each time, since records change."""

from __future__ import annotations

from typing import Any

from shared.connectors.protocol import Reference, SyncConnector
from shared.mapping.apply import Finder
from shared.mapping.model import Find

_ids: dict[tuple[str, str, str, str], str] = {}


def finder(source: SyncConnector, target: SyncConnector) -> Finder:
    async def find(how: Find, key: Any) -> Any:
        side = target if how.side == "target" else source
        cached = (side.system, how.object, how.by, str(key))
        if how.take == "@id" and cached in _ids:
            return Reference(object=how.object, id=_ids[cached])
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
            _ids[cached] = row.id
        return Reference(object=how.object, id=row.id)

    return find
