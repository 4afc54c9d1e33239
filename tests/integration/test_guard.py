"""The guard as another route adopts it (one decorator line): a settings-like PUT audited
with its GET's answer before and after, refused callers audited too, reads not at all."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import azure.functions as func
import pytest

from functions.guard import audit_store, guarded, response_snapshot
from functions.http import error_response
from sandbox.principal import encode_principal
from shared.access.caller import Role
from shared.runtime import Services
from tests.support.app_env import app_services

SETTING: dict[str, str] = {}


@guarded(Role.VIEWER)
async def get_setting(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(SETTING), mimetype="application/json")


@guarded(Role.ADMIN, "settings.demo", snapshot=response_snapshot(get_setting))
async def put_setting(req: func.HttpRequest) -> func.HttpResponse:
    body = json.loads(req.get_body())
    if "mode" not in body:
        return error_response(422, "validation", "mode: required", "mode")
    SETTING.clear()
    SETTING.update(body)
    return func.HttpResponse(json.dumps(SETTING), mimetype="application/json")


@pytest.fixture
async def appservice(
    monkeypatch: pytest.MonkeyPatch, storage_connection_string: str, table_prefix: str
) -> AsyncIterator[Services]:
    SETTING.clear()
    SETTING["mode"] = "none"
    settings = {"SHUTTLE_AUTH_MODE": "appservice"}
    async with app_services(
        monkeypatch, storage_connection_string, table_prefix, settings
    ) as services:
        yield services


def call(method: str, role: str | None, body: object = None) -> func.HttpRequest:
    headers = {}
    if role is not None:
        headers["X-MS-CLIENT-PRINCIPAL"] = encode_principal(f"{role}-user", [role], "oid-" + role)
    raw = b"" if body is None else json.dumps(body).encode()
    return func.HttpRequest(
        method,
        "http://h/api/settings/demo?x=1",
        body=raw,
        headers=headers,
        params={},
        route_params={},
    )


async def test_a_settings_route_adopts_the_guard_in_one_line(appservice: Services) -> None:
    assert (await get_setting(call("GET", "Shuttle.Viewer"))).status_code == 200
    assert (await get_setting(call("GET", None))).status_code == 401
    refused = await put_setting(call("PUT", "Shuttle.Operator", {"mode": "every_error"}))
    assert refused.status_code == 403 and SETTING == {"mode": "none"}
    bad = await put_setting(call("PUT", "Shuttle.Admin", {"nothing": 1}))
    assert bad.status_code == 422
    done = await put_setting(call("PUT", "Shuttle.Admin", {"mode": "every_error"}))
    assert done.status_code == 200 and SETTING == {"mode": "every_error"}
    assert (await put_setting(call("PUT", None, {"mode": "x"}))).status_code == 401

    page = await audit_store(appservice).page()
    rows = [(e.action, e.actor.name, e.status, e.before, e.after) for e in page.entries]
    assert rows == [
        ("settings.demo", "anonymous", 401, None, None),
        ("settings.demo", "Shuttle.Admin-user", 200, {"mode": "none"}, {"mode": "every_error"}),
        ("settings.demo", "Shuttle.Admin-user", 422, {"mode": "none"}, None),
        ("settings.demo", "Shuttle.Operator-user", 403, None, None),
    ]
    assert page.entries[1].path == "/api/settings/demo"  # never the query (it may hold a key)
    assert page.entries[1].actor.object_id == "oid-Shuttle.Admin"
    assert page.entries[2].message == "mode: required"
