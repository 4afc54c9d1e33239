"""The mapping language of the solution files: which source fields fill which target fields,
through which transforms, mastered by which side, and how records are matched and filtered.

A transform is written either as a bare name (`trim`, `upper`) or as a one-key mapping with
its argument (`{truncate: 80}`, `{value_map: {Active: active}}`); everything is validated when
the solution loads, so a typo fails start-up with the flow and field named.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Master(StrEnum):
    """Which side's changes a field follows (docs/engine.md, "One record"). `both`: the last
    change wins."""

    CRM = "crm"
    ERP = "erp"
    BOTH = "both"


class _Op(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# One class per transform, alike on purpose: pydantic picks the class by `op` (the
# discriminated union `Transform` below), and each carries only its own options.
class Trim(_Op):
    op: Literal["trim"] = "trim"


class Upper(_Op):
    op: Literal["upper"] = "upper"


class Lower(_Op):
    op: Literal["lower"] = "lower"


class Truncate(_Op):
    op: Literal["truncate"] = "truncate"
    length: int = Field(ge=1)


class DateFormat(_Op):
    """A date (no time) in the target's format, e.g. `%m/%d/%Y` for Intacct, `%Y-%m-%d` for
    Creatio and Dataverse. Accepts ISO 8601 dates and datetimes and US `mm/dd/yyyy`."""

    op: Literal["date"] = "date"
    format: str = Field(min_length=2)


class DateTimeFormat(_Op):
    """A UTC datetime in the target's format (`iso` = `YYYY-MM-DDTHH:MM:SSZ`)."""

    op: Literal["datetime"] = "datetime"
    format: str = Field(default="iso", min_length=2)


class ValueMap(_Op):
    """Picklist / option set translation. Keys compare as text, case-insensitively;
    an unmapped value is a validation error unless `default` is given."""

    op: Literal["value_map"] = "value_map"
    map: dict[str, Any] = Field(min_length=1)
    default: Any = None
    strict: bool = True

    @field_validator("map", mode="before")
    @classmethod
    def _text_keys(cls, value: Any) -> Any:
        # YAML reads `true:` as a boolean key; picklist keys compare as text anyway.
        if isinstance(value, dict):
            return {
                (str(k).lower() if isinstance(k, bool) else str(k)): v for k, v in value.items()
            }
        return value


class Round(_Op):
    op: Literal["round"] = "round"
    digits: int = Field(default=2, ge=0, le=10)


class Concat(_Op):
    """Joins the field's sources (`from` as a list), skipping empty parts."""

    op: Literal["concat"] = "concat"
    separator: str = " "


class Split(_Op):
    """Part `index` of the value split on `separator` (e.g. first or last name)."""

    op: Literal["split"] = "split"
    separator: str = " "
    index: int = 0
    rest: bool = Field(default=False, description="keep everything from `index` on")


class Default(_Op):
    """The value to use when the source is empty."""

    op: Literal["default"] = "default"
    value: Any


class StripChars(_Op):
    """Removes characters the target refuses (silently, for cosmetic characters)."""

    op: Literal["strip_chars"] = "strip_chars"
    chars: str = Field(min_length=1)


class RejectChars(_Op):
    """Fails the record, naming the field and character, when the value holds any of
    `chars` (for characters the target refuses and that must not be changed silently)."""

    op: Literal["reject_chars"] = "reject_chars"
    chars: str = Field(min_length=1)


class Number(_Op):
    op: Literal["number"] = "number"


class Boolean(_Op):
    op: Literal["boolean"] = "boolean"


class Text(_Op):
    op: Literal["text"] = "text"


Transform = Annotated[
    Trim
    | Upper
    | Lower
    | Truncate
    | DateFormat
    | DateTimeFormat
    | ValueMap
    | Round
    | Concat
    | Split
    | Default
    | StripChars
    | RejectChars
    | Number
    | Boolean
    | Text,
    Field(discriminator="op"),
]

