"""Money reaches Dataverse as the exact decimal it is: Python's json writes floats only, and a
float cannot hold 1234567890123.46 (nor keep 100.10's trailing zero)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from shared.connectors.dataverse.batch import build
from shared.connectors.dataverse.exact_json import dumps_exact
from shared.connectors.dataverse.models import BatchOperation
from shared.connectors.errors import InvalidValue


def test_decimals_are_written_digit_for_digit() -> None:
    body = {
        "totalamount": Decimal("1234567890123.46"),
        "lines": [{"tax": Decimal("-0.10")}],
        "name": 'x "\u0000decimal:1"',
        "quantity": 2,
    }
    text = dumps_exact(body)
    assert '"totalamount": 1234567890123.46' in text and '"tax": -0.10' in text
    parsed = json.loads(text, parse_float=Decimal)
    assert parsed["totalamount"] == Decimal("1234567890123.46")
    assert parsed["name"] == body["name"]  # text that looks like the marker stays text
    with pytest.raises(InvalidValue):
        dumps_exact({"price": Decimal("NaN")})


def test_batch_bodies_carry_exact_decimals() -> None:
    operation = BatchOperation(
        method="PATCH",
        url="invoicedetails(x)",
        body={"priceperunit": Decimal("9007199254740993.01")},
    )
    _, payload = build([operation], "https://org.example/api/data/v9.2/")
    assert b'"priceperunit": 9007199254740993.01' in payload
