"""OData 4 literals, shared by the Creatio and Dataverse clients: built so that no value can
change the meaning of a filter (strings quoted with embedded quotes doubled, every other type
in its own unquoted form). Each client's `odata` module adds its names, keys and queries."""

from __future__ import annotations

import datetime as dt
import math
import re
import uuid
from decimal import Decimal
from typing import Any

from shared.connectors.errors import InvalidValue

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def quote_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def format_datetime(value: dt.datetime, *, system: str) -> str:
    """An aware datetime as a DateTimeOffset literal in UTC (`...T10:00:00.123456Z`)."""
    if value.tzinfo is None:
        message = "a timestamp without a time zone is ambiguous; give it in UTC"
        raise InvalidValue(message, system=system)
    utc = value.astimezone(dt.UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


def literal(value: Any, *, system: str, guid: bool = False) -> str:
    """A Python value as an OData 4 literal. Strings are always string literals, even when
    they look like a GUID or a number (pass uuid.UUID / datetime / Decimal for those), except
    with `guid`: a key or lookup column, where a GUID's text is written bare."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal | float):
        finite = value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)
        if not finite:
            raise InvalidValue(f"not a finite number: {value}", system=system)
        return format(value, "f") if isinstance(value, Decimal) else repr(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime):
        return format_datetime(value, system=system)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        if not guid:
            return quote_string(value)
        if not GUID.fullmatch(value):
            raise InvalidValue(f"not a GUID: {value!r}", system=system)
        return value.lower()
    raise InvalidValue(f"no OData literal for a {type(value).__name__}", system=system)
