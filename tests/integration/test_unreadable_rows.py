"""A flow or run row that cannot be read back (written straight into Azurite: a datetime the
Table SDK rejects, a value of the wrong type) is reported by /api/status and the listings, its
own routes answer 500 naming the row and field, and every other flow still lists, ticks and
starts; start-up never fails because of it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.functions as func
import pytest
from azure.data.tables import EdmType, EntityProperty, UpdateMode

from functions import control
from shared.flows.models import RunStatus, split_run_id, utcnow
from shared.flows.service import RunEnd
from shared.runtime import Services
from shared.scheduler import tick
from shared.storage.entities import to_properties
from tests.integration.conftest import make_settings

ACCOUNTS = "creatio-intacct.accounts-to-intacct"
CONTACTS = "creatio-intacct.contacts-to-intacct"
DYNAMICS = "creatio-dynamics.accounts-to-dataverse"

# What the Table SDK wrote for year 1 before PATCH refused it (issue 12 item 1), and values
# a hand edit can leave: each with the field the report must name.
BREAKAGES: dict[str, tuple[dict[str, Any], str]] = {
    "sdk-rejects-datetime": (
        {"query_starts": EntityProperty("1-01-01T00:00:00Z", EdmType.DATETIME)},
        "query_starts",
    ),
    "wrong-type": ({"interval_ms": "every minute"}, "interval_ms"),
    "unknown-state": ({"state": "PAUSED"}, "state"),
}


def request(method: str, body: object = None, **route: str) -> func.HttpRequest:
    raw = b"" if body is None else json.dumps(body).encode()
    return func.HttpRequest(method, "/api/x", body=raw, route_params=route, params={})


def answer(resp: func.HttpResponse, status: int) -> dict[str, Any]:
    body = json.loads(resp.get_body())
    assert resp.status_code == status, body
    return body


async def break_row(table: Any, pk: str, rk: str, props: dict[str, Any]) -> None:
    await table.upsert_entity({"PartitionKey": pk, "RowKey": rk, **props}, mode=UpdateMode.MERGE)


def assert_unreadable_error(resp: func.HttpResponse, subject: str, field: str) -> None:
    err = answer(resp, 500)["error"]
    assert err["code"] == "unreadable_row"
    assert subject in err["message"] and f"field '{field}'" in err["message"]
    assert err["field"] == field


@pytest.mark.parametrize("breakage", list(BREAKAGES))
async def test_unreadable_flow_row_is_reported_and_the_rest_keeps_working(
    app_env: Services, breakage: str, storage_connection_string: str, table_prefix: str
) -> None:
    props, field = BREAKAGES[breakage]
    await break_row(app_env.flows.flows.table, "creatio-intacct", "accounts-to-intacct", props)

    listing = answer(await control.list_flows(request("GET")), 200)
    ids = {f["id"] for f in listing["flows"]}
    assert ACCOUNTS not in ids and len(ids) == len(app_env.catalog) - 1
    (reported,) = listing["unreadable"]
    assert (reported["flow_id"], reported["field"]) == (ACCOUNTS, field)

    status = answer(await control.get_status(request("GET")), 200)
    (reported,) = status["unreadable"]
    assert reported["flow_id"] == ACCOUNTS and reported["field"] == field
    assert ACCOUNTS in reported["message"] and "correct or delete" in reported["message"]
    assert status["flows"]["total"] == len(app_env.catalog) - 1

    subject = f"flow '{ACCOUNTS}'"
    assert_unreadable_error(
        await control.get_flow(request("GET", flow_id=ACCOUNTS)), subject, field
    )
    for handler in (control.start_flow, control.stop_flow, control.run_flow):
        assert_unreadable_error(await handler(request("POST", flow_id=ACCOUNTS)), subject, field)
    assert_unreadable_error(
        await control.patch_flow(request("PATCH", {"shift_ms": 0}, flow_id=ACCOUNTS)),
        subject,
        field,
    )

    # Other flows, of the same solution and of the other one, start and are ticked.
    for flow_id in (CONTACTS, DYNAMICS):
        answer(await control.patch_flow(request("PATCH", {"shift_ms": 0}, flow_id=flow_id)), 200)
        started = answer(await control.start_flow(request("POST", flow_id=flow_id)), 200)
        assert started["state"] == "STARTED"
    report = await tick(app_env.flows, utcnow() + timedelta(seconds=5))
    assert {split_run_id(r)[0] for r in report.claimed} == {CONTACTS, DYNAMICS}
    assert report.unreadable == [ACCOUNTS]

    # Start-up (tables, queues, catalog install of flow rows) passes and keeps the row as is.
    again = await Services.create(make_settings(storage_connection_string, table_prefix))
    try:
        pairs, broken = await again.flows.survey()
        assert [b.flow_id for b in broken] == [ACCOUNTS]
        assert len(pairs) == len(app_env.catalog) - 1
    finally:
        await again.close()


async def test_unreadable_run_row_is_reported_and_its_flow_recovers(app_env: Services) -> None:
    first = answer(await control.run_flow(request("POST", flow_id=ACCOUNTS)), 202)["run_id"]
    await app_env.flows.finish_run(first, RunEnd(status=RunStatus.SUCCEEDED), utcnow())
    run_id = answer(await control.run_flow(request("POST", flow_id=ACCOUNTS)), 202)["run_id"]
    pk, rk = split_run_id(run_id)
    bad_start = EntityProperty("12-03-04T00:00:00Z", EdmType.DATETIME)
    await break_row(app_env.flows.runs.table, pk, rk, {"started_at": bad_start})

    assert_unreadable_error(
        await control.get_run(request("GET", run_id=run_id)), f"run '{run_id}'", "started_at"
    )
    runs = answer(await control.list_runs(request("GET", flow_id=ACCOUNTS)), 200)
    assert [r["id"] for r in runs["runs"]] == [first]
    assert [(u["run_id"], u["field"]) for u in runs["unreadable"]] == [(run_id, "started_at")]

    listing = answer(await control.list_flows(request("GET")), 200)
    flow = next(f for f in listing["flows"] if f["id"] == ACCOUNTS)
    assert flow["state"] == "RUNNING" and flow["last_run"] is None
    status = answer(await control.get_status(request("GET")), 200)
    assert [(u["flow_id"], u["run_id"]) for u in status["unreadable"]] == [(ACCOUNTS, run_id)]

    # Its lease runs out (the worker cannot read the run either): the tick ends it as failed
    # on a fresh row and gives the flow back, instead of holding it RUNNING for ever.
    report = await tick(app_env.flows, utcnow() + app_env.flows.lease + timedelta(seconds=1))
    assert report.recovered == [ACCOUNTS]
    run = answer(await control.get_run(request("GET", run_id=run_id)), 200)
    assert run["status"] == "failed" and "unreadable run row" in run["message"]
    flow = answer(await control.get_flow(request("GET", flow_id=ACCOUNTS)), 200)
    assert flow["state"] == "STOPPED"
    status = answer(await control.get_status(request("GET")), 200)
    assert status["unreadable"] == []


async def test_a_flow_claimed_before_its_run_row_is_written_still_shows(
    app_env: Services,
) -> None:
    """A claim writes the flow row first and the run row after it: a GET between the two
    shows the flow RUNNING with no last run, never 404 for the flow itself."""
    run_id = answer(await control.run_flow(request("POST", flow_id=ACCOUNTS)), 202)["run_id"]
    pk, rk = split_run_id(run_id)
    await app_env.flows.runs.table.delete_entity(pk, rk)  # as if the run row were not yet written

    flow = answer(await control.get_flow(request("GET", flow_id=ACCOUNTS)), 200)
    assert flow["state"] == "RUNNING" and flow["last_run"] is None
    listing = answer(await control.list_flows(request("GET")), 200)
    assert next(f for f in listing["flows"] if f["id"] == ACCOUNTS)["last_run"] is None
    assert answer(await control.get_status(request("GET")), 200)["unreadable"] == []


async def test_storage_never_writes_what_it_cannot_read_back(app_env: Services) -> None:
    """Year < 1601 is refused before the write (the SDK would write year 1 as '1-01-01');
    integers beyond Int32 go as Int64 and come back as they were."""
    rec = await app_env.flows.flows.get(ACCOUNTS)
    with pytest.raises(ValueError, match="query_starts: 1500-01-01"):
        to_properties(rec.model_copy(update={"query_starts": datetime(1500, 1, 1, tzinfo=UTC)}))
    wide = await app_env.flows.flows.replace(rec.model_copy(update={"counter": 2**40}))
    assert (await app_env.flows.flows.get(ACCOUNTS)).counter == 2**40 == wide.counter
