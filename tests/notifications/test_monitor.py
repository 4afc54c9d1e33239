"""The connection monitor against the emulators over real HTTP: a system made to fail (its
fault knob, or a URL at a closed port) is `failing` with a message after one check and sends
one alert; healthy again it is `ok` and sends one recovery. /api/status shows each check."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sandbox.azurite import free_port
from sandbox.mailsink import MailSink
from sandbox.tls import TRUST_VARIABLES
from shared.notifications.monitor import ClientChecker
from shared.runtime import Services
from tests.notifications.conftest import T0, MakeServices, status_api
from tests.support.creatio import PASSWORD, USER, RunningCreatio
from tests.support.dataverse import RunningDataverse
from tests.support.intacct import (
    COMPANY,
    SENDER,
    SENDER_PASSWORD,
    USER_PASSWORD,
    RunningIntacct,
)
from tests.support.intacct import USER as INTACCT_USER


def _emulated(creatio: RunningCreatio, intacct_endpoint: str) -> dict[str, str]:
    return {
        "CREATIO_URL": creatio.url,
        "CREATIO_USERNAME": USER,
        "CREATIO_PASSWORD": PASSWORD,
        "INTACCT_ENDPOINT": intacct_endpoint,
        "INTACCT_SENDER_ID": SENDER,
        "INTACCT_SENDER_PASSWORD": SENDER_PASSWORD,
        "INTACCT_COMPANY_ID": COMPANY,
        "INTACCT_USER_ID": INTACCT_USER,
        "INTACCT_USER_PASSWORD": USER_PASSWORD,
    }


async def _status(services: Services) -> dict[str, dict]:
    api = status_api(services)
    _, status = await api.status(T0)
    found = {c.system: c.model_dump() for c in status.connections}
    assert status.storage_check is not None
    found["storage"] = status.storage_check.model_dump()
    return found


async def test_a_failing_system_alerts_once_and_recovers_once(
    make_services: MakeServices,
    mail_sink: MailSink,
    creatio: RunningCreatio,
    intacct: RunningIntacct,
) -> None:
    services = await make_services(
        **_emulated(creatio, intacct.endpoint), notify={"mode": "connection_failures"}
    )
    assert services.notifications
    monitor = services.notifications.monitor
    assert isinstance(monitor.checker, ClientChecker)  # the real clients

    before = await _status(services)
    assert {s: c["status"] for s, c in before.items()} == {
        "creatio": "unchecked",
        "intacct": "unchecked",
        "storage": "unchecked",
    }
    await monitor.tick(T0)
    healthy = await _status(services)
    assert {s: c["status"] for s, c in healthy.items()} == {
        "creatio": "ok",
        "intacct": "ok",
        "storage": "ok",
    }
    assert healthy["creatio"]["checked_at"] == T0 and healthy["creatio"]["latency_ms"] >= 0
    assert mail_sink.received == []  # unchecked -> ok is no news

    creatio.admin.knobs(fail_rate=1.0, fail_modes={"5xx": 1.0})
    failing_at = T0 + timedelta(minutes=5)
    await monitor.tick(failing_at)
    status = await _status(services)
    assert status["creatio"]["status"] == "failing"
    assert "503" in status["creatio"]["message"] and "[connection]" in status["creatio"]["message"]
    assert status["creatio"]["since"] == failing_at
    assert status["intacct"]["status"] == "ok"
    await monitor.tick(failing_at + timedelta(minutes=5))  # still failing: no second alert
    assert (await _status(services))["creatio"]["since"] == failing_at
    assert [m.subject.rsplit("] ", 1)[-1] for m in mail_sink.received] == [
        "Creatio connection failing"
    ]

    creatio.admin.knobs(fail_rate=0.0)
    back_at = failing_at + timedelta(minutes=10)
    await monitor.tick(back_at)
    status = await _status(services)
    assert status["creatio"]["status"] == "ok" and status["creatio"]["since"] == back_at
    assert status["creatio"]["message"] is None
    assert [m.subject.rsplit("] ", 1)[-1] for m in mail_sink.received] == [
        "Creatio connection failing",
        "Creatio connection recovered",
    ]


async def test_a_system_at_a_closed_port_is_failing_after_one_check(
    make_services: MakeServices, mail_sink: MailSink, creatio: RunningCreatio
) -> None:
    closed = f"http://127.0.0.1:{free_port()}/ia/xml/xmlgw.phtml"
    services = await make_services(**_emulated(creatio, closed), notify={"mode": "every_error"})
    assert services.notifications
    report = await services.notifications.monitor.tick(T0)
    assert report.checks["intacct"].status == "failing"
    assert report.checks["creatio"].status == "ok"
    assert "[connection]" in (report.checks["intacct"].message or "")
    (mail,) = mail_sink.received
    assert mail.subject.endswith("Intacct connection failing")
    assert "creatio-intacct" in mail.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]


async def test_wrong_credentials_are_failing_with_an_auth_message(
    make_services: MakeServices, creatio: RunningCreatio, intacct: RunningIntacct
) -> None:
    settings = {**_emulated(creatio, intacct.endpoint), "CREATIO_PASSWORD": "wrong-password-1"}
    services = await make_services(**settings)
    assert services.notifications
    report = await services.notifications.monitor.tick(T0)
    check = report.checks["creatio"]
    assert check.status == "failing" and (check.message or "").startswith("[auth]")
    assert "wrong-password-1" not in (check.message or "")


async def test_unconfigured_systems_stay_unchecked(
    make_services: MakeServices, creatio: RunningCreatio
) -> None:
    settings = _emulated(creatio, "http://127.0.0.1:9/x")
    del settings["INTACCT_USER_ID"]
    services = await make_services(drop=("INTACCT_USER_ID",), **settings)
    assert services.notifications
    report = await services.notifications.monitor.tick(T0)
    assert report.checks["intacct"].status == "unchecked"
    assert "not configured" in (report.checks["intacct"].message or "")


async def test_dataverse_shows_its_remaining_service_protection_budget(
    make_services: MakeServices,
    dataverse: RunningDataverse,
    creatio: RunningCreatio,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in TRUST_VARIABLES:  # the sandbox CA, as the sandbox points its processes at it
        monkeypatch.setenv(name, dataverse.ca)
    services = await make_services(
        SHUTTLE_SOLUTIONS="creatio-dynamics",
        CREATIO_URL=creatio.url,
        CREATIO_PASSWORD=PASSWORD,
        DATAVERSE_URL=dataverse.url,
        DATAVERSE_AUTHORITY_HOST=dataverse.authority,
        DATAVERSE_TENANT_ID="shuttle-sandbox",
        DATAVERSE_CLIENT_ID="00000000-0000-0000-0000-00000000a11c",
        DATAVERSE_CLIENT_SECRET="sandbox-client-secret",
    )
    assert services.notifications
    report = await services.notifications.monitor.tick(T0)
    check = report.checks["dataverse"]
    assert check.status == "ok", check.message
    assert isinstance(check.budget, int) and check.budget > 0
    assert (await _status(services))["dataverse"]["budget_remaining"] == check.budget
