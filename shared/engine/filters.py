"""Flow filters that name lookup rows ("Closed won") resolved to their ids on the source,
once per worker: lookup tables hold a handful of rows and almost never change."""

from __future__ import annotations

from typing import Any

from shared.connectors.protocol import SyncConnector
from shared.mapping.apply import NameResolver

_cache: dict[tuple[str, str, str], tuple[str, ...]] = {}


def names_on(source: SyncConnector) -> NameResolver:
    async def resolve(lookup: str, options: tuple[Any, ...]) -> tuple[Any, ...]:
        ids: list[str] = []
        for name in options:
            key = (source.system, lookup, str(name))
            if key not in _cache:
                found = await source.find(lookup, {"Name": name}, limit=5)
                _cache[key] = tuple(r.id for r in found)
            ids.extend(_cache[key])
        return tuple(ids)

    return resolve
