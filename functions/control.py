"""HTTP control API (DESIGN §3). Callers send x-functions-key in Azure (FUNCTION auth level),
or come through App Service Authentication (SHUTTLE_AUTH_MODE=appservice); every route is
`guarded` with the role it needs, and every change is audited (functions/guard.py)."""

from __future__ import annotations

import json

import azure.functions as func

from functions.guard import api_auth_level, guarded, response_snapshot
from functions.http import error_response, respond
from shared.access.caller import Role
from shared.api.control import ControlApi, parse_limit
from shared.api.monitor import MonitorApi
from shared.api.openapi import build_openapi
from shared.errors import RequestValidationError
from shared.flows.models import utcnow
from shared.preflight.runtime import preflight_of
from shared.runtime import get_services

bp = func.Blueprint(http_auth_level=api_auth_level())


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
    api = await _api()
    return await respond(api.patch_flow(req.route_params["flow_id"], req.get_body(), utcnow()))


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
    try:
        limit = parse_limit(req.params.get("limit"))
    except RequestValidationError as exc:
        return error_response(422, exc.code, exc.message, exc.field)
    return await respond((await _api()).list_runs(req.route_params["flow_id"], limit))


@bp.route(route="runs/{run_id}", methods=["GET"])
@guarded(Role.VIEWER)
async def get_run(req: func.HttpRequest) -> func.HttpResponse:
    return await respond((await _api()).get_run(req.route_params["run_id"]))


@bp.route(route="runs/{run_id}/retry", methods=["POST"])
@guarded(Role.OPERATOR, "run.retry")
async def retry_run(req: func.HttpRequest) -> func.HttpResponse:
    return await respond((await _api()).retry_run(req.route_params["run_id"], utcnow()))


@bp.route(route="runs/{run_id}/cancel", methods=["POST"])
@guarded(Role.OPERATOR, "run.cancel")
async def cancel_run(req: func.HttpRequest) -> func.HttpResponse:
    return await respond((await _api()).cancel_run(req.route_params["run_id"], utcnow()))


@bp.route(route="status", methods=["GET"])
@guarded(Role.VIEWER)
async def get_status(req: func.HttpRequest) -> func.HttpResponse:
    return await respond((await _api()).status(utcnow()))


async def _sleep_windows(req: func.HttpRequest) -> func.HttpResponse:
    return await respond((await _api()).get_sleep_windows())


@bp.route(route="settings/sleep-windows", methods=["GET"])
@guarded(Role.VIEWER)
async def get_sleep_windows(req: func.HttpRequest) -> func.HttpResponse:
    return await _sleep_windows(req)


@bp.route(route="settings/sleep-windows", methods=["PUT"])
@guarded(Role.ADMIN, "settings.sleep_windows", snapshot=response_snapshot(_sleep_windows))
async def put_sleep_windows(req: func.HttpRequest) -> func.HttpResponse:
    return await respond((await _api()).put_sleep_windows(req.get_body(), utcnow()))


@bp.route(route="preflight", methods=["GET"])
@guarded(Role.VIEWER)
async def get_preflight(req: func.HttpRequest) -> func.HttpResponse:
    return await respond((await _api()).preflight_report(utcnow()))


@bp.route(route="openapi.json", methods=["GET"])
async def get_openapi(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(build_openapi()), mimetype="application/json")


async def _notification_settings(req: func.HttpRequest) -> func.HttpResponse:
    notifications = (await get_services()).notifications
    assert notifications is not None  # built with every Services
    return await respond(notifications.get_settings())


@bp.route(route="settings/notifications", methods=["GET"])
@guarded(Role.VIEWER)
async def get_notification_settings(req: func.HttpRequest) -> func.HttpResponse:
    return await _notification_settings(req)


@bp.route(route="settings/notifications", methods=["PATCH"])
@guarded(Role.ADMIN, "settings.notifications", snapshot=response_snapshot(_notification_settings))
async def patch_notification_settings(req: func.HttpRequest) -> func.HttpResponse:
    notifications = (await get_services()).notifications
    assert notifications is not None
    return await respond(notifications.patch_settings(req.get_body()))


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
    return await respond(monitor.run_plan(req.route_params["run_id"], dict(req.params)))
