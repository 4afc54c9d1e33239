"""The admin `/options` routes every emulator has: GET shows the emulator's options, PUT or
PATCH merges the fields given over them (422 with the reason when they do not validate)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.emulators.knobs import ADMIN_PREFIX


def options_routes(owner: Any) -> list[BaseRoute]:
    """Routes over `owner.options`, a pydantic model the emulator reads on every call."""

    async def get_options(request: Request) -> Response:
        return JSONResponse(owner.options.model_dump())

    async def put_options(request: Request) -> Response:
        try:
            merged = {**owner.options.model_dump(), **(await request.json())}
            owner.options = type(owner.options).model_validate(merged)
        except (ValidationError, ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        return JSONResponse(owner.options.model_dump())

    return [
        Route(f"{ADMIN_PREFIX}/options", get_options, methods=["GET"]),
        Route(f"{ADMIN_PREFIX}/options", put_options, methods=["PUT", "PATCH"]),
    ]
