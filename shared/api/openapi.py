"""The OpenAPI 3.1 description of the control API, built from the same pydantic models the
handlers use (so the document cannot drift from the bodies). A test checks that every HTTP
function registered in function_app is described here and nothing else."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from shared.access.audit import AuditPage
from shared.api import models as api
from shared.api.monitor import MAX_PLAN_ITEMS, RunPlan
from shared.flows.models import RunStatus
from shared.notifications.config import NotificationSettings, NotificationSettingsPatch
from shared.preflight.model import PreflightReport
from shared.schedule.windows import SleepWindows
from shared.storage.outcome_store import Outcome

REF = "#/components/schemas/{model}"


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # under /api
    operation_id: str
    summary: str
    response: type[BaseModel] | None
    status: int = 200
    body: type[BaseModel] | None = None
    body_required: bool = False
    errors: tuple[int, ...] = ()
    content_type: str = "application/json"
    query: tuple[tuple[str, dict[str, Any], str], ...] = ()  # (name, schema, description)


ROUTES: tuple[Route, ...] = (
    Route("GET", "/flows", "listFlows", "All flows with their state and last run", api.FlowList),
    Route("GET", "/flows/{flow_id}", "getFlow", "One flow", api.Flow, errors=(404,)),
    Route(
        "POST",
        "/flows/{flow_id}/start",
        "startFlow",
        "Start a flow (first run after shift_ms)",
        api.Flow,
        errors=(404, 409),
    ),
    Route(
        "POST",
        "/flows/{flow_id}/stop",
        "stopFlow",
        "Stop a flow (COMPLETING while a run finishes)",
        api.Flow,
        errors=(404,),
    ),
    Route(
        "PATCH",
        "/flows/{flow_id}",
        "patchFlow",
        "Change properties of a STOPPED flow",
        api.Flow,
        body=api.FlowPatch,
        body_required=True,
        errors=(404, 409, 422),
    ),
    Route(
        "POST",
        "/flows/{flow_id}/run",
        "runFlow",
        "Run a flow once now (queued)",
        api.RunAccepted,
        status=202,
        body=api.RunBody,
        errors=(404, 409, 422),
    ),
    Route(
        "GET",
        "/flows/{flow_id}/runs",
        "listRuns",
        "The flow's runs, newest first",
        api.RunList,
        errors=(404,),
    ),
    Route("GET", "/runs/{run_id}", "getRun", "One run with its errors", api.Run, errors=(404,)),
    Route(
        "POST",
        "/runs/{run_id}/retry",
        "retryRun",
        "Re-sync the run's failed records in a new run (queued)",
        api.RunAccepted,
        status=202,
        errors=(404, 409),
    ),
    Route(
        "POST",
        "/runs/{run_id}/cancel",
        "cancelRun",
        "Stop a run at its next step (status `cancelled`, query starts unmoved)",
        api.Run,
        errors=(404, 409),
    ),
    Route("GET", "/status", "getStatus", "Flows summary, connections, egress IP", api.Status),
    Route(
        "GET",
        "/preflight",
        "getPreflight",
        "Per solution, what each live system lacks that the flows need",
        PreflightReport,
    ),
    Route("GET", "/openapi.json", "getOpenApi", "This document", None),
    Route(
        "GET",
        "/settings/sleep-windows",
        "getSleepWindows",
        "The sleep windows, inside which every flow pauses",
        SleepWindows,
    ),
    Route(
        "PUT",
        "/settings/sleep-windows",
        "putSleepWindows",
        "Replace the sleep windows",
        SleepWindows,
        body=SleepWindows,
        body_required=True,
        errors=(409, 422),
    ),
    Route(
        "GET",
        "/settings/notifications",
        "getNotificationSettings",
        "The deployment's notification settings",
        NotificationSettings,
    ),
    Route(
        "PATCH",
        "/settings/notifications",
        "patchNotificationSettings",
        "Change notification settings (any subset of the fields)",
        NotificationSettings,
        body=NotificationSettingsPatch,
        body_required=True,
        errors=(422,),
    ),
)

# The operator console and its audit trail (functions/console.py), and the IW Monitor's reads.
ROUTES += (
    Route(
        "GET",
        "/runs",
        "listAllRuns",
        "Runs across flows, newest first, filtered",
        api.RunList,
        errors=(404, 422),
        query=(
            ("solution", {"type": "string"}, "Only this solution's runs"),
            ("flow", {"type": "string"}, "Only this flow's runs (a flow id)"),
            (
                "status",
                {"type": "string", "enum": [s.value for s in RunStatus]},
                "Only runs with this status",
            ),
            ("since", {"type": "string", "format": "date-time"}, "Started at or after"),
            ("until", {"type": "string", "format": "date-time"}, "Started before"),
            (
                "limit",
                {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
                "At most this many runs",
            ),
        ),
    ),
    Route(
        "GET",
        "/runs/{run_id}/plan",
        "getRunPlan",
        "Per-record outcomes of a run, chunk by chunk, a page at a time: what each record "
        "became (for a dry run: would become), each update's fields with old and new values",
        RunPlan,
        errors=(404, 422),
        query=(
            ("after", {"type": "string"}, "The `next` of the previous page"),
            (
                "limit",
                {"type": "integer", "minimum": 1, "maximum": MAX_PLAN_ITEMS, "default": 100},
                "Entries per page",
            ),
            (
                "outcome",
                {"type": "string", "enum": [o.value for o in Outcome]},
                "Only records with this outcome (`failed`: every failed record, paged)",
            ),
        ),
    ),
    Route(
        "GET",
        "/audit",
        "listAudit",
        "Every state-changing call, allowed or refused, newest first",
        AuditPage,
        errors=(422,),
        query=(
            (
                "limit",
                {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
                "Entries per page",
            ),
            ("before", {"type": "string"}, "The `next` of the previous page"),
        ),
    ),
    Route(
        "GET",
        "/console",
        "getConsole",
        "The operator console (HTML)",
        None,
        content_type="text/html",
    ),
    Route(
        "GET",
        "/console/assets/{name}",
        "getConsoleAsset",
        "The console's style sheet and script",
        None,
        errors=(404,),
        content_type="text/css",
    ),
    Route(
        "GET",
        "/monitor",
        "getMonitor",
        "Redirects to the console's IW Monitor view",
        None,
        status=302,
        content_type="text/html",
    ),
)

_PARAMS = {
    "name": "console.css or console.js",
    "flow_id": "Flow id, {solution}.{flow}",
    "run_id": "Run id as returned by POST /flows/{flow_id}/run",
}


def _error_response(status: int) -> dict[str, Any]:
    meaning = {
        404: "Unknown flow or run",
        409: "The flow's state or a solution rule forbids it",
        422: "A bad value; error.field names it",
        401: "Missing or wrong function key",
        403: "The caller's role does not allow it (Shuttle.Viewer reads; "
        "Shuttle.Operator starts, stops, runs, retries; Shuttle.Admin also changes "
        "properties and settings)",
        500: "Unexpected failure",
    }[status]
    return {
        "description": meaning,
        "content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorBody")}}},
    }


def build_openapi(server_url: str = "/api") -> dict[str, Any]:
    models: set[type[BaseModel]] = {api.ErrorBody}
    models.update(r.response for r in ROUTES if r.response is not None)
    models.update(r.body for r in ROUTES if r.body is not None)
    modes: tuple[JsonSchemaMode, ...] = ("serialization", "validation")
    _, defs = models_json_schema([(m, mode) for mode in modes for m in models], ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        op: dict[str, Any] = {"operationId": route.operation_id, "summary": route.summary}
        params = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "string"},
                "description": _PARAMS[name],
            }
            for name in _PARAMS
            if "{" + name + "}" in route.path
        ]
        params += [
            {"name": name, "in": "query", "required": False, "schema": schema, "description": text}
            for name, schema, text in route.query
        ]
        if params:
            op["parameters"] = params
        if route.body is not None:
            body_schema = {"$ref": REF.format(model=route.body.__name__)}
            op["requestBody"] = {
                "required": route.body_required,
                "content": {"application/json": {"schema": body_schema}},
            }
        ok: dict[str, Any] = {
            "description": {200: "OK", 202: "Accepted", 302: "Found"}.get(route.status, "OK")
        }
        schema = (
            {"$ref": REF.format(model=route.response.__name__)}
            if route.response
            else {"type": "object"}
        )
        ok["content"] = {route.content_type: {"schema": schema}}
        responses: dict[str, Any] = {str(route.status): ok}
        for status in (*route.errors, 401, 403, 500):
            responses[str(status)] = _error_response(status)
        op["responses"] = responses
        paths.setdefault(route.path, {})[route.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Shuttle control API",
            "version": "1",
            "description": "Start, stop and watch Shuttle's flows. Errors are "
            '{"error": {"code", "message"}}. Callers send a function key (x-functions-key), '
            "or sign in through App Service Authentication when SHUTTLE_AUTH_MODE=appservice "
            "(app roles Shuttle.Viewer, Shuttle.Operator, Shuttle.Admin). Every change is "
            "written to the audit trail (GET /audit).",
        },
        "servers": [{"url": server_url}],
        "security": [{"functionKey": []}],
        "components": {
            "schemas": defs["$defs"],
            "securitySchemes": {
                "functionKey": {"type": "apiKey", "in": "header", "name": "x-functions-key"}
            },
        },
        "paths": paths,
    }
