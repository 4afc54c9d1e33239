"""Reading a set of rows of one partition in few requests: a filter naming their RowKeys,
a bounded number per query (Table storage takes at most 15 comparisons in one filter)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from azure.data.tables import TableEntity
from azure.data.tables.aio import TableClient

KEYS_PER_QUERY = 14  # + the PartitionKey comparison = 15


async def rows_by_key(
    table: TableClient, partition: str, row_keys: Iterable[str], select: Sequence[str] | None = None
) -> dict[str, TableEntity]:
    """The rows of `partition` among `row_keys` that exist, by RowKey."""
    keys = list(dict.fromkeys(row_keys))
    found: dict[str, TableEntity] = {}
    for start in range(0, len(keys), KEYS_PER_QUERY):
        part = keys[start : start + KEYS_PER_QUERY]
        params: dict[str, Any] = {"pk": partition}
        terms = []
        for n, key in enumerate(part):
            params[f"k{n}"] = key
            terms.append(f"RowKey eq @k{n}")
        query = f"PartitionKey eq @pk and ( {' or '.join(terms)} )"
        fields = None if select is None else ["RowKey", *select]
        async for row in table.query_entities(query, parameters=params, select=fields):
            found[row["RowKey"]] = row
    return found
