"""JSON bodies for Dataverse with Decimals written exactly (money to the cent)."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from shared.connectors.dataverse.odata import InvalidValue

_DECIMAL = "\u0000decimal:"
_DECIMAL_TEXT = re.compile(r'"\\u0000decimal:(-?[0-9]+(?:\.[0-9]+)?)"')


def dumps_exact(body: Any) -> str:
    """JSON with every Decimal written as the exact number it holds (json writes floats
    only, and 1234567890123.46 as a float is not that number); money columns take it as is."""

    def encode(value: Any) -> Any:
        if isinstance(value, Decimal):
            if not value.is_finite():
                raise InvalidValue(f"cannot send {value} to Dataverse")
            return f"{_DECIMAL}{format(value, 'f')}"
        raise InvalidValue(f"cannot send a {type(value).__name__} to Dataverse")

    text = json.dumps(body, default=encode, ensure_ascii=False, allow_nan=False)
    return _DECIMAL_TEXT.sub(r"\1", text)
