"""Sleep windows over real HTTP against the local host: GET/PUT /api/settings/sleep-windows,
422 naming the field, sleeping_until on flows and /api/status, and 409 for a utility flow
started inside a window. (The clock-driven behaviour is in tests/integration/test_sleep_*.)"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from sandbox.azurite import Azurite
from tests.e2e.conftest import RunningHost, start_host, stop_host

BIND = "creatio-intacct.bind-accounts"
ROUTE = "/settings/sleep-windows"


@pytest.fixture(scope="module")
def host(e2e_azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHost]:
    running = start_host(e2e_azurite, tmp_path_factory.mktemp("host"))
    yield running
    stop_host(running)


def around_now() -> dict[str, str]:
    """A UTC window from an hour ago to an hour ahead (crossing midnight when it must)."""
    now = datetime.now(UTC)
    return {
        "start": (now - timedelta(hours=1)).strftime("%H:%M:%S"),
        "end": (now + timedelta(hours=1)).strftime("%H:%M:%S"),
        "time_zone": "UTC",
    }


def test_sleep_windows_over_http(api: httpx.Client) -> None:
    assert api.get(ROUTE).json() == {"windows": []}

    for window, field in (
        ({**around_now(), "start": "25:00:00"}, "windows.0.start"),
        ({**around_now(), "time_zone": "Nowhere/Special"}, "windows.0.time_zone"),
        ({**around_now(), "days": ["caturday"]}, "windows.0.days.0"),
    ):
        resp = api.put(ROUTE, json={"windows": [window]})
        assert resp.status_code == 422, resp.text
        assert resp.json()["error"]["field"] == field
    assert api.put(ROUTE, content=b"{").status_code == 422

    window = around_now()
    resp = api.put(ROUTE, json={"windows": [window]})
    assert resp.status_code == 200, resp.text
    assert api.get(ROUTE).json() == {"windows": [{**window, "days": None}]}

    flow = api.get(f"/flows/{BIND}").json()
    assert flow["sleeping_until"] is not None
    until = datetime.fromisoformat(flow["sleeping_until"])
    assert until.strftime("%H:%M:%S") == window["end"]
    assert api.get("/status").json()["sleeping_until"] == flow["sleeping_until"]

    resp = api.post(f"/flows/{BIND}/start")
    assert resp.status_code == 409, resp.text
    refused = resp.json()["error"]
    assert refused["code"] == "sleeping"
    assert f"{window['start']}-{window['end']} UTC" in refused["message"]
    assert api.post(f"/flows/{BIND}/run").status_code == 409
    assert api.get(f"/flows/{BIND}").json()["state"] == "STOPPED"

    assert api.put(ROUTE, json={"windows": []}).status_code == 200
    assert api.get(f"/flows/{BIND}").json()["sleeping_until"] is None
    started = api.post(f"/flows/{BIND}/start")
    assert started.status_code == 200, started.text
    assert api.post(f"/flows/{BIND}/stop").status_code == 200
