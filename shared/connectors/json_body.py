"""JSON answers of the two OData clients (Creatio, Dataverse): parsed with every decimal kept
exact, and records turned into the plain JSON-able values the engine works with."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import httpx

from shared.connectors.errors import ConnectorError
from shared.errors import ErrorCategory


def parse_json(response: httpx.Response, *, system: str, action: str) -> Any:
    """The answer's JSON, numbers with a fraction as Decimal (money to the cent); an answer
    that is not JSON is an internal error (`bad_answer`) naming the call."""
    try:
        return json.loads(response.content, parse_float=Decimal)
    except ValueError:
        raise ConnectorError(
            f"{action}: {system.capitalize()} answered HTTP {response.status_code} with a body "
            "that is not JSON",
            category=ErrorCategory.INTERNAL,
            system=system,
            code="bad_answer",
        ) from None


def plain(value: Any) -> Any:
    """A value as read -> JSON-able: decimals become floats when a float holds them exactly
    (every money amount the systems store), else their exact text."""
    if isinstance(value, Decimal):
        number = float(value)
        return number if Decimal(repr(number)) == value else format(value, "f")
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value
