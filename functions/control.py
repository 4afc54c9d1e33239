"""HTTP control API (DESIGN §3). FUNCTION auth level: callers send x-functions-key in Azure."""

from __future__ import annotations

import json

import azure.functions as func

from functions.http import error_response, respond
from shared.api.control import ControlApi, parse_limit
from shared.api.openapi import build_openapi
from shared.errors import RequestValidationError
from shared.flows.models import utcnow
from shared.preflight.runtime import preflight_of
from shared.runtime import get_services

bp = func.Blueprint(http_auth_level=func.AuthLevel.FUNCTION)


async def _api() -> ControlApi:
    services = await get_services()
    return ControlApi(
        services.flows,
        services.settings,
        services.engine.outcomes,
        preflight_of(services),
        notifications=services.notifications,
    )


@bp.route(route="flows", methods=["GET"])
async def list_flows(req: func.HttpRequest) -> func.HttpResponse:
    return await respond((await _api()).list_flows())


@bp.route(route="flows/{flow_id}", methods=["GET"])
async def get_flow(req: func.HttpRequest) -> func.HttpResponse:
    return await respond((await _api()).get_flow(req.route_params["flow_id"]))


@bp.route(route="flows/{flow_id}", methods=["PATCH"])
async def patch_flow(req: func.HttpRequest) -> func.HttpResponse:
    api = await _api()
    return await respond(api.patch_flow(req.route_params["flow_id"], req.get_body(), utcnow()))


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
    try:
        limit = parse_limit(req.params.get("limit"))
    except RequestValidationError as exc:
        return error_response(422, exc.code, exc.message, exc.field)
    return await respond((await _api()).list_runs(req.route_params["flow_id"], limit))


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


@bp.route(route="preflight", methods=["GET"])
async def get_preflight(req: func.HttpRequest) -> func.HttpResponse:
    return await respond((await _api()).preflight_report(utcnow()))


@bp.route(route="openapi.json", methods=["GET"])
async def get_openapi(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(build_openapi()), mimetype="application/json")


@bp.route(route="settings/notifications", methods=["GET"])
async def get_notification_settings(req: func.HttpRequest) -> func.HttpResponse:
    notifications = (await get_services()).notifications
    assert notifications is not None  # built with every Services
    return await respond(notifications.get_settings())


@bp.route(route="settings/notifications", methods=["PATCH"])
async def patch_notification_settings(req: func.HttpRequest) -> func.HttpResponse:
    notifications = (await get_services()).notifications
    assert notifications is not None
    return await respond(notifications.patch_settings(req.get_body()))
