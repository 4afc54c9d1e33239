"""Lookup ids are kept per connector and for a while only (shared/engine/lookup_cache.py)."""

from __future__ import annotations

from shared.engine.lookup_cache import CACHE_SECONDS, cached, keep


class Connector:
    pass


def test_ids_are_kept_per_connector_and_expire() -> None:
    now = [1000.0]
    one, other = Connector(), Connector()
    keep(one, ("filter", "OpportunityStage", "Closed won"), ("a1",), clock=lambda: now[0])
    key = ("filter", "OpportunityStage", "Closed won")
    assert cached(one, key, clock=lambda: now[0]) == ("a1",)
    # Another connector (another environment, or the same system re-created) sees nothing.
    assert cached(other, key, clock=lambda: now[0]) is None
    now[0] += CACHE_SECONDS
    assert cached(one, key, clock=lambda: now[0]) is None
