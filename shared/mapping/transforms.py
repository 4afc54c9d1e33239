"""The transforms of the mapping language: pure functions of one value.

Each raises `TransformError` with an operator-readable message; the caller names the record
and field. Empty values (None, "") pass through everything but `default`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from shared.mapping import model as m


class TransformError(ValueError):
    pass


def is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value == "")


def key_text(value: Any) -> str:
    """How picklist values compare: as text, case-insensitively; booleans as true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip().casefold()


_DATE_INPUTS = ("%Y-%m-%d", "%m/%d/%Y")


def parse_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    for fmt in _DATE_INPUTS:
        try:
            return datetime.strptime(text[:10], fmt).date()
        except ValueError:
            continue
    try:
        return parse_datetime(text).date()
    except TransformError:
        raise TransformError(f"'{text}' is not a date (expected YYYY-MM-DD)") from None


def parse_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        moment = value
    else:
        text = str(value).strip()
        try:
            # Python's parser takes 6 fractional digits; Creatio and .NET send 7.
            head, dot, tail = text.partition(".")
            if dot:
                digits = tail[: len(tail) - len(tail.lstrip("0123456789"))]
                zone = tail[len(digits) :]
                text = f"{head}.{digits[:6]}{zone}"
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise TransformError(f"'{value}' is not a date and time (expected ISO 8601)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def to_number(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise TransformError(f"'{value}' is not a number")
    try:
        number = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        raise TransformError(f"'{value}' is not a number") from None
    if not number.is_finite():
        raise TransformError(f"'{value}' is not a number")
    return number


def _plain(number: Decimal) -> int | Decimal:
    """Whole numbers as int (quantities, ids); everything else stays a Decimal, never a float:
    money must reach the target to the cent (connectors write Decimals as exact JSON/XML)."""
    return int(number) if number == number.to_integral_value() else number


_TRUE = {"true", "1", "yes", "y", "active", "t"}
_FALSE = {"false", "0", "no", "n", "inactive", "f"}


def apply(op: Any, value: Any, sources: list[Any] | None = None) -> Any:
    """One transform. `sources` holds every source value (for concat)."""
    if isinstance(op, m.Default):
        return op.value if is_empty(value) else value
    if isinstance(op, m.Concat):
        parts = [str(v).strip() for v in (sources or [value]) if not is_empty(v)]
        return op.separator.join(p for p in parts if p) or None
    if is_empty(value):
        return value
    match op:
        case m.Trim():
            return value.strip() if isinstance(value, str) else value
        case m.Upper():
            return str(value).upper()
        case m.Lower():
            return str(value).lower()
        case m.Text():
            return key_text(value) if isinstance(value, bool) else str(value)
        case m.Truncate():
            return str(value)[: op.length]
        case m.DateFormat():
            return parse_date(value).strftime(op.format)
        case m.DateTimeFormat():
            moment = parse_datetime(value)
            if op.format == "iso":
                return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
            return moment.strftime(op.format)
        case m.ValueMap():
            wanted = key_text(value)
            for key, mapped in op.map.items():
                if key_text(key) == wanted:
                    return mapped
            if op.default is not None or not op.strict:
                return op.default
            allowed = ", ".join(str(k) for k in op.map)
            raise TransformError(f"'{value}' is not an allowed value (allowed: {allowed})")
        case m.Round():
            quantum = Decimal(1).scaleb(-op.digits)
            rounded = to_number(value).quantize(quantum, rounding=ROUND_HALF_UP)
            # Money keeps its cents ("100.00"): a target that shows text shows them too.
            return int(rounded) if op.digits <= 0 else rounded
        case m.Number():
            return _plain(to_number(value))
        case m.Boolean():
            text = key_text(value)
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise TransformError(f"'{value}' is not a yes/no value")
        case m.Split():
            parts = [p for p in str(value).split(op.separator) if p != ""]
            if op.index >= len(parts) or -op.index > len(parts):
                return None
            if op.rest:
                return op.separator.join(parts[op.index :])
            return parts[op.index]
        case m.StripChars():
            return "".join(c for c in str(value) if c not in op.chars)
        case m.RejectChars():
            bad = sorted({c for c in str(value) if c in op.chars})
            if bad:
                shown = " ".join(repr(c) for c in bad)
                raise TransformError(
                    f"contains {shown}, which the target system rejects; remove it at the source"
                )
            return value
    raise TransformError(f"unknown transform {op!r}")  # pragma: no cover - validated at load
