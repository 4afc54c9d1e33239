"""HTTP control API (DESIGN §3). FUNCTION auth level: callers send x-functions-key in Azure."""

from __future__ import annotations

import json

import azure.functions as func

from functions.http import error_response, respond
from shared.api.control import ControlApi
from shared.api.openapi import build_openapi
from shared.flows.models import utcnow
from shared.runtime import get_services

bp = func.Blueprint(http_auth_level=func.AuthLevel.FUNCTION)


async def _api() -> ControlApi:
    services = await get_services()
    return ControlApi(services.flows, services.settings, services.engine.outcomes)


@bp.route(route="flows", methods=["GET"])
async def list_flows(req: func.HttpRequest) -> func.HttpResponse:
    return await respond((await _api()).list_flows())


@bp.route(route="flows/{flow_id}", methods=["GET"])
async def get_flow(req: func.HttpRequest) -> func.HttpResponse:
    return await respond((await _api()).get_flow(req.route_params["flow_id"]))


@bp.route(route="flows/{flow_id}", methods=["PATCH"])
async def patch_flow(req: func.HttpRequest) -> func.HttpResponse:
    return await respond((await _api()).patch_flow(req.route_params["flow_id"], req.get_body()))


@bp.route(route="flows/{flow_id}/start", methods=["POST"])
async def start_flow(req: func.HttpRequest) -> func.HttpResponse:
    return await respond((await _api()).start_flow(req.route_params["flow_id"], utcnow()))


@bp.route(route="flows/{flow_id}/stop", methods=["POST"])
async def stop_flow(req: func.HttpRequest) -> func.HttpResponse:
    return await respond((await _api()).stop_flow(req.route_params["flow_id"], utcnow()))


@bp.route(route="flows/{flow_id}/run", methods=["POST"])
async def run_flow(req: func.HttpRequest) -> func.HttpResponse:
    api = await _api()
    return await respond(api.run_flow(req.route_params["flow_id"], req.get_body(), utcnow()))


@bp.route(route="flows/{flow_id}/runs", methods=["GET"])
async def list_runs(req: func.HttpRequest) -> func.HttpResponse:
    raw = req.params.get("limit", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= 500:
        return error_response(422, "validation", "limit: a whole number from 1 to 500", "limit")
    return await respond((await _api()).list_runs(req.route_params["flow_id"], int(raw)))


@bp.route(route="runs/{run_id}", methods=["GET"])
async def get_run(req: func.HttpRequest) -> func.HttpResponse:
    return await respond((await _api()).get_run(req.route_params["run_id"]))


@bp.route(route="runs/{run_id}/retry", methods=["POST"])
async def retry_run(req: func.HttpRequest) -> func.HttpResponse:
    return await respond((await _api()).retry_run(req.route_params["run_id"], utcnow()))


@bp.route(route="status", methods=["GET"])
async def get_status(req: func.HttpRequest) -> func.HttpResponse:
    return await respond((await _api()).status(utcnow()))


@bp.route(route="settings/sleep-windows", methods=["GET"])
async def get_sleep_windows(req: func.HttpRequest) -> func.HttpResponse:
    return await respond((await _api()).get_sleep_windows())


@bp.route(route="settings/sleep-windows", methods=["PUT"])
async def put_sleep_windows(req: func.HttpRequest) -> func.HttpResponse:
    return await respond((await _api()).put_sleep_windows(req.get_body(), utcnow()))


@bp.route(route="openapi.json", methods=["GET"])
async def get_openapi(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(build_openapi()), mimetype="application/json")
