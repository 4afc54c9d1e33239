"""Dataverse's error body and value formats: what the emulator writes on the wire."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.responses import JSONResponse, Response

from sandbox.emulators.dataverse.schema import Column, Table

# Error codes (docs/wire-notes.md D1-D3, D6).
ODATA_ERROR = "0x80060888"
NOT_FOUND = "0x80040217"
DUPLICATE = "0x80040237"
VERSION_MISMATCH = "0x80060882"
OPTION_SET = "0x8004431A"
STRING_LENGTH = "0x80044331"
OUT_OF_RANGE = "0x80040278"
REQUESTS_LIMIT = "0x80072322"
TIME_LIMIT = "0x80072321"
CONCURRENCY_LIMIT = "0x80072326"
MIN_DATE = dt.date(1753, 1, 1)
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2})", re.IGNORECASE
)


class EmulatedError(Exception):
    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}

    def response(self) -> Response:
        return JSONResponse(
            self.body(), self.status, headers={"OData-Version": "4.0", **self.headers}
        )


def bad_request(message: str, code: str = ODATA_ERROR) -> EmulatedError:
    return EmulatedError(400, code, message)


def not_found(table: Table, key: str) -> EmulatedError:
    return EmulatedError(404, NOT_FOUND, f"{table.logical} With Id = {key} Does Not Exist")


def is_guid(text: str) -> bool:
    return bool(_GUID.fullmatch(text))


def format_datetime(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_datetime(text: str) -> dt.datetime | None:
    if not _DATETIME.fullmatch(text):
        return None
    try:
        value = dt.datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        return None
    return value.astimezone(dt.UTC)


def literal_text(value: Any) -> str:
    """A JSON value as OData's reader quotes it in an error: the text as sent (5, 1.5,
    true, abc), never Python's repr."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    return json.dumps(value, default=str, separators=(",", ":"))


def _cannot_convert(value: Any, column: Column) -> EmulatedError:
    return bad_request(
        f"Cannot convert the literal '{literal_text(value)}' to the expected type '{column.edm}'."
    )


def convert(table: Table, column: Column, value: Any) -> Any:
    """A JSON value written to `column` -> the stored value, or the error Dataverse gives."""
    if value is None:
        return None
    kind = column.type
    if kind in ("string", "memo"):
        if not isinstance(value, str):
            raise _cannot_convert(value, column)
        if column.max_length is not None and len(value) > column.max_length:
            raise bad_request(
                # Two spaces after the first sentence, as in the documented answer.
                f"A validation error occurred.  The length of the '{column.name}' attribute of "
                f"the '{table.logical}' entity exceeded the maximum allowed length of "
                f"'{column.max_length}'.",
                STRING_LENGTH,
            )
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise _cannot_convert(value, column)
        return value
    if kind in ("int", "picklist"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _cannot_convert(value, column)
        if kind == "picklist" and value not in column.options:
            accepted = ",".join(str(o) for o in column.options)
            raise bad_request(
                f"A validation error occurred. The value {value} of '{column.name}' on record "
                f"of type '{table.logical}' is outside the valid range. Accepted Values: "
                f"{accepted}",
                OPTION_SET,
            )
        _range(table, column, value)
        return value
    if kind in ("decimal", "money"):
        if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
            raise _cannot_convert(value, column)
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise _cannot_convert(value, column) from None
        if not number.is_finite():
            raise _cannot_convert(value, column)
        _range(table, column, number)
        return number
    if kind == "date":
        if not isinstance(value, str) or not _DATE.fullmatch(value):
            raise _cannot_convert(value, column)
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            raise _cannot_convert(value, column) from None
        if day < MIN_DATE:
            raise _before_min(table, column)
        return day
    if kind == "datetime":
        stamp = parse_datetime(value) if isinstance(value, str) else None
        if stamp is None:
            raise _cannot_convert(value, column)
        if stamp.date() < MIN_DATE:
            raise _before_min(table, column)
        return stamp
    if kind == "guid":
        if not isinstance(value, str) or not is_guid(value):
            raise _cannot_convert(value, column)
        return str(uuid.UUID(value))
    raise AssertionError(kind)


def _range(table: Table, column: Column, value: Any) -> None:
    low, high = column.minimum, column.maximum
    if (low is not None and value < low) or (high is not None and value > high):
        raise bad_request(
            f"A validation error occurred. The value of '{column.name}' on record of type "
            f"'{table.logical}' is outside the valid range ({low} to {high}).",
            OUT_OF_RANGE,
        )


def _before_min(table: Table, column: Column) -> EmulatedError:
    return bad_request(
        f"A validation error occurred. The value of '{column.name}' on record of type "
        f"'{table.logical}' is before 1/1/1753, the minimum date Dataverse stores.",
        OUT_OF_RANGE,
    )


def to_json(value: Any) -> Any:
    """A stored value as Dataverse writes it (money/decimal as JSON numbers)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime):
        return format_datetime(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
