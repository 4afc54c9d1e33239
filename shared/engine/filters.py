"""Flow filters that name lookup rows ("Closed won") resolved to their ids on the source,
kept per connector for a while (shared/engine/lookup_cache.py)."""

from __future__ import annotations

import logging
from typing import Any

from shared.connectors.protocol import SyncConnector
from shared.engine.lookup_cache import cached, keep
from shared.mapping.apply import NameResolver

log = logging.getLogger("shuttle.engine")


def names_on(source: SyncConnector) -> NameResolver:
    async def resolve(lookup: str, options: tuple[Any, ...]) -> tuple[Any, ...]:
        ids: list[str] = []
        for name in options:
            key = ("filter", lookup, str(name))
            found = cached(source, key)
            if found is None:
                found = tuple(r.id for r in await source.find(lookup, {"Name": name}, limit=5))
                if not found:
                    # Not kept: the row may be added (or the name fixed) later.
                    log.warning(
                        "flow filter: %s has no %s named %r; no record passes it",
                        source.system,
                        lookup,
                        name,
                    )
                    continue
                keep(source, key, found)
            ids.extend(found)  # type: ignore[arg-type]
        return tuple(ids)

    return resolve
