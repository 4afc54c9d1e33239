"""The utility-flow rules (issue 16, item 5) through the local host's HTTP API and queues, for
both solutions, against the Creatio, Intacct and Dataverse emulators over HTTP:

- a scheduled run above its volume limit is skipped, and its message names a bulk flow that
  exists and runs;
- one bulk load at a time in the whole deployment, across solutions;
- a single run for an id the source lacks ends `partial` (`failed` when no id exists) with a
  `not_found` error naming it;
- `POST /api/runs/{id}/cancel` stops a run between pages: `cancelled`, true counts, query
  starts unmoved;
- a binding flow reports what it could not bind (no match; two candidates, with their ids);
- a bulk load whose host is killed resumes, on a new host, from its last durably queued page,
  each record exactly once.

Emulator latency knobs slow a run down so a cancel or a kill lands mid-run; the tests poll
the API with timeouts and never sleep. Admin routes only arrange data and knobs; assertions
read the emulators through their own APIs (or tables) and the run through the Shuttle API."""

from __future__ import annotations

import os
import re
import signal
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.azurite import Azurite
from sandbox.emulators.identity import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_TENANT
from tests.e2e.conftest import RunningHost, start_host, stop_host, wait_for
from tests.e2e.runs import finished
from tests.support.creatio import RunningCreatio
from tests.support.dataverse import RunningDataverse
from tests.support.engine import creatio_settings, intacct_settings
from tests.support.intacct import RunningIntacct

pytestmark = pytest.mark.e2e

INTACCT, DYNAMICS = "creatio-intacct", "creatio-dynamics"
PAGE = 5  # SHUTTLE_PAGE_SIZE: a few records make several pages


def dataverse_settings(running: RunningDataverse) -> dict[str, str]:
    return {
        "DATAVERSE_URL": running.url,
        "DATAVERSE_AUTHORITY_HOST": running.authority,
        "DATAVERSE_TENANT_ID": SANDBOX_TENANT,
        "DATAVERSE_CLIENT_ID": SANDBOX_CLIENT_ID,
        "DATAVERSE_CLIENT_SECRET": SANDBOX_CLIENT_SECRET,
        # The host trusts the emulators' test CA (the connector's default: the environment's).
        "SSL_CERT_FILE": running.ca,
        "REQUESTS_CA_BUNDLE": running.ca,
    }


@pytest.fixture(scope="module")
def host(
    e2e_azurite: Azurite,
    tmp_path_factory: pytest.TempPathFactory,
    creatio: RunningCreatio,
    intacct: RunningIntacct,
    dataverse: RunningDataverse,
) -> Iterator[RunningHost]:
    """One host serving both solutions: the tests use distinct records, so they share it."""
    running = start_host(
        e2e_azurite,
        tmp_path_factory.mktemp("host"),
        SHUTTLE_SOLUTIONS=f"{INTACCT},{DYNAMICS}",
        SHUTTLE_PAGE_SIZE=str(PAGE),
        **creatio_settings(creatio),
        **intacct_settings(intacct),
        **dataverse_settings(dataverse),
    )
    yield running
    stop_host(running)


@pytest.fixture
def api(host: RunningHost) -> Iterator[httpx.Client]:
    """The host's API; afterwards every flow a test left active is stopped, so one failed
    test cannot refuse the next one's utility flows (`scheduled_flows_active`)."""
    with host.client() as client:
        yield client
        active = [f["id"] for f in client.get("/flows").json()["flows"] if f["state"] != "STOPPED"]
        for flow_id in active:
            client.post(f"/flows/{flow_id}/stop")

        def all_stopped() -> bool:
            flows = client.get("/flows").json()["flows"]
            return all(f["state"] == "STOPPED" for f in flows if f["id"] in active)

        wait_for(all_stopped, 120, f"flows {active} to stop after the test")


@pytest.fixture
def no_latency(
    creatio: RunningCreatio, intacct: RunningIntacct, dataverse: RunningDataverse
) -> Iterator[None]:
    yield
    for admin in (creatio.admin, intacct.admin, dataverse.admin):
        admin.knobs(latency_ms=0)


# -- helpers ----------------------------------------------------------------------------------


def run_flow(api: httpx.Client, flow_id: str, body: dict[str, Any] | None = None) -> str:
    started = (
        api.post(f"/flows/{flow_id}/run", json=body) if body else api.post(f"/flows/{flow_id}/run")
    )
    assert started.status_code == 202, started.text
    return str(started.json()["run_id"])


