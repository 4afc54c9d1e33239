"""`$filter`, `$orderby` and `$select` over the emulator's rows (the subset of OData 4
Dataverse clients use: comparisons, and/or/not, parentheses, contains/startswith/endswith)."""

from __future__ import annotations

import datetime as dt
import functools
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sandbox.emulators.dataverse.schema import Table
from sandbox.emulators.dataverse.wire import EmulatedError, bad_request, parse_datetime

Row = dict[str, Any]
Predicate = Callable[[Row], bool]
_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>'(?:[^']|'')*')
    | (?P<datetime>\d{4}-\d{2}-\d{2}T[0-9:.]+(?:Z|[+-]\d{2}:\d{2}))
    | (?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})
    | (?P<date>\d{4}-\d{2}-\d{2})
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<punct>[(),])
    )""",
    re.VERBOSE,
)
_OPERATORS = {"eq", "ne", "gt", "ge", "lt", "le"}
_OPERATOR_KIND = {
    "eq": "Equal",
    "ne": "NotEqual",
    "gt": "GreaterThan",
    "ge": "GreaterThanOrEqual",
    "lt": "LessThan",
    "le": "LessThanOrEqual",
}
_FUNCTIONS = {"contains", "startswith", "endswith"}


@dataclass(frozen=True)
class Literal:
    kind: str  # string | datetime | date | guid | number | null | bool
    value: Any


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise bad_request(f"Syntax error at position {position} in '{text}'.")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        position = match.end()
    return out


def property_type(table: Table, name: str) -> str:
    """Edm type of a filterable/selectable property, or the error for an unknown one."""
    if name in table.columns:
        return table.columns[name].edm
    if table.lookup_by_value_property(name) is not None:
        return "Edm.Guid"
    raise bad_request(
        f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM."
        f"{table.logical}'."
    )


class _Parser:
    def __init__(self, table: Table, text: str) -> None:
        self.table = table
        self.text = text
        self.tokens = _tokens(text)
        self.position = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise bad_request(f"Unexpected end of the expression '{self.text}'.")
        self.position += 1
        return token

    def expect(self, value: str) -> None:
        _, text = self.take()
        if text != value:
            raise bad_request(f"Expected '{value}' but found '{text}' in '{self.text}'.")

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token is not None and token[0] == "name" and token[1] == word:
            self.position += 1
            return True
        return False

    def parse(self) -> Predicate:
        predicate = self.disjunction()
        if self.peek() is not None:
            raise bad_request(f"Syntax error: unexpected '{self.peek()[1]}' in '{self.text}'.")  # type: ignore[index]
        return predicate

    def disjunction(self) -> Predicate:
        parts = [self.conjunction()]
        while self.keyword("or"):
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else (lambda row: any(p(row) for p in parts))

    def conjunction(self) -> Predicate:
        parts = [self.unary()]
        while self.keyword("and"):
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else (lambda row: all(p(row) for p in parts))

    def unary(self) -> Predicate:
        if self.keyword("not"):
            inner = self.unary()
            return lambda row: not inner(row)
        token = self.peek()
        if token == ("punct", "("):
            self.take()
            inner = self.disjunction()
            self.expect(")")
            return inner
        if token is not None and token[0] == "name" and token[1] in _FUNCTIONS:
            return self.function()
        return self.comparison()

    def literal(self) -> Literal:
        kind, text = self.take()
        if kind == "string":
            return Literal("string", text[1:-1].replace("''", "'"))
        if kind == "datetime":
            stamp = parse_datetime(text)
            if stamp is None:
                raise bad_request(f"Unrecognized 'Edm.DateTimeOffset' literal '{text}'.")
            return Literal("datetime", stamp)
        if kind == "date":
            return Literal("date", dt.date.fromisoformat(text))
        if kind == "guid":
            return Literal("guid", str(uuid.UUID(text)))
        if kind == "number":
            return Literal("number", Decimal(text))
        if kind == "name" and text == "null":
            return Literal("null", None)
        if kind == "name" and text in ("true", "false"):
            return Literal("bool", text == "true")
        raise bad_request(f"Expected a literal but found '{text}' in '{self.text}'.")

    def name(self) -> str:
        kind, text = self.take()
        if kind != "name":
            raise bad_request(f"Expected a property name but found '{text}' in '{self.text}'.")
        property_type(self.table, text)
        return text

    def comparison(self) -> Predicate:
        name = self.name()
        _, operator = self.take()
        if operator not in _OPERATORS:
            raise bad_request(f"Syntax error: '{operator}' is not an operator in '{self.text}'.")
        literal = self.literal()
        edm = property_type(self.table, name)
        value = _coerce(edm, literal, operator)
        compare = _COMPARE[operator]

        def predicate(row: Row) -> bool:
            current = _comparable(row.get(name))
            if value is None or current is None:
                return (
                    compare(current is None, value is None) if operator in ("eq", "ne") else False
                )
            return compare(current, value)

        return predicate

    def function(self) -> Predicate:
        _, function = self.take()
        self.expect("(")
        name = self.name()
        self.expect(",")
        literal = self.literal()
        self.expect(")")
        if literal.kind != "string":
            raise bad_request(f"The '{function}' function takes a string.")
        needle = str(literal.value).lower()

        def predicate(row: Row) -> bool:
            value = row.get(name)
            if not isinstance(value, str):
                return False
            hay = value.lower()
            if function == "contains":
                return needle in hay
            return hay.startswith(needle) if function == "startswith" else hay.endswith(needle)

        return predicate


def _comparable(value: Any) -> Any:
    if isinstance(value, str):
        return value.lower()  # SQL Server's default collation: case-insensitive
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return Decimal(str(value))
    return value


_ACCEPTS = {
    "Edm.String": {"string"},
    "Edm.Guid": {"guid"},
    "Edm.DateTimeOffset": {"datetime"},
    "Edm.Date": {"date"},
    "Edm.Int32": {"number"},
    "Edm.Decimal": {"number"},
    "Edm.Boolean": {"bool"},
}
_LITERAL_EDM = {
    "string": "Edm.String",
    "guid": "Edm.Guid",
    "datetime": "Edm.DateTimeOffset",
    "date": "Edm.Date",
    "number": "Edm.Int32",
    "bool": "Edm.Boolean",
}


def _coerce(edm: str, literal: Literal, operator: str) -> Any:
    if literal.kind == "null":
        return None
    if literal.kind not in _ACCEPTS[edm]:
        raise bad_request(
            "A binary operator with incompatible types was detected. Found operand types "
            f"'{edm}' and '{_LITERAL_EDM[literal.kind]}' for operator kind "
            f"'{_OPERATOR_KIND[operator]}'."
        )
    return _comparable(literal.value)


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
}


def parse_filter(table: Table, text: str) -> Predicate:
    return _Parser(table, text).parse()


# -- ordering --------------------------------------------------------------------------------
def parse_orderby(table: Table, text: str | None) -> list[tuple[str, bool]]:
    """[(property, descending)], always ending with the primary key (a total order, which
    the paging cookie needs)."""
    order: list[tuple[str, bool]] = []
    for part in (text or "").split(","):
        words = part.split()
        if not words:
            continue
        if len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
            raise bad_request(f"Syntax error in $orderby '{text}'.")
        property_type(table, words[0])
        order.append((words[0], len(words) == 2 and words[1] == "desc"))
    if table.primary_key not in (name for name, _ in order):
        order.append((table.primary_key, False))
    return order


def _cmp(a: Any, b: Any) -> int:
    # NULLs first, as SQL Server sorts them ascending.
    if a is None or b is None:
        return (a is not None) - (b is not None)
    return (a > b) - (a < b)


def compare_keys(a: list[Any], b: list[Any], order: list[tuple[str, bool]]) -> int:
    for x, y, (_, descending) in zip(a, b, order, strict=True):
        result = _cmp(_comparable(x), _comparable(y))
        if result:
            return -result if descending else result
    return 0


def sort_key(row: Row, order: list[tuple[str, bool]]) -> list[Any]:
    return [row.get(name) for name, _ in order]


def sort_rows(rows: list[Row], order: list[tuple[str, bool]]) -> list[Row]:
    return sorted(
        rows,
        key=functools.cmp_to_key(
            lambda a, b: compare_keys(sort_key(a, order), sort_key(b, order), order)
        ),
    )


def parse_select(table: Table, text: str | None) -> list[str] | None:
    if not text:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    for name in names:
        property_type(table, name)
    return names


__all__ = [
    "EmulatedError",
    "compare_keys",
    "parse_filter",
    "parse_orderby",
    "parse_select",
    "sort_key",
    "sort_rows",
]
