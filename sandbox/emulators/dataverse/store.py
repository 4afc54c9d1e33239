"""The emulator's in-memory tables: rows, the alternate-key index, version numbers,
modifiedon stamps, tombstones of deleted rows (for change tracking) and an undo journal
that makes a change set atomic."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sandbox.emulators.dataverse.schema import TABLES, Table
from sandbox.emulators.dataverse.wire import EmulatedError, convert

Row = dict[str, Any]
# Where a lookup's target table is kept in a row (read back as lookuplogicalname).
TARGET = "@target:"


def utc_now() -> dt.datetime:
    # Dataverse's Web API writes modifiedon to the second: many rows share one stamp.
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


class Store:
    def __init__(self, clock: Callable[[], dt.datetime] = utc_now) -> None:
        self.clock = clock
        self.reset()

    def reset(self) -> None:
        self.rows: dict[str, dict[str, Row]] = {name: {} for name in TABLES}
        self.keys: dict[str, dict[str, str]] = {name: {} for name in TABLES}
        self.version = 1_000_000
        self.writes: Counter[str] = Counter()
        # Deleted rows per table as (version of the delete, id), oldest first.
        self.tombstones: dict[str, list[tuple[int, str]]] = {name: [] for name in TABLES}
        self._journal: list[tuple[str, str, Row | None]] | None = None
        # Every org has currencies (its base currency at least); price lists are the admin's.
        for code, name, symbol in CURRENCIES:
            self.insert(
                TABLES["transactioncurrency"],
                {
                    "isocurrencycode": code,
                    "currencyname": name,
                    "currencysymbol": symbol,
                    "exchangerate": Decimal(1),
                    "currencyprecision": 2,
                },
                id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"transactioncurrency:{code}")),
            )
        self.writes.clear()

    # -- low level (every change goes through _put, so the undo journal sees it) -------------
    def _put(self, table: Table, id: str, row: Row | None) -> None:
        rows, keys = self.rows[table.logical], self.keys[table.logical]
        old = rows.get(id)
        if self._journal is not None:
            self._journal.append((table.logical, id, old))
        if old is not None and old.get(table.alternate_key) is not None:
            keys.pop(old[table.alternate_key], None)
        if row is None:
            rows.pop(id, None)
            return
        rows[id] = row
        if row.get(table.alternate_key) is not None:
            keys[row[table.alternate_key]] = id

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All the writes inside, or none (a change set)."""
        outer = self._journal
        journal: list[tuple[str, str, Row | None]] = []
        marks = {name: len(stones) for name, stones in self.tombstones.items()}
        self._journal = journal
        try:
            yield
        except BaseException:
            self._journal = None
            for logical, id, old in reversed(journal):
                self._put(TABLES[logical], id, old)
            for name, mark in marks.items():
                del self.tombstones[name][mark:]  # a rolled-back delete deleted nothing
            self._journal = outer
            raise
        self._journal = outer
        if outer is not None:
            outer.extend(journal)

    def _next_version(self) -> int:
        self.version += 1
        return self.version

    # -- reads ---------------------------------------------------------------------------
    def get(self, table: Table, id: str) -> Row | None:
        return self.rows[table.logical].get(id.lower())

    def by_alternate_key(self, table: Table, value: str) -> Row | None:
        id = self.keys[table.logical].get(value)
        return self.rows[table.logical].get(id) if id else None

    def all(self, table: Table) -> list[Row]:
        return list(self.rows[table.logical].values())

    def changes(self, table: Table, after: int, *, deletes: bool) -> list[tuple[int, Row | str]]:
        """Rows written and (with `deletes`) ids deleted after version `after`, as
        (version, row or deleted id), in version order: what a delta link returns."""
        out: list[tuple[int, Row | str]] = [
            (row["versionnumber"], row)
            for row in self.rows[table.logical].values()
            if row["versionnumber"] > after
        ]
        if deletes:
            out += [(v, id) for v, id in self.tombstones[table.logical] if v > after]
        return sorted(out, key=lambda item: item[0])

    # -- writes --------------------------------------------------------------------------
    def _check_key_unique(self, table: Table, row: Row, id: str) -> None:
        value = row.get(table.alternate_key)
        if value is None:
            return
        holder = self.keys[table.logical].get(value)
        if holder is not None and holder != id:
            raise EmulatedError(
                412,
                "0x80040237",
                f"A record that has the attribute values {table.alternate_key} already exists. "
                f"The entity key {table.alternate_key}_key requires that this set of "
                "attributes contains unique values. Select unique values and try again.",
            )

    def insert(self, table: Table, values: Mapping[str, Any], id: str | None = None) -> Row:
        id = (id or str(uuid.uuid4())).lower()
        if id in self.rows[table.logical]:
            raise EmulatedError(
                412, "0x80040237", "A record with matching key values already exists."
            )
        now = self.clock()
        row: Row = {c: None for c in table.columns}
        for lookup in table.lookups.values():
            row[lookup.value_property] = None
        row.update({"statecode": 0, "statuscode": 1})
        row.update(values)
        row.update(
            {
                table.primary_key: id,
                "createdon": now,
                "modifiedon": now,
                "versionnumber": self._next_version(),
            }
        )
        _computed(table, row)
        self._check_key_unique(table, row, id)
        self._check_price_list(table, row)
        self._put(table, id, row)
        self.writes[f"create {table.logical}"] += 1
        self._roll_up(table, row)
        return row

    def update(self, table: Table, id: str, values: Mapping[str, Any]) -> Row:
        old = self.rows[table.logical][id]
        row = {**old, **values}
        row.update({"modifiedon": self.clock(), "versionnumber": self._next_version()})
        _computed(table, row)
        self._check_key_unique(table, row, id)
        self._check_price_list(table, row)
        self._put(table, id, row)
        self.writes[f"update {table.logical}"] += 1
        self._roll_up(table, row)
        return row

    # -- documents: price lists and totals (choices: see schema._LINE_AMOUNTS) ---------------
    def _check_price_list(self, table: Table, row: Row) -> None:
        """A catalogue product on a line needs its document's price list (Dataverse prices
        products from it; the exact error text is UNCONFIRMED, this one is ours)."""
        parent = DOCUMENT_OF.get(table.logical)
        if parent is None or row.get("_productid_value") is None:
            return
        document = self.rows[parent].get(str(row.get(f"_{parent}id_value") or ""))
        if document is not None and document.get("_pricelevelid_value") is None:
            raise EmulatedError(
                400,
                "0x80040265",
                f"The {parent} has no price list (pricelevelid): set one before adding "
                "existing products to it.",
            )

    def _roll_up(self, table: Table, line: Row) -> None:
        """The document's totals from its lines, after each line write."""
        parent = DOCUMENT_OF.get(table.logical)
        if parent is None:
            return
        id = str(line.get(f"_{parent}id_value") or "")
        document = self.rows[parent].get(id)
        if document is None:
            return
        lines = [
            r
            for r in self.rows[table.logical].values()
            if str(r.get(f"_{parent}id_value") or "") == id
        ]
        net = sum(
            (_money(r.get("baseamount")) - _money(r.get("manualdiscountamount")) for r in lines),
            Decimal(0),
        )
        tax = sum((_money(r.get("tax")) for r in lines), Decimal(0))
        totals = {"totallineitemamount": net, "totaltax": tax, "totalamount": net + tax}
        self._put(
            TABLES[parent],
            id,
            {
                **document,
                **totals,
                "modifiedon": self.clock(),
                "versionnumber": self._next_version(),
            },
        )

    def delete(self, table: Table, id: str) -> None:
        self._put(table, id, None)
        self.tombstones[table.logical].append((self._next_version(), id))
        self.writes[f"delete {table.logical}"] += 1

    # -- seeding (admin) -------------------------------------------------------------------
    def seed(self, payload: Any) -> dict[str, int]:
        """`{"account": [{...}, ...]}` or `{"account": {"count": n, "template": {...}}}`;
        rows may carry `modifiedon`/`createdon` (e.g. many rows on one timestamp) and
        `_<lookup>_value` with `<lookup>@target` for lookups. Values are validated as a
        write would be."""
        if not isinstance(payload, Mapping):
            raise TypeError("seed payload must be an object of table -> rows")
        counts: dict[str, int] = {}
        for logical, spec in payload.items():
            table = TABLES.get(logical)
            if table is None:
                raise KeyError(f"no table {logical!r}")
            if isinstance(spec, Mapping):
                count, template = int(spec["count"]), dict(spec.get("template", {}))
                items = [
                    {k: (v.format(n=n) if isinstance(v, str) else v) for k, v in template.items()}
                    for n in range(count)
                ]
            else:
                items = list(spec)
            for item in items:
                self._seed_row(table, dict(item))
            counts[logical] = len(items)
        return counts

    def _seed_row(self, table: Table, item: dict[str, Any]) -> None:
        stamps = {k: item.pop(k) for k in ("modifiedon", "createdon") if k in item}
        values: Row = {}
        for name, value in item.items():
            if name.endswith("@target"):
                values[TARGET + name[: -len("@target")]] = value
            elif table.lookup_by_value_property(name) is not None:
                values[name] = value.lower() if isinstance(value, str) else value
            elif name in table.columns and name != table.primary_key:
                values[name] = convert(table, table.columns[name], value)
            elif name != table.primary_key:
                raise KeyError(f"no column {name!r} on {table.logical}")
        row = self.insert(table, values, id=item.get(table.primary_key))
        for name, text in stamps.items():
            row[name] = convert(table, table.columns[name], text)
        if "createdon" not in stamps and "modifiedon" in stamps:
            row["createdon"] = row["modifiedon"]


CURRENCIES = (("USD", "US Dollar", "$"), ("EUR", "Euro", "€"))
DOCUMENT_OF = {"salesorderdetail": "salesorder", "invoicedetail": "invoice"}
CENT = Decimal("0.01")


def _money(value: Any) -> Decimal:
    return Decimal(str(value)) if value not in (None, "") else Decimal(0)


def _computed(table: Table, row: Row) -> None:
    if table.logical in DOCUMENT_OF:
        base = (_money(row.get("priceperunit")) * _money(row.get("quantity"))).quantize(
            CENT, rounding=ROUND_HALF_UP
        )
        row["baseamount"] = base
        row["extendedamount"] = (
            base - _money(row.get("manualdiscountamount")) + _money(row.get("tax"))
        )
    if table.logical == "contact":
        row["fullname"] = " ".join(p for p in (row.get("firstname"), row.get("lastname")) if p)
