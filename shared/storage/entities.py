"""Convert pydantic models to Table entities and back (flat properties, JSON for nesting)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient
from pydantic import BaseModel

_SYSTEM = {"PartitionKey", "RowKey", "Timestamp", "etag"}


class StaleWrite(Exception):
    """Another writer changed (or removed) the row since we read it (HTTP 412)."""


async def replace_if_unchanged(table: TableClient, entity: dict[str, Any], etag: str | None) -> str:
    """Replace the row only if it still has `etag`; returns the new ETag, or StaleWrite."""
    try:
        meta = await table.update_entity(
            entity,
            mode=UpdateMode.REPLACE,
            etag=etag,
            match_condition=MatchConditions.IfNotModified,
        )
    except (ResourceModifiedError, ResourceNotFoundError) as exc:
        raise StaleWrite(f"{entity['PartitionKey']}/{entity['RowKey']}") from exc
    return str(meta.get("etag"))


def to_properties(model: BaseModel, *, exclude: set[str] | None = None) -> dict[str, Any]:
    """Model fields as Table properties: None omitted (REPLACE then removes it), nested
    models and lists as JSON text, enums as their values, datetimes in UTC."""
    props: dict[str, Any] = {}
    for name in type(model).model_fields:
        if exclude and name in exclude:
            continue
        value = getattr(model, name)
        if value is None or name == "etag":
            continue
        if isinstance(value, BaseModel):
            props[name] = value.model_dump_json(by_alias=True)
        elif isinstance(value, list):
            props[name] = json.dumps(
                [v.model_dump(mode="json", by_alias=True) if isinstance(v, BaseModel) else v
                 for v in value]
            )  # fmt: skip
        elif isinstance(value, Enum):
            props[name] = value.value
        elif isinstance(value, datetime):
            props[name] = value.astimezone(UTC)
        else:
            props[name] = value
    return props


def from_properties(entity: dict[str, Any], json_fields: set[str]) -> dict[str, Any]:
    """Table properties back to model input: JSON fields parsed, datetimes made plain."""
    data: dict[str, Any] = {}
    for key, value in entity.items():
        if key in _SYSTEM:
            continue
        if key in json_fields and isinstance(value, str):
            data[key] = json.loads(value)
        elif isinstance(value, datetime):
            # The SDK hands back a datetime subclass; keep a plain aware datetime.
            data[key] = datetime.fromtimestamp(value.timestamp(), UTC).replace(
                microsecond=value.microsecond
            )
        else:
            data[key] = value
    return data


def etag_of(entity: Any) -> str | None:
    metadata = getattr(entity, "metadata", None) or {}
    return metadata.get("etag")
