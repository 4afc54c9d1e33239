"""HTTP triggers: route dispatch, function keys, and func.HttpRequest/HttpResponse mapping."""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import azure.functions as func
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.host.app import FunctionSpec
from sandbox.host.invoke import new_invocation_id
from sandbox.host.routes import RouteTemplate, parse_template, precedence_key
from sandbox.principal import encode_principal

log = logging.getLogger("shuttle.http")

ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE")
KEY_HEADER = "x-functions-key"
KEY_QUERY = "code"
KEYED_LEVELS = ("FUNCTION", "ADMIN")
PRINCIPAL_HEADER = "x-ms-client-principal"
LOCAL_OBJECT_ID = "00000000-0000-0000-0000-0000000010ca"

Run = Callable[[FunctionSpec, Any, str], Awaitable[Any]]


@dataclass(frozen=True)
class HttpFunction:
    spec: FunctionSpec
    route: RouteTemplate
    methods: frozenset[str]
    auth_level: str


def http_function(spec: FunctionSpec) -> HttpFunction:
    trigger = spec.trigger
    # No route means the function name; no methods means every method (as in Azure).
    template = trigger.get("route") or spec.name
    methods = trigger.get("methods") or ALL_METHODS
    return HttpFunction(
        spec=spec,
        route=parse_template(str(template)),
        methods=frozenset(str(m).upper() for m in methods),
        auth_level=str(trigger.get("authLevel") or "FUNCTION").upper(),
    )


def to_http_request(
    request: Request,
    body: bytes,
    route_params: dict[str, str],
    default_headers: dict[str, str] | None = None,
) -> func.HttpRequest:
    headers: dict[str, str] = {}
    for key, value in request.headers.items():
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    for key, value in (default_headers or {}).items():
        headers.setdefault(key, value)
    params: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        params[key] = f"{params[key]},{value}" if key in params else value
    return func.HttpRequest(
        method=request.method,
        url=str(request.url),
        headers=headers,
        params=params,
        route_params=route_params,
        body=body,
    )


def to_response(result: Any) -> Response:
    """Map what the function returned onto the wire, as the worker's converter does."""
    if isinstance(result, func.HttpResponse):
        response = Response(content=result.get_body(), status_code=result.status_code)
        names = {k.lower() for k, _ in result.headers.items()}
        for key, value in result.headers.items():
            if key.lower() != "content-length":  # Starlette computed the real one
                response.raw_headers.append((key.lower().encode("latin-1"), value.encode()))
        if "content-type" not in names and result.mimetype:
            content_type = result.mimetype
            if content_type.startswith("text/"):
                content_type += f"; charset={result.charset}"
            response.raw_headers.append((b"content-type", content_type.encode("latin-1")))
        return response
    if result is None:
        return Response(status_code=204)
    if isinstance(result, str):
        return Response(result, media_type="text/plain; charset=utf-8")
    if isinstance(result, bytes):
        return Response(result, media_type="application/octet-stream")
    raise TypeError(f"an HTTP function returned {type(result).__name__}, not func.HttpResponse")


class HttpDispatcher:
    """One Starlette app serving every HTTP function under the route prefix."""

    def __init__(
        self,
        specs: Sequence[FunctionSpec],
        *,
        route_prefix: str,
        local_key: str | None,
        run: Run,
        local_roles: str | None = None,
    ) -> None:
        self.prefix = f"/{route_prefix}" if route_prefix else ""
        self.local_key = local_key or None
        # SHUTTLE_LOCAL_ROLES: play App Service Authentication's part for requests that name
        # nobody, so a person at the local console acts with these roles (appservice mode).
        self.default_headers: dict[str, str] = {}
        roles = [r.strip() for r in (local_roles or "").split(",") if r.strip()]
        if roles:
            principal = encode_principal("local-user", roles, object_id=LOCAL_OBJECT_ID)
            self.default_headers[PRINCIPAL_HEADER] = principal
        self._run = run
        functions = [http_function(spec) for spec in specs]
        self._order = {spec.name: index for index, spec in enumerate(specs)}
        # Stable sort: among equally specific templates, registration order decides.
        self.functions = sorted(functions, key=lambda f: precedence_key(f.route))
        self.app = Starlette(routes=[Route("/{path:path}", self._handle, methods=ALL_METHODS)])

    def describe(self, base_url: str) -> list[str]:
        lines = []
        for f in sorted(self.functions, key=lambda f: self._order[f.spec.name]):
            methods = ",".join(sorted(f.methods)) if f.methods != set(ALL_METHODS) else "*"
            url = f"{base_url}{self.prefix}/{f.route.template.strip('/')}"
            lines.append(f"{f.spec.name}: [{methods}] {url} ({f.auth_level.lower()})")
        return lines

    def _relative(self, path: str) -> str | None:
        if not self.prefix:
            return path.rstrip("/") if path != "/" else ""
        lowered = path.lower()
        if lowered == self.prefix.lower() or lowered == self.prefix.lower() + "/":
            return ""
        if lowered.startswith(self.prefix.lower() + "/"):
            return path[len(self.prefix) :]
        return None

    def _select(
        self, relative: str, method: str
    ) -> tuple[HttpFunction | None, dict[str, str], set[str]]:
        """The most specific template matching the path that accepts the method; otherwise
        the methods the path would accept (for a 405)."""
        allowed: set[str] = set()
        for function in self.functions:
            params = function.route.match(relative)
            if params is None:
                continue
            if method in function.methods:
                return function, params, allowed
            allowed |= function.methods
        return None, {}, allowed

    def _authorized(self, function: HttpFunction, request: Request) -> bool:
        if function.auth_level not in KEYED_LEVELS or self.local_key is None:
            return True  # locally, any or no key is accepted unless SHUTTLE_LOCAL_KEY is set
        given = request.headers.get(KEY_HEADER) or request.query_params.get(KEY_QUERY) or ""
        return hmac.compare_digest(given.encode(), self.local_key.encode())

    async def _handle(self, request: Request) -> Response:
        started = time.perf_counter()
        relative = self._relative(request.url.path)
        function, params, allowed = (
            self._select(relative, request.method) if relative is not None else (None, {}, set())
        )
        name = function.spec.name if function else "-"
        if function is None:
            if allowed:
                response = Response(status_code=405, headers={"allow": ", ".join(sorted(allowed))})
            else:
                response = Response(status_code=404)
        elif not self._authorized(function, request):
            response = Response(status_code=401)
        else:
            response = await self._invoke(function, request, params)
        # The path only: query strings may carry a function key (`code=`).
        log.info(
            "%s %s -> %d (%s, %.0f ms)",
            request.method,
            request.url.path,
            response.status_code,
            name,
            (time.perf_counter() - started) * 1000,
        )
        return response

    async def _invoke(
        self, function: HttpFunction, request: Request, params: dict[str, str]
    ) -> Response:
        invocation_id = new_invocation_id()
        http_request = to_http_request(request, await request.body(), params, self.default_headers)
        try:
            result = await self._run(function.spec, http_request, invocation_id)
            return to_response(result)
        except Exception:
            # As the real host: a failed invocation is a 500 with no details on the wire.
            log.exception("function '%s' failed (invocation %s)", function.spec.name, invocation_id)
            return Response(status_code=500)
