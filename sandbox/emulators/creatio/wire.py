"""Creatio's wire conventions: timestamps, GUID order, JSON values, error bodies.

Timestamps are kept as .NET ticks (100 ns since 0001-01-01 UTC) so the 7 fractional digits
Creatio sends survive exactly; tick 0 is Creatio's "empty date" `0001-01-01T00:00:00Z`.
"""

from __future__ import annotations

import html
import json
import re
import time
import uuid
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from starlette.responses import Response

from sandbox.emulators.creatio.schema import Column

TICKS_PER_SECOND = 10_000_000
UNIX_EPOCH_TICKS = 621_355_968_000_000_000
EMPTY_GUID = "00000000-0000-0000-0000-000000000000"
EMPTY_DATE = "0001-01-01T00:00:00Z"
_DAYS_BEFORE_MONTH = (0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334)
_DATETIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?"
    r"(Z|[+-]\d{2}:\d{2})$"
)
GUID_PATTERN = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# SQL Server compares uniqueidentifiers by these byte positions of the .NET byte layout
# (last group first); Creatio on SQL Server orders and compares Ids this way.
_SQLSERVER_GUID_ORDER = (10, 11, 12, 13, 14, 15, 8, 9, 6, 7, 4, 5, 0, 1, 2, 3)


class EmulatedError(Exception):
    """An error answer in one of Creatio's documented shapes."""

    def __init__(
        self,
        status: int,
        body: Any,
        *,
        media_type: str = "application/json; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body
        self.media_type = media_type
        self.headers = headers or {}

    def response(self) -> Response:
        content = self.body if isinstance(self.body, str) else dumps(self.body)
        return Response(content, self.status, headers=self.headers, media_type=self.media_type)


def odata_error(status: int, message: str, *, inner: str | None = None) -> EmulatedError:
    """Shape 1: the OData 4 error (query, body and key errors)."""
    error: dict[str, Any] = {"code": "", "message": message}
    if inner is not None:
        error["innererror"] = {"message": inner, "type": "", "stacktrace": ""}
    return EmulatedError(status, {"error": error})


def http_error(status: int, message: str, exception_type: str) -> EmulatedError:
    """Shape 2: ASP.NET Web API HttpError (unhandled server exceptions: database errors)."""
    return EmulatedError(
        status,
        {
            "Message": "An error has occurred.",
            "ExceptionMessage": message,
            "ExceptionType": exception_type,
            "StackTrace": None,
        },
    )


def routing_error(status: int, message: str, detail: str | None = None) -> EmulatedError:
    """Shape 3: Web API routing errors (no such resource or method)."""
    body: dict[str, str] = {"Message": message}
    if detail is not None:
        body["MessageDetail"] = detail
    return EmulatedError(status, body)


def iis_not_found() -> EmulatedError:
    """An unknown entity set on a .NET Framework host: IIS's HTML page, not JSON."""
    page = (
        "<!DOCTYPE html><html><head><title>404 - File or directory not found.</title></head>"
        '<body><div id="header"><h1>Server Error</h1></div><div id="content">'
        "<h2>404 - File or directory not found.</h2><h3>The resource you are looking for might"
        " have been removed, had its name changed, or is temporarily unavailable.</h3>"
        "</div></body></html>"
    )
    return EmulatedError(404, page, media_type="text/html")


def iis_query_string_too_long() -> EmulatedError:
    """A query string over IIS's `maxQueryString`: request filtering answers before Creatio
    sees the request (404.15, an HTML page; docs/wire-notes.md C9)."""
    page = (
        "<!DOCTYPE html><html><head><title>IIS 10.0 Detailed Error - 404.15 - Not Found"
        '</title></head><body><div id="content"><h3>HTTP Error 404.15 - Not Found</h3>'
        "<h4>The request filtering module is configured to deny a request where the query "
        "string is too long.</h4></div></body></html>"
    )
    return EmulatedError(404, page, media_type="text/html")


# -- time ---------------------------------------------------------------------------------
def now_ticks(resolution_ticks: int = 1, offset_s: float = 0.0) -> int:
    ticks = time.time_ns() // 100 + UNIX_EPOCH_TICKS + int(offset_s * TICKS_PER_SECOND)
    return ticks - ticks % resolution_ticks if resolution_ticks > 1 else ticks


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 0001-01-01 (proleptic Gregorian)."""
    y = year - 1
    days = y * 365 + y // 4 - y // 100 + y // 400 + _DAYS_BEFORE_MONTH[month - 1] + day - 1
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return days + (1 if leap and month > 2 else 0)


def parse_datetime(text: str) -> int:
    """An ISO 8601 DateTimeOffset (up to 7 fractional digits) -> UTC ticks."""
    match = _DATETIME.match(text)
    if match is None:
        raise ValueError(text)
    year, month, day, hour, minute = (int(match.group(i)) for i in range(1, 6))
    second = int(match.group(6) or 0)
    fraction = (match.group(7) or "").ljust(7, "0")
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 60):
        raise ValueError(text)
    seconds = _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second
    zone = match.group(8)
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        seconds -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return seconds * TICKS_PER_SECOND + int(fraction)


def format_ticks(ticks: int) -> str:
    """UTC ticks -> `2024-05-02T10:00:00.1234567Z`, trailing zeros trimmed (as ODL writes)."""
    seconds, fraction = divmod(ticks, TICKS_PER_SECOND)
    days, rest = divmod(seconds, 86400)
    hour, rest = divmod(rest, 3600)
    minute, second = divmod(rest, 60)
    # Civil date from a day count (days since 0001-01-01).
    n = days
    year = 1 + 400 * (n // 146097)
    n %= 146097
    century = min(n // 36524, 3)
    year += 100 * century
    n -= century * 36524
    year += 4 * (n // 1461)
    n %= 1461
    extra = min(n // 365, 3)
    year += extra
    n -= extra * 365
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    month = 12
    for index in range(1, 12):
        start = _DAYS_BEFORE_MONTH[index] + (1 if leap and index >= 2 else 0)
        if n < start:
            month = index
            break
    day = n - _DAYS_BEFORE_MONTH[month - 1] - (1 if leap and month > 2 else 0) + 1
    text = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
    if fraction:
        text += "." + f"{fraction:07d}".rstrip("0")
    return text + "Z"


# -- guids --------------------------------------------------------------------------------
def guid_sort_key(value: uuid.UUID) -> bytes:
    raw = value.bytes_le
    return bytes(raw[i] for i in _SQLSERVER_GUID_ORDER)


def parse_guid(text: str) -> uuid.UUID:
    if not re.fullmatch(GUID_PATTERN, text):
        raise ValueError(text)
    return uuid.UUID(text)


# -- JSON values ----------------------------------------------------------------------------
def coerce(column: Column, value: Any) -> Any:
    """A JSON value written to `column` -> the stored value; ValueError if it cannot be."""
    kind = column.kind
    if value is None:
        return {"text": "", "datetime": 0, "decimal": Decimal(0), "integer": 0}.get(kind)
    if kind in ("guid", "lookup"):
        if not isinstance(value, str):
            raise ValueError(value)
        return parse_guid(value)
    if kind == "text":
        if not isinstance(value, str):
            raise ValueError(value)
        return value
    if kind == "datetime":
        if not isinstance(value, str):
            raise ValueError(value)
        return parse_datetime(value)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ValueError(value)
        return value
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(value)
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError(value)
    try:
        number = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(value) from exc
    if not number.is_finite():
        raise ValueError(value)
    return number.quantize(Decimal(1).scaleb(-column.scale), rounding=ROUND_HALF_UP)


# Decimals travel as bare JSON numbers with every digit kept (never through a binary
# float): they are written as a marked string, and the marks removed after encoding.
_DECIMAL_MARK = "\u0000\u0001dec:"
_MARKED = re.compile(r'"\\u0000\\u0001dec:(-?[0-9]+(?:\.[0-9]+)?)"')


class Number(str):
    """A decimal to be written as a bare JSON number."""


def serialize(column: Column, value: Any, *, ieee754: bool) -> Any:
    """A stored value -> its JSON form in a response."""
    kind = column.kind
    if kind in ("guid", "lookup"):
        return str(value) if value is not None else EMPTY_GUID
    if kind == "datetime":
        return format_ticks(value) if value else EMPTY_DATE
    if kind == "decimal":
        text = format(value, "f")
        # IEEE754Compatible=true asks for decimals as strings; otherwise bare numbers with
        # every digit kept (never through a binary float).
        return text if ieee754 else Number(text)
    return value


def _mark(value: Any) -> Any:
    if isinstance(value, Number):
        return _DECIMAL_MARK + value
    if isinstance(value, Decimal):
        return _DECIMAL_MARK + format(value, "f")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {k: _mark(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mark(v) for v in value]
    return value


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def dumps(payload: Any) -> str:
    text = json.dumps(_mark(payload), ensure_ascii=False, separators=(",", ":"))
    # A .NET string may hold half of a surrogate pair (a cut emoji); Creatio writes it as
    # the JSON escape `\ud800`, which is what a client then has to cope with.
    text = _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return _MARKED.sub(r"\1", text)


def escape_html(text: str) -> str:
    return html.escape(text)
