"""The operator console (HTML + its own CSS and JS, shipped in shared/console/static) and the
audit trail's JSON route. The page and its assets are anonymous: they hold no data, and in
`keys` mode the page passes the `code` it was opened with to every API call."""

from __future__ import annotations

import azure.functions as func

from functions.guard import api_auth_level, audit_store, guarded
from functions.http import error_response, json_response
from shared.access.caller import Role
from shared.console.assets import ASSET_TYPES, CSP, read_asset
from shared.runtime import get_services

bp = func.Blueprint(http_auth_level=api_auth_level())

_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@bp.route(route="console", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def console_page(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(
        read_asset("console.html"), mimetype="text/html", charset="utf-8", headers=_HEADERS
    )


@bp.route(route="console/assets/{name}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def console_asset(req: func.HttpRequest) -> func.HttpResponse:
    name = req.route_params["name"]
    if name not in ASSET_TYPES:
        return error_response(404, "not_found", f"no console asset '{name}'")
    return func.HttpResponse(
        read_asset(name), mimetype=ASSET_TYPES[name], charset="utf-8", headers=_HEADERS
    )


@bp.route(route="monitor", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def monitor_redirect(req: func.HttpRequest) -> func.HttpResponse:
    # Relative, so it works behind any host name and keeps the `code` query of keys mode.
    query = req.url.partition("?")[2]
    location = "console" + (f"?{query}" if query else "") + "#monitor"
    return func.HttpResponse(status_code=302, headers={"Location": location, **_HEADERS})


@bp.route(route="audit", methods=["GET"])
@guarded(Role.VIEWER)
async def list_audit(req: func.HttpRequest) -> func.HttpResponse:
    raw = req.params.get("limit", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= 200:
        return error_response(422, "validation", "limit: a whole number from 1 to 200", "limit")
    before = req.params.get("before") or None
    if before is not None and (len(before) > 40 or not before.replace("-", "").isalnum()):
        return error_response(422, "validation", "before: a cursor from a previous page", "before")
    page = await audit_store(await get_services()).page(int(raw), before)
    return json_response(200, page)
