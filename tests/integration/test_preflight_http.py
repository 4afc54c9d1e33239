"""GET /api/preflight and the 409 on start through the registered functions (no host), with
the connectors built from settings against the Creatio and Intacct emulators, on Azurite."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import azure.functions as func
import pytest

from functions import control
from shared.runtime import Services
from tests.support.app_env import app_services
from tests.support.creatio import RunningCreatio
from tests.support.engine import creatio_settings, intacct_settings
from tests.support.intacct import RunningIntacct

FLOW = "creatio-intacct.contacts-to-intacct"


@pytest.fixture
def emulators(
    creatio_emulator: RunningCreatio, intacct_emulator: RunningIntacct
) -> tuple[RunningCreatio, RunningIntacct]:
    return creatio_emulator, intacct_emulator


@pytest.fixture
async def app_env(
    monkeypatch: pytest.MonkeyPatch,
    storage_connection_string: str,
    table_prefix: str,
    emulators: tuple[RunningCreatio, RunningIntacct],
) -> AsyncIterator[Services]:
    creatio, intacct = emulators
    creatio.admin.reset()
    intacct.admin.reset()
    settings = {
        "SHUTTLE_SOLUTIONS": "creatio-intacct",
        **creatio_settings(creatio),
        **intacct_settings(intacct),
    }
    async with app_services(
        monkeypatch, storage_connection_string, table_prefix, settings
    ) as services:
        yield services


def call(method: str, url: str, **route: str) -> func.HttpRequest:
    return func.HttpRequest(method, url, body=b"", route_params=route, params={})


async def test_preflight_route_and_the_start_it_refuses(
    app_env: Services, emulators: tuple[RunningCreatio, RunningIntacct]
) -> None:
    _, intacct = emulators
    intacct.admin.http.delete("/metadata/CONTACT/EMAIL1").raise_for_status()
    answer = await control.get_preflight(call("GET", "/api/preflight"))
    assert answer.status_code == 200
    report = json.loads(answer.get_body())
    assert report["ok"] is False
    (problem,) = report["solutions"][0]["problems"]
    assert (problem["system"], problem["object"], problem["field"], problem["kind"]) == (
        "intacct",
        "CONTACT",
        "EMAIL1",
        "missing_field",
    )
    assert FLOW in problem["flows"]

    refused = await control.start_flow(call("POST", "/api/flows/x/start", flow_id=FLOW))
    assert refused.status_code == 409
    error = json.loads(refused.get_body())["error"]
    assert error["code"] == "preflight_failed"
    assert "intacct CONTACT has no field EMAIL1" in error["message"]

    intacct.admin.http.post("/metadata/restore").raise_for_status()
    started = await control.start_flow(call("POST", "/api/flows/x/start", flow_id=FLOW))
    assert started.status_code == 200
    assert json.loads(started.get_body())["state"] == "STARTED"
    again = json.loads((await control.get_preflight(call("GET", "/api/preflight"))).get_body())
    assert again["ok"] is True
