"""Alerts through the local Functions host (subprocess, real HTTP, timers and queues): the
notification settings routes, a rejected record mailed to an aiosmtpd sink by the run's end,
and the connection monitor timer turning /api/status `failing` (with one alert) and `ok`
again (with one recovery) as a Creatio emulator fails and heals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.azurite import Azurite, free_port
from sandbox.mailsink import MailSink
from tests.e2e.conftest import RunningHost, start_host, stop_host, wait_for
from tests.support.creatio import RunningCreatio, running_creatio
from tests.support.engine import creatio_settings, intacct_settings
from tests.support.intacct import RunningIntacct, running_intacct

pytestmark = pytest.mark.e2e

ACCOUNTS = "creatio-intacct.accounts-to-intacct"


@pytest.fixture
def sink() -> Iterator[MailSink]:
    with MailSink(free_port(), directory=None) as running:
        yield running


@pytest.fixture
def systems() -> Iterator[tuple[RunningCreatio, RunningIntacct]]:
    with running_creatio() as creatio, running_intacct() as intacct:
        yield creatio, intacct


@pytest.fixture
def host(
    own_azurite: Azurite,
    tmp_path: Path,
    sink: MailSink,
    systems: tuple[RunningCreatio, RunningIntacct],
) -> Iterator[RunningHost]:
    creatio, intacct = systems
    running = start_host(
        own_azurite,
        tmp_path,
        SHUTTLE_SOLUTIONS="creatio-intacct",
        **creatio_settings(creatio),
        **intacct_settings(intacct),
        SHUTTLE_SMTP_HOST="127.0.0.1",
        SHUTTLE_SMTP_PORT=str(sink.port),
        SHUTTLE_SMTP_SECURITY="none",
        SHUTTLE_NOTIFY_MODE="none",
        SHUTTLE_ADMIN_EMAIL="ops@example.com",
        SHUTTLE_CONNECTION_MONITOR_SCHEDULE="*/2 * * * * *",  # every 2 s: tests don't wait
    )
    yield running
    stop_host(running)


def _whats(sink: MailSink) -> list[str]:
    return [m.subject.rsplit(": ", 1)[-1].rsplit("] ", 1)[-1] for m in sink.received]


def test_a_rejected_record_is_mailed_and_the_monitor_follows_creatio(
    host: RunningHost, sink: MailSink, systems: tuple[RunningCreatio, RunningIntacct]
) -> None:
    creatio, _ = systems
    with host.client() as api:
        assert api.get("/settings/notifications").json()["mode"] == "none"
        bad = api.patch("/settings/notifications", json={"mode": "every_error", "cc": ["x"]})
        assert bad.status_code == 422 and bad.json()["error"]["field"] == "cc.0"
        ok = api.patch(
            "/settings/notifications", json={"mode": "every_error", "bcc": ["audit@example.com"]}
        )
        assert ok.status_code == 200 and ok.json()["bcc"] == ["audit@example.com"]

        creatio.admin.seed(
            {"Account": [{"Name": "Fine Ltd", "Code": "FINE"}, {"Name": "N" * 120, "Code": "LONG"}]}
        )
        run_id = api.post(f"/flows/{ACCOUNTS}/run").json()["run_id"]
        run = wait_for(
            lambda: (r := api.get(f"/runs/{run_id}").json())["status"] != "running" and r,
            120,
            "the run to end",
        )
        assert run["status"] == "partial" and run["counts"]["failed"] == 1  # type: ignore[index]
        wait_for(lambda: "1 record failed" in _whats(sink), 30, "the record-errors mail")
        (mail,) = sink.received
        assert run_id in mail.data.decode()
        assert mail.recipients == ["ops@example.com", "audit@example.com"]

        def connection(status: str) -> dict | None:
            found = {c["system"]: c for c in api.get("/status").json()["connections"]}
            return found["creatio"] if found["creatio"]["status"] == status else None

        wait_for(lambda: connection("ok"), 30, "the monitor to find Creatio ok")
        creatio.admin.knobs(fail_rate=1.0, fail_modes={"5xx": 1.0})
        failing = wait_for(lambda: connection("failing"), 30, "Creatio to be failing")
        assert "[connection]" in failing["message"] and failing["since"]  # type: ignore[index]
        wait_for(lambda: "Creatio connection failing" in _whats(sink), 30, "the alert")
        creatio.admin.knobs(fail_rate=0.0)
        wait_for(lambda: connection("ok"), 30, "Creatio to recover")
        wait_for(lambda: "Creatio connection recovered" in _whats(sink), 30, "the recovery")
        assert _whats(sink) == [
            "1 record failed",
            "Creatio connection failing",
            "Creatio connection recovered",
        ]
        assert api.get("/status").json()["notifications"]["failed"] == []
