"""Values that systems spell differently compare equal; different values never do."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.connectors.protocol import Reference
from shared.engine.values import same, values_hash


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("100.00", 100),
        (1250.5, "1250.50"),
        (None, ""),
        ("  Acme ", "Acme"),
        ("2026-05-01T00:00:00Z", "2026-05-01T00:00:00.0000000+00:00"),
        ("2026-05-01T02:00:00+02:00", datetime(2026, 5, 1, tzinfo=UTC)),
        (True, "true"),
        (Reference(object="CUSTOMER", id="C-1"), "C-1"),
    ],
)
def test_same_value_spelled_differently(a: object, b: object) -> None:
    assert same(a, b)
    assert values_hash({"x": a}) == values_hash({"x": b})


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("100.01", 100),
        ("Acme", "acme"),
        (None, 0),
        ("2026-05-01T00:00:01Z", "2026-05-01T00:00:00Z"),
        (True, False),
        ("007", "7 "),
        ("0123", "123"),
    ],
)
def test_different_values_differ(a: object, b: object) -> None:
    assert not same(a, b)
    assert values_hash({"x": a}) != values_hash({"x": b})


def test_hash_ignores_key_order_but_not_keys() -> None:
    assert values_hash({"a": 1, "b": 2}) == values_hash({"b": 2, "a": 1})
    assert values_hash({"a": 1}) != values_hash({"b": 1})
