"""Intacct's failures -> ConnectorError with a category and an operator's message.

The gateway answers most failures with HTTP 200 and the failure inside the XML, on one of
three levels (docs/wire-notes.md I3): control (nothing ran), authentication (no function ran),
function (only that function failed). Gateway throttling is HTTP 429 with GW-0010.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable, Sequence

import httpx

from shared.connectors.errors import ConnectorError
from shared.connectors.intacct.config import SYSTEM
from shared.connectors.intacct.wire import ErrorDetail
from shared.errors import ErrorCategory as C

_MAX_SHOWN = 400
DUPLICATE_NUMBERS = frozenset({"BL34000061", "PL05000104"})
AUTH_NUMBERS = frozenset({"XL03000006", "PL04000055"})
_FIELD_PATTERNS = (
    re.compile(r"\bfield '?([A-Z][A-Z0-9_]*(?:\.[A-Z0-9_]+)*)'?"),
    re.compile(r"\b([A-Z][A-Z0-9_]{2,}(?:\.[A-Z0-9_]+)*) is (?:required|missing|invalid)"),
    re.compile(r"\bwith ([A-Z][A-Z0-9_]+)="),
)
_SUPPORT_ID = re.compile(r"\s*\[Support ID: [^\]]*\]")
_HINTS = {
    C.AUTH: "check the Intacct sender and user credentials in the app settings and that the "
    "sender id is authorised for the company (Company > Security > Web Services)",
    C.DUPLICATE: "a record with this ID already exists in Intacct",
    C.DEPENDENCY: "a referenced record does not exist in Intacct (sync it first)",
    C.NOT_FOUND: "the record does not exist in Intacct (deleted, or a wrong ID)",
    C.RATE_LIMIT: "Intacct is throttling calls (too many at once); they are retried later",
    C.CONNECTION: "Intacct could not be reached or failed; the call is retried",
    C.VALIDATION: "fix the value in the source record or the field mapping",
}


def clean(text: str, secrets: Iterable[str] = ()) -> str:
    """Support-id suffix decoded away, whitespace folded, secrets masked, length bounded."""
    text = urllib.parse.unquote_plus(text) if "%" in text else text
    text = _SUPPORT_ID.sub("", text)
    text = re.sub(r"\s+", " ", text).strip()
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text[:_MAX_SHOWN]


def field_of(details: Sequence[ErrorDetail]) -> str | None:
    for detail in details:
        for pattern in _FIELD_PATTERNS:
            match = pattern.search(detail.text)
            if match:
                return match.group(1)
    return None


def category_of(details: Sequence[ErrorDetail]) -> C:
    numbers = {d.errorno for d in details}
    text = " ".join(d.text for d in details).lower()
    if numbers & DUPLICATE_NUMBERS or "already exists" in text:
        return C.DUPLICATE
    if "GW-0010" in numbers:
        return C.RATE_LIMIT
    if numbers & AUTH_NUMBERS or "permission" in text or "sign-in" in text:
        return C.AUTH
    if "non-existing" in text or "cannot find" in text or "not found" in text:
        return C.NOT_FOUND
    if re.search(r"\binvalid \w+ '.*' specified", text):
        return C.DEPENDENCY
    if "XL03000003" in numbers or "resultid" in text:
        return C.INTERNAL  # our request was malformed, or a read cursor expired: a bug to fix
    return C.VALIDATION


def from_details(
    details: Sequence[ErrorDetail],
    *,
    level: str,
    action: str,
    record: str | None = None,
    secrets: Iterable[str] = (),
    category: C | None = None,
) -> ConnectorError:
    """One ConnectorError for a failure of `level` (control, authentication, function)."""
    category = category or (C.AUTH if level == "authentication" else category_of(details))
    shown = (
        "; ".join(
            f"{d.errorno}: {clean(d.text, secrets)}"
            + (f" ({clean(d.correction, secrets)})" if d.correction else "")
            for d in details
        )
        or "no error details"
    )
    return ConnectorError(
        f"{action}: Intacct {level} failure — {shown} — {_HINTS.get(category, 'see the details')}",
        category=category,
        system=SYSTEM,
        code=next((d.errorno for d in details if d.errorno), category.value),
        field=field_of(details),
        record=record,
    )


def from_status(
    response: httpx.Response, details: Sequence[ErrorDetail], *, action: str, record: str | None
) -> ConnectorError:
    """A non-2xx answer: 429 throttling, 5xx (retried), anything else unexpected."""
    status = response.status_code
    retry_after = _retry_after(response.headers.get("Retry-After"))
    if status == 429:
        category = C.RATE_LIMIT
    elif status >= 500 or status in (408, 502, 503, 504):
        category = C.CONNECTION
    elif status in (401, 403):
        category = C.AUTH
    else:
        category = C.INTERNAL
    detail = "; ".join(f"{d.errorno}: {clean(d.text)}" for d in details)
    return ConnectorError(
        f"{action}: Intacct answered HTTP {status}"
        + (f" — {detail}" if detail else "")
        + f" — {_HINTS.get(category, 'unexpected answer')}",
        category=category,
        system=SYSTEM,
        status=status,
        code=next((d.errorno for d in details if d.errorno), f"http_{status}"),
        record=record,
        retry_after=retry_after,
    )


def from_transport(exc: httpx.HTTPError, *, action: str, record: str | None) -> ConnectorError:
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
    return ConnectorError(
        f"{action}: the call to Intacct {kind} ({type(exc).__name__}) — {_HINTS[C.CONNECTION]}",
        category=C.CONNECTION,
        system=SYSTEM,
        code="timeout" if kind == "timed out" else "connection",
        record=record,
    )


def bad_answer(message: str, *, record: str | None = None) -> ConnectorError:
    return ConnectorError(
        message, category=C.INTERNAL, system=SYSTEM, code="bad_answer", record=record
    )


def _retry_after(value: str | None) -> float | None:
    if value and value.strip().isdigit():
        return float(value.strip())
    return None
