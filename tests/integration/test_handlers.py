"""The registered functions called directly with azure.functions request objects (no host),
against Azurite: status codes, bodies and error bodies of every handler."""

from __future__ import annotations

import json

import azure.functions as func
import pytest
from azure.functions.queue import QueueMessage
from azure.functions.timer import TimerRequest

from functions import control, flow_runs, scheduler
from shared.messages import FlowRunMessage
from shared.runtime import Services
from tests.integration.conftest import queued_runs

ACCOUNTS = "creatio-intacct.accounts-to-intacct"


@pytest.fixture
def app_settings() -> dict[str, str]:
    return {"SHUTTLE_EGRESS_IP": "203.0.113.7"}


def request(method: str, url: str, body: object = None, **route: str) -> func.HttpRequest:
    raw = b"" if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
    return func.HttpRequest(method, url, body=raw, route_params=route, params={})


def payload(resp: func.HttpResponse) -> dict:
    assert resp.mimetype == "application/json"
    return json.loads(resp.get_body())


def assert_error(resp: func.HttpResponse, status: int, code: str, field: str | None = None) -> None:
    assert resp.status_code == status
    err = payload(resp)["error"]
    assert err["code"] == code and err["message"]
    if field is not None:
        assert err["field"] == field


async def test_flow_routes(app_env: Services) -> None:
    resp = await control.list_flows(request("GET", "/api/flows"))
    assert resp.status_code == 200
    flows = payload(resp)["flows"]
    assert len(flows) == len(app_env.catalog)
    first = next(f for f in flows if f["id"] == ACCOUNTS)
    assert first["state"] == "STOPPED" and first["last_run"] is None
    assert first["source"] == {"system": "creatio", "object": "Account"}

    resp = await control.get_flow(request("GET", "/api/flows/x", flow_id="nope.nothing"))
    assert_error(resp, 404, "flow_not_found")

    resp = await control.start_flow(request("POST", "/", flow_id=ACCOUNTS))
    assert resp.status_code == 200 and payload(resp)["state"] == "STARTED"

    resp = await control.patch_flow(request("PATCH", "/", {"interval_ms": 60000}, flow_id=ACCOUNTS))
    assert_error(resp, 409, "flow_not_stopped")

    resp = await control.stop_flow(request("POST", "/", flow_id=ACCOUNTS))
    assert payload(resp)["state"] == "STOPPED"

    resp = await control.patch_flow(request("PATCH", "/", {"interval_ms": 5}, flow_id=ACCOUNTS))
    assert_error(resp, 422, "validation", "interval_ms")
    resp = await control.patch_flow(request("PATCH", "/", {"colour": "red"}, flow_id=ACCOUNTS))
    assert_error(resp, 422, "validation", "colour")
    resp = await control.patch_flow(request("PATCH", "/", b"{not json", flow_id=ACCOUNTS))
    assert_error(resp, 422, "invalid_json")
    resp = await control.patch_flow(request("PATCH", "/", {}, flow_id=ACCOUNTS))
    assert_error(resp, 422, "validation")
    resp = await control.patch_flow(
        request("PATCH", "/", {"query_starts": "2026-01-01T00:00:00"}, flow_id=ACCOUNTS)
    )
    assert_error(resp, 422, "validation", "query_starts")  # no time zone: ambiguous
    resp = await control.patch_flow(
        request(
            "PATCH", "/", {"interval_ms": 60000, "error_policy": "stop_on_error"}, flow_id=ACCOUNTS
        )
    )
    assert resp.status_code == 200
    assert (payload(resp)["interval_ms"], payload(resp)["error_policy"]) == (60000, "stop_on_error")


