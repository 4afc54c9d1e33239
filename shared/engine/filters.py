"""Flow filters that name lookup rows ("Closed won") resolved to their ids on the source,
once per worker: lookup tables hold a handful of rows and almost never change."""

from __future__ import annotations

import logging
from typing import Any

from shared.connectors.protocol import SyncConnector
from shared.mapping.apply import NameResolver

log = logging.getLogger("shuttle.engine")
_cache: dict[tuple[str, str, str], tuple[str, ...]] = {}


def names_on(source: SyncConnector) -> NameResolver:
    async def resolve(lookup: str, options: tuple[Any, ...]) -> tuple[Any, ...]:
        ids: list[str] = []
        for name in options:
            key = (source.system, lookup, str(name))
            if key not in _cache:
                found = tuple(r.id for r in await source.find(lookup, {"Name": name}, limit=5))
                if not found:
                    # Not cached: the row may be added (or the name fixed) later.
                    log.warning("flow filter: %s has no %s named %r; no record passes it",
                                source.system, lookup, name)  # fmt: skip
                    continue
                _cache[key] = found
            ids.extend(_cache[key])
        return tuple(ids)

    return resolve
