"""Authorisation and audit for HTTP routes, in one place (shared/access has the rules).

    @bp.route(route="flows/{flow_id}/start", methods=["POST"])
    @guarded(Role.OPERATOR, "flow.start")
    async def start_flow(req): ...

`guarded(Role.VIEWER)` (no action) only checks the caller may read and writes no audit row.
With an action, every outcome is written to the audit trail: allowed calls with the values
before and after, refused ones (401, 403, 404, 409, 422) with the reason. The values are
snapshots of the flow or run named by the route (`flow_id`, `run_id`), or what `snapshot`
returns for other routes (settings: `response_snapshot(get_handler)`), and the request
body."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import azure.functions as func

from functions.http import error_response
from shared.access.audit import AuditStore
from shared.access.caller import Caller, Role, identify, parse_key_names
from shared.errors import ShuttleError
from shared.runtime import Services, get_services

log = logging.getLogger(__name__)

Handler = Callable[[func.HttpRequest], Awaitable[func.HttpResponse]]
Snapshot = Callable[[func.HttpRequest], Awaitable[Any]]

_audit_stores: dict[int, tuple[Services, AuditStore]] = {}
# Bookkeeping that changes on every write and says nothing an auditor needs.
_NOT_AUDITED = {"lease_until", "resume_state", "state_changed_at"}


def audit_store(services: Services) -> AuditStore:
    """One AuditStore per service container (they are per event loop, shared/runtime.py)."""
    held = _audit_stores.get(id(services))
    if held is None or held[0] is not services:
        table = services.storage.tables.get_table_client(f"{services.settings.table_prefix}audit")
        held = (services, AuditStore(table))
        _audit_stores[id(services)] = held
    return held[1]


def caller_of(req: func.HttpRequest, services: Services) -> Caller | None:
    settings = services.settings
    return identify(
        req.headers,
        req.params,
        mode=settings.auth_mode,
        key_names=parse_key_names(settings.key_names),
    )


async def _route_snapshot(req: func.HttpRequest, services: Services) -> Any:
    """The flow's or run's state as the API shows it: what an auditor compares."""
    params = req.route_params
    try:
        if "flow_id" in params:
            rec = await services.flows.flows.get(params["flow_id"])
            return rec.model_dump(mode="json", exclude=_NOT_AUDITED)
        if "run_id" in params:
            run = await services.flows.runs.get(params["run_id"])
            return {"id": run.id, "status": run.status.value, "counts": run.counts.model_dump()}
    except ShuttleError:
        return None
    return None


def _body(req: func.HttpRequest) -> Any:
    raw = req.get_body()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return {"unparsed": raw[:2000].decode("utf-8", "replace")}


def _queued_run(resp: func.HttpResponse) -> str | None:
    if resp.status_code != 202:
        return None
    try:
        return str(json.loads(resp.get_body())["run_id"])
    except (ValueError, KeyError, TypeError):
        return None


def _error_message(resp: func.HttpResponse) -> str | None:
    if resp.status_code < 400:
        return None
    try:
        return str(json.loads(resp.get_body())["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return None


def response_snapshot(read: Handler) -> Snapshot:
    """Before/after values of a settings route: what its GET handler answers, e.g.
    `@guarded(Role.ADMIN, "settings.sleep_windows", snapshot=response_snapshot(get_windows))`."""

    async def take(req: func.HttpRequest) -> Any:
        resp = await read(req)
        if resp.status_code != 200:
            return None
        try:
            return json.loads(resp.get_body())
        except ValueError:
            return None

    return take


def guarded(
    role: Role, action: str | None = None, *, snapshot: Snapshot | None = None
) -> Callable[[Handler], Handler]:
    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded_handler(req: func.HttpRequest) -> func.HttpResponse:
            services = await get_services()
            caller = caller_of(req, services)
            target = next(iter(req.route_params.values()), None) or (action or "").split(".")[-1]

            async def audit(resp: func.HttpResponse, before: Any = None, after: Any = None) -> None:
                if action is None:
                    return
                try:
                    await audit_store(services).write(
                        caller=caller,
                        action=action,
                        target=target,
                        method=req.method,
                        path=urlsplit(req.url).path,
                        status=resp.status_code,
                        message=_error_message(resp),
                        request=_body(req),
                        before=before,
                        after=after,
                    )
                except Exception:
                    # The change itself happened (or was refused); losing its audit row must
                    # be loud in the logs but cannot undo it.
                    log.exception("audit: could not record %s on %s", action, target)

            if caller is None:
                resp = error_response(
                    401,
                    "unauthenticated",
                    "sign in first: this deployment accepts callers named by App Service "
                    "Authentication",
                )
                await audit(resp)
                return resp
            if caller.role < role:
                resp = error_response(
                    403,
                    "forbidden",
                    f"{caller.name} has role {caller.role.name.lower()}; this needs "
                    f"{role.app_role} or higher",
                )
                await audit(resp)
                return resp
            take = snapshot or (lambda r: _route_snapshot(r, services))
            before = await take(req) if action else None
            resp = await handler(req)
            after = await take(req) if action and resp.status_code < 400 else None
            queued = _queued_run(resp)
            if queued is not None:  # run, retry: the run it started
                after = {**(after if isinstance(after, dict) else {}), "queued_run": queued}
            await audit(resp, before, after)
            return resp

        # Read by tests/unit/test_function_wiring.py: every route must be guarded.
        guarded_handler.shuttle_guard = (role, action)  # type: ignore[attr-defined]
        return guarded_handler

    return wrap


def api_auth_level() -> func.AuthLevel:
    """FUNCTION (the host checks a key) unless App Service Authentication is in front: then
    the host must let signed-in people through without a key, and `guarded` decides by role
    (the usual Easy Auth pattern; a key is then not needed, nor trusted)."""
    from shared.settings import get_settings

    if get_settings().auth_mode == "appservice":
        return func.AuthLevel.ANONYMOUS
    return func.AuthLevel.FUNCTION
