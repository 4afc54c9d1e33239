"""Creatio's error answers -> ConnectorError with a category and an operator's message.

Shapes (docs/wire-notes.md C5): the OData 4 error `{"error": {"code", "message", "innererror"}}`;
ASP.NET Web API HttpError `{"Message", "ExceptionMessage", "ExceptionType"}`; the routing
error `{"Message", "MessageDetail"}`; IIS's HTML 404 page for an unknown object; empty or
HTML bodies for 401/5xx. The category comes from the text first (a duplicate key is a 500
with SQL Server's message) and the status second.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from typing import Any

import httpx

from shared.connectors.creatio.config import SYSTEM
from shared.connectors.errors import ConnectorError
from shared.errors import ErrorCategory as C

_MAX_SHOWN = 400
_FIELD_PATTERNS = (
    re.compile(r"property named '(\w+)'"),
    re.compile(r"[Cc]olumn \"(\w+)\""),
    re.compile(r'FOREIGN KEY constraint "FK_[A-Za-z0-9]+_(\w+)"'),
    re.compile(r"column '(\w+)'"),
)
_HINTS = {
    C.AUTH: "check the Creatio credentials in the app settings and the user's permissions",
    C.DUPLICATE: "a record with the same key already exists in Creatio",
    C.DEPENDENCY: "a referenced record does not exist in Creatio (sync it first) or still "
    "has records that reference it",
    C.NOT_FOUND: "the record or object does not exist in Creatio (deleted, or a wrong name)",
    C.RATE_LIMIT: "Creatio is throttling calls; they are retried later",
    C.CONNECTION: "Creatio could not be reached or failed; the call is retried",
    C.VALIDATION: "fix the value in the source record or the field mapping",
}


def server_message(body: Any, text: str) -> str:
    """The most specific message in any of Creatio's error shapes."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            inner = error.get("innererror")
            inner_message = inner.get("message") if isinstance(inner, dict) else None
            message = str(error.get("message") or "")
            if inner_message and inner_message not in message:
                message = f"{message} {inner_message}".strip()
            return message
        if body.get("ExceptionMessage"):
            return str(body["ExceptionMessage"])
        if body.get("Message"):
            detail = body.get("MessageDetail")
            return f"{body['Message']} {detail}" if detail else str(body["Message"])
        if isinstance(body.get("error"), str):  # OAuth: {"error": "invalid_client"}
            return str(body["error"])
    title = re.search(r"<title>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
    if title:
        return title.group(1).strip()
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text)).strip()


def _decode(text: str) -> Any:
    try:
        return json.loads(text) if text.strip() else None
    except ValueError:
        return None


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` as delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


def _classify(status: int, message: str, body: Any) -> tuple[C, str]:
    lowered = message.lower()
    if "duplicate key" in lowered or "unique constraint" in lowered:
        return C.DUPLICATE, "duplicate_key"
    if "foreign key" in lowered or "reference constraint" in lowered:
        return C.DEPENDENCY, "foreign_key"
    if "would be truncated" in lowered:
        return C.VALIDATION, "value_too_long"
    if status in (401, 403):
        return C.AUTH, "unauthorized" if status == 401 else "forbidden"
    if status == 404:
        odata = isinstance(body, dict) and isinstance(body.get("error"), dict)
        return C.NOT_FOUND, "not_found" if odata else "unknown_resource"
    if status == 429:
        return C.RATE_LIMIT, "rate_limited"
    if status in (409, 412):
        return C.CONFLICT, "conflict"
    if status in (408, 500, 502, 503, 504) or status >= 500:
        return C.CONNECTION, "server_error"
    if status in (400, 413, 422):
        return C.VALIDATION, "invalid_request"
    return C.INTERNAL, f"http_{status}"


def error_from_answer(
    status: int,
    text: str,
    headers: httpx.Headers | dict[str, str] | None = None,
    *,
    action: str,
    record: str | None = None,
    body: Any = None,
) -> ConnectorError:
    """One HTTP answer (or $batch sub-answer) with an error status -> ConnectorError."""
    if body is None:
        body = _decode(text)
    message = server_message(body, text) or httpx.codes.get_reason_phrase(status)
    category, code = _classify(status, message, body)
    field = None
    for pattern in _FIELD_PATTERNS:
        found = pattern.search(message)
        if found:
            field = found.group(1)
            break
    if code == "unknown_resource":
        message = f"{message} (is the object name right, and is the OData base path right?)"
    shown = message if len(message) <= _MAX_SHOWN else message[: _MAX_SHOWN - 1] + "…"
    hint = _HINTS.get(category)
    headers = headers or {}
    retry_after = retry_after_seconds(headers.get("Retry-After") or headers.get("retry-after"))
    return ConnectorError(
        f"{action}: HTTP {status}: {shown}" + (f" — {hint}" if hint else ""),
        category=category,
        system=SYSTEM,
        status=status,
        code=code,
        field=field,
        record=record,
        retry_after=retry_after,
    )


def error_from_response(
    response: httpx.Response, *, action: str, record: str | None = None
) -> ConnectorError:
    return error_from_answer(
        response.status_code, response.text, response.headers, action=action, record=record
    )


def error_from_transport(
    exc: httpx.HTTPError, *, action: str, record: str | None = None
) -> ConnectorError:
    """A call that got no HTTP answer. Retryable: the request may or may not have been
    processed, which is why every write the client makes is idempotent."""
    if isinstance(exc, httpx.TimeoutException):
        what, code = "timed out waiting for Creatio", "timeout"
    elif isinstance(exc, httpx.ConnectError):
        what, code = "could not connect to Creatio", "connect_failed"
    else:
        what, code = "the connection to Creatio broke before an answer arrived", "connection_lost"
    return ConnectorError(
        f"{action}: {what} ({type(exc).__name__}) — {_HINTS[C.CONNECTION]}",
        category=C.CONNECTION,
        system=SYSTEM,
        code=code,
        record=record,
    )
