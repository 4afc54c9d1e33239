"""OData literals, keys and timestamps as the Dataverse Web API reads and writes them."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping
from typing import Any

from shared.connectors import odata
from shared.connectors.dataverse.config import SYSTEM
from shared.connectors.errors import InvalidValue
from shared.connectors.odata import GUID

_ENTITY_ID = re.compile(r"\((?:[A-Za-z_]+id=)?(" + GUID.pattern + r")\)\s*$")


def check_name(name: str) -> str:
    if not odata.NAME.fullmatch(name):
        raise InvalidValue(
            f"not a Dataverse column or table name: {name!r}", field=name, system=SYSTEM
        )
    return name


def format_datetime(value: dt.datetime) -> str:
    """A DateTimeOffset literal in UTC (`2024-05-01T10:00:00Z`, microseconds when set)."""
    return odata.format_datetime(value, system=SYSTEM)


def parse_datetime(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def literal(value: Any, *, guid: bool = False) -> str:
    """A value as an OData literal; GUIDs bare only when `guid` (a key or `_x_value`
    column: a GUID-looking text column stays a string)."""
    return odata.literal(value, system=SYSTEM, guid=guid)


def key_segment(key: str | uuid.UUID | Mapping[str, Any]) -> str:
    """`(<guid>)` for a primary key, `(name='value',...)` for an alternate key."""
    if isinstance(key, Mapping):
        parts = [f"{check_name(name)}={literal(value)}" for name, value in key.items()]
        return f"({','.join(parts)})"
    text = str(key)
    if not GUID.fullmatch(text):
        raise InvalidValue(f"not a Dataverse record id (GUID): {text!r}", system=SYSTEM)
    return f"({text.lower()})"


def entity_id(header: str | None) -> str | None:
    """The GUID in an `OData-EntityId` header (`.../accounts(<guid>)`)."""
    if not header:
        return None
    match = _ENTITY_ID.search(header)
    return match.group(1).lower() if match else None


def all_of(*clauses: str) -> str:
    return " and ".join(f"({c})" if " or " in c else c for c in clauses if c)
