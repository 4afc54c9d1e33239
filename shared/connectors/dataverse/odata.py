"""OData literals, keys and timestamps as the Dataverse Web API reads and writes them."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from shared.connectors.dataverse.config import SYSTEM
from shared.connectors.errors import ConnectorError
from shared.errors import ErrorCategory

GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ENTITY_ID = re.compile(r"\((?:[A-Za-z_]+id=)?(" + GUID.pattern + r")\)\s*$")


class InvalidValue(ConnectorError):
    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(
            message, category=ErrorCategory.VALIDATION, system=SYSTEM, code="invalid_value",
            field=field,
        )  # fmt: skip


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise InvalidValue(f"not a Dataverse column or table name: {name!r}", field=name)
    return name


def format_datetime(value: dt.datetime) -> str:
    """A DateTimeOffset literal in UTC (`2024-05-01T10:00:00Z`, microseconds when set)."""
    if value.tzinfo is None:
        raise InvalidValue("a timestamp without a time zone is ambiguous; give it in UTC")
    utc = value.astimezone(dt.UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


def parse_datetime(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def quote_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def literal(value: Any, *, guid: bool = False) -> str:
    """A value as an OData literal. Strings are quoted ('' escapes a quote), GUIDs bare only
    when `guid` (a key or `_x_value` column: a GUID-looking text column stays a string)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime):
        return format_datetime(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        if guid:
            if not GUID.fullmatch(value):
                raise InvalidValue(f"not a GUID: {value!r}")
            return value.lower()
        return quote_string(value)
    raise InvalidValue(f"cannot compare with a {type(value).__name__}")


def key_segment(key: str | uuid.UUID | Mapping[str, Any]) -> str:
    """`(<guid>)` for a primary key, `(name='value',...)` for an alternate key."""
    if isinstance(key, Mapping):
        parts = [f"{check_name(name)}={literal(value)}" for name, value in key.items()]
        return f"({','.join(parts)})"
    text = str(key)
    if not GUID.fullmatch(text):
        raise InvalidValue(f"not a Dataverse record id (GUID): {text!r}")
    return f"({text.lower()})"


def entity_id(header: str | None) -> str | None:
    """The GUID in an `OData-EntityId` header (`.../accounts(<guid>)`)."""
    if not header:
        return None
    match = _ENTITY_ID.search(header)
    return match.group(1).lower() if match else None


def all_of(*clauses: str) -> str:
    return " and ".join(f"({c})" if " or " in c else c for c in clauses if c)
