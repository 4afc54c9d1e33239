"""The operator console in headless chromium against the real app (local host, Azurite, the
Creatio and Intacct emulators): every flow listed with its state as colour and text, Submit,
the property form's 409, a bulk launch, a failed record on its run page, retry, injected
markup rendered as text, and a screenshot of each view under test-artifacts/console."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from sandbox.azurite import Azurite
from sandbox.demo.data import TOO_LONG_NAME
from sandbox.principal import encode_principal
from tests.browser.conftest import Console, screenshot
from tests.e2e.conftest import own_azurite, start_host, stop_host, wait_for
from tests.support.creatio import login

__all__ = ["own_azurite"]

pytestmark = pytest.mark.e2e

ACCOUNTS = "creatio-intacct.accounts-to-intacct"
CONTACTS = "creatio-intacct.contacts-to-intacct"
CUSTOMERS = "creatio-intacct.customers-to-creatio"
ITEMS = "creatio-intacct.items-to-creatio"
BULK = "creatio-intacct.bulk-accounts-to-intacct"
SINGLE = "creatio-intacct.single-account-to-intacct"
BULK_CUSTOMERS = "creatio-intacct.bulk-customers-to-creatio"
DAY = 86_400_000

COLOURS = {
    "RUNNING": "rgb(255, 0, 255)",  # magenta
    "STARTED": "rgb(0, 90, 255)",  # blue
    "STOPPED": "rgb(255, 255, 255)",  # white
    "COMPLETING": "rgb(255, 221, 0)",  # yellow
}
# Markup an attacker could plant in CRM data; each would set window.__xss if it ever ran.
SCRIPT = "<script>window.__xss = 'script'</script>"
IMG = '"><img src=x onerror="window.__xss=\'img\'">'
MARKUP_IDS = ["<svg/onload=alert()>", '"><b>bold</b>']


def api(console: Console) -> httpx.Client:
    return console.host.client()


def flow(console: Console, flow_id: str) -> dict[str, Any]:
    with api(console) as client:
        return client.get(f"/flows/{flow_id}").json()


def stop_all(console: Console) -> None:
    with api(console) as client:
        for f in client.get("/flows").json()["flows"]:
            if f["state"] in ("STARTED", "RUNNING"):
                client.post(f"/flows/{f['id']}/stop")
    wait_for(
        lambda: all(f["state"] == "STOPPED" for f in _flows(console)), 120, "every flow to stop"
    )


def _flows(console: Console) -> list[dict[str, Any]]:
    with api(console) as client:
        return client.get("/flows").json()["flows"]


def finished(console: Console, run_id: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        with api(console) as client:
            run = client.get(f"/runs/{run_id}").json()
        return run if run["status"] != "running" else None

    return wait_for(done, 120, f"run {run_id} to end")  # type: ignore[return-value]


def row(page: Page, flow_id: str):  # type: ignore[no-untyped-def]
    return page.locator(f'tr[data-flow="{flow_id}"]')


def open_console(page: Page, console: Console, view: str = "flows") -> None:
    page.goto(f"{console.url}#{view}")
    if view == "flows":
        expect(page.locator("tr[data-flow]").first).to_be_visible()


def test_every_flow_is_listed_with_its_state_as_text_and_colour(
    page: Page, console: Console
) -> None:
    response = page.goto(console.url)
    assert response is not None
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    expect(page.locator("tr[data-flow]")).to_have_count(len(_flows(console)))
    for f in _flows(console):
        cells = row(page, f["id"])
        expect(cells.locator(".flow-name")).to_have_text(f["name"])
        expect(cells.locator(".state")).to_have_text("STOPPED")
    expect(page.locator("caption")).to_contain_text(["creatio-intacct", "creatio-dynamics"])
    screenshot(page, "flows-manager")

    with api(console) as client:
        # STARTED: a day's shift keeps it waiting. RUNNING, then COMPLETING: a run whose every
        # Creatio call takes 8 s, stopped while it reads.
        assert client.patch(f"/flows/{CONTACTS}", json={"shift_ms": DAY}).status_code == 200
        assert client.post(f"/flows/{CONTACTS}/start").status_code == 200
        console.creatio.admin.knobs(latency_ms=8000)
        try:
            assert client.post(f"/flows/{ACCOUNTS}/run").status_code == 202
            expect(row(page, ACCOUNTS).locator(".state")).to_have_text("RUNNING", timeout=15000)
            screenshot(page, "flows-manager-running", full_page=False)
            colours = {
                "RUNNING": _colour(page, ACCOUNTS),
                "STARTED": _colour(page, CONTACTS),
                "STOPPED": _colour(page, CUSTOMERS),
            }
            assert client.post(f"/flows/{ACCOUNTS}/stop").json()["state"] == "COMPLETING"
            expect(row(page, ACCOUNTS).locator(".state")).to_have_text("COMPLETING", timeout=15000)
            colours["COMPLETING"] = _colour(page, ACCOUNTS)
            screenshot(page, "flows-manager-states")
            screenshot(page, "flows-manager-states-top", full_page=False)  # docs/console.png
        finally:
            console.creatio.admin.knobs(latency_ms=0)
    assert colours == COLOURS
    stop_all(console)


def _colour(page: Page, flow_id: str) -> str:
    return row(page, flow_id).locator(".state").evaluate("e => getComputedStyle(e).backgroundColor")


def test_ticking_two_flows_and_submit_starts_them_by_keyboard(page: Page, console: Console) -> None:
    stop_all(console)
    with api(console) as client:
        for f in (CUSTOMERS, ITEMS):
            assert client.patch(f"/flows/{f}", json={"shift_ms": DAY}).status_code == 200
    open_console(page, console)
    first = row(page, CUSTOMERS).locator("input[type=checkbox]")
    first.focus()
    page.keyboard.press("Space")
    row(page, ITEMS).locator("input[type=checkbox]").check()
    # An auto-refresh must keep the ticks (and the focus) it found.
    stamp = page.locator("#refreshed").text_content()
    expect(page.locator("#refreshed")).not_to_have_text(stamp or "", timeout=12000)
    expect(first).to_be_checked()
    page.locator("#submit").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#notice")).to_contain_text(f"{CUSTOMERS}: started, now STARTED")
    assert flow(console, CUSTOMERS)["state"] == "STARTED"
    assert flow(console, ITEMS)["state"] == "STARTED"
    expect(row(page, CUSTOMERS).locator(".state")).to_have_text("STARTED")
    stop_all(console)


def test_property_form_while_started_shows_the_servers_409(page: Page, console: Console) -> None:
    stop_all(console)
    with api(console) as client:
        client.patch(f"/flows/{CONTACTS}", json={"shift_ms": DAY})
        client.post(f"/flows/{CONTACTS}/start")
    open_console(page, console)
    row(page, CONTACTS).get_by_role("button", name=f"properties of {CONTACTS}").click()
    expect(page.locator("#props-note")).to_contain_text("only while it is STOPPED")
    page.fill("#props-form input[name=interval_ms]", "120000")
    # Auto-refresh must not close or reset an open form.
    stamp = page.locator("#refreshed").text_content()
    expect(page.locator("#refreshed")).not_to_have_text(stamp or "", timeout=12000)
    expect(page.locator("#props-form input[name=interval_ms]")).to_have_value("120000")
    page.click("#props-save")
    expect(page.locator("#props-msg")).to_contain_text("Refused (409)")
    expect(page.locator("#props-msg")).to_contain_text("stop")
    screenshot(page, "property-form-409")
    assert flow(console, CONTACTS)["interval_ms"] == 600000
    stop_all(console)


def test_bulk_launch_with_range_and_batch_size_creates_that_run(
    page: Page, console: Console
) -> None:
    stop_all(console)
    with api(console) as client:
        client.patch(f"/flows/{CONTACTS}", json={"shift_ms": DAY})
        client.post(f"/flows/{CONTACTS}/start")
    open_console(page, console)
    row(page, BULK).get_by_role("button", name=f"launch {BULK}").click()
    page.click("#launch-go")  # refused: a scheduled flow of the solution is started
    expect(page.locator("#launch-msg")).to_contain_text("Refused (409)")
    expect(page.locator("#launch-msg")).to_contain_text(f"still active: {CONTACTS}")
    with api(console) as client:
        assert client.post(f"/flows/{CONTACTS}/stop").status_code == 200
    page.fill("#launch-form input[name=from]", "2026-01-01")
    page.fill("#launch-form input[name=to]", "2026-06-30")
    page.fill("#launch-form input[name=batch_size]", "250")
    page.click("#launch-go")
    link = page.locator("#launch-msg a")
    expect(link).to_be_visible()
    run_id = link.text_content() or ""
    run = finished(console, run_id)
    assert run["params"]["batch_size"] == 250
    assert run["window"]["from"].startswith("2026-01-01T00:00:00")
    assert run["window"]["to"].startswith("2026-06-30T00:00:00")
    assert run["kind"] == "bulk"
    screenshot(page, "bulk-launch")


def test_failed_record_on_the_run_page_and_retry(page: Page, console: Console) -> None:
    stop_all(console)
    console.creatio.admin.seed({"Account": [{"Name": TOO_LONG_NAME, "Code": "LONG-1"}]})
    bad = next(r for r in console.creatio.rows("Account") if r["Name"] == TOO_LONG_NAME)
    with api(console) as client:
        run_id = client.post(f"/flows/{SINGLE}/run", json={"record_ids": [str(bad["Id"])]}).json()[
            "run_id"
        ]
    run = finished(console, run_id)
    assert run["counts"]["failed"] == 1
    page.goto(f"{console.url}#run/{run_id}")
    errors = page.locator("#run-errors tbody tr")
    expect(errors).to_have_count(1)
    expect(errors.locator(".record")).to_have_text(str(bad["Id"]))
    expect(errors.locator(".category")).to_have_text("validation")
    expect(errors.locator(".field")).to_have_text("NAME")
    expect(errors.locator(".message")).to_contain_text("the target allows 100")
    expect(page.locator('[data-count="failed"]')).to_have_text("1")
    screenshot(page, "run-page")
    page.click("#retry")
    expect(page).not_to_have_url(re.compile(re.escape(run_id) + "$"))
    retry_id = page.url.rsplit("#run/", 1)[1]
    with api(console) as client:
        retried = client.get(f"/runs/{retry_id}").json()
    assert retried["params"]["retry_of"] == run_id
    assert retried["params"]["record_ids"] == [str(bad["Id"])]
    with api(console) as client:
        entries = client.get("/audit").json()["entries"]
    audited = next(e for e in entries if e["action"] == "run.retry")
    assert (audited["target"], audited["after"]["queued_run"]) == (run_id, retry_id)
    finished(console, retry_id)


def test_a_running_run_is_cancelled_from_its_page(page: Page, console: Console) -> None:
    stop_all(console)
    console.creatio.admin.knobs(latency_ms=3000)  # the run is still reading when we cancel
    try:
        with api(console) as client:
            run_id = client.post(f"/flows/{ACCOUNTS}/run").json()["run_id"]
        page.goto(f"{console.url}#run/{run_id}")
        button = page.locator("#cancel")
        expect(button).to_be_visible()
        button.focus()
        page.keyboard.press("Enter")
        expect(button).to_be_disabled()
        expect(button).to_contain_text("Cancel asked at")
    finally:
        console.creatio.admin.knobs(latency_ms=0)
    run = finished(console, run_id)
    assert run["status"] == "cancelled" and "query starts was not moved" in run["message"]
    page.goto(f"{console.url}#run/{run_id}")
    expect(page.locator("#run-facts")).to_contain_text("cancelled")
    expect(page.locator("#cancel")).to_be_hidden()
    with api(console) as client:
        entries = client.get("/audit").json()["entries"]
    assert any(e["action"] == "run.cancel" and e["target"] == run_id for e in entries)


def test_injected_markup_renders_as_text_and_never_runs(page: Page, console: Console) -> None:
    stop_all(console)
    ran: list[str] = []
    page.on("dialog", lambda d: (ran.append(d.message), d.dismiss()))
    # Intacct customer ids (at most 20 characters) carrying markup; two Creatio Accounts
    # share each as their Code, so each customer's match is ambiguous and its id, and the
    # Code in the message, reach the run log.
    # Names differ (each carries the script): customers sharing a name would fail as
    # duplicates of each other before any Creatio match (shared/engine/match_keys.py).
    console.intacct.admin.seed(
        {
            "CUSTOMER": [
                {"CUSTOMERID": cid, "NAME": f"{SCRIPT} {n}"} for n, cid in enumerate(MARKUP_IDS)
            ]
        }
    )
    console.creatio.admin.seed(
        {"Account": [{"Name": f"{IMG} {n}", "Code": cid} for cid in MARKUP_IDS for n in (1, 2)]}
    )
    with api(console) as client:
        resp = client.post(f"/flows/{BULK_CUSTOMERS}/run", json={"from": "2000-01-01T00:00:00Z"})
        assert "default-src 'none'" in resp.headers["content-security-policy"]
        bulk_id = resp.json()["run_id"]
        finished(console, bulk_id)
        # A Creatio record id is a GUID: the connector's refusal quotes what it was given.
        body = {"record_ids": [SCRIPT, IMG], "dry_run": True}
        single_id = client.post(f"/flows/{SINGLE}/run", json=body).json()["run_id"]
        finished(console, single_id)

    page.goto(f"{console.url}#run/{bulk_id}")
    records = page.locator("#run-errors tbody .record")
    expect(records).to_have_count(len(MARKUP_IDS))
    assert sorted(records.all_text_contents()) == sorted(MARKUP_IDS)
    expect(page.locator("#run-errors tbody .field").first).to_have_text("Code")
    expect(page.locator("#run-errors tbody .category").first).to_have_text("duplicate")
    expect(page.locator("#run-errors tbody .message").first).to_contain_text("records match Code=")
    screenshot(page, "run-page-markup")
    page.goto(f"{console.url}#run/{single_id}")
    expect(page.locator("#run-title")).to_contain_text(SINGLE)
    expect(page.locator("#run-errors tbody .message")).to_contain_text(SCRIPT)
    expect(page.locator("#run-facts")).to_contain_text(IMG)
    expect(page.locator("#plan")).to_be_visible()
    page.goto(f"{console.url}#monitor")
    expect(page.locator("#runs tbody tr").first).to_be_visible()
    expect(page.locator("#runs")).to_contain_text(SCRIPT)
    page.goto(f"{console.url}#audit")
    expect(page.locator("#audit tbody tr").first).to_be_visible()
    expect(page.locator("#audit")).to_contain_text("<img src=x onerror=")  # JSON-escaped quotes
    assert page.locator("main img, main svg, main script, main b").count() == 0
    assert page.evaluate("() => window.__xss === undefined")
    assert ran == [], f"injected script ran: {ran}"


def test_monitor_audit_and_status_views(page: Page, console: Console) -> None:
    stop_all(console)
    with api(console) as client:
        empty = {"dry_run": True, "from": "2001-01-01T00:00:00Z", "to": "2001-01-02T00:00:00Z"}
        ok = client.post(f"/flows/{ACCOUNTS}/run", json=empty).json()["run_id"]
        assert finished(console, ok)["status"] == "succeeded"
        bad = client.post(f"/flows/{SINGLE}/run", json={"record_ids": ["nope"]}).json()["run_id"]
        assert finished(console, bad)["status"] == "failed"
    page.goto(f"{console.url}#monitor")
    expect(page.locator(f'#runs tr[data-run="{bad}"]')).to_be_visible()
    expect(page.locator(f'#runs tr[data-run="{ok}"]')).to_be_visible()
    started = page.locator("#runs tbody tr td:first-child").all_text_contents()
    assert started == sorted(started, reverse=True), "newest first"
    page.select_option("#monitor-filters select[name=status]", "failed")
    page.click("#monitor-filters button[type=submit]")
    expect(page.locator(f'#runs tr[data-run="{ok}"]')).to_have_count(0)
    expect(page.locator(f'#runs tr[data-run="{bad}"]')).to_be_visible()
    assert set(page.locator("#runs tbody td:nth-child(4)").all_text_contents()) == {"failed"}
    screenshot(page, "iw-monitor")
    # The counter links to the flow's runs.
    page.goto(f"{console.url}#flows")
    row(page, ACCOUNTS).get_by_role("link", name=f"runs of {ACCOUNTS}").click()
    expect(page.locator("#monitor-filters select[name=flow]")).to_have_value(ACCOUNTS)
    expect(page.locator(f'#runs tr[data-run="{ok}"]')).to_be_visible()
    expect(page.locator(f'#runs tr[data-run="{bad}"]')).to_have_count(0)

    page.goto(f"{console.url}#audit")
    audit_rows = page.locator("#audit tbody tr")
    expect(audit_rows.first).to_be_visible()
    mine = page.locator('#audit tr[data-action="flow.run"]', has_text=SINGLE).first
    expect(mine).to_contain_text("local")
    expect(mine).to_contain_text("ok (202)")
    expect(mine).to_contain_text('"record_ids"')
    screenshot(page, "audit-trail")

    # A sleep window on a day three days from now (so no flow sleeps during these tests) and
    # the notification mode appear in the status panel.
    day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[(datetime.now(UTC).weekday() + 3) % 7]
    window = {"start": "01:00:00", "end": "01:30:00", "time_zone": "UTC", "days": [day]}
    with api(console) as client:
        client.put("/settings/sleep-windows", json={"windows": [window]}).raise_for_status()
        mode = client.get("/settings/notifications").json()["mode"]
    try:
        page.goto(f"{console.url}#status")
        expect(page.locator("#status-facts")).to_contain_text("198.51.100.20")
        expect(page.locator("#connections tbody tr")).to_have_count(3)
        shown = f"01:00:00 \u2013 01:30:00 UTC ({day})"  # an en dash between the times
        expect(page.locator("#sleep-windows")).to_contain_text(shown)
        expect(page.locator("#notifications")).to_contain_text(f"Mode: {mode}")
        screenshot(page, "status")
    finally:
        with api(console) as client:
            client.put("/settings/sleep-windows", json={"windows": []}).raise_for_status()


def test_a_caller_not_signed_in_is_offered_the_entra_sign_in(page: Page, console: Console) -> None:
    """Behind App Service Authentication the API answers 401 to a person not signed in (here
    the answer is replayed by the browser, as the local host never asks for sign-in)."""
    page.route(
        re.compile(r".*/api/flows$"),
        lambda route: route.fulfill(
            status=401,
            content_type="application/json",
            body='{"error": {"code": "unauthorized", "message": "sign in"}}',
        ),
    )
    page.goto(f"{console.url}#flows")
    link = page.locator("#sign-in a")
    expect(link).to_be_visible()
    assert link.get_attribute("href") == "/.auth/login/aad?post_login_redirect_uri=/api/console"
    expect(page.locator("#notice")).to_contain_text("Not signed in")
    page.unroute(re.compile(r".*/api/flows$"))


def test_monitor_redirects_to_the_console(console: Console) -> None:
    with httpx.Client(base_url=console.host.base_url, follow_redirects=False) as client:
        resp = client.get("/monitor")
    assert resp.status_code == 302 and resp.headers["location"] == "console#monitor"


def test_dry_run_page_shows_its_plan_and_writes_nothing(page: Page, console: Console) -> None:
    stop_all(console)
    console.creatio.admin.seed({"Account": [{"Name": "Plan & Co", "Code": "PLAN-1"}]})
    account = next(r for r in console.creatio.rows("Account") if r["Name"] == "Plan & Co")
    before = len(console.intacct.admin.rows("CUSTOMER"))
    with api(console) as client:
        body = {"record_ids": [str(account["Id"])], "dry_run": True}
        run_id = client.post(f"/flows/{SINGLE}/run", json=body).json()["run_id"]
    assert finished(console, run_id)["status"] == "succeeded"
    page.goto(f"{console.url}#run/{run_id}")
    expect(page.locator("#plan")).to_be_visible()
    plan = page.locator("#plan-items tbody tr")
    expect(plan).to_have_count(1)
    expect(plan.locator("td").nth(0)).to_have_text(str(account["Id"]))
    expect(plan.locator("td").nth(1)).to_have_text("created")
    expect(page.locator("#run-facts")).to_contain_text("Dry run")
    screenshot(page, "dry-run-plan")
    assert len(console.intacct.admin.rows("CUSTOMER")) == before


def as_role(name: str, role: str) -> dict[str, str]:
    return {"X-MS-CLIENT-PRINCIPAL": encode_principal(name, [role], f"oid-{name}")}


def test_roles_in_the_browser_viewer_refused_operator_allowed(
    browser: Browser, own_azurite: Azurite, tmp_path: Path
) -> None:
    """App Service Authentication in front (appservice mode): the local host plays its part
    for a person with no header (SHUTTLE_LOCAL_ROLES), a context with a header is another."""
    env = {"SHUTTLE_AUTH_MODE": "appservice", "SHUTTLE_LOCAL_ROLES": "Shuttle.Viewer"}
    host = start_host(own_azurite, tmp_path, **env)
    viewer = browser.new_context()
    operator = browser.new_context(extra_http_headers=as_role("otto", "Shuttle.Operator"))
    try:
        with host.client() as client:
            patch = {"shift_ms": DAY}
            admin = as_role("ada", "Shuttle.Admin")
            assert client.patch(f"/flows/{CONTACTS}", json=patch, headers=admin).status_code == 200
        for context, expected in ((viewer, "needs Shuttle.Operator"), (operator, "started")):
            tab = context.new_page()
            tab.goto(f"{host.base_url}/console#flows")
            row(tab, CONTACTS).locator("input[type=checkbox]").check()
            tab.click("#submit")
            expect(tab.locator("#notice")).to_contain_text(expected)
            screenshot(tab, f"roles-{expected.split()[0]}")
        with host.client() as client:
            entries = client.get("/audit", headers=as_role("vera", "Shuttle.Viewer")).json()
        who = [(e["actor"]["name"], e["status"]) for e in entries["entries"]]
        assert who == [("otto", 200), ("local-user", 403), ("ada", 200)]
    finally:
        viewer.close()
        operator.close()
        stop_host(host)


def test_the_run_page_shows_each_records_action_and_changed_fields(
    page: Page, console: Console
) -> None:
    """A dry run's planned action and a real run's actual one, with each changed field's old
    and new value, on the run page (GET /api/runs/{id}/plan behind it)."""
    stop_all(console)
    console.creatio.admin.seed({"Account": [{"Name": "Before & Co", "Code": "CHG-1"}]})
    account = next(r for r in console.creatio.rows("Account") if r["Code"] == "CHG-1")
    record = str(account["Id"])
    with api(console) as client:
        first = client.post(f"/flows/{SINGLE}/run", json={"record_ids": [record]}).json()
        assert finished(console, first["run_id"])["counts"]["created"] == 1
    page.goto(f"{console.url}#run/{first['run_id']}")
    created = page.locator(f'#plan-items tr[data-record="{record}"]')
    expect(page.locator("#plan-title")).to_have_text("Records")
    expect(created.locator("td.action")).to_have_text("create")
    expect(created.locator('li[data-field="NAME"]')).to_have_text("NAME: (empty) → Before & Co")

    creatio, _ = login(console.creatio.url)  # the edit a CRM user makes
    try:
        edited = creatio.patch(f"/0/odata/Account({record})", json={"Name": "After <b>& Co</b>"})
    finally:
        creatio.close()
    assert edited.status_code in (200, 204), edited.text
    runs = {}
    with api(console) as client:
        for dry in (True, False):
            body = {"record_ids": [record], "dry_run": dry}
            runs[dry] = client.post(f"/flows/{SINGLE}/run", json=body).json()["run_id"]
            assert finished(console, runs[dry])["status"] == "succeeded"
    for dry, title, outcome in ((True, "Dry-run plan", "updated"), (False, "Records", "updated")):
        page.goto(f"{console.url}#run/{runs[dry]}")
        expect(page.locator("#plan-title")).to_have_text(title)
        line = page.locator(f'#plan-items tr[data-record="{record}"]')
        expect(line.locator("td").nth(1)).to_have_text(outcome)
        expect(line.locator("td.action")).to_have_text("update")
        expect(line.locator('li[data-field="NAME"]')).to_have_text(
            "NAME: Before & Co → After <b>& Co</b>"  # as text: never markup
        )
        screenshot(page, "run-record-changes-dry" if dry else "run-record-changes")
    (customer,) = [c for c in console.intacct.admin.rows("CUSTOMER") if c["CUSTOMERID"] == "CHG-1"]
    assert customer["NAME"] == "After <b>& Co</b>"