def run_view(api: httpx.Client, run_id: str) -> dict[str, Any]:
    response = api.get(f"/runs/{run_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def flow_view(api: httpx.Client, flow_id: str) -> dict[str, Any]:
    response = api.get(f"/flows/{flow_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def plan_items(api: httpx.Client, run_id: str) -> list[dict[str, Any]]:
    """The run's outcome rows so far (a row per record queued), through the plan API."""
    response = api.get(f"/runs/{run_id}/plan", params={"limit": "500"})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def until_read(api: httpx.Client, run_id: str, at_least: int) -> None:
    """Until the run, still running, has queued `at_least` records (its counts are tallied
    when it ends; its outcome rows show progress)."""

    def read_enough() -> bool:
        assert run_view(api, run_id)["status"] == "running"
        return len(plan_items(api, run_id)) >= at_least

    wait_for(read_enough, 60, f"run {run_id} to read {at_least} records")


def tag() -> str:
    return uuid.uuid4().hex[:6].upper()


# -- (a) the volume guard names a bulk flow that exists --------------------------------------


@pytest.mark.parametrize(
    ("scheduled", "target"),
    [
        (f"{INTACCT}.accounts-to-intacct", "intacct"),
        (f"{DYNAMICS}.accounts-to-dataverse", "dataverse"),
    ],
)
def test_the_volume_guard_names_a_bulk_flow_that_exists_and_runs(
    api: httpx.Client,
    creatio: RunningCreatio,
    intacct: RunningIntacct,
    dataverse: RunningDataverse,
    scheduled: str,
    target: str,
) -> None:
    mark = tag()
    creatio.admin.seed(
        {"Account": [{"Name": f"Volume {mark} {n}", "Code": f"V{mark}{n}"} for n in range(8)]}
    )
    patched = api.patch(f"/flows/{scheduled}", json={"volume_limit": 5})
    assert patched.status_code == 200, patched.text
    before = flow_view(api, scheduled)["query_starts"]
    assert api.post(f"/flows/{scheduled}/start").status_code == 200

    def skipped_run() -> dict[str, Any] | None:
        last = flow_view(api, scheduled)["last_run"]
        return last if last and last["status"] != "running" else None

    run = wait_for(skipped_run, 60, f"the first scheduled run of {scheduled}")
    assert run["status"] == "skipped", run  # type: ignore[index]
    assert "volume limit (5)" in run["message"]  # type: ignore[index]
    assert api.post(f"/flows/{scheduled}/stop").status_code == 200
    wait_for(lambda: flow_view(api, scheduled)["state"] == "STOPPED", 60, "the flow to stop")
    assert flow_view(api, scheduled)["query_starts"] == before  # nothing read

    # The message's bulk flow is one the API knows, and runs from the instant it names.
    named = re.search(r"run the bulk load flow '([^']+)' from (\S+),", run["message"])  # type: ignore[index]
    assert named, run["message"]  # type: ignore[index]
    bulk_id, since = named[1], named[2]
    bulk = flow_view(api, bulk_id)
    assert bulk["kind"] == "bulk" and bulk["source"] == flow_view(api, scheduled)["source"]
    done = finished(api, run_flow(api, bulk_id, {"from": since}))
    assert done["status"] == "succeeded", done
    names = (
        {r["NAME"] for r in intacct.admin.rows("CUSTOMER")}
        if target == "intacct"
        else {r["name"] for r in dataverse.admin.rows("account")}
    )
    assert {f"Volume {mark} {n}" for n in range(8)} <= names


# -- (b) one bulk load at a time per deployment ----------------------------------------------


def test_one_bulk_load_at_a_time_across_both_solutions(
    api: httpx.Client, creatio: RunningCreatio, dataverse: RunningDataverse, no_latency: None
) -> None:
    mark = tag()
    creatio.admin.seed({"Account": [{"Name": f"Slot {mark} {n}"} for n in range(3 * PAGE)]})
    creatio.admin.knobs(latency_ms=400)  # each page read takes a while: the load stays running
    intacct_bulk = f"{INTACCT}.bulk-accounts-to-intacct"
    running = run_flow(api, intacct_bulk)
    until_read(api, running, PAGE)

    refused = api.post(f"/flows/{DYNAMICS}.bulk-products-to-dataverse/run")
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert error["code"] == "bulk_load_active" and intacct_bulk in error["message"]

    assert api.post(f"/runs/{running}/cancel").status_code == 200
    assert finished(api, running)["status"] == "cancelled"
    creatio.admin.knobs(latency_ms=0)
    dataverse.admin.seed({"product": []})
    # The slot is free once the first load has ended.
    other = finished(api, run_flow(api, f"{DYNAMICS}.bulk-products-to-dataverse"))
    assert other["status"] == "succeeded", other


# -- (d) a single run for an id that does not exist -------------------------------------------


@pytest.mark.parametrize(
    ("single", "target"),
    [
        (f"{INTACCT}.single-account-to-intacct", "intacct"),
        (f"{DYNAMICS}.single-account-to-dataverse", "dataverse"),
    ],
)
def test_a_single_run_for_a_missing_id_is_partial_or_failed_naming_it(
    api: httpx.Client,
    creatio: RunningCreatio,
    intacct: RunningIntacct,
    dataverse: RunningDataverse,
    single: str,
    target: str,
) -> None:
    mark = tag()
    creatio.admin.seed({"Account": [{"Name": f"Single {mark}", "Code": f"S{mark}"}]})
    real = next(str(r["Id"]) for r in creatio.rows("Account") if r["Name"] == f"Single {mark}")
    ghost = str(uuid.uuid4())

    both = finished(api, run_flow(api, single, {"record_ids": [real, ghost]}))
    assert both["status"] == "partial", both
    assert (both["counts"]["read"], both["counts"]["created"], both["counts"]["failed"]) == (
        2,
        1,
        1,
    )
    (error,) = both["errors"]
    assert (error["record"], error["category"]) == (ghost, "not_found")
    assert ghost in error["message"]
    names = (
        [r["NAME"] for r in intacct.admin.rows("CUSTOMER")]
        if target == "intacct"
        else [r["name"] for r in dataverse.admin.rows("account")]
    )
    assert names.count(f"Single {mark}") == 1

    only = finished(api, run_flow(api, single, {"record_ids": [ghost]}))
    assert only["status"] == "failed", only
    assert (only["counts"]["read"], only["counts"]["failed"]) == (1, 1)
    assert [(e["record"], e["category"]) for e in only["errors"]] == [(ghost, "not_found")]


# -- (e) cancel stops a run between pages -----------------------------------------------------


def test_cancel_stops_an_intacct_run_between_pages_with_true_counts(
    api: httpx.Client, creatio: RunningCreatio, intacct: RunningIntacct, no_latency: None
) -> None:
    flow = f"{INTACCT}.contacts-to-intacct"
    mark = tag()
    creatio.admin.seed({"Contact": [{"Name": f"Cancel {mark} {n:02d}"} for n in range(6 * PAGE)]})
    before = flow_view(api, flow)["query_starts"]
    existing = {r["CONTACTNAME"] for r in intacct.admin.rows("CONTACT")}
    creatio.admin.knobs(latency_ms=400)
    run_id = run_flow(api, flow)
    until_read(api, run_id, PAGE)
    asked = api.post(f"/runs/{run_id}/cancel")
    assert asked.status_code == 200 and asked.json()["cancel_requested_at"], asked.text

    run = finished(api, run_id)
    assert run["status"] == "cancelled", run
    assert "query starts was not moved" in run["message"]
    counts = run["counts"]
    assert PAGE <= counts["read"] < 6 * PAGE and counts["failed"] == 0
    # What it wrote is what its records say, record by record (the new contacts: the first
    # page may hold Creatio's own Supervisor contact too).
    agree(api, run_id, lambda: {r["CONTACTNAME"] for r in intacct.admin.rows("CONTACT")} - existing)
    # The run ends first, then the flow it held is released.
    wait_for(lambda: flow_view(api, flow)["state"] == "STOPPED", 30, "the flow to be released")
    assert flow_view(api, flow)["query_starts"] == before
    refused = api.post(f"/runs/{run_id}/cancel")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "run_final"


def test_cancel_stops_a_dataverse_run_between_pages_with_true_counts(
    api: httpx.Client, creatio: RunningCreatio, dataverse: RunningDataverse, no_latency: None
) -> None:
    flow = f"{DYNAMICS}.accounts-to-creatio"
    mark = tag()
    dataverse.admin.seed({"account": [{"name": f"Cancel {mark} {n:02d}"} for n in range(6 * PAGE)]})
    before = flow_view(api, flow)["query_starts"]
    existing = {str(r["Id"]) for r in creatio.rows("Account")}
    dataverse.admin.knobs(latency_ms=400)
    run_id = run_flow(api, flow)
    until_read(api, run_id, PAGE)
    assert api.post(f"/runs/{run_id}/cancel").status_code == 200

    run = finished(api, run_id)
    assert run["status"] == "cancelled", run
    counts = run["counts"]
    assert PAGE <= counts["read"] < 6 * PAGE and counts["failed"] == 0
    agree(api, run_id, lambda: {str(r["Id"]) for r in creatio.rows("Account")} - existing)
    assert flow_view(api, flow)["query_starts"] == before


def agree(api: httpx.Client, run_id: str, written: Callable[[], set[str]]) -> None:
    """The target holds exactly the records the run's outcome rows say it created, and the
    run's counts say so too: a record written while the run was cancelled settles before the
    run ends (shared/engine/sync_engine.py _cancelled), and the counts add up."""
    counts = run_view(api, run_id)["counts"]

    def settled() -> bool:
        created = {i["target_id"] for i in plan_items(api, run_id) if i["outcome"] == "created"}
        return created == written()

    wait_for(settled, 30, f"run {run_id}'s outcome rows to match the target")
    assert counts["created"] == len(written()) <= counts["read"], counts
    parts = ("created", "updated", "unchanged", "skipped", "failed")
    assert counts["read"] == sum(counts[k] for k in parts) and counts["pending"] == 0, counts


# -- (f) a binding flow reports what it could not bind ----------------------------------------


def test_intacct_bind_accounts_reports_no_match_and_two_candidates_with_their_ids(
    api: httpx.Client, creatio: RunningCreatio, intacct: RunningIntacct
) -> None:
    mark = tag()
    intacct.admin.seed(
        {
            "CUSTOMER": [
                {"CUSTOMERID": f"L{mark}", "NAME": f"Linked {mark}", "STATUS": "active"},
                {"CUSTOMERID": f"TA{mark}", "NAME": f"Twin {mark}", "STATUS": "active"},
                {"CUSTOMERID": f"TB{mark}", "NAME": f"Twin {mark}", "STATUS": "active"},
            ]
        }
    )
    ids = seed_accounts_to_bind(creatio, mark)
    twins = [r for r in intacct.admin.rows("CUSTOMER") if r["NAME"] == f"Twin {mark}"]
    writes = sum(intacct.admin.stats()["writes"].values())

    run = finished(api, run_flow(api, f"{INTACCT}.bind-accounts"))
    assert sum(intacct.admin.stats()["writes"].values()) == writes  # binding flows never write
    assert_bind_report(
        api, run, ids, mark, f"CUSTOMERID='N{mark}'", [candidate_id(t, "intacct") for t in twins]
    )


def test_dataverse_bind_accounts_reports_no_match_and_two_candidates_with_their_ids(
    api: httpx.Client, creatio: RunningCreatio, dataverse: RunningDataverse
) -> None:
    mark = tag()
    dataverse.admin.seed(
        {
            "account": [
                {"name": f"Linked {mark}", "accountnumber": f"L{mark}"},
                {"name": f"Twin {mark}"},
                {"name": f"Twin {mark}"},
            ]
        }
    )
    ids = seed_accounts_to_bind(creatio, mark)
    twins = [r for r in dataverse.admin.rows("account") if r["name"] == f"Twin {mark}"]
    writes = sum(dataverse.admin.stats()["writes"].values())

    run = finished(api, run_flow(api, f"{DYNAMICS}.bind-accounts"))
    assert sum(dataverse.admin.stats()["writes"].values()) == writes
    assert_bind_report(
        api, run, ids, mark, f"N{mark}", [candidate_id(t, "dataverse") for t in twins]
    )


def seed_accounts_to_bind(creatio: RunningCreatio, mark: str) -> dict[str, str]:
    """Creatio accounts a binding flow meets: one with a match, one without, one with two."""
    creatio.admin.seed(
        {
            "Account": [
                {"Name": f"Linked {mark}", "Code": f"L{mark}"},
                {"Name": f"Nobody {mark}", "Code": f"N{mark}"},
                {"Name": f"Twin {mark}"},
            ]
        }
    )
    return {r["Name"]: str(r["Id"]) for r in creatio.rows("Account") if mark in r["Name"]}


def assert_bind_report(
    api: httpx.Client,
    run: dict[str, Any],
    ids: dict[str, str],
    mark: str,
    not_found_text: str,
    candidates: list[str],
) -> None:
    """No match → `not_found` naming the key; two candidates → `duplicate` naming both; the
    matched account links."""
    errors = {e["record"]: e for e in run["errors"]}
    lonely = errors[ids[f"Nobody {mark}"]]
    assert lonely["category"] == "not_found" and not_found_text in lonely["message"]
    twin = errors[ids[f"Twin {mark}"]]
    assert twin["category"] == "duplicate"
    assert all(candidate in twin["message"] for candidate in candidates), twin
    assert ids[f"Linked {mark}"] not in errors
    actions = plan_actions(api, run["id"])
    assert (actions[ids[f"Linked {mark}"]], actions[ids[f"Nobody {mark}"]]) == ("link", "not_bound")


def candidate_id(row: dict[str, Any], system: str) -> str:
    return str(row["CUSTOMERID"] if system == "intacct" else row["accountid"])


def plan_actions(api: httpx.Client, run_id: str) -> dict[str, str]:
    return {i["record"]: i["action"] for i in plan_items(api, run_id)}


# -- (c) a bulk load whose host dies resumes, each record once --------------------------------


@pytest.mark.parametrize("target", ["intacct", "dataverse"])
def test_a_bulk_load_whose_host_is_killed_resumes_on_a_new_host_each_record_once(
    own_azurite: Azurite,
    tmp_path: Path,
    creatio: RunningCreatio,
    intacct: RunningIntacct,
    dataverse: RunningDataverse,
    no_latency: None,
    target: str,
) -> None:
    creatio.admin.reset()
    intacct.admin.reset()
    dataverse.admin.reset()
    total = 6 * PAGE
    creatio.admin.seed({"Account": [{"Name": f"Resume {n:02d}"} for n in range(total)]})
    if target == "intacct":
        solution, bulk = INTACCT, f"{INTACCT}.bulk-accounts-to-intacct"
        systems = intacct_settings(intacct)

        def names() -> list[str]:
            return sorted(r["NAME"] for r in intacct.admin.rows("CUSTOMER"))
    else:
        solution, bulk = DYNAMICS, f"{DYNAMICS}.bulk-accounts-to-dataverse"
        systems = dataverse_settings(dataverse)

        def names() -> list[str]:
            return sorted(r["name"] for r in dataverse.admin.rows("account"))

    env = {
        "SHUTTLE_SOLUTIONS": solution,
        "SHUTTLE_PAGE_SIZE": str(PAGE),
        "SHUTTLE_TABLE_PREFIX": "resume" + uuid.uuid4().hex[:8],
        # The shortest lease the settings allow: the new host recovers the run soon.
        "SHUTTLE_RUN_LEASE_SECONDS": "30",
        **creatio_settings(creatio),
        **systems,
    }
    creatio.admin.knobs(latency_ms=700)  # a page read takes a while; the records' writes don't

    first = start_host(own_azurite, tmp_path, **env)
    try:
        with first.client() as api:
            run_id = run_flow(api, bulk)

            def between_pages() -> bool:
                # Two pages read, every queued record settled, the next page being read from
                # Creatio: only that page's step is in the worker's hands when it dies.
                items = plan_items(api, run_id)
                return (
                    len(items) >= 2 * PAGE
                    and all(i["outcome"] != "pending" for i in items)
                    and creatio.admin.stats()["in_flight"] > 0
                )

            wait_for(between_pages, 60, "two pages synced")
            os.killpg(first.process.pid, signal.SIGKILL)
            first.process.wait(10)
    finally:
        if first.process.poll() is None:
            stop_host(first)
    assert 2 * PAGE <= len(names()) < total  # the load really was cut short

    creatio.admin.knobs(latency_ms=0)
    second = start_host(own_azurite, tmp_path, **env)
    try:
        with second.client() as api:
            run = finished(api, run_id, timeout=180)
    finally:
        stop_host(second)
    assert run["status"] == "succeeded", run
    assert run["resumes"] == 1  # went on from its saved step, not from the start
    counts = run["counts"]
    assert (counts["read"], counts["created"], counts["failed"]) == (total, total, 0)
    assert names() == [f"Resume {n:02d}" for n in range(total)]  # each record exactly once
