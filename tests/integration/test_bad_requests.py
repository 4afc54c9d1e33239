"""Every bad value a control API caller can send gets 422 naming the field (never 500), and a
refused PATCH stores nothing. Driven through the registered HTTP functions against Azurite;
date ranges against an injected clock through ControlApi."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import azure.functions as func
import pytest

from functions import control
from shared.api.control import ControlApi
from shared.errors import RequestValidationError
from shared.flows.models import RunStatus, utcnow
from shared.flows.service import RunEnd
from shared.runtime import Services

ACCOUNTS = "creatio-intacct.accounts-to-intacct"
BULK = "creatio-intacct.bulk-accounts-to-intacct"
SINGLE = "creatio-intacct.single-account-to-intacct"
DEEP = b'{"counter": ' + b"[" * 5_000 + b"]" * 5_000 + b"}"  # json.loads: RecursionError


def request(
    method: str, body: object = None, params: dict[str, str] | None = None, **route: str
) -> func.HttpRequest:
    raw = b"" if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
    return func.HttpRequest(method, "/api/x", body=raw, route_params=route, params=params or {})


def error_of(resp: func.HttpResponse) -> dict[str, str]:
    body = json.loads(resp.get_body())
    assert resp.status_code == 422, (resp.status_code, body)
    return body["error"]


PATCH_CASES: list[tuple[object, str, str | None]] = [
    # (body, error code, field)
    ({"query_starts": "0001-01-01T00:00:00Z"}, "validation", "query_starts"),
    ({"query_starts": "0999-12-31T00:00:00Z"}, "validation", "query_starts"),
    ({"query_starts": "1899-12-31T23:59:59Z"}, "validation", "query_starts"),
    ({"query_starts": "9999-12-31T00:00:00Z"}, "validation", "query_starts"),
    ({"query_starts": 0}, "validation", "query_starts"),
    ({"query_starts": 1_700_000_000}, "validation", "query_starts"),
    ({"query_starts": "2024-01-01T00:00:00"}, "validation", "query_starts"),
    ({"query_starts": "yesterday"}, "validation", "query_starts"),
    ({"interval_ms": "60000"}, "validation", "interval_ms"),
    ({"interval_ms": 60000.0}, "validation", "interval_ms"),
    ({"interval_ms": True}, "validation", "interval_ms"),
    ({"interval_ms": 999}, "validation", "interval_ms"),
    ({"shift_ms": "0"}, "validation", "shift_ms"),
    ({"shift_ms": -1}, "validation", "shift_ms"),
    ({"counter": 2**31}, "validation", "counter"),
    ({"counter": 10**30}, "validation", "counter"),
    ({"counter": -1}, "validation", "counter"),
    ({"counter": "5"}, "validation", "counter"),
    ({"volume_limit": 0}, "validation", "volume_limit"),
    ({"volume_limit": None}, "validation", None),
    ({"error_policy": 1}, "validation", "error_policy"),
    ({"error_policy": "sometimes"}, "validation", "error_policy"),
    ({"colour": "red"}, "validation", "colour"),
    ({}, "validation", None),
    ([], "validation", None),
    ("interval_ms", "validation", None),
    (b'{"counter": 1', "invalid_json", None),
    (b"\xff\xfe", "invalid_json", None),
    (DEEP, "body_too_deep", None),
    (b'{"colour": "' + b"x" * 70_000 + b'"}', "body_too_large", None),
]


@pytest.mark.parametrize(
    ("body", "code", "field"), PATCH_CASES, ids=[f"patch-{i}" for i in range(len(PATCH_CASES))]
)
async def test_bad_patch_is_422_naming_the_field_and_stores_nothing(
    app_env: Services, body: object, code: str, field: str | None
) -> None:
    before = await app_env.flows.flows.get(ACCOUNTS)
    err = error_of(await control.patch_flow(request("PATCH", body, flow_id=ACCOUNTS)))
    assert err["code"] == code and err["message"]
    assert err["field"] == field
    if field:
        assert err["message"].startswith(f"{field}: ")
    after = await app_env.flows.flows.get(ACCOUNTS)
    assert after.etag == before.etag and after == before


RUN_CASES: list[tuple[str, object, str, str | None]] = [
    (ACCOUNTS, {"dry_run": "yes"}, "validation", "dry_run"),
    (ACCOUNTS, {"dry_run": 1}, "validation", "dry_run"),
    (ACCOUNTS, {"dry_run": None}, "validation", "dry_run"),
    (BULK, {"from": 0}, "validation", "from"),
    (BULK, {"from": "0001-01-01T00:00:00Z"}, "validation", "from"),
    (BULK, {"to": "9999-12-31T00:00:00Z"}, "validation", "to"),
    (BULK, {"batch_size": "10"}, "validation", "batch_size"),
    (BULK, {"batch_size": 10.5}, "validation", "batch_size"),
    (SINGLE, {"record_ids": "a"}, "validation", "record_ids"),
    (SINGLE, {"record_ids": [1]}, "validation", "record_ids.0"),
    (SINGLE, {"record_ids": [""]}, "validation", "record_ids.0"),
    (SINGLE, {"record_ids": ["x" * 257]}, "validation", "record_ids.0"),
    (SINGLE, {"record_ids": ["x" * 200] * 200}, "validation", "record_ids"),
    (SINGLE, DEEP, "body_too_deep", None),
]


@pytest.mark.parametrize(
    ("flow_id", "body", "code", "field"), RUN_CASES, ids=[f"run-{i}" for i in range(len(RUN_CASES))]
)
async def test_bad_run_body_is_422_naming_the_field(
    app_env: Services, flow_id: str, body: object, code: str, field: str | None
) -> None:
    err = error_of(await control.run_flow(request("POST", body, flow_id=flow_id)))
    assert (err["code"], err["field"]) == (code, field)
    rec = await app_env.flows.flows.get(flow_id)
    assert rec.state.value == "STOPPED" and rec.run_id is None  # nothing was claimed


@pytest.mark.parametrize(
    "limit", ["0", "501", "-1", "1e3", " 5", "5 ", "²", "٣", "", "9" * 5_000, "1" + "0" * 4_999]
)
async def test_bad_limit_is_422(app_env: Services, limit: str) -> None:
    resp = await control.list_runs(request("GET", params={"limit": limit}, flow_id=ACCOUNTS))
    err = error_of(resp)
    assert (err["code"], err["field"]) == ("validation", "limit")


async def test_limit_boundaries_are_accepted(app_env: Services) -> None:
    for limit in ("1", "500"):
        resp = await control.list_runs(request("GET", params={"limit": limit}, flow_id=ACCOUNTS))
        assert resp.status_code == 200


async def test_good_values_at_the_edges_are_stored(app_env: Services) -> None:
    body = {"counter": 2**31 - 1, "query_starts": "1900-01-01T00:00:00Z", "interval_ms": 1000}
    resp = await control.patch_flow(request("PATCH", body, flow_id=ACCOUNTS))
    assert resp.status_code == 200, resp.get_body()
    rec = await app_env.flows.flows.get(ACCOUNTS)
    assert rec.counter == 2**31 - 1 and rec.query_starts == datetime(1900, 1, 1, tzinfo=UTC)


async def test_query_starts_range_follows_the_injected_clock(app_env: Services) -> None:
    now = datetime(2031, 5, 1, 12, 0, tzinfo=UTC)
    api = ControlApi(app_env.flows, app_env.settings, app_env.engine.outcomes)
    latest = (now + timedelta(days=1)).isoformat()
    too_late = (now + timedelta(days=1, seconds=1)).isoformat()
    with pytest.raises(RequestValidationError) as refused:
        await api.patch_flow(ACCOUNTS, json.dumps({"query_starts": too_late}).encode(), now)
    assert refused.value.field == "query_starts" and "2031-05-02T12:00:00" in refused.value.message
    status, flow = await api.patch_flow(
        ACCOUNTS, json.dumps({"query_starts": latest}).encode(), now
    )
    assert status == 200 and flow.query_starts == now + timedelta(days=1)
    # The same instant is refused by a clock two days earlier.
    with pytest.raises(RequestValidationError):
        await api.patch_flow(
            ACCOUNTS, json.dumps({"query_starts": latest}).encode(), now - timedelta(days=2)
        )


async def test_start_while_a_one_off_run_runs_is_409_until_it_ends(app_env: Services) -> None:
    resp = await control.run_flow(request("POST", flow_id=ACCOUNTS))
    assert resp.status_code == 202
    run_id = json.loads(resp.get_body())["run_id"]
    resp = await control.start_flow(request("POST", flow_id=ACCOUNTS))
    assert resp.status_code == 409
    err = json.loads(resp.get_body())["error"]
    assert err["code"] == "one_off_running" and run_id in err["message"]
    assert (await app_env.flows.flows.get(ACCOUNTS)).resume_state.value == "STOPPED"

    await app_env.flows.finish_run(run_id, RunEnd(status=RunStatus.SUCCEEDED), utcnow())
    resp = await control.start_flow(request("POST", flow_id=ACCOUNTS))
    assert resp.status_code == 200 and json.loads(resp.get_body())["state"] == "STARTED"
