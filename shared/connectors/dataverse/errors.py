"""Dataverse answers -> ConnectorError with a category the engine acts on.

401/403 auth; 404 not_found (dependency when a write names another record, a lookup
target); 412 duplicate (a create-only write found the record) or conflict (a version
mismatch); 400 validation, with the property named when the message or the request body
tells it (option sets, lengths, date/number formats, unknown properties); 413 validation;
429 rate_limit with Retry-After; 5xx connection (transient), except a plug-in's business
error (0x80040265), which is validation. Messages carry Dataverse's own text, never a token.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import httpx

from shared.connectors.dataverse.config import SYSTEM
from shared.connectors.errors import ConnectorError
from shared.connectors.retry import retry_after_seconds
from shared.errors import ErrorCategory

DUPLICATE_CODES = {"0x80040237", "0x80060892"}
VERSION_MISMATCH = "0x80060882"
PLUGIN_ERROR = "0x80040265"
_FIELD_PATTERNS = (
    re.compile(r"of '([A-Za-z0-9_]+)' on record of type"),
    re.compile(r"The length of the '([A-Za-z0-9_]+)' attribute"),
    re.compile(r"The property '([A-Za-z0-9_@.]+)' does not exist"),
    re.compile(r"undeclared property '([A-Za-z0-9_]+)'"),
    re.compile(r"navigation property '([A-Za-z0-9_]+)'"),
    re.compile(r"The value of '([A-Za-z0-9_]+)' on record"),
    re.compile(r"attribute values ([A-Za-z0-9_]+) already exists"),
)
_LITERAL = re.compile(r"Cannot convert the literal '(.*)' to the expected type '([A-Za-z.]+)'")
_MISSING = re.compile(r"([a-z_]+) With Id = ([0-9a-fA-F-]{36}) Does Not Exist")
_MAX_MESSAGE = 400


def retry_after(response: httpx.Response) -> float | None:
    return retry_after_seconds(response.headers.get("Retry-After"))


def error_body(response: httpx.Response) -> tuple[str | None, str]:
    """(code, message) of Dataverse's `{"error": {"code", "message"}}`, tolerating others."""
    try:
        data = json.loads(response.content)
    except ValueError:
        text = response.text.strip()
        return None, text[:_MAX_MESSAGE] if text and "<html" not in text.lower() else ""
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        code = error.get("code")
        return (str(code) if code else None), str(error.get("message") or "")[:_MAX_MESSAGE]
    return None, ""


def _field(message: str, body: Mapping[str, Any] | None) -> str | None:
    for pattern in _FIELD_PATTERNS:
        match = pattern.search(message)
        if match:
            return match.group(1).split("@")[0]
    if "Entity Reference properties" in message and body:
        # Writing `_x_value` (never done by this connector, but by a mapping that passes one).
        return next((k for k in body if k.startswith("_") and k.endswith("_value")), None)
    match = _LITERAL.search(message)
    if match and body:
        # OData's reader names the literal, not the property: find it in what was sent.
        text = match.group(1)
        return next((k for k, v in body.items() if _as_sent(v) == text), None)
    return None


def _as_sent(value: Any) -> str | None:
    """A body value as the literal an OData error quotes (the JSON text, strings bare)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    return None


def error_from_response(
    response: httpx.Response,
    *,
    action: str,
    record: str | None = None,
    body: Mapping[str, Any] | None = None,
    create_only: bool = False,
) -> ConnectorError:
    status = response.status_code
    code, message = error_body(response)
    said = f": {message}" if message else ""
    where = f"{action}: Dataverse answered HTTP {status}" + (f" {code}" if code else "") + said

    def error(category: ErrorCategory, **extra: Any) -> ConnectorError:
        return ConnectorError(
            where,
            category=category,
            system=SYSTEM,
            status=status,
            code=code or category.value,
            record=record,
            **extra,
        )

    if status == 401:
        return ConnectorError(
            f"{action}: Dataverse rejected the access token (HTTP 401) — check that the app "
            "registration is an application user of this environment",
            category=ErrorCategory.AUTH,
            system=SYSTEM,
            status=401,
            code="unauthorized",
            record=record,
        )
    if status == 403:
        return error(ErrorCategory.AUTH)
    if status == 404:
        missing = _MISSING.search(message)
        if missing and body is not None and (record is None or missing.group(2) != record):
            # A lookup points at a record that does not exist (yet): the engine retries
            # once the record it depends on has synced.
            return error(ErrorCategory.DEPENDENCY)
        return error(ErrorCategory.NOT_FOUND)
    if status == 412:
        if code == VERSION_MISMATCH or "RowVersion" in message:
            return error(ErrorCategory.CONFLICT)
        if create_only or code in DUPLICATE_CODES or "already exists" in message:
            return error(ErrorCategory.DUPLICATE, field=_field(message, body))
        return error(ErrorCategory.CONFLICT)
    if status == 429:
        return error(ErrorCategory.RATE_LIMIT, retry_after=retry_after(response))
    if status in (400, 413, 405, 501) or (status == 500 and code == PLUGIN_ERROR):
        return error(ErrorCategory.VALIDATION, field=_field(message, body))
    if status >= 500 or status in (408, 409):
        return error(ErrorCategory.CONNECTION, retry_after=retry_after(response))
    return error(ErrorCategory.INTERNAL)


def error_from_transport(
    exc: httpx.HTTPError, *, action: str, record: str | None
) -> ConnectorError:
    kind = type(exc).__name__
    return ConnectorError(
        f"{action}: no answer from Dataverse ({kind}) — check DATAVERSE_URL and the network",
        category=ErrorCategory.CONNECTION,
        system=SYSTEM,
        code="connection",
        record=record,
    )
