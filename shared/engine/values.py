"""Comparing mapped values across systems that spell the same value differently ("100.00" and
100, "2024-05-01T00:00:00Z" and "2024-05-01T00:00:00.0000000+00:00", None and ""), and the
stable hash of a record's mapped values that echo and unchanged suppression rely on."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from shared.connectors.protocol import Reference

_NUMERIC = set("0123456789.-+eE")


def canonical(value: Any) -> Any:
    """A JSON-able form in which equal values are equal."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    if isinstance(value, Reference):
        return canonical(value.id)
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | Decimal):
        return _number(Decimal(str(value)))
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="milliseconds")
    if isinstance(value, Mapping):
        return {str(k): canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    text = str(value).strip()
    # Numeric text compares as a number ("100.00" = 100), but not codes with leading zeros.
    zero_padded = len(text) > 1 and text.lstrip("+-")[:1] == "0" and text.lstrip("+-")[1:2] != "."
    if text and set(text) <= _NUMERIC and any(c.isdigit() for c in text) and not zero_padded:
        try:
            return _number(Decimal(text))
        except InvalidOperation:
            return text
    if len(text) >= 20 and text[4:5] == "-" and text[10:11] == "T":
        moment = _instant(text)
        if moment is not None:
            return moment
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def _number(number: Decimal) -> str:
    if not number.is_finite():
        return str(number)
    normal = number.normalize()
    return format(normal, "f") if normal != 0 else "0"


def _instant(text: str) -> str | None:
    head, dot, tail = text.partition(".")
    if dot:
        digits = tail[: len(tail) - len(tail.lstrip("0123456789"))]
        text = f"{head}.{digits[:6]}{tail[len(digits) :]}"
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def same(a: Any, b: Any) -> bool:
    return bool(canonical(a) == canonical(b))


def values_hash(values: Mapping[str, Any]) -> str:
    text = json.dumps(canonical(dict(values)), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def plain(values: Mapping[str, Any]) -> dict[str, Any]:
    """Values as the target will read them back: references become ids."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Reference):
            out[key] = value.id
        elif isinstance(value, list):
            out[key] = [plain(v) if isinstance(v, Mapping) else v for v in value]
        else:
            out[key] = value
    return out
