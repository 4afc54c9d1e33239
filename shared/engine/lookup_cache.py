"""Ids of lookup rows found by name or code ("Closed won", currency "EUR", a price list),
kept per connector for ten minutes: lookup tables hold a handful of rows and seldom change,
and a row an admin re-creates under the same name gets a new id that is found again soon
after. Kept on the connector (weakly), so a connector built afresh (a new worker, another
environment behind the same system name) never sees another's ids."""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Hashable

CACHE_SECONDS = 600.0

_per_connector: weakref.WeakKeyDictionary[object, dict[Hashable, tuple[object, float]]] = (
    weakref.WeakKeyDictionary()
)


def cached(connector: object, key: Hashable, clock: Callable[[], float] = time.monotonic) -> object:
    """The value kept for `key` on `connector`, or None when absent or older than the TTL."""
    hit = _per_connector.get(connector, {}).get(key)
    if hit is None or clock() - hit[1] >= CACHE_SECONDS:
        return None
    return hit[0]


def keep(
    connector: object, key: Hashable, value: object, clock: Callable[[], float] = time.monotonic
) -> None:
    _per_connector.setdefault(connector, {})[key] = (value, clock())
