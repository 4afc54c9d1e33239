"""The emulator's in-memory database: one table per object, rows keyed by Id, with the
database rules a Creatio install enforces (primary key, foreign keys, text lengths)."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sandbox.emulators.creatio.schema import (
    CURRENCIES,
    ENTITIES,
    LOOKUP_ROWS,
    SERVER_MAINTAINED,
    SYSTEM,
    Column,
    EntitySchema,
)
from sandbox.emulators.creatio.wire import (
    TICKS_PER_SECOND,
    EmulatedError,
    coerce,
    http_error,
    now_ticks,
    odata_error,
    parse_datetime,
    parse_guid,
)

SQL_EXCEPTION = "System.Data.SqlClient.SqlException"
DEFAULTS: dict[str, Any] = {
    "guid": None,
    "lookup": None,
    "text": "",
    "datetime": 0,
    "decimal": None,  # filled per row (Decimal(0) with the column's scale)
    "integer": 0,
    "boolean": False,
}


class Options(BaseModel):
    """Creatio-specific settings of the emulator (PUT /_emulator/options)."""

    model_config = ConfigDict(extra="forbid")

    users: dict[str, str] = Field(default_factory=lambda: {"Supervisor": "Supervisor"})
    clients: dict[str, str] = Field(
        default_factory=lambda: {"shuttle-sandbox": "sandbox-client-secret"}
    )
    session_timeout_s: float = Field(default=3600.0, gt=0)
    token_lifetime_s: int = Field(default=3600, gt=0)
    # What an expired or missing cookie session gets: 401, or a redirect to the login page.
    expired_session: Literal["401", "redirect"] = "401"
    csrf_required: bool = True
    max_rows: int = Field(default=20000, ge=1)
    server_page_size: int | None = Field(default=None, ge=1)
    next_link_style: Literal["skip", "skiptoken"] = "skip"
    max_batch: int = Field(default=100, ge=1)
    # IIS request filtering's default `maxQueryString` (bytes after the `?`); a longer query
    # string never reaches Creatio (docs/wire-notes.md C9). None: no limit.
    max_query_string: int | None = Field(default=2048, ge=1)
    clock_resolution_ms: float = Field(default=0.0, ge=0)
    clock_offset_s: float = 0.0
    case_insensitive: bool = True
    # Rows that tie on every $orderby key come back in a different order on every call, as
    # a database returns them; clients must add a unique key (Id) to their order.
    shuffle_ties: bool = True


def _fk_name(entity: str, column: str) -> str:
    return f"FK_{entity}_{column}"


class Store:
    def __init__(self, options: Callable[[], Options], rng: random.Random | None = None) -> None:
        self._options = options
        self.rng = rng or random.Random()  # noqa: S311 (simulation, not security)
        # GUIDs of the standard rows differ per install; fixed for this emulator's life.
        self.lookup_ids = {
            table: {name: uuid.UUID(int=self.rng.getrandbits(128), version=4) for name in names}
            for table, names in LOOKUP_ROWS.items()
        }
        self.currency_ids = {
            code: uuid.UUID(int=self.rng.getrandbits(128), version=4) for _, code in CURRENCIES
        }
        self.supervisor_id = uuid.UUID(int=self.rng.getrandbits(128), version=4)
        self.tables: dict[str, dict[uuid.UUID, dict[str, Any]]] = {}
        self.numbers: Counter[str] = Counter()
        self.writes: Counter[str] = Counter()
        self.reset()

    def reset(self) -> None:
        self.tables = {name: {} for name in ENTITIES}
        self.numbers = Counter()
        self.writes = Counter()
        now = self.now()
        self._put("Contact", self.supervisor_id, {"Name": "Supervisor"}, now, self.supervisor_id)
        for table, ids in self.lookup_ids.items():
            for name, row_id in ids.items():
                self._put(table, row_id, {"Name": name}, now, self.supervisor_id)
        for (name, code), row_id in zip(CURRENCIES, self.currency_ids.values(), strict=True):
            self._put(
                "Currency",
                row_id,
                {"Name": name, "Code": code, "ShortName": code},
                now,
                self.supervisor_id,
            )

    @property
    def options(self) -> Options:
        return self._options()

    # -- helpers ------------------------------------------------------------------------------
    def now(self) -> int:
        resolution = int(self.options.clock_resolution_ms * TICKS_PER_SECOND / 1000)
        return now_ticks(max(resolution, 1), self.options.clock_offset_s)

    def _blank(self, entity: EntitySchema) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for column in entity.columns:
            default = DEFAULTS[column.kind]
            if column.kind == "decimal":
                default = coerce(column, 0)
            row[column.name] = default
        return row

    def _put(
        self, entity: str, row_id: uuid.UUID, values: dict[str, Any], now: int, user: uuid.UUID
    ) -> dict[str, Any]:
        row = self._blank(ENTITIES[entity])
        row.update(values)
        row.update(Id=row_id, CreatedOn=now, ModifiedOn=now, CreatedById=user, ModifiedById=user)
        self.tables[entity][row_id] = row
        return row

    def get(self, entity: str, row_id: uuid.UUID) -> dict[str, Any] | None:
        return self.tables[entity].get(row_id)

    def rows(self, entity: str) -> list[dict[str, Any]]:
        return list(self.tables[entity].values())

    def _convert(self, entity: EntitySchema, body: dict[str, Any]) -> dict[str, Any]:
        """A JSON body -> stored values. Unknown properties are ignored (Creatio accepts
        them silently); server-maintained columns are ignored too."""
        values: dict[str, Any] = {}
        for name, raw in body.items():
            column = entity.by_name.get(name)
            if column is None or name in SERVER_MAINTAINED:
                continue
            values[name] = _coerce(column, raw)
        return values

    def _check(
        self, entity: EntitySchema, row: dict[str, Any], changed: dict[str, Any], statement: str
    ) -> None:
        for name, value in changed.items():
            column = entity.by_name[name]
            if column.kind == "text" and column.max_length and len(value) > column.max_length:
                raise http_error(
                    500,
                    f"String or binary data would be truncated in table 'dbo.{entity.name}', "
                    f"column '{name}'. Truncated value: '{value[: column.max_length]}'.",
                    SQL_EXCEPTION,
                )
            target = column.target if column.kind == "lookup" else None
            if target and value is not None and value not in self.tables[target]:
                raise http_error(
                    500,
                    f"The {statement} statement conflicted with the FOREIGN KEY constraint "
                    f'"{_fk_name(entity.name, name)}". The conflict occurred in database '
                    f'"Creatio", table "dbo.{target}", column \'Id\'.\r\n'
                    "The statement has been terminated.",
                    SQL_EXCEPTION,
                )
        for column in entity.columns:
            if column.required and column.kind == "text" and not row[column.name].strip():
                raise odata_error(
                    400, f'Column "{column.name}" of object "{entity.name}" must be filled in.'
                )

    # -- writes ------------------------------------------------------------------------------
    def insert(self, entity_name: str, body: dict[str, Any], user: uuid.UUID) -> dict[str, Any]:
        entity = ENTITIES[entity_name]
        raw_id = body.get("Id")
        row_id = _coerce(entity.by_name["Id"], raw_id) if raw_id is not None else uuid.uuid4()
        values = self._convert(entity, body)
        if row_id in self.tables[entity_name]:
            raise http_error(
                500,
                f"Violation of PRIMARY KEY constraint 'PK{entity_name}Id'. Cannot insert "
                f"duplicate key in object 'dbo.{entity_name}'. The duplicate key value is "
                f"({row_id}).\r\nThe statement has been terminated.",
                SQL_EXCEPTION,
            )
        row = self._blank(entity)
        row.update(values)
        if entity.autonumber and not row[entity.autonumber[0]]:
            self.numbers[entity_name] += 1
            column, mask = entity.autonumber
            row[column] = mask.format(self.numbers[entity_name])
            values[column] = row[column]
        self._check(entity, row, values, "INSERT")
        now = self.now()
        row.update(Id=row_id, CreatedOn=now, ModifiedOn=now, CreatedById=user, ModifiedById=user)
        self.tables[entity_name][row_id] = row
        self.writes[f"create {entity_name}"] += 1
        return row

    def update(
        self, entity_name: str, row_id: uuid.UUID, body: dict[str, Any], user: uuid.UUID
    ) -> dict[str, Any]:
        entity = ENTITIES[entity_name]
        row = self.tables[entity_name].get(row_id)
        if row is None:
            raise not_found(entity_name, row_id)
        values = self._convert(entity, body)
        changed = {k: v for k, v in values.items() if row[k] != v}
        candidate = {**row, **changed}
        self._check(entity, candidate, changed, "UPDATE")
        self.writes[f"update {entity_name}"] += 1
        if changed:  # an unchanged save does not touch ModifiedOn
            candidate.update(ModifiedOn=self.now(), ModifiedById=user)
            row.update(candidate)
        return row

    def delete(self, entity_name: str, row_id: uuid.UUID) -> None:
        entity = ENTITIES[entity_name]
        if row_id not in self.tables[entity_name]:
            raise not_found(entity_name, row_id)
        cascades = set(entity.cascade)
        system = {c.name for c in SYSTEM}
        for other in ENTITIES.values():
            for column in other.columns:
                if column.target != entity_name or column.name in system:
                    continue
                referencing = [
                    r for r in self.tables[other.name].values() if r[column.name] == row_id
                ]
                if not referencing:
                    continue
                if (other.name, column.name) in cascades:
                    for child in referencing:
                        self.delete(other.name, child["Id"])
                    continue
                raise http_error(
                    500,
                    "The DELETE statement conflicted with the REFERENCE constraint "
                    f'"{_fk_name(other.name, column.name)}". The conflict occurred in database '
                    f'"Creatio", table "dbo.{other.name}", column \'{column.name}\'.\r\n'
                    "The statement has been terminated.",
                    SQL_EXCEPTION,
                )
        del self.tables[entity_name][row_id]
        self.writes[f"delete {entity_name}"] += 1

    def seed(self, payload: dict[str, list[dict[str, Any]]]) -> dict[str, int]:
        """Bulk load rows as they are (Id, CreatedOn and ModifiedOn may be given), without
        foreign-key checks: for tests and benchmarks that need thousands of rows or rows
        that share one ModifiedOn."""
        counts: Counter[str] = Counter()
        for entity_name, rows in payload.items():
            entity = ENTITIES.get(entity_name)
            if entity is None:
                raise KeyError(f"no object {entity_name!r}")
            for body in rows:
                row = self._blank(entity)
                row.update(self._convert(entity, body))
                now = self.now()
                row_id = _coerce(entity.by_name["Id"], body["Id"]) if "Id" in body else None
                row["Id"] = row_id or uuid.uuid4()
                row["CreatedOn"] = _stamp(body.get("CreatedOn"), now)
                row["ModifiedOn"] = _stamp(body.get("ModifiedOn"), row["CreatedOn"])
                row["CreatedById"] = row["ModifiedById"] = self.supervisor_id
                self.tables[entity_name][row["Id"]] = row
                counts[entity_name] += 1
        return dict(counts)


def _stamp(value: Any, default: int) -> int:
    return parse_datetime(value) if isinstance(value, str) else default


def _coerce(column: Column, raw: Any) -> Any:
    try:
        return coerce(column, raw)
    except ValueError:
        shown = raw if isinstance(raw, str) else repr(raw)
        raise odata_error(
            400, f"Cannot convert the literal '{shown}' to the expected type '{column.edm_type}'."
        ) from None


def not_found(entity: str, row_id: uuid.UUID) -> EmulatedError:
    return odata_error(404, f"No {entity} with Id {row_id} was found.")


def parse_key(text: str) -> uuid.UUID:
    try:
        return parse_guid(text)
    except ValueError:
        raise odata_error(
            400, f"The key value '{text}' was not recognized as a valid 'Edm.Guid'."
        ) from None
