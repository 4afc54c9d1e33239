"""Turning handler results and Shuttle errors into azure.functions HTTP responses."""

from __future__ import annotations

import logging
from collections.abc import Awaitable

import azure.functions as func
from pydantic import BaseModel

from shared.api.models import ErrorBody, ErrorDetail
from shared.errors import (
    ConcurrencyError,
    ConflictError,
    NotFoundError,
    RequestValidationError,
    ShuttleError,
)

log = logging.getLogger(__name__)

# JSON is data, never a page: a browser that opens it directly must not run or frame anything.
JSON_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}

_STATUS: tuple[tuple[type[ShuttleError], int], ...] = (
    (NotFoundError, 404),
    (ConflictError, 409),
    (ConcurrencyError, 409),
    (RequestValidationError, 422),
)


def json_response(
    status: int, body: BaseModel, headers: dict[str, str] | None = None
) -> func.HttpResponse:
    return func.HttpResponse(
        body.model_dump_json(by_alias=True),
        status_code=status,
        mimetype="application/json",
        headers={**JSON_SECURITY_HEADERS, **(headers or {})},
    )


def error_response(
    status: int, code: str, message: str, field: str | None = None
) -> func.HttpResponse:
    return json_response(
        status, ErrorBody(error=ErrorDetail(code=code, message=message, field=field))
    )


async def respond(work: Awaitable[tuple[int, BaseModel]]) -> func.HttpResponse:
    try:
        status, body = await work
    except ShuttleError as exc:
        for kind, status in _STATUS:
            if isinstance(exc, kind):
                return error_response(status, exc.code, exc.message, exc.field)
        log.exception("control API: %s", exc.message)
        return error_response(500, exc.code, exc.message, exc.field)
    except Exception:
        log.exception("control API: unexpected failure")
        return error_response(500, "internal", "unexpected failure; the function logs have details")
    headers = None
    if status == 202 and hasattr(body, "status_url"):
        headers = {"Location": body.status_url}
    return json_response(status, body, headers)
