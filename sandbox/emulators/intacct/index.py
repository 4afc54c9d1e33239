"""Hash indexes over the emulator's tables, so a lookup by value (a match query's
`equalto`/`in`, an object's ID on create or readByName) costs the same at 10,000 rows as at
ten instead of a scan of every row (bench figures: bench/intacct_bench.py).

An index maps a field's comparison key (query.Comparer.key, case-sensitive or not; "raw"
is the ID's text as `Store.by_id` compares it) to the RECORDNOs holding it. It is built on
first use and kept up to date by the store's create/update/delete; a restore or reset drops
them all (rebuilt on next use). Lookups re-check every candidate with the full predicate,
so an index only ever narrows what is scanned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sandbox.emulators.intacct.query import Comparer, QueryError, field_value

Row = dict[str, Any]
Mode = str  # "raw" | "cs" | "ci"


class Indexes:
    def __init__(self, parse_time: Callable[[str], datetime]) -> None:
        self._comparers = {"cs": Comparer(parse_time, False), "ci": Comparer(parse_time, True)}
        self._indexes: dict[tuple[str, str, Mode], dict[Any, set[int]]] = {}

    def key(self, mode: Mode, field: str, value: Any) -> Any:
        if mode == "raw":
            return str(value)
        try:
            return self._comparers[mode].key(field, value)
        except QueryError:
            return ("unparsable", str(value))

    def _row_key(self, mode: Mode, field: str, row: Row) -> Any:
        value = row.get(field, "") if mode == "raw" else field_value(row, field)
        return self.key(mode, field, value)

    def lookup(
        self, table: str, rows: dict[int, Row], field: str, mode: Mode, values: Iterable[Any]
    ) -> list[Row]:
        index = self._indexes.get((table, field, mode))
        if index is None:
            index = {}
            for recordno, row in rows.items():
                index.setdefault(self._row_key(mode, field, row), set()).add(recordno)
            self._indexes[(table, field, mode)] = index
        found: set[int] = set()
        for value in values:
            found |= index.get(self.key(mode, field, value), set())
        return [rows[n] for n in sorted(found) if n in rows]

    def added(self, table: str, row: Row) -> None:
        for (name, field, mode), index in self._indexes.items():
            if name == table:
                index.setdefault(self._row_key(mode, field, row), set()).add(row["RECORDNO"])

    def removed(self, table: str, row: Row) -> None:
        for (name, field, mode), index in self._indexes.items():
            if name == table:
                index.get(self._row_key(mode, field, row), set()).discard(row["RECORDNO"])

    def clear(self) -> None:
        self._indexes.clear()
