"""OData 4 query options as Creatio evaluates them: `$filter` (parsed, type-checked against
the object's columns, evaluated per row), `$orderby` and `$select`.

Errors are raised as 400 OData errors with the messages Microsoft's OData library (which
Creatio's OData 4 service is built on) gives for the same mistakes.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sandbox.emulators.creatio.schema import ENTITIES, Column, EntitySchema
from sandbox.emulators.creatio.wire import (
    GUID_PATTERN,
    EmulatedError,
    guid_sort_key,
    odata_error,
    parse_datetime,
)

Resolve = Callable[[str, uuid.UUID], dict[str, Any] | None]

_TOKEN = re.compile(
    rf"(?P<ws>\s+)"
    rf"|(?P<guid>{GUID_PATTERN})(?![\w-])"
    r"|(?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))"
    r"|(?P<date>\d{4}-\d{2}-\d{2})(?![\w:])"
    r"|(?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?![\w.])"
    r"|(?P<string>'(?:[^']|'')*')"
    r"|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<punct>[(),/])"
)
COMPARISONS = {
    "eq": "Equal",
    "ne": "NotEqual",
    "gt": "GreaterThan",
    "ge": "GreaterThanOrEqual",
    "lt": "LessThan",
    "le": "LessThanOrEqual",
}
STRING_PREDICATES = ("contains", "startswith", "endswith")
STRING_TRANSFORMS = ("tolower", "toupper", "trim")
NUMERIC = {"Edm.Decimal", "Edm.Int32", "Edm.Int64", "Edm.Double"}


def _family(edm: str | None) -> str | None:
    return "number" if edm in NUMERIC else edm


@dataclass
class Token:
    kind: str
    text: str
    pos: int


@dataclass
class Node:
    edm: str | None  # the OData type of the value; None for the null literal


@dataclass
class Literal(Node):
    value: Any


@dataclass
class Prop(Node):
    steps: list[tuple[EntitySchema, Column]]  # navigations, then the final column


@dataclass
class Compare(Node):
    op: str
    left: Node
    right: Node


@dataclass
class Logical(Node):
    op: str
    left: Node
    right: Node


@dataclass
class Not(Node):
    operand: Node


@dataclass
class Call(Node):
    name: str
    args: list[Node]


def _syntax(text: str, pos: int) -> EmulatedError:
    return odata_error(400, f"Syntax error at position {pos} in '{text}'.")


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            if text[pos] == "'":
                raise odata_error(
                    400, f"There is an unterminated string literal at position {pos} in '{text}'."
                )
            raise _syntax(text, pos)
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, match.group(), pos))
        pos = match.end()
    tokens.append(Token("eof", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str, entity: EntitySchema) -> None:
        self.text = text
        self.entity = entity
        self.tokens = tokenize(text)
        self.index = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def _advance(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def _expect(self, text: str) -> None:
        if self.current.text != text:
            raise _syntax(self.text, self.current.pos)
        self._advance()

    def parse(self) -> Node:
        node = self._or()
        if self.current.kind != "eof":
            raise _syntax(self.text, self.current.pos)
        return node

    def _or(self) -> Node:
        node = self._and()
        while self.current.kind == "ident" and self.current.text == "or":
            self._advance()
            node = _logical("or", node, self._and())
        return node

    def _and(self) -> Node:
        node = self._not()
        while self.current.kind == "ident" and self.current.text == "and":
            self._advance()
            node = _logical("and", node, self._not())
        return node

    def _not(self) -> Node:
        if self.current.kind == "ident" and self.current.text == "not":
            self._advance()
            operand = self._not()
            if operand.edm != "Edm.Boolean":
                raise odata_error(
                    400,
                    "A unary operator with an incompatible type was detected. Found operand "
                    f"type '{operand.edm}' for operator kind 'Not'.",
                )
            return Not("Edm.Boolean", operand)
        return self._comparison()

    def _comparison(self) -> Node:
        left = self._primary()
        token = self.current
        if token.kind == "ident" and token.text in COMPARISONS:
            self._advance()
            right = self._primary()
            return _compare(token.text, left, right)
        return left

    def _primary(self) -> Node:
        token = self._advance()
        if token.text == "(":
            node = self._or()
            self._expect(")")
            return node
        if token.kind == "string":
            return Literal("Edm.String", token.text[1:-1].replace("''", "'"))
        if token.kind == "guid":
            return Literal("Edm.Guid", uuid.UUID(token.text))
        if token.kind == "datetime":
            try:
                return Literal("Edm.DateTimeOffset", parse_datetime(token.text))
            except ValueError:
                raise odata_error(
                    400,
                    f"The DateTimeOffset text '{token.text}' should be in format "
                    "'yyyy-mm-ddThh:mm:ss('.'s+)?(zzzzzz)?' and each field value is within "
                    "valid range.",
                ) from None
        if token.kind == "date":
            return Literal("Edm.Date", token.text)
        if token.kind == "number":
            edm = "Edm.Int32" if re.fullmatch(r"-?\d+", token.text) else "Edm.Decimal"
            return Literal(edm, Decimal(token.text))
        if token.kind == "ident":
            if token.text in ("true", "false"):
                return Literal("Edm.Boolean", token.text == "true")
            if token.text == "null":
                return Literal(None, None)
            if self.current.text == "(":
                return self._call(token)
            if token.text in COMPARISONS or token.text in ("and", "or", "not"):
                raise _syntax(self.text, token.pos)
            return self._path(token)
        raise _syntax(self.text, token.pos)

    def _call(self, name: Token) -> Node:
        self._expect("(")
        args: list[Node] = []
        if self.current.text != ")":
            args.append(self._or())
            while self.current.text == ",":
                self._advance()
                args.append(self._or())
        self._expect(")")
        fn = name.text
        if fn in STRING_PREDICATES:
            _signature(fn, args, 2, f"{fn}(Edm.String Nullable=true, Edm.String Nullable=true)")
            return Call("Edm.Boolean", fn, args)
        if fn in STRING_TRANSFORMS:
            _signature(fn, args, 1, f"{fn}(Edm.String Nullable=true)")
            return Call("Edm.String", fn, args)
        if fn == "length":
            _signature(fn, args, 1, "length(Edm.String Nullable=true)")
            return Call("Edm.Int32", fn, args)
        raise odata_error(
            400,
            f"An unknown function with name '{fn}' was found. This may also "
            "be a function import or a key lookup on a navigation property, which "
            "is not allowed.",
        )

    def _path(self, first: Token) -> Node:
        names = [first.text]
        while self.current.text == "/":
            self._advance()
            token = self._advance()
            if token.kind != "ident":
                raise _syntax(self.text, token.pos)
            names.append(token.text)
        return bind_path(self.entity, names)


def _signature(fn: str, args: list[Node], arity: int, shown: str) -> None:
    if len(args) != arity or any(a.edm not in ("Edm.String", None) for a in args):
        raise odata_error(
            400,
            f"No function signature for the function with name '{fn}' matches the specified "
            f"arguments. The function signatures considered are: {shown}.",
        )


def _logical(op: str, left: Node, right: Node) -> Node:
    for side in (left, right):
        if side.edm != "Edm.Boolean":
            other = right if side is left else left
            raise odata_error(
                400,
                "A binary operator with incompatible types was detected. Found operand types "
                f"'{side.edm}' and '{other.edm}' for operator kind '{op.capitalize()}'.",
            )
    return Logical("Edm.Boolean", op, left, right)


def _compare(op: str, left: Node, right: Node) -> Node:
    if left.edm is not None and right.edm is not None and _family(left.edm) != _family(right.edm):
        raise odata_error(
            400,
            "A binary operator with incompatible types was detected. Found operand types "
            f"'{left.edm}' and '{right.edm}' for operator kind '{COMPARISONS[op]}'.",
        )
    return Compare("Edm.Boolean", op, left, right)


def unknown_property(entity: EntitySchema, name: str) -> EmulatedError:
    return odata_error(
        400, f"Could not find a property named '{name}' on type '{entity.type_name}'."
    )


def bind_path(entity: EntitySchema, names: list[str]) -> Prop:
    """`Stage/Name` on Opportunity -> [(Opportunity, StageId), (OpportunityStage, Name)]."""
    steps: list[tuple[EntitySchema, Column]] = []
    current = entity
    for index, name in enumerate(names):
        last = index == len(names) - 1
        column = current.by_name.get(name)
        if column is not None:
            if not last:  # `StageId/Name`: a primitive has no properties
                raise unknown_property(current, names[index + 1])
            steps.append((current, column))
            return Prop(column.edm_type, steps)
        lookup = current.by_navigation.get(name)
        if lookup is None:
            raise unknown_property(current, name)
        steps.append((current, lookup))
        if last:  # a navigation compared as a whole (`Stage eq null`): its key
            return Prop("Edm.Guid", steps)
        if lookup.target is None:
            raise odata_error(400, f"The emulator does not host the object behind '{name}'.")
        current = ENTITIES[lookup.target]
    raise AssertionError("unreachable")


def parse_filter(text: str, entity: EntitySchema) -> Node:
    node = _Parser(text, entity).parse()
    if node.edm != "Edm.Boolean":
        raise odata_error(400, "The $filter expression must evaluate to a single boolean value.")
    return node


# -- evaluation -------------------------------------------------------------------------------
class Evaluator:
    def __init__(self, resolve: Resolve, *, case_insensitive: bool) -> None:
        self.resolve = resolve
        self.case_insensitive = case_insensitive

    def fold(self, text: str) -> str:
        return text.casefold() if self.case_insensitive else text

    def value(self, node: Node, row: dict[str, Any]) -> Any:
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, Prop):
            return self.prop(node, row)
        if isinstance(node, Compare):
            return self.compare(node, row)
        if isinstance(node, Logical):
            left = self.value(node.left, row)
            if node.op == "and":
                return bool(left) and bool(self.value(node.right, row))
            return bool(left) or bool(self.value(node.right, row))
        if isinstance(node, Not):
            return not self.value(node.operand, row)
        if isinstance(node, Call):
            return self.call(node, row)
        raise AssertionError(node)

    def prop(self, node: Prop, row: dict[str, Any]) -> Any:
        current: dict[str, Any] | None = row
        for index, (_entity, column) in enumerate(node.steps):
            assert current is not None
            value = current.get(column.name)
            if index == len(node.steps) - 1:
                if column.kind == "datetime" and value == 0:
                    return None  # the empty date is NULL in the database
                return value
            if value is None or column.target is None:
                return None
            current = self.resolve(column.target, value)
            if current is None:
                return None
        return None

    def compare(self, node: Compare, row: dict[str, Any]) -> bool:
        left = self.value(node.left, row)
        right = self.value(node.right, row)
        op = node.op
        if left is None or right is None:
            # SQL semantics: only `eq null` / `ne null` are ever true with a NULL.
            if op == "eq":
                return left is None and right is None
            if op == "ne":
                return (left is None) != (right is None)
            return False
        a, b = self.key(left), self.key(right)
        return {
            "eq": a == b,
            "ne": a != b,
            "gt": a > b,
            "ge": a >= b,
            "lt": a < b,
            "le": a <= b,
        }[op]

    def call(self, node: Call, row: dict[str, Any]) -> Any:
        values = [self.value(arg, row) for arg in node.args]
        if any(v is None for v in values):
            return False if node.name in STRING_PREDICATES else None
        if node.name == "tolower":
            return values[0].lower()
        if node.name == "toupper":
            return values[0].upper()
        if node.name == "trim":
            return values[0].strip()
        if node.name == "length":
            return Decimal(len(values[0]))
        haystack, needle = self.fold(values[0]), self.fold(values[1])
        if node.name == "contains":
            return needle in haystack
        if node.name == "startswith":
            return haystack.startswith(needle)
        return haystack.endswith(needle)

    def key(self, value: Any) -> Any:
        """A value as the database compares it."""
        if isinstance(value, str):
            return self.fold(value)
        if isinstance(value, uuid.UUID):
            return guid_sort_key(value)
        if isinstance(value, bool):
            return int(value)
        return value

    def matches(self, node: Node | None, row: dict[str, Any]) -> bool:
        return node is None or bool(self.value(node, row))


# -- $orderby / $select --------------------------------------------------------------------
@dataclass
class OrderItem:
    prop: Prop
    descending: bool
    text: str


def parse_orderby(text: str, entity: EntitySchema) -> list[OrderItem]:
    items: list[OrderItem] = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
            raise odata_error(400, f"Syntax error at position 0 in '{part.strip()}'.")
        if not re.fullmatch(r"[A-Za-z_]\w*(/[A-Za-z_]\w*)*", words[0]):
            raise odata_error(400, f"Syntax error at position 0 in '{words[0]}'.")
        prop = bind_path(entity, words[0].split("/"))
        items.append(OrderItem(prop, len(words) == 2 and words[1] == "desc", words[0]))
    return items


def parse_select(text: str, entity: EntitySchema) -> list[str]:
    names = [part.strip() for part in text.split(",")]
    if "*" in names:
        return [c.name for c in entity.columns]
    for name in names:
        if "/" in name or name not in entity.by_name:
            raise unknown_property(entity, name.split("/")[0] if name else name)
    return [c.name for c in entity.columns if c.name in names]


class Descending:
    """Inverts the order of a sort key (strings cannot be negated)."""

    __slots__ = ("key",)

    def __init__(self, key: Any) -> None:
        self.key = key

    def __lt__(self, other: Descending) -> bool:
        return bool(other.key < self.key)

    def __gt__(self, other: Descending) -> bool:
        return bool(other.key > self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Descending) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)


def sort_key(value: Any, evaluator: Evaluator, descending: bool) -> Any:
    # NULLs sort first ascending (SQL Server), last descending.
    key = (0,) if value is None else (1, evaluator.key(value))
    return Descending(key) if descending else key
