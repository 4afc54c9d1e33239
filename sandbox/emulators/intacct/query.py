"""Conditions over rows: the readByQuery string language and the `query` function's XML
filter, evaluated with one comparison rule (timestamps in the company's zone, numbers as
numbers, text case-sensitive unless `caseinsensitive`)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

Row = dict[str, Any]  # as store.Row (not imported: the store's indexes import this module)

Predicate = Callable[[Row], bool]
TIMESTAMP_FIELDS = frozenset({"WHENMODIFIED", "WHENCREATED"})
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


class QueryError(ValueError):
    """A query the gateway rejects (function-level failure)."""


def field_value(row: Row, path: str) -> Any:
    value: Any = row
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


class Comparer:
    def __init__(self, parse_time: Callable[[str], datetime], case_insensitive: bool) -> None:
        self.parse_time = parse_time
        self.case_insensitive = case_insensitive

    def key(self, field: str, value: Any) -> Any:
        if value is None or value == "":
            return None
        if field.upper() in TIMESTAMP_FIELDS:
            try:
                return (0, self.parse_time(str(value)))
            except ValueError:
                raise QueryError(f"Invalid date value '{value}' for {field}") from None
        text = str(value)
        if _NUMBER.fullmatch(text):
            try:
                return (1, Decimal(text))
            except InvalidOperation:
                pass
        return (2, text.lower() if self.case_insensitive else text)

    def compare(self, row: Row, field: str, op: str, operand: Any) -> bool:
        left = self.key(field, field_value(row, field))
        if op in ("isnull", "isnotnull"):
            return (left is None) == (op == "isnull")
        if op in ("in", "notin"):
            found = any(left == self.key(field, v) for v in operand)
            return found if op == "in" else not found
        if op in ("like", "notlike"):
            text = str(field_value(row, field) or "")
            pattern = _like(str(operand), self.case_insensitive)
            return bool(pattern.fullmatch(text)) == (op == "like")
        if op == "between":
            low, high = (self.key(field, v) for v in operand)
            return left is not None and _cmp(low, left) <= 0 and _cmp(left, high) <= 0
        right = self.key(field, operand)
        if left is None or right is None:
            return op == "notequalto" and (left is None) != (right is None)
        order = _cmp(left, right)
        return {
            "equalto": order == 0,
            "notequalto": order != 0,
            "lessthan": order < 0,
            "lessthanorequalto": order <= 0,
            "greaterthan": order > 0,
            "greaterthanorequalto": order >= 0,
        }[op]


def _cmp(a: Any, b: Any) -> int:
    if a[0] != b[0]:  # mixed kinds compare as text, like a database casting to varchar
        a, b = (2, str(a[1])), (2, str(b[1]))
    return (a[1] > b[1]) - (a[1] < b[1])


def _like(pattern: str, case_insensitive: bool) -> re.Pattern[str]:
    regex = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    return re.compile(regex, re.IGNORECASE | re.DOTALL if case_insensitive else re.DOTALL)


# -- the query function's XML filter ----------------------------------------------------------
_OPS = {
    "equalto",
    "notequalto",
    "lessthan",
    "lessthanorequalto",
    "greaterthan",
    "greaterthanorequalto",
    "between",
    "in",
    "notin",
    "like",
    "notlike",
    "isnull",
    "isnotnull",
}


def xml_filter(element: ET.Element | None, comparer: Comparer) -> Predicate:
    if element is None or len(element) == 0:
        return lambda row: True
    if len(element) != 1:
        raise QueryError("filter must hold exactly one condition or and/or group")
    return _node(element[0], comparer)


def _node(node: ET.Element, comparer: Comparer) -> Predicate:
    tag = node.tag
    if tag in ("and", "or"):
        parts = [_node(child, comparer) for child in node]
        if len(parts) < 2:
            raise QueryError(f"<{tag}> needs at least two conditions")
        if tag == "and":
            return lambda row: all(p(row) for p in parts)
        return lambda row: any(p(row) for p in parts)
    if tag not in _OPS:
        raise QueryError(f"unknown filter operator <{tag}>")
    field = (node.findtext("field") or "").strip()
    if not field:
        raise QueryError(f"<{tag}> needs a <field>")
    values = [v.text or "" for v in node.findall("value")]
    operand: Any
    if tag in ("isnull", "isnotnull"):
        operand = None
    elif tag in ("in", "notin"):
        operand = values
    elif tag == "between":
        if len(values) != 2:
            raise QueryError("<between> needs two <value> elements")
        operand = values
    else:
        if len(values) != 1:
            raise QueryError(f"<{tag}> needs one <value>")
        operand = values[0]
    return lambda row: comparer.compare(row, field, tag, operand)


# -- readByQuery's string language --------------------------------------------------------------
_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^'\\]|\\.|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<op><=|>=|<>|!=|=|<|>)"
    r"|(?P<punct>[(),])|(?P<word>[A-Za-z_][A-Za-z0-9_.]*))"
)
_WORD_OPS = {"AND", "OR", "NOT", "IN", "LIKE", "IS", "NULL"}
_SYMBOL_OPS = {
    "=": "equalto",
    "<>": "notequalto",
    "!=": "notequalto",
    "<": "lessthan",
    "<=": "lessthanorequalto",
    ">": "greaterthan",
    ">=": "greaterthanorequalto",
}


_ESCAPE = re.compile(r"\\(.)|''", re.DOTALL)


def unquote(body: str) -> str:
    """The text between a literal's quotes: `''` and `\\'` are a quote, `\\\\` a backslash
    (clients escape either way: docs/wire-notes.md); any other backslash stays as it is."""

    def one(match: re.Match[str]) -> str:
        escaped = match.group(1)
        if escaped is None:
            return "'"
        return escaped if escaped in ("'", "\\") else match.group(0)

    return _ESCAPE.sub(one, body)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise QueryError(f"Invalid query near '{text[position : position + 20]}'")
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "str":
            value = unquote(value[1:-1])
        elif kind == "word" and value.upper() in _WORD_OPS:
            kind, value = "kw", value.upper()
        out.append((kind, value))
        position = match.end()
    return out


class _Parser:
    def __init__(self, text: str, comparer: Comparer) -> None:
        self.tokens = _tokens(text)
        self.pos = 0
        self.comparer = comparer

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, kind: str | None = None, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (kind and token[0] != kind) or (value and token[1] != value):
            raise QueryError(
                f"Invalid query: expected {value or kind}, found "
                f"{token[1] if token else 'end of query'}"
            )
        self.pos += 1
        return token

    def parse(self) -> Predicate:
        predicate = self.expr()
        if self.peek() is not None:
            raise QueryError(f"Invalid query: unexpected {self.peek()[1]}")  # type: ignore[index]
        return predicate

    def expr(self) -> Predicate:
        parts = [self.term()]
        while self.peek() == ("kw", "OR"):
            self.take()
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else (lambda row: any(p(row) for p in parts))

    def term(self) -> Predicate:
        parts = [self.factor()]
        while self.peek() == ("kw", "AND"):
            self.take()
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else (lambda row: all(p(row) for p in parts))

    def factor(self) -> Predicate:
        token = self.peek()
        if token == ("kw", "NOT"):
            self.take()
            inner = self.factor()
            return lambda row: not inner(row)
        if token == ("punct", "("):
            self.take()
            inner = self.expr()
            self.take("punct", ")")
            return inner
        return self.condition()

    def value(self) -> str:
        token = self.peek()
        if token is None or token[0] not in ("str", "num"):
            raise QueryError("Invalid query: expected a value ('text' or a number)")
        self.pos += 1
        return token[1]

    def condition(self) -> Predicate:
        field = self.take("word")[1]
        compare = self.comparer.compare
        token = self.peek()
        negate = False
        if token == ("kw", "NOT"):
            self.take()
            negate = True
            token = self.peek()
        if token == ("kw", "IN"):
            self.take()
            self.take("punct", "(")
            values = [self.value()]
            while self.peek() == ("punct", ","):
                self.take()
                values.append(self.value())
            self.take("punct", ")")
            op = "notin" if negate else "in"
            return lambda row: compare(row, field, op, values)
        if token == ("kw", "LIKE"):
            self.take()
            pattern = self.value()
            op = "notlike" if negate else "like"
            return lambda row: compare(row, field, op, pattern)
        if negate:
            raise QueryError("Invalid query: NOT must precede IN or LIKE here")
        if token == ("kw", "IS"):
            self.take()
            op = "isnull"
            if self.peek() == ("kw", "NOT"):
                self.take()
                op = "isnotnull"
            self.take("kw", "NULL")
            return lambda row: compare(row, field, op, None)
        symbol = self.take("op")[1]
        operand = self.value()
        op = _SYMBOL_OPS[symbol]
        return lambda row: compare(row, field, op, operand)


def text_filter(text: str, comparer: Comparer) -> Predicate:
    if not text.strip():
        return lambda row: True
    return _Parser(text, comparer).parse()
