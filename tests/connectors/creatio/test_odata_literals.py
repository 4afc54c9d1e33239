"""OData literals and query strings: values stay values."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import parse_qs

import pytest

from shared.connectors.creatio.odata import (
    all_of,
    any_of,
    check_path,
    contains,
    encode_query,
    eq,
    format_datetime,
    literal,
    match_filter,
    parse_datetime,
    quote_string,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "null"),
        (True, "true"),
        (False, "false"),
        (42, "42"),
        (Decimal("1234.50"), "1234.50"),
        (Decimal("1E+3"), "1000"),
        (1.5, "1.5"),
        (uuid.UUID("8b0f0000-0000-4000-8000-000000000001"), "8b0f0000-0000-4000-8000-000000000001"),
        (datetime(2024, 5, 1, tzinfo=UTC), "2024-05-01T00:00:00Z"),
        ("O'Brien", "'O''Brien'"),
        ("''", "''''''"),
        ("8b0f0000-0000-4000-8000-000000000001", "'8b0f0000-0000-4000-8000-000000000001'"),
        ("2024-05-01T00:00:00Z", "'2024-05-01T00:00:00Z'"),
        ("null", "'null'"),
    ],
)
def test_literals(value: object, expected: str) -> None:
    assert literal(value) == expected


@pytest.mark.parametrize("value", [float("nan"), float("inf"), Decimal("NaN"), object()])
def test_values_without_a_literal_are_refused(value: object) -> None:
    with pytest.raises((ValueError, TypeError)):
        literal(value)


def test_datetimes_are_utc_and_must_be_aware() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert format_datetime(datetime(2024, 5, 1, 12, 0, 0, 120000, tzinfo=plus_two)) == (
        "2024-05-01T10:00:00.12Z"
    )
    with pytest.raises(ValueError):
        format_datetime(datetime(2024, 5, 1))


def test_creatio_timestamps_parse_with_seven_digits() -> None:
    assert parse_datetime("2024-05-02T10:00:00.1234567Z") == datetime(
        2024, 5, 2, 10, 0, 0, 123456, tzinfo=UTC
    )
    assert parse_datetime("2024-05-02T10:00:00Z") == datetime(2024, 5, 2, 10, tzinfo=UTC)
    assert parse_datetime("0001-01-01T00:00:00Z") is None


def test_quoting_keeps_a_value_inside_its_literal() -> None:
    hostile = "x' or Name ne 'x"
    assert eq("Name", hostile) == "Name eq 'x'' or Name ne ''x'"
    assert contains("Name", "it's") == "contains(Name,'it''s')"
    assert quote_string("") == "''"


@pytest.mark.parametrize("path", ["Name eq 'x' or Name", "Name)", "1Name", "Stage/", "a b", ""])
def test_field_paths_are_checked(path: str) -> None:
    with pytest.raises(ValueError):
        check_path(path)
    with pytest.raises(ValueError):
        eq(path, "x")


def test_filters_compose() -> None:
    assert match_filter({"Name": "A", "Code": "B"}) == "(Name eq 'A') and (Code eq 'B')"
    assert match_filter({"Stage/Name": "Closed won"}) == "Stage/Name eq 'Closed won'"
    assert all_of(None, "a eq 1") == "a eq 1"
    assert all_of("a eq 1", "b eq 2", None) == "(a eq 1) and (b eq 2)"
    assert any_of("a eq 1", "b eq 2") == "(a eq 1) or (b eq 2)"
    assert all_of() is None
    with pytest.raises(ValueError):
        match_filter({})


def test_query_strings_encode_every_special_character() -> None:
    value = "Name eq 'a & b + c = 100% #1 ? é/ü'"
    query = encode_query({"$filter": value, "$top": 5, "$skip": None})
    assert " " not in query and "+" not in query.split("&")[0].split("=", 1)[1]
    assert "&$top=5" in query and "$skip" not in query
    assert parse_qs(query)["$filter"] == [value]
