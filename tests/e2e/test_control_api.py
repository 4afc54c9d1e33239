"""Every control route and error code over real HTTP against the local host; the scheduler
timer and the flow-runs queue worker running under it, with the real sync engine reading and
writing the Creatio and Intacct emulators."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from openapi_spec_validator import validate

from sandbox.azurite import Azurite
from shared.api.openapi import ROUTES
from tests.e2e.conftest import EmulatedSystems, RunningHost, start_host, stop_host, wait_for

ACCOUNTS = "creatio-intacct.accounts-to-intacct"
CONTACTS = "creatio-intacct.contacts-to-intacct"
CUSTOMERS = "creatio-intacct.customers-to-creatio"
BIND = "creatio-intacct.bind-accounts"
BULK = "creatio-intacct.bulk-accounts-to-intacct"


@pytest.fixture(scope="module")
def host(
    e2e_azurite: Azurite,
    tmp_path_factory: pytest.TempPathFactory,
    emulated_systems: EmulatedSystems,
) -> Iterator[RunningHost]:
    running = start_host(e2e_azurite, tmp_path_factory.mktemp("host"), **emulated_systems.env)
    yield running
    stop_host(running)


def error(resp: httpx.Response, status: int, code: str) -> dict:
    assert resp.status_code == status, resp.text
    body = resp.json()["error"]
    assert body["code"] == code
    return body


def finished_run(api: httpx.Client, run_id: str) -> dict:
    def done() -> dict | None:
        run = api.get(f"/runs/{run_id}").json()
        return run if run["status"] != "running" else None

    return wait_for(done, 180, f"run {run_id} to finish")  # type: ignore[return-value]


def settled_flow(api: httpx.Client, flow_id: str) -> dict:
    """The flow once it has left RUNNING: a run's end is written before its flow's (a crash
    between the two is undone by the lease), so the flow may read RUNNING for a moment."""

    def settled() -> dict | None:
        flow = api.get(f"/flows/{flow_id}").json()
        return flow if flow["state"] != "RUNNING" else None

    return wait_for(settled, 30, f"{flow_id} to leave RUNNING")  # type: ignore[return-value]


def test_flows_list_get_and_404(api: httpx.Client) -> None:
    flows = api.get("/flows").json()["flows"]
    assert {f["solution"] for f in flows} == {"creatio-intacct", "creatio-dynamics"}
    assert all(f["state"] == "STOPPED" for f in flows)
    flow = api.get(f"/flows/{ACCOUNTS}").json()
    assert flow["id"] == ACCOUNTS and flow["interval_ms"] == 600000
    error(api.get("/flows/creatio-intacct.nothing"), 404, "flow_not_found")
    error(api.get("/runs/creatio-intacct.nothing.0000000000000-000000"), 404, "run_not_found")
    error(api.get("/flows/nothing/runs"), 404, "flow_not_found")


def test_start_patch_stop_and_rules(api: httpx.Client) -> None:
    started = api.post(f"/flows/{CUSTOMERS}/start")
    assert started.status_code == 200 and started.json()["state"] == "STARTED"
    error(api.patch(f"/flows/{CUSTOMERS}", json={"interval_ms": 60000}), 409, "flow_not_stopped")
    error(api.post(f"/flows/{BIND}/start"), 409, "scheduled_flows_active")
    error(api.post(f"/flows/{BULK}/run"), 409, "scheduled_flows_active")
    stopped = api.post(f"/flows/{CUSTOMERS}/stop")
    assert stopped.status_code == 200 and stopped.json()["state"] == "STOPPED"

    bad = error(api.patch(f"/flows/{CUSTOMERS}", json={"shift_ms": -1}), 422, "validation")
    assert bad["field"] == "shift_ms"
    error(api.patch(f"/flows/{CUSTOMERS}", content=b"[1,"), 422, "invalid_json")
    error(api.patch("/flows/x.y", json={"shift_ms": 1}), 404, "flow_not_found")
    ok = api.patch(f"/flows/{CUSTOMERS}", json={"interval_ms": 120000, "counter": 3})
    assert ok.status_code == 200
    assert (ok.json()["interval_ms"], ok.json()["counter"]) == (120000, 3)


def test_run_is_queued_worked_and_logged(
    api: httpx.Client, emulated_systems: EmulatedSystems
) -> None:
    emulated_systems.creatio.admin.seed({"Account": [{"Name": "Dry & Co", "Code": "DRY"}]})
    error(api.post(f"/flows/{ACCOUNTS}/run", json={"batch_size": 10}), 422, "validation")
    resp = api.post(f"/flows/{ACCOUNTS}/run", json={"dry_run": True})
    assert resp.status_code == 202
    run_id = resp.json()["run_id"]
    assert resp.headers["location"] == f"/api/runs/{run_id}"
    run = finished_run(api, run_id)  # the flow-runs queue trigger did it, through Azurite
    assert run["status"] == "succeeded" and run["params"]["dry_run"] is True
    # The sync engine read the account from Creatio and planned it; a dry run writes nothing.
    assert run["counts"]["read"] == 1, run["counts"]
    (item,) = api.get(f"/runs/{run_id}/plan").json()["items"]
    assert item["action"] == "create"
    assert emulated_systems.intacct.admin.rows("CUSTOMER") == []
    runs = api.get(f"/flows/{ACCOUNTS}/runs").json()["runs"]
    assert runs[0]["id"] == run_id
    flow = settled_flow(api, ACCOUNTS)
    assert flow["state"] == "STOPPED" and flow["counter"] == 1
    assert flow["last_run"]["id"] == run_id
    error(api.get(f"/flows/{ACCOUNTS}/runs", params={"limit": "x"}), 422, "validation")


def test_scheduler_timer_runs_a_started_flow_on_its_own(api: httpx.Client) -> None:
    assert api.patch(f"/flows/{CONTACTS}", json={"shift_ms": 0}).status_code == 200
    api.post(f"/flows/{CONTACTS}/start")

    def ran() -> dict | None:
        flow = api.get(f"/flows/{CONTACTS}").json()
        ended = flow["last_run"] is not None and flow["last_run"]["status"] != "running"
        return flow if ended and flow["state"] == "STARTED" else None

    flow = wait_for(ran, 60, "the scheduler to run the flow")
    assert flow["last_run"]["kind"] == "scheduled"
    assert flow["last_run"]["status"] == "succeeded"
    assert api.post(f"/flows/{CONTACTS}/stop").json()["state"] == "STOPPED"


def test_status_and_openapi(api: httpx.Client) -> None:
    status = api.get("/status")
    assert status.status_code == 200
    body = status.json()
    assert body["egress_ip"] == "198.51.100.20" and body["storage"] == "ok"
    spec = api.get("/openapi.json").json()
    validate(spec)
    listed = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    assert listed == {(r.method, r.path) for r in ROUTES}


def test_function_key_enforced_when_configured(own_azurite: Azurite, tmp_path: Path) -> None:
    keyed = start_host(own_azurite, tmp_path, SHUTTLE_LOCAL_KEY="let-me-in")
    try:
        with keyed.client() as client:
            assert client.get("/flows").status_code == 401
            assert client.get("/flows", headers={"x-functions-key": "wrong"}).status_code == 401
            assert client.get("/flows", headers={"x-functions-key": "let-me-in"}).status_code == 200
            assert client.get("/status", params={"code": "let-me-in"}).status_code == 200
        assert "let-me-in" not in keyed.log(), "the key must never reach the logs"
    finally:
        stop_host(keyed)


def test_failing_run_lands_in_poison_and_is_recorded_failed(
    own_azurite: Azurite, tmp_path: Path
) -> None:
    failing = start_host(own_azurite, tmp_path, preload=["tests.support.failing_engine"])
    try:
        with failing.client() as client:
            run_id = client.post(f"/flows/{ACCOUNTS}/run").json()["run_id"]
            run = finished_run(client, run_id)
            assert run["status"] == "failed"
            assert run["attempts"] == 5, "host.json maxDequeueCount is 5"
            assert "flow-runs-poison" in run["message"] and "engine exploded" in run["message"]
            assert run["errors"][0]["category"] == "internal"
            flow = settled_flow(client, ACCOUNTS)
            assert flow["state"] == "STOPPED" and flow["counter"] == 1
        log = failing.log()
        assert "flow-runs-poison" in log
    finally:
        stop_host(failing)