async def test_run_routes_and_workers(app_env: Services) -> None:
    resp = await control.run_flow(request("POST", "/", {"record_ids": ["a"]}, flow_id=ACCOUNTS))
    assert_error(resp, 422, "validation", "record_ids")
    resp = await control.run_flow(
        request(
            "POST",
            "/",
            {"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
            flow_id=ACCOUNTS,
        )
    )
    assert_error(resp, 422, "validation")

    resp = await control.run_flow(request("POST", "/", flow_id=ACCOUNTS))
    assert resp.status_code == 202
    run_id = payload(resp)["run_id"]
    assert resp.headers["Location"] == f"/api/runs/{run_id}"
    assert_error(
        await control.run_flow(request("POST", "/", flow_id=ACCOUNTS)), 409, "run_in_progress"
    )

    (message,) = await queued_runs(app_env)
    assert message.run_id == run_id
    cancel = await control.cancel_run(request("POST", "/", run_id=run_id))
    assert cancel.status_code == 200
    asked = payload(cancel)
    assert asked["status"] == "running" and asked["cancel_requested_at"]
    assert_error(
        await control.cancel_run(request("POST", "/", run_id="nope")), 404, "run_not_found"
    )
    # This test's placeholder engine ignores the request (the sync engine's own handling is
    # tests/integration/test_engine_pipeline.py::test_a_cancelled_run_stops_between_pages…).
    await flow_runs.flow_runs_worker(
        QueueMessage(body=message.model_dump_json().encode(), dequeue_count=1)
    )
    assert_error(await control.cancel_run(request("POST", "/", run_id=run_id)), 409, "run_final")

    run = payload(await control.get_run(request("GET", "/", run_id=run_id)))
    assert run["status"] == "succeeded" and run["kind"] == "manual"
    assert set(run["counts"]) == {
        "read",
        "created",
        "updated",
        "unchanged",
        "skipped",
        "failed",
        "pending",
    }
    runs = payload(await control.list_runs(request("GET", "/", flow_id=ACCOUNTS)))["runs"]
    assert [r["id"] for r in runs] == [run_id]
    flow = payload(await control.get_flow(request("GET", "/", flow_id=ACCOUNTS)))
    assert flow["counter"] == 1 and flow["last_run"]["id"] == run_id

    assert_error(await control.get_run(request("GET", "/", run_id="nope")), 404, "run_not_found")
    assert_error(await control.list_runs(request("GET", "/", flow_id="x.y")), 404, "flow_not_found")
    bad_limit = func.HttpRequest(
        "GET", "/", body=b"", route_params={"flow_id": ACCOUNTS}, params={"limit": "0"}
    )
    assert_error(await control.list_runs(bad_limit), 422, "validation", "limit")


async def test_timer_claims_and_poison_handler_records_failure(app_env: Services) -> None:
    await control.patch_flow(request("PATCH", "/", {"shift_ms": 0}, flow_id=ACCOUNTS))
    await control.start_flow(request("POST", "/", flow_id=ACCOUNTS))
    await scheduler.scheduler_tick(TimerRequest(past_due=False))
    (message,) = await queued_runs(app_env)
    assert payload(await control.get_flow(request("GET", "/", flow_id=ACCOUNTS)))["state"] == (
        "RUNNING"
    )
    await flow_runs.flow_runs_poison(QueueMessage(body=message.model_dump_json().encode()))
    run = payload(await control.get_run(request("GET", "/", run_id=message.run_id)))
    assert run["status"] == "failed" and "flow-runs-poison" in run["message"]
    assert run["errors"][0]["category"] == "internal"


async def test_malformed_queue_message_is_dropped_with_a_log(
    app_env: Services, caplog: pytest.LogCaptureFixture
) -> None:
    await flow_runs.flow_runs_worker(QueueMessage(id="m1", body=b'{"run": 1}'))
    assert "malformed message m1 dropped" in caplog.text
    good = FlowRunMessage(flow_id=ACCOUNTS, run_id=f"{ACCOUNTS}.0000000000000-000000")
    await flow_runs.flow_runs_worker(QueueMessage(body=good.model_dump_json().encode()))
    assert "does not exist" in caplog.text


async def test_status_and_openapi(app_env: Services) -> None:
    status = payload(await control.get_status(request("GET", "/api/status")))
    assert status["egress_ip"] == "203.0.113.7"
    assert status["flows"]["total"] == len(app_env.catalog)
    assert status["flows"]["by_state"]["STOPPED"] == len(app_env.catalog)
    assert {c["system"] for c in status["connections"]} == {"creatio", "intacct", "dataverse"}
    spec = payload(await control.get_openapi(request("GET", "/api/openapi.json")))
    assert spec["openapi"].startswith("3.")
