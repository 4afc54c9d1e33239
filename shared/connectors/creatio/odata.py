"""OData 4 literals and query strings for Creatio, built so that no value can change the
meaning of a filter: strings are quoted with embedded quotes doubled, every other type has
its own unquoted literal form, names are checked, and the whole query is percent-encoded."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from shared.connectors import odata
from shared.connectors.creatio.config import SYSTEM
from shared.connectors.errors import InvalidValue
from shared.connectors.odata import quote_string

EMPTY_GUID = "00000000-0000-0000-0000-000000000000"
EMPTY_DATE = "0001-01-01T00:00:00Z"
_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*")
# Left unescaped in query values because OData reads them and they are safe in a query;
# everything else (space, &, +, #, %, =, ?, non-ASCII...) is percent-encoded.
_QUERY_SAFE = "',()/:$*"
_OPERATORS = ("eq", "ne", "gt", "ge", "lt", "le")


def check_name(name: str) -> str:
    """An object or column name (`Account`, `UsrErpLastModified`)."""
    if not odata.NAME.fullmatch(name):
        raise InvalidValue(f"not an OData name: {name!r}", field=str(name), system=SYSTEM)
    return name


def check_path(path: str) -> str:
    """A column or lookup path (`Name`, `Stage/Name`, `Account/Id`)."""
    if not _PATH.fullmatch(path):
        raise InvalidValue(f"not an OData property path: {path!r}", field=str(path), system=SYSTEM)
    return path


def format_datetime(value: datetime) -> str:
    """An aware datetime as an OData DateTimeOffset literal in UTC (`...T10:00:00.123456Z`)."""
    return odata.format_datetime(value, system=SYSTEM)


def parse_datetime(text: str) -> datetime | None:
    """A Creatio timestamp (up to 7 fractional digits) -> aware UTC datetime (microseconds;
    keep the original string where the 7th digit matters). The empty date -> None."""
    if text == EMPTY_DATE:
        return None
    head, dot, rest = text.partition(".")
    if dot:
        digits = re.match(r"\d*", rest)
        assert digits is not None
        fraction = digits.group()
        text = f"{head}.{fraction[:6].ljust(6, '0')}{rest[len(fraction) :]}"
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def literal(value: Any) -> str:
    """A Python value as an OData 4 literal (see `shared.connectors.odata.literal`)."""
    return odata.literal(value, system=SYSTEM)


def compare(path: str, op: str, value: Any) -> str:
    if op not in _OPERATORS:
        raise InvalidValue(f"unknown operator {op!r}", system=SYSTEM)
    return f"{check_path(path)} {op} {literal(value)}"


def eq(path: str, value: Any) -> str:
    return compare(path, "eq", value)


def contains(path: str, text: str) -> str:
    return f"contains({check_path(path)},{quote_string(text)})"


def startswith(path: str, text: str) -> str:
    return f"startswith({check_path(path)},{quote_string(text)})"


def all_of(*clauses: str | None) -> str | None:
    """`(a) and (b)`; None clauses are left out; None if nothing is left."""
    parts = [c for c in clauses if c]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else " and ".join(f"({c})" for c in parts)


def any_of(*clauses: str | None) -> str | None:
    parts = [c for c in clauses if c]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else " or ".join(f"({c})" for c in parts)


def match_filter(match: Mapping[str, Any]) -> str:
    """`{"Name": "O'Brien", "Code": "A-1"}` -> `(Name eq 'O''Brien') and (Code eq 'A-1')`."""
    if not match:
        raise InvalidValue("a match needs at least one field", system=SYSTEM)
    clause = all_of(*(eq(path, value) for path, value in match.items()))
    assert clause is not None
    return clause


def encoded_length(text: str) -> int:
    """How many bytes `text` takes in a query string once percent-encoded."""
    return len(quote(text, safe=_QUERY_SAFE))


def any_within(clauses: Iterable[str], room: int) -> list[list[int]]:
    """The clauses' indexes in groups whose `or` (`a or b or c`), percent-encoded, fits in
    `room` bytes: one filter per group (docs/wire-notes.md C9). A clause too long alone is
    left out of every group."""
    groups: list[list[int]] = []
    used = 0
    joint = encoded_length(" or ")
    for index, clause in enumerate(clauses):
        size = encoded_length(clause)
        if size > room:
            continue
        if groups and used + joint + size <= room:
            groups[-1].append(index)
            used += joint + size
        else:
            groups.append([index])
            used = size
    return groups


def encode_query(params: Mapping[str, str | int | None]) -> str:
    return "&".join(
        f"{name}={quote(str(value), safe=_QUERY_SAFE)}"
        for name, value in params.items()
        if value is not None
    )


def select_list(names: Iterable[str]) -> str:
    return ",".join(check_name(n) for n in names)


def key_path(object_name: str, record_id: uuid.UUID | str) -> str:
    try:
        key = uuid.UUID(str(record_id))
    except ValueError:
        raise InvalidValue(f"not a record Id: {record_id!r}", field="Id", system=SYSTEM) from None
    return f"{check_name(object_name)}({key})"