# The single argument of the short form `{name: arg}`.
_SHORT_ARG = {
    "truncate": "length",
    "date": "format",
    "datetime": "format",
    "value_map": "map",
    "round": "digits",
    "concat": "separator",
    "default": "value",
    "strip_chars": "chars",
    "reject_chars": "chars",
}


def _expand(item: Any) -> Any:
    """`trim` -> {op: trim}; `{truncate: 80}` -> {op: truncate, length: 80}."""
    if isinstance(item, str):
        return {"op": item}
    if isinstance(item, dict) and "op" not in item and len(item) == 1:
        ((name, arg),) = item.items()
        if isinstance(arg, dict) and name != "value_map" and name != "default":
            return {"op": name, **arg}
        if name in _SHORT_ARG:
            return {"op": name, _SHORT_ARG[name]: arg}
        return {"op": name}
    return item


class Lookup(BaseModel):
    """The value is the id of another record on the source side; the target gets the id of
    the record bound to it under `binding` (e.g. an invoice's customer)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    binding: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    object: str = Field(description="the target object the bound id belongs to")
    flow: str | None = Field(
        default=None, description="the flow that syncs the parent (named in dependency errors)"
    )
    # An unbound parent leaves the field empty instead of making the record wait (links
    # that only some records have, e.g. an invoice to the order it was made from).
    optional: bool = False


class Updates(Lookup):
    """`updates:` — the target record bound to this record's own id under `binding`; with
    `take`, the record named by that field of the bound one (an AR invoice -> the Creatio
    Order it was made from -> that order's OpportunityId)."""

    take: str | None = None


class Find(BaseModel):
    """The value is looked up by a field on one side's `object`: the row whose `by` equals
    it gives its `take` (`@id`: its id). Lookup tables named by name or code (a payment
    status "Paid", currency "EUR") and links the target already holds (the opportunity of
    the Creatio invoice numbered X). Found on the target unless `side: source`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    object: str = Field(min_length=1)
    by: str = Field(default="Name", min_length=1)
    take: str = "@id"
    side: Literal["source", "target"] = "target"
    # Nothing found: the field stays empty instead of the record waiting, then failing.
    optional: bool = False


class Condition(BaseModel):
    """A record passes when its `field` equals `equals`, or is one of `in`. With `lookup`,
    the field holds the id of a row of that lookup object and the options are its names
    (e.g. an opportunity's StageId and the stage "Closed won"), resolved on the source."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    field: str
    equals: Any = None
    in_: tuple[Any, ...] | None = Field(default=None, alias="in")
    lookup: str | None = None
    # `empty: false` passes a record whose field holds a value, `empty: true` one whose field
    # is empty (a Dataverse credit note is an invoice naming the invoice it credits).
    empty: bool | None = None

    @property
    def options(self) -> tuple[Any, ...]:
        return self.in_ if self.in_ is not None else (self.equals,)

    def accepts(self, values: dict[str, Any], options: tuple[Any, ...] | None = None) -> bool:
        value = values.get(self.field)
        if self.empty is not None:
            return (value is None or str(value).strip() == "") is self.empty
        return any(_same_text(value, option) for option in (options or self.options))


def _same_text(a: Any, b: Any) -> bool:
    return str(a if a is not None else "").casefold() == str(b if b is not None else "").casefold()


class FieldMapping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    to: str = Field(min_length=1)
    from_: str | tuple[str, ...] | None = Field(default=None, alias="from")
    value: Any = Field(default=None, description="a constant instead of a source field")
    transforms: tuple[Transform, ...] = ()
    lookup: Lookup | None = None
    # One look-up or several in a row (Creatio currency id -> "EUR" -> Dataverse currency).
    find: tuple[Find, ...] = ()
    # Mapped only for records that pass; the others get `otherwise`, or without one the field
    # is left alone (a Dataverse invoice's amount paid is known only once fully paid).
    when: Condition | None = None
    otherwise: Any = None
    master: Master = Master.BOTH
    required: bool = False
    max_length: int | None = Field(default=None, ge=1)
    # Sent only on create (e.g. the ERP's own id), never compared or updated afterwards.
    create_only: bool = False

    @field_validator("find", mode="before")
    @classmethod
    def _one_or_more(cls, value: Any) -> Any:
        return [value] if isinstance(value, dict) else value

    @field_validator("transforms", mode="before")
    @classmethod
    def _short_forms(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return [_expand(item) for item in value]
        return value

    @model_validator(mode="after")
    def _has_a_source(self) -> FieldMapping:
        if self.from_ is None and self.value is None:
            raise ValueError(f"field '{self.to}': give `from` or `value`")
        joined = any(isinstance(t, Concat) for t in self.transforms)
        if isinstance(self.from_, tuple) and not joined:
            raise ValueError(f"field '{self.to}': several sources need a `concat` transform")
        return self

    @property
    def sources(self) -> tuple[str, ...]:
        if self.from_ is None:
            return ()
        return (self.from_,) if isinstance(self.from_, str) else self.from_


class LinesMapping(BaseModel):
    """Child records (opportunity products, order products) sent as document lines."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    object: str = Field(description="the source's line object")
    parent_field: str = Field(description="the line's lookup to its parent")
    fields: tuple[FieldMapping, ...] = Field(min_length=1)


class ObjectMapping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    binding: str = Field(
        pattern=r"^[a-z][a-z0-9-]*$",
        description="bindings shared by the two directions of one pair (e.g. `account`)",
    )
    fields: tuple[FieldMapping, ...] = Field(min_length=1)
    # Key sets on target fields, tried in order, to link an unbound record to an existing one.
    match: tuple[tuple[str, ...], ...] = ()
    filter: tuple[Condition, ...] = ()
    lines: LinesMapping | None = None
    updates: Updates | None = Field(
        default=None,
        description=(
            "update only the target record bound to this record's own id under that binding "
            "(e.g. a customer's AR aging onto its bound Account); never match or create one"
        ),
    )
    on_delete: Literal["report", "deactivate"] = Field(
        default="report",
        description=(
            "a bound source record deleted at the source: `report` it on the run (nothing "
            "changes in the target), or also `deactivate` its target record with `inactive`"
        ),
    )
    inactive: dict[str, Any] = Field(
        default_factory=dict,
        description="target field values that mark a record inactive, e.g. {STATUS: inactive}",
    )

    @model_validator(mode="after")
    def _consistent(self) -> ObjectMapping:
        if self.updates is not None and self.match:
            raise ValueError("a mapping with `updates` finds its target by binding: drop `match`")
        if self.on_delete == "deactivate" and not self.inactive:
            raise ValueError(
                "`on_delete: deactivate` needs `inactive`: the target field values "
                "that mark a record inactive (e.g. {STATUS: inactive})"
            )
        targets = [f.to for f in self.fields]
        # A field may be mapped case by case: every mapping of it with its own `when`, the
        # cases exclusive (a Dataverse invoice's amount paid, by status reason).
        cased = {f.to for f in self.fields if f.when is not None}
        uncased = [f.to for f in self.fields if f.when is None]
        twice = {t for t in targets if targets.count(t) > 1 and (t not in cased or t in uncased)}
        if twice:
            raise ValueError(f"fields mapped twice: {', '.join(sorted(twice))}")
        for keys in self.match:
            unknown = [k for k in keys if k not in targets]
            if not keys or unknown:
                raise ValueError(f"match keys {list(keys)} must name mapped target fields")
        return self

    @property
    def source_fields(self) -> tuple[str, ...]:
        """The source columns to read ("@id"/"@modified" are the record's own key and
        version, always there)."""
        names: list[str] = []
        conditions = [*self.filter, *(f.when for f in self.fields if f.when is not None)]
        for name in [*(s for f in self.fields for s in f.sources), *(c.field for c in conditions)]:
            # "@id"/"@modified" and line fields ("lines[0].X") come with every record read.
            if name not in names and not name.startswith(("@", "lines[")):
                names.append(name)
        return tuple(names)
