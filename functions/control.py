"""HTTP control API (DESIGN §3). Callers send x-functions-key in Azure (FUNCTION auth level),
or come through App Service Authentication (SHUTTLE_AUTH_MODE=appservice); every route is
`guarded` with the role it needs, and every change is audited (functions/guard.py)."""

from __future__ import annotations

import json

import azure.functions as func

from functions.guard import api_auth_level, guarded
from functions.http import error_response, respond
from shared.access.caller import Role
from shared.api.control import ControlApi
from shared.api.monitor import MonitorApi
from shared.api.openapi import build_openapi
from shared.flows.models import utcnow
from shared.runtime import get_services

bp = func.Blueprint(http_auth_level=api_auth_level())


async def _api() -> ControlApi:
    services = await get_services()
    return ControlApi(services.flows, services.settings, services.engine.outcomes)


@bp.route(route="flows", methods=["GET"])
@guarded(Role.VIEWER)
async def list_flows(req: func.HttpRequest) -> func.HttpResponse:
    return await respond((await _api()).list_flows())


@bp.route(route="flows/{flow_id}", methods=["GET"])
@guarded(Role.VIEWER)
async def get_flow(req: func.HttpRequest) -> func.HttpResponse:
    return await respond((await _api()).get_flow(req.route_params["flow_id"]))


@bp.route(route="flows/{flow_id}", methods=["PATCH"])
@guarded(Role.ADMIN, "flow.patch")
async def patch_flow(req: func.HttpRequest) -> func.HttpResponse:
    return await respond((await _api()).patch_flow(req.route_params["flow_id"], req.get_body()))


@bp.route(route="flows/{flow_id}/start", methods=["POST"])
@guarded(Role.OPERATOR, "flow.start")
async def start_flow(req: func.HttpRequest) -> func.HttpResponse:
    return await respond((await _api()).start_flow(req.route_params["flow_id"], utcnow()))


@bp.route(route="flows/{flow_id}/stop", methods=["POST"])
@guarded(Role.OPERATOR, "flow.stop")
async def stop_flow(req: func.HttpRequest) -> func.HttpResponse:
    return await respond((await _api()).stop_flow(req.route_params["flow_id"], utcnow()))


@bp.route(route="flows/{flow_id}/run", methods=["POST"])
@guarded(Role.OPERATOR, "flow.run")
async def run_flow(req: func.HttpRequest) -> func.HttpResponse:
    api = await _api()
    return await respond(api.run_flow(req.route_params["flow_id"], req.get_body(), utcnow()))


@bp.route(route="flows/{flow_id}/runs", methods=["GET"])
@guarded(Role.VIEWER)
async def list_runs(req: func.HttpRequest) -> func.HttpResponse:
    raw = req.params.get("limit", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= 500:
        return error_response(422, "validation", "limit: a whole number from 1 to 500", "limit")
    return await respond((await _api()).list_runs(req.route_params["flow_id"], int(raw)))


@bp.route(route="runs/{run_id}", methods=["GET"])
@guarded(Role.VIEWER)
async def get_run(req: func.HttpRequest) -> func.HttpResponse:
    return await respond((await _api()).get_run(req.route_params["run_id"]))


@bp.route(route="runs/{run_id}/retry", methods=["POST"])
@guarded(Role.OPERATOR, "run.retry")
async def retry_run(req: func.HttpRequest) -> func.HttpResponse:
    return await respond((await _api()).retry_run(req.route_params["run_id"], utcnow()))


@bp.route(route="status", methods=["GET"])
@guarded(Role.VIEWER)
async def get_status(req: func.HttpRequest) -> func.HttpResponse:
    return await respond((await _api()).status(utcnow()))


@bp.route(route="openapi.json", methods=["GET"])
async def get_openapi(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(build_openapi()), mimetype="application/json")


@bp.route(route="runs", methods=["GET"])
@guarded(Role.VIEWER)
async def list_all_runs(req: func.HttpRequest) -> func.HttpResponse:
    services = await get_services()
    monitor = MonitorApi(services.flows, services.engine.outcomes)
    return await respond(monitor.list_runs_query(dict(req.params)))


@bp.route(route="runs/{run_id}/plan", methods=["GET"])
@guarded(Role.VIEWER)
async def get_run_plan(req: func.HttpRequest) -> func.HttpResponse:
    services = await get_services()
    monitor = MonitorApi(services.flows, services.engine.outcomes)
    return await respond(monitor.run_plan(req.route_params["run_id"]))
