"""Roles and the audit trail over real HTTP against the local host: App Service principals
(SHUTTLE_AUTH_MODE=appservice) with viewer, operator and admin roles; function keys acting as
admin; a forged principal ignored in keys mode; one audit row per change, none per read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sandbox.azurite import Azurite
from sandbox.principal import encode_principal
from shared.access.caller import key_fingerprint
from tests.e2e.conftest import EmulatedSystems, RunningHost, start_host, stop_host, wait_for

pytestmark = pytest.mark.e2e

ACCOUNTS = "creatio-intacct.accounts-to-intacct"
CONTACTS = "creatio-intacct.contacts-to-intacct"
VIEWER_OID = "11111111-1111-1111-1111-111111111111"
OPERATOR_OID = "22222222-2222-2222-2222-222222222222"
ADMIN_OID = "33333333-3333-3333-3333-333333333333"


def as_role(name: str, role: str | None, oid: str) -> dict[str, str]:
    roles = [role] if role else []
    return {"X-MS-CLIENT-PRINCIPAL": encode_principal(name, roles, object_id=oid)}


VIEWER = as_role("vera@contoso.example", "Shuttle.Viewer", VIEWER_OID)
OPERATOR = as_role("otto@contoso.example", "Shuttle.Operator", OPERATOR_OID)
ADMIN = as_role("ada@contoso.example", "Shuttle.Admin", ADMIN_OID)


@pytest.fixture(scope="module")
def appservice_host(
    e2e_azurite: Azurite,
    tmp_path_factory: pytest.TempPathFactory,
    emulated_systems: EmulatedSystems,
) -> Iterator[RunningHost]:
    # Runs go through the real sync engine, against the emulators.
    running = start_host(
        e2e_azurite,
        tmp_path_factory.mktemp("appservice"),
        **emulated_systems.env,
        SHUTTLE_AUTH_MODE="appservice",
        # A request naming nobody acts as this (the local host plays App Service's part).
        SHUTTLE_LOCAL_ROLES="Shuttle.Viewer",
    )
    yield running
    stop_host(running)


def audit(api: httpx.Client, **params: str) -> list[dict]:
    resp = api.get("/audit", headers=VIEWER, params=params)
    assert resp.status_code == 200, resp.text
    return resp.json()["entries"]


def test_each_role_may_do_what_it_should_and_every_change_is_audited(
    appservice_host: RunningHost,
) -> None:
    with appservice_host.client() as api:
        assert audit(api) == []
        # Viewers read; reads are never audited.
        assert api.get("/flows", headers=VIEWER).status_code == 200
        assert api.get(f"/flows/{ACCOUNTS}", headers=VIEWER).status_code == 200
        assert api.get("/status", headers=VIEWER).status_code == 200
        assert api.get("/runs", headers=VIEWER).status_code == 200
        refused = api.post(f"/flows/{ACCOUNTS}/start", headers=VIEWER)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
        # Operators start and stop, but may not change properties.
        started = api.post(f"/flows/{ACCOUNTS}/start", headers=OPERATOR)
        assert started.status_code == 200 and started.json()["state"] == "STARTED"
        assert (
            api.patch(
                f"/flows/{CONTACTS}", headers=OPERATOR, json={"interval_ms": 120000}
            ).status_code
            == 403
        )
        # Admins change properties, within the flow rules (409 while STARTED).
        busy = api.patch(f"/flows/{ACCOUNTS}", headers=ADMIN, json={"interval_ms": 120000})
        assert busy.status_code == 409
        changed = api.patch(f"/flows/{CONTACTS}", headers=ADMIN, json={"interval_ms": 120000})
        assert changed.status_code == 200 and changed.json()["interval_ms"] == 120000
        assert api.post(f"/flows/{ACCOUNTS}/stop", headers=OPERATOR).status_code == 200
        assert api.get("/flows", headers=ADMIN).status_code == 200

        entries = audit(api)
    # Newest first: one row per change, allowed or refused, and nothing for the reads.
    summary = [(e["action"], e["actor"]["name"], e["status"], e["outcome"]) for e in entries]
    assert summary == [
        ("flow.stop", "otto@contoso.example", 200, "ok"),
        ("flow.patch", "ada@contoso.example", 200, "ok"),
        ("flow.patch", "ada@contoso.example", 409, "refused"),
        ("flow.patch", "otto@contoso.example", 403, "refused"),
        ("flow.start", "otto@contoso.example", 200, "ok"),
        ("flow.start", "vera@contoso.example", 403, "refused"),
    ]
    stop, patched, busy_row, _, start, viewer_row = entries
    assert viewer_row["actor"]["object_id"] == VIEWER_OID
    assert viewer_row["actor"]["roles"] == ["Shuttle.Viewer"]
    assert "Shuttle.Operator" in viewer_row["message"]
    assert start["target"] == ACCOUNTS and start["method"] == "POST"
    assert (start["before"]["state"], start["after"]["state"]) == ("STOPPED", "STARTED")
    assert (stop["before"]["state"], stop["after"]["state"]) == ("STARTED", "STOPPED")
    assert patched["request"] == {"interval_ms": 120000}
    assert (patched["before"]["interval_ms"], patched["after"]["interval_ms"]) == (600000, 120000)
    assert patched["actor"]["object_id"] == ADMIN_OID
    assert "stop" in busy_row["message"].lower() and busy_row["after"] is None


def test_audit_pages_newest_first_without_gaps(appservice_host: RunningHost) -> None:
    with appservice_host.client() as api:
        everything = audit(api, limit="200")
        assert len(everything) >= 3
        first = api.get("/audit", headers=VIEWER, params={"limit": "2"}).json()
        second = api.get(
            "/audit", headers=VIEWER, params={"limit": "2", "before": first["next"]}
        ).json()
        ids = [e["id"] for e in first["entries"] + second["entries"]]
        assert ids == [e["id"] for e in everything[:4]]
        assert api.get("/audit", headers=VIEWER, params={"limit": "0"}).status_code == 422


def test_appservice_mode_refuses_callers_without_a_role_and_uses_local_roles(
    appservice_host: RunningHost,
) -> None:
    with appservice_host.client() as api:
        nobody = as_role("guest@contoso.example", None, "44444444-4444-4444-4444-444444444444")
        assert api.get("/flows", headers=nobody).status_code == 403
        # No header at all: the local host names the caller with SHUTTLE_LOCAL_ROLES (viewer).
        assert api.get("/flows").status_code == 200
        assert api.post(f"/flows/{CONTACTS}/start").status_code == 403
        latest = audit(api, limit="1")[0]
        assert (latest["actor"]["name"], latest["status"]) == ("local-user", 403)
        # The console's page and assets load for anyone; its data does not.
        page = api.get("/console")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]


def test_keys_mode_ignores_a_forged_principal_and_names_the_key(
    own_azurite: Azurite, tmp_path: Path
) -> None:
    key = "portal-key-do-not-log"
    host = start_host(
        own_azurite,
        tmp_path,
        SHUTTLE_LOCAL_KEY=key,
        SHUTTLE_KEY_NAMES=f"portal={key_fingerprint(key)}",
    )
    try:
        with host.client(headers={"x-functions-key": key}) as api:
            # Without App Service Authentication in front anybody can send this header: a
            # "viewer" principal must neither restrict nor name the key holder.
            forged = as_role("mallory@evil.example", "Shuttle.Viewer", VIEWER_OID)
            assert api.post(f"/flows/{ACCOUNTS}/start", headers=forged).status_code == 200
            # The key may come as ?code= too; the audit row's path never keeps the query.
            assert api.post(f"/flows/{ACCOUNTS}/stop", params={"code": key}).status_code == 200
            entries = api.get("/audit").json()["entries"]
        assert [e["action"] for e in entries] == ["flow.stop", "flow.start"]
        for entry in entries:
            assert entry["actor"]["kind"] == "key"
            assert entry["actor"]["name"] == f"key portal ({key_fingerprint(key)})"
            assert entry["actor"]["role"] == "ADMIN"
        assert "mallory" not in str(entries)
        assert key not in str(entries), "the audit names a key, never holds it"
        assert key not in host.log(), "a function key must never reach the logs"
    finally:
        stop_host(host)


def test_runs_across_flows_newest_first_with_filters(appservice_host: RunningHost) -> None:
    with appservice_host.client() as api:
        first = api.post(f"/flows/{CONTACTS}/run", headers=OPERATOR).json()["run_id"]
        wait_final(api, first)
        second = api.post(f"/flows/{ACCOUNTS}/run", headers=OPERATOR).json()["run_id"]
        wait_final(api, second)
        runs = api.get("/runs", headers=VIEWER).json()["runs"]
        ids = [r["id"] for r in runs]
        assert ids.index(second) < ids.index(first), "newest first"
        only = api.get("/runs", headers=VIEWER, params={"flow": ACCOUNTS}).json()["runs"]
        assert {r["flow_id"] for r in only} == {ACCOUNTS} and second in [r["id"] for r in only]
        other = api.get("/runs", headers=VIEWER, params={"solution": "creatio-dynamics"})
        assert other.status_code == 200 and other.json()["runs"] == []
        ok = api.get("/runs", headers=VIEWER, params={"status": "succeeded"}).json()["runs"]
        assert {first, second} <= {r["id"] for r in ok}
        assert api.get("/runs", headers=VIEWER, params={"status": "failed"}).json()["runs"] == []
        future = api.get("/runs", headers=VIEWER, params={"since": "2999-01-01T00:00:00Z"})
        assert future.json()["runs"] == []
        bad = api.get("/runs", headers=VIEWER, params={"status": "bogus"})
        assert bad.status_code == 422 and bad.json()["error"]["field"] == "status"
        assert api.get("/runs", headers=VIEWER, params={"flow": "x.y"}).status_code == 404
        plan = api.get(f"/runs/{second}/plan", headers=VIEWER)
        assert plan.status_code == 200 and plan.json()["run_id"] == second
        assert api.get("/runs", headers=as_role("g", None, "o")).status_code == 403


def wait_final(api: httpx.Client, run_id: str) -> None:
    def final() -> bool:
        return api.get(f"/runs/{run_id}", headers=VIEWER).json()["status"] != "running"

    wait_for(final, 60, f"run {run_id} to end")
