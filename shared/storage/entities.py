"""Convert pydantic models to Table entities and back (flat properties, JSON for nesting)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import EdmType, EntityProperty, UpdateMode
from azure.data.tables.aio import TableClient
from pydantic import BaseModel, ValidationError

from shared.errors import ShuttleError

_SYSTEM = {"PartitionKey", "RowKey", "Timestamp", "etag"}
_KEYS = ["PartitionKey", "RowKey"]
# A Python int goes to Table storage as Edm.Int32 unless told otherwise (the SDK then refuses
# anything wider); Edm.DateTime starts at 1601-01-01, and the SDK writes years below 1000
# without their leading zeros, which its own reader then rejects.
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
EARLIEST_STORABLE = datetime(1601, 1, 1, tzinfo=UTC)
# What the SDK's reader (strptime, int(), json) and our models raise on a row they cannot read.
DECODE_ERRORS = (ValueError, TypeError, KeyError, AttributeError, ArithmeticError)

M = TypeVar("M")


class StaleWrite(Exception):
    """Another writer changed (or removed) the row since we read it (HTTP 412)."""


@dataclass(frozen=True)
class BrokenRow:
    """A row that exists but cannot be turned back into its model: which, where, and why."""

    table: str
    partition_key: str
    row_key: str
    field: str | None
    problem: str

    def describe(self, subject: str) -> str:
        where = f"field '{self.field}': " if self.field else ""
        return (
            f"{subject} cannot be read from table {self.table} (row {self.partition_key}/"
            f"{self.row_key}): {where}{self.problem}; correct or delete that row"
        )


class UnreadableRowError(ShuttleError):
    """A stored row that cannot be read back (HTTP 500: the data, not the request, is bad)."""

    code = "unreadable_row"

    def __init__(self, subject: str, broken: BrokenRow) -> None:
        super().__init__(broken.describe(subject), field=broken.field)
        self.broken = broken


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
                [
                    v.model_dump(mode="json", by_alias=True) if isinstance(v, BaseModel) else v
                    for v in value
                ]
            )
        elif isinstance(value, Enum):
            props[name] = value.value
        elif isinstance(value, datetime):
            value = value.astimezone(UTC)
            if value < EARLIEST_STORABLE:
                raise ValueError(
                    f"{name}: {value.isoformat()} is before 1601-01-01, the "
                    "earliest date Table storage keeps"
                )
            props[name] = value
        elif (
            isinstance(value, int)
            and not isinstance(value, bool)
            and not (INT32_MIN <= value <= INT32_MAX)
        ):
            props[name] = EntityProperty(value, EdmType.INT64)
        else:
            props[name] = value
    return props


def from_properties(entity: dict[str, Any], json_fields: set[str]) -> dict[str, Any]:
    """Table properties back to model input: JSON fields parsed, datetimes made plain."""
    data: dict[str, Any] = {}
    for key, value in entity.items():
        if key in _SYSTEM:
            continue
        if isinstance(value, EntityProperty):  # Int64 (and other wrapped types)
            value = value.value
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


def _problem(exc: BaseException) -> tuple[str | None, str]:
    """(field, what is wrong) of a decoding failure, without the row's whole content."""
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or None
        return field, f"{err['msg']} (stored value {str(err.get('input'))[:80]!r})"
    return None, f"{type(exc).__name__}: {str(exc)[:200]}"


async def _find_bad_property(
    table: TableClient, pk: str, rk: str, properties: Iterable[str]
) -> tuple[str | None, str]:
    """Which property the SDK cannot decode: read them one by one (only for a broken row)."""
    for name in properties:
        try:
            await table.get_entity(pk, rk, select=[name])
        except DECODE_ERRORS as exc:
            return name, f"{type(exc).__name__}: {str(exc)[:200]}"
    return None, "the storage SDK cannot decode the row"


async def decode_row(
    table: TableClient,
    entity_or_key: dict[str, Any] | tuple[str, str],
    build: Callable[[dict[str, Any]], M],
    properties: Iterable[str],
) -> M | BrokenRow:
    """Build a model from a row; a row that cannot be read becomes a BrokenRow naming the
    field. Given only keys, the row is fetched first (that fetch can fail to decode too)."""
    if isinstance(entity_or_key, tuple):
        pk, rk = entity_or_key
        try:
            entity: dict[str, Any] = await table.get_entity(pk, rk)
        except DECODE_ERRORS as exc:
            field, problem = await _find_bad_property(table, pk, rk, properties)
            return BrokenRow(table.table_name, pk, rk, field, problem or str(exc))
    else:
        entity = entity_or_key
    try:
        return build(entity)
    except DECODE_ERRORS as exc:
        field, problem = _problem(exc)
        return BrokenRow(
            table.table_name, str(entity["PartitionKey"]), str(entity["RowKey"]), field, problem
        )


async def read_row(
    table: TableClient,
    pk: str,
    rk: str,
    build: Callable[[dict[str, Any]], M],
    properties: Iterable[str],
) -> M | BrokenRow:
    """One row by key (ResourceNotFoundError if absent), or BrokenRow if unreadable."""
    return await decode_row(table, (pk, rk), build, properties)


async def read_rows(
    table: TableClient,
    build: Callable[[dict[str, Any]], M],
    properties: Iterable[str],
    *,
    query_filter: str | None = None,
    parameters: dict[str, Any] | None = None,
    limit: int | None = None,
    skip: Callable[[dict[str, Any]], bool] = lambda _: False,
) -> list[M | BrokenRow]:
    """Rows of a query, each a model or a BrokenRow: one unreadable row never hides the rest.

    The SDK decodes a whole page at once and fails the page on one bad value, so after such a
    failure the query is repeated for keys only and each row is read (and judged) alone.
    """

    def pages(select: list[str] | None = None):  # type: ignore[no-untyped-def]
        per_page = {"results_per_page": limit} if limit else {}
        if query_filter is None:
            return table.list_entities(select=select, **per_page)
        return table.query_entities(query_filter, parameters=parameters, select=select, **per_page)

    async def collect(select: list[str] | None = None) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        async for entity in pages(select):
            if skip(entity):
                continue
            rows.append(entity)
            if limit is not None and len(rows) >= limit:
                break
        return rows

    names = list(properties)
    try:
        entities = await collect()
    except DECODE_ERRORS:
        keys = [(str(e["PartitionKey"]), str(e["RowKey"])) for e in await collect(_KEYS)]
        return list(await asyncio.gather(*(decode_row(table, k, build, names) for k in keys)))
    return [await decode_row(table, entity, build, names) for entity in entities]
